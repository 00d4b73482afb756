//! The C suites of `testing/c-tests/` on the kernel stand-in: each suite runs on
//! Debian's library and on ours, with `testing/standin` preloaded for
//! `/dev/xen/gntdev` and `/dev/xen/gntalloc`, and the two are compared by
//! the rig's own judge (`testing/rig/report.py`, with `testing/c-tests/differences.txt`), as
//! in dom0. The suites the stand-in cannot run are listed, with reasons, in
//! `testing/c-tests/standin-skip.txt`; no other may be left out.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

use common::*;

fn skipped() -> BTreeMap<String, String> {
    fs::read_to_string(root().join("testing/c-tests/standin-skip.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, reason) = l.split_once(char::is_whitespace).unwrap();
            assert!(!reason.trim().is_empty(), "no reason given for skipping {name}");
            (name.to_string(), reason.trim().to_string())
        })
        .collect()
}

#[test]
fn c_suites_agree_on_both_libraries_with_the_stand_in() {
    require_file(DEBIAN_LIB, "libxengnttab1");
    let dir = scratch("standin-suites");
    let bin = dir.join("bin");
    // The suites as the rig builds them, against our header and library.
    run_ok(
        Command::new("make")
            .current_dir(root())
            .args(["-s", "-C", "testing/c-tests"])
            .arg(format!("BIN={}", bin.display()))
            .arg(format!("OBJ={}", dir.join("obj").display()))
            .env_remove("MAKEFLAGS")
            .env_remove("MAKELEVEL"),
    );
    let libs = [("upstream", dir.join("upstream-lib")), ("ours", our_lib_dir("standin-suites-ours"))];
    fs::create_dir_all(&libs[0].1).unwrap();
    let _ = fs::remove_file(libs[0].1.join("libxengnttab.so.1"));
    std::os::unix::fs::symlink(DEBIAN_LIB, libs[0].1.join("libxengnttab.so.1")).unwrap();

    let skip = skipped();
    let suite_text = fs::read_to_string(root().join("testing/c-tests/suite.txt")).unwrap();
    let mut suite = String::new();
    let results = dir.join("results/dom0");
    fs::create_dir_all(&results).unwrap();
    let mut ran = 0;
    for line in suite_text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (name, mode, cmd, args) = (words[0], words[1], words[2], &words[3..]);
        if skip.contains_key(name) {
            continue;
        }
        suite += line;
        suite += "\n";
        ran += 1;
        for (lib, libdir) in &libs {
            if mode == "ours" && *lib != "ours" {
                continue;
            }
            let out = run(Command::new("timeout")
                .args(["-k", "5", "300"])
                .arg(bin.join(cmd))
                .args(args.iter().map(|a| a.replace("/tests/bin/", &format!("{}/", bin.display()))))
                .current_dir(&dir)
                .env("LD_LIBRARY_PATH", libdir)
                .env("LD_PRELOAD", xengnttab_standin::library())
                .env("RIG_LIB", lib));
            let file = |ext: &str| results.join(format!("{name}.{lib}.{ext}"));
            fs::write(file("out"), &out.stdout).unwrap();
            fs::write(file("err"), &out.stderr).unwrap();
            fs::write(file("rc"), format!("{}\n", out.status.code().unwrap_or(128))).unwrap();
        }
    }
    assert!(ran >= 8, "only {ran} suites ran");
    assert!(skip.keys().all(|k| suite_text.lines().any(|l| l.split_whitespace().next() == Some(k))), "skip list names unknown tests");
    let suite_file = dir.join("suite.txt");
    fs::write(&suite_file, &suite).unwrap();
    let report = run(Command::new("python3")
        .arg(root().join("testing/rig/report.py"))
        .arg(dir.join("results"))
        .arg(format!("--suite=dom0={}", suite_file.display()))
        .arg(format!("--differences={}", root().join("testing/c-tests/differences.txt").display())));
    let text = String::from_utf8_lossy(&report.stdout);
    println!("{text}");
    assert!(report.status.success(), "suites differ or failed on the stand-in:\n{text}");
}
