//! The host hooks, declared in `micropython_module/uws_host.h` and turned
//! into Rust by bindgen at build time (see build.rs). They are called from
//! `ffi.rs` only, which keeps every `unsafe` block of the crate in one file.
#![allow(unsafe_code, non_camel_case_types, dead_code)]

include!(concat!(env!("OUT_DIR"), "/host.rs"));
