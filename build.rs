//! Generates both sides of the C boundary:
//! - cbindgen: the C header of the core's API (`src/ffi.rs`) for the shim,
//!   written to `$UWS_GEN_DIR/uwebsocket_core.h` (cmodule.mk sets it) or
//!   to `$OUT_DIR`.
//! - bindgen: the Rust declarations of the host hooks the shim provides
//!   (`micropython_module/uws_host.h`), into `$OUT_DIR/host.rs`.
use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=UWS_GEN_DIR");

    let header_dir = env::var_os("UWS_GEN_DIR").map(PathBuf::from).unwrap_or(out_dir.clone());
    std::fs::create_dir_all(&header_dir).expect("create UWS_GEN_DIR");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen: generate the core's C header")
        .write_to_file(header_dir.join("uwebsocket_core.h"));
    // A header removed with the build folder while cargo's own output
    // stayed (a cleaned firmware build) is written again.
    println!("cargo:rerun-if-changed={}", header_dir.join("uwebsocket_core.h").display());

    let host_header = crate_dir.join("micropython_module/uws_host.h");
    println!("cargo:rerun-if-changed={}", host_header.display());
    let mut builder = bindgen::Builder::default()
        .header(host_header.to_str().unwrap())
        .use_core()
        .ctypes_prefix("cty")
        .allowlist_function("uws_host_.*")
        .layout_tests(false);
    // Cross targets have no C library headers here: clang's own freestanding
    // stddef.h/stdint.h are enough for this header.
    let target = env::var("TARGET").unwrap();
    let host = env::var("HOST").unwrap();
    if target != host {
        builder = builder.clang_arg("-ffreestanding");
    }
    builder
        .generate()
        .expect("bindgen: generate the host hooks")
        .write_to_file(out_dir.join("host.rs"))
        .expect("write host.rs");
}
