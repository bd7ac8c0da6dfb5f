// A small board's configuration on the unix port, for uwebsocket's build
// check and in-memory tests: no floats, no sockets, no TLS and no unicode
// strings (the unix port's minimal variant, see mpconfigvariant.mk), at
// the core feature level of small boards, with the modules the in-memory
// tests import. `make firmware-minimal` builds the stock minimal variant
// with the module as well, as a compile and import check.
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_CORE_FEATURES)
#define MICROPY_PY_BUILTINS_STR_UNICODE (0)
#define MICROPY_PY_IO (1)
#define MICROPY_PY_GC (1)
#define MICROPY_PY_ERRNO (1)
#define MICROPY_PY_SYS_ARGV (1)
#define MICROPY_PY_SYS_EXIT (1)
// What the unix port's main.c needs.
#define MICROPY_HELPER_REPL (1)
#define MICROPY_KBD_EXCEPTION (1)
#define MICROPY_PY_OS (1)
#define MICROPY_PY_SYS (1)
#define MICROPY_PY_IO_IOBASE (1)
// 64-bit frame lengths in the tests' own frame builder.
#define MICROPY_LONGINT_IMPL (MICROPY_LONGINT_IMPL_MPZ)
#define MICROPY_PY_BUILTINS_MEMORYVIEW (1)
#define MICROPY_PY_ARRAY_SLICE_ASSIGN (1)
// The smallest stack buffer a send may use: frames over 50 bytes go out as
// header and payload, a client's payload masked 64 bytes at a time.
#define MICROPY_PY_UWEBSOCKET_STACK_BUFFER (64)
