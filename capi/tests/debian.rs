//! The debian/ source package: its copyright names every Rust crate that is
//! statically linked into what it ships, and the built packages pass lintian
//! (deliberate choices overridden with their reasons, in debian/*.lintian-overrides).

mod common;

use std::process::Command;

use common::*;

/// Crates linked into `package` (proc macros only run at build time), minus
/// this workspace's own.
fn linked_crates(package: &str) -> Vec<String> {
    let out = run_ok(Command::new(env!("CARGO")).current_dir(root()).args([
        "tree",
        "--offline",
        "-p",
        package,
        "-e",
        "normal,no-proc-macro",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]));
    let mut names: Vec<String> = out
        .lines()
        .filter(|l| !l.contains(&*root().to_string_lossy()))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn copyright_names_every_crate_linked_into_what_is_shipped() {
    let copyright = std::fs::read_to_string(root().join("debian/copyright")).unwrap();
    for (package, binary) in [("xengnttab-capi", "libxengnttab.so.1"), ("vdispl", "vdispl-backend")] {
        let crates = linked_crates(package);
        assert!(crates.iter().any(|c| c == "libc"), "cargo tree found no crates: {crates:?}");
        let missing: Vec<&String> = crates.iter().filter(|c| !copyright.contains(&format!("{c} "))).collect();
        assert!(missing.is_empty(), "debian/copyright does not name {missing:?} (linked into {binary})");
    }
}

#[test]
fn the_built_packages_pass_lintian() {
    // `make deb` builds them (capi/tests/package.rs runs it for each release).
    let changes = root().join("build/deb/xengnttab-rs.changes");
    if !changes.exists() {
        run_ok(Command::new("make").current_dir(root()).args(["-o", "lib", "deb"]).env_remove("MAKEFLAGS").env_remove("MAKELEVEL"));
    }
    let out = run(Command::new("lintian").args(["--fail-on", "error,warning", "--allow-root"]).arg(&changes));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "lintian: {}\n{text}{}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(!text.lines().any(|l| l.starts_with("E:") || l.starts_with("W:")), "{text}");
}
