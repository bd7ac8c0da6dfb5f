// What the uwebsocket core needs from its host, implemented by the
// MicroPython shim (moduwebsocket.c). build.rs runs bindgen on this file to
// generate the Rust declarations (src/host.rs includes them): this header
// is the one source of truth for the hooks.
#ifndef UWS_HOST_H
#define UWS_HOST_H

#include <stddef.h>
#include <stdint.h>

// Fill buf with len random bytes, for client masking keys (RFC 6455 §5.3)
// and Sec-WebSocket-Key nonces (§4.1). The shim uses the port's random
// source (os.urandom's, or the hardware RNG on microcontrollers).
void uws_host_random(uint8_t *buf, size_t len);

// Called if the core ever panics (it has no reachable panic; this is the
// last line of defence). Must not return: the shim raises a Python
// exception, unwinding through plain Rust frames with no destructors.
void uws_host_fatal(void) __attribute__((noreturn));

#endif // UWS_HOST_H
