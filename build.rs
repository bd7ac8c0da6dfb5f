//! Generates the C header of the core's API (`src/ffi.rs`) for the shim with
//! cbindgen, written to `$UWS_GEN_DIR/uwebsocket_core.h` (cmodule.mk sets it)
//! or to `$OUT_DIR`. The core needs nothing from its host at run time (random
//! bytes come in as arguments), so there is no header the other way.
use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=UWS_GEN_DIR");
    // Set by the native-module build (micropython_module/natmod/Makefile),
    // whose C side gives the ARM EABI's memory helpers itself.
    println!("cargo::rustc-check-cfg=cfg(uws_natmod)");

    let header_dir = env::var_os("UWS_GEN_DIR").map(PathBuf::from).unwrap_or(out_dir);
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
}
