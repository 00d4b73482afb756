//! Builds the stand-in (`standin.c`) into `libxgt-standin.so` in OUT_DIR.
//! It is C because it replaces C library functions (`open`, `ioctl`,
//! `mmap`, ...), two of them variadic, which stable Rust cannot define.

use std::{env, path::PathBuf, process::Command};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=standin.c");
    println!("cargo:rerun-if-changed=standin.h");
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let so = out.join("libxgt-standin.so");
    let status = Command::new(&cc)
        .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2", "-g", "-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg("standin.c")
        .args(["-ldl", "-lpthread"])
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e} (install build-essential; .ci/run does)"));
    assert!(status.success(), "building the stand-in failed");
    println!("cargo:rustc-env=XGT_STANDIN_SO={}", so.display());
}
