//! The debian/ source package: its copyright names every Rust crate that is
//! statically linked into what it ships, and gives every crate the source
//! package carries (vendor/, packaging/build-source.sh) its own licence; the
//! built packages pass lintian (deliberate choices overridden with their
//! reasons, in debian/*.lintian-overrides).

mod common;

use std::collections::HashMap;
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

/// DEP-5 `Files:` paragraphs: their patterns and licence.
fn files_paragraphs(copyright: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    for para in copyright.split("\n\n") {
        let (mut files, mut licence, mut in_files) = (Vec::new(), None, false);
        for line in para.lines() {
            if let Some(v) = line.strip_prefix("Files:") {
                files.extend(v.split_whitespace().map(String::from));
                in_files = true;
            } else if in_files && line.starts_with(' ') {
                files.extend(line.split_whitespace().map(String::from));
            } else {
                in_files = false;
                if let Some(v) = line.strip_prefix("License:") {
                    licence = Some(v.trim().to_string());
                }
            }
        }
        if let (false, Some(l)) = (files.is_empty(), licence) {
            out.push((files, l));
        }
    }
    out
}

/// DEP-5 globs: `*` is any characters, `/` too; `?` is one.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

/// A licence expression, SPDX (Cargo.toml) or DEP-5, in one comparable form:
/// the same licences, alternatives in any order.
fn licence_key(l: &str) -> String {
    let l = l.to_lowercase().replace("-or-later", "+").replace("-only", "").replace("-exception", " exception");
    let l = l.replace(['(', ')', ','], " ").split_whitespace().collect::<Vec<_>>().join(" ");
    let mut all: Vec<String> = l
        .split(" and ")
        .map(|g| {
            let mut alts: Vec<&str> = g.split(" or ").collect();
            alts.sort();
            alts.join(" or ")
        })
        .collect();
    all.sort();
    all.join(" and ")
}

#[test]
fn copyright_gives_every_vendored_crate_its_licence() {
    // crates.io's packages in Cargo.lock: what `cargo vendor` puts in vendor/.
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let mut crates = Vec::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |k: &str| {
            let prefix = format!("{k} = \"");
            block.lines().find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim_end_matches('"').to_string()))
        };
        if field("source").is_some_and(|s| s.starts_with("registry+")) {
            crates.push((field("name").unwrap(), field("version").unwrap()));
        }
    }
    assert!(crates.len() > 10, "Cargo.lock lists {} crates", crates.len());
    // Their licences, from their Cargo.toml (`cargo metadata` lists every
    // package of Cargo.lock; `cargo tree` omits optional ones not enabled).
    // Its JSON package objects start "name", "version", "id", "license".
    let meta = run_ok(Command::new(env!("CARGO")).current_dir(root()).args(["metadata", "--locked", "--format-version", "1"]));
    let mut licences = HashMap::new();
    for obj in meta.split("{\"name\":\"").skip(1) {
        let Some((name, rest)) = obj.split_once("\",\"version\":\"") else { continue };
        let (version, rest) = rest.split_once('"').unwrap();
        let licence = rest.split_once("\"license\":").map(|(_, l)| l.trim_start_matches('"').split('"').next().unwrap());
        licences.insert((name.to_string(), version.to_string()), licence.unwrap_or("").to_string());
    }
    let copyright = std::fs::read_to_string(root().join("debian/copyright")).unwrap();
    let paragraphs = files_paragraphs(&copyright);
    // cargo vendor's directory names: the newest version of a crate gets its
    // bare name, older ones name-version.
    let numbers = |v: &str| -> Vec<u64> { v.split(['+', '-']).next().unwrap().split('.').map(|n| n.parse().unwrap()).collect() };
    let mut wrong = Vec::new();
    let mut dirs = Vec::new();
    for (name, version) in &crates {
        let newest = crates.iter().filter(|(n, _)| n == name).map(|(_, v)| numbers(v)).max().unwrap();
        let dir = if numbers(version) == newest { name.clone() } else { format!("{name}-{version}") };
        let path = format!("vendor/{dir}/Cargo.toml");
        dirs.push(path.clone());
        let Some(licence) = licences.get(&(name.clone(), version.clone())) else {
            wrong.push(format!("{name} {version}: not in `cargo metadata`"));
            continue;
        };
        match paragraphs.iter().rev().find(|(pats, _)| pats.iter().any(|p| glob(p.as_bytes(), path.as_bytes()))) {
            Some((_, l)) if licence_key(l) == licence_key(licence) => {}
            other => wrong.push(format!("{path}: the crate says {licence:?}, debian/copyright {:?}", other.map(|o| &o.1))),
        }
    }
    // No paragraph for a crate that is gone.
    for (pats, _) in &paragraphs {
        for p in pats.iter().filter(|p| p.starts_with("vendor/") && p.as_str() != "vendor/*") {
            if !dirs.iter().any(|d| glob(p.as_bytes(), d.as_bytes())) {
                wrong.push(format!("debian/copyright's {p} matches no crate of Cargo.lock"));
            }
        }
    }
    assert!(wrong.is_empty(), "debian/copyright and the vendored crates disagree:\n{}", wrong.join("\n"));
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
