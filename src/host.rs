//! The host hooks, declared in `micropython_module/uws_host.h` and turned
//! into Rust by bindgen at build time (see build.rs).
#![allow(unsafe_code, non_camel_case_types, dead_code)]

mod bindings {
    include!(concat!(env!("OUT_DIR"), "/host.rs"));
}

/// Random bytes from the host's source (masking keys, handshake nonces).
#[cfg(not(test))]
pub fn random<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // SAFETY: the hook writes exactly `len` bytes into `buf`, which is valid
    // for writes of N bytes for the duration of the call.
    unsafe { bindings::uws_host_random(buf.as_mut_ptr(), N) };
    buf
}

/// Tests run without a host: a fixed-seed generator is enough there.
#[cfg(test)]
pub fn random<const N: usize>() -> [u8; N] {
    use core::sync::atomic::{AtomicU32, Ordering};
    static STATE: AtomicU32 = AtomicU32::new(0x9E37_79B9);
    let mut buf = [0u8; N];
    for b in buf.iter_mut() {
        let mut x = STATE.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        STATE.store(x, Ordering::Relaxed);
        *b = x as u8;
    }
    buf
}

#[cfg(all(not(test), panic = "abort"))]
pub fn fatal() -> ! {
    // SAFETY: the hook takes no arguments and never returns.
    unsafe { bindings::uws_host_fatal() }
}
