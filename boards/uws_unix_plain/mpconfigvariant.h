// The unix firmware uwebsocket's native module (.mpy) is tested on: the
// test variant with nothing of uwebsocket built in, and without the
// built-in `websocket` module either. MicroPython 1.25 resolves `import
// uwebsocket` to an extensible built-in `websocket` before it looks at
// sys.path (the u-prefix alias, py/objmodule.c), so on firmware that has
// it the natmod cannot be imported under its own name.
#include "../uws_unix/mpconfigvariant.h"

#undef MICROPY_PY_WEBSOCKET
#define MICROPY_PY_WEBSOCKET (0)
