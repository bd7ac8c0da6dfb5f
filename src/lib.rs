//! The protocol core of `uwebsocket`: RFC 6455 WebSocket, `no_std`, sans-IO.
//!
//! Bytes in, events out. Nothing here reads a socket or allocates: the host
//! (the MicroPython C shim in `micropython_module/`, or a test) moves bytes
//! between its transport and the buffers the core points it at, and acts on
//! the events the core returns.
//!
//! - [`handshake`]: the HTTP upgrade (§4), both roles.
//! - [`frame`]: frame headers (§5.2) and masking (§5.3).
//! - [`utf8`]: incremental UTF-8 validation (§8.1).
//! - [`close`]: close codes (§7.4).
//! - [`error`]: protocol errors, each carrying the close code it fails with.
//! - [`inflate`], [`deflate`]: raw DEFLATE (RFC 1951) for permessage-deflate.
//! - [`extension`]: permessage-deflate negotiation (RFC 7692 §5–§7).
//! - [`connection`]: the state machine: roles, reassembly, control frames,
//!   the close handshake, limits.
//! - [`txqueue`]: the send queue of a non-blocking connection.
//! - `ffi`: the C ABI the shim calls (the only `extern "C"` surface).
#![no_std]
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

// `cargo test` also builds the staticlib with panic = "unwind" (the test
// profile ignores our panic setting), and an unwinding staticlib needs
// std's panic runtime. Every shipped build uses panic = "abort" and no std.
#[cfg(all(not(test), panic = "unwind"))]
extern crate std;

pub mod base64;
pub mod close;
pub mod connection;
pub mod deflate;
pub mod error;
pub mod extension;
pub mod frame;
pub mod handshake;
pub mod http;
pub mod inflate;
pub mod keepalive;
pub mod sha1;
pub mod txqueue;
pub mod url;
pub mod utf8;

#[doc(hidden)]
pub mod ffi;

pub use close::CloseCode;
pub use connection::{Connection, Event, MessageKind, Role, Want};
pub use error::ProtocolError;
pub use frame::{FrameHeader, OpCode};

/// Linking a `no_std` staticlib built for a hosted target (the MicroPython
/// unix port) needs these, because the prebuilt `core` for such targets
/// assumes unwinding. We build with `panic = "abort"`, so the personality
/// routine is never called.
#[cfg(all(not(test), panic = "abort", target_os = "linux"))]
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

/// The ARM EABI's memory helpers, routed to the C library (see the module).
/// Not in the native module (`--cfg uws_natmod`): there the helpers' literal
/// pool would be an absolute relocation in `.text`, which MicroPython's
/// `mpy_ld` refuses, and `natmod_libc.c` gives them instead.
#[cfg(all(not(test), not(uws_natmod), target_arch = "arm", target_os = "none"))]
#[allow(unsafe_code)]
mod aeabi;

/// The shipped panic handler. No panic is reachable in the release build:
/// `tools/panic_check.sh` (run by `make test`) links the release staticlib
/// with the `panic-never` feature, whose handler below names a symbol that
/// exists nowhere, so any panic path the optimiser leaves in fails the link.
/// The host needs no hook: nothing can call this.
#[cfg(all(not(test), panic = "abort", not(feature = "panic-never")))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// The check's panic handler (see above): a reference to an undefined
/// symbol that survives `--gc-sections` only if some exported function can
/// reach a panic.
#[cfg(all(not(test), panic = "abort", feature = "panic-never"))]
#[panic_handler]
#[allow(unsafe_code)]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    extern "C" {
        fn uws_core_has_a_reachable_panic() -> !;
    }
    // SAFETY: never runs; the link of the check fails first if this is
    // reachable, and the feature is never shipped.
    unsafe { uws_core_has_a_reachable_panic() }
}
