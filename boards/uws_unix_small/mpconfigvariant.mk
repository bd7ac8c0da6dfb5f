# The unix port's minimal variant, with uwebsocket built in (see
# mpconfigvariant.h): no frozen code, no sockets, no TLS.
include variants/minimal/mpconfigvariant.mk
