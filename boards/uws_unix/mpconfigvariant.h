// The unix firmware uwebsocket's tests run on: the standard variant's
// features, plus TLS through the system's mbedTLS. The built-in websocket
// module stays in (as `websocket`) so benchmarks can compare against it in
// the same binary; our user C module answers to `uwebsocket`.
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

#include "variants/mpconfigvariant_common.h"
