//! Build script: symbol versions, soname and the C header.
//!
//! rustc hands the linker its own anonymous version script listing the
//! exports; a second script that only *defines* upstream's version nodes is
//! accepted next to it (by lld, rustc's default linker), and `.symver`
//! directives (src/capi/symver.rs) bind each export to its node. lld does not
//! record node parents; `make lib` relinks the staticlib with GNU ld, which
//! does. See README "Design notes".

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));

    let map = root.join("src/capi/version-nodes.map");
    println!("cargo:rerun-if-changed={}", map.display());
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={}", map.display());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libxengnttab.so.1");

    // The header is generated into OUT_DIR on every build; `make header`
    // copies it to include/, and a unit test fails when the committed copy
    // is stale.
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut header = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&root)
        .with_config(config)
        .generate()
        .expect("generate xengnttab.h")
        .write(&mut header);
    let header = String::from_utf8(header).expect("cbindgen writes UTF-8");
    fs::write(out.join("xengnttab.h"), c89_comments(&header)).expect("write header");
}

/// cbindgen ends `#endif`s with `// ...` comments; upstream's header is
/// checked with `-ansi`, which has no `//` comments.
fn c89_comments(header: &str) -> String {
    header
        .lines()
        .map(|line| match line.split_once("// ") {
            Some((code, comment)) if code.trim_start().starts_with(['#', '}']) => {
                format!("{code}/* {comment} */")
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
