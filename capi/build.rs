//! Build script: symbol versions, soname and the C header.
//!
//! Upstream's version script, `libxengnttab.map`, is the one list of which
//! symbol belongs to which version node. From it this script derives:
//! - `.symver` directives binding each export to its node (included by
//!   src/lib.rs), and
//! - a script that only *defines* the nodes, which the linker accepts next
//!   to rustc's own anonymous export list (lld, rustc's default linker,
//!   does; GNU ld refuses two scripts).
//!
//! lld does not record node parents; `make lib` relinks the staticlib with
//! GNU ld and `libxengnttab.map` itself, which does. See the README.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));

    let map_file = root.join("libxengnttab.map");
    println!("cargo:rerun-if-changed={}", map_file.display());
    let map = fs::read_to_string(&map_file).expect("read libxengnttab.map");
    let nodes = parse_version_script(&map);

    let mut symver = String::from("std::arch::global_asm!(\n");
    let mut node_defs = String::new();
    let mut parent: Option<&str> = None;
    for (node, symbols) in &nodes {
        for s in symbols {
            symver += &format!("    \".symver {s}, {s}@@{node}\",\n");
        }
        node_defs += &format!("{node} {{ }}{};\n", parent.map(|p| format!(" {p}")).unwrap_or_default());
        parent = Some(node);
    }
    symver += ");\n";
    // Everything not versioned above stays local (the last node says so).
    let node_defs = node_defs.replacen(&format!("{} {{ }}", nodes.last().expect("nodes").0), &format!("{} {{ local: *; }}", nodes.last().expect("nodes").0), 1);
    fs::write(out.join("symver.rs"), symver).expect("write symver.rs");
    let nodes_map = out.join("version-nodes.map");
    fs::write(&nodes_map, node_defs).expect("write version-nodes.map");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={}", nodes_map.display());
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

/// `(node, global symbols)` in file order, from a GNU ld version script of
/// upstream's shape (`NODE { global: a; b; local: *; } PARENT;`).
fn parse_version_script(text: &str) -> Vec<(String, Vec<String>)> {
    let mut without_comments = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        without_comments += &rest[..i];
        rest = &rest[i + rest[i..].find("*/").expect("closed comment") + 2..];
    }
    without_comments += rest;
    let mut nodes = Vec::new();
    let mut rest = without_comments.as_str();
    while let Some(open) = rest.find('{') {
        let name = rest[..open].trim().trim_start_matches(|c: char| c == ';' || c.is_whitespace());
        let name = name.split_whitespace().last().expect("node name").to_string();
        let close = open + rest[open..].find('}').expect("closed node");
        let body = &rest[open + 1..close];
        let global = body.split("local:").next().expect("body");
        let symbols = global
            .trim()
            .trim_start_matches("global:")
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        nodes.push((name, symbols));
        rest = &rest[close + 1..];
        // Skip the parent name and the ';'.
        rest = &rest[rest.find(';').map_or(rest.len(), |i| i + 1)..];
    }
    assert!(!nodes.is_empty(), "no version nodes in libxengnttab.map");
    nodes
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
