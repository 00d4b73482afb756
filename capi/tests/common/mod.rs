//! Helpers for tests that build and run C programs against the cdylib.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Debian's upstream library, the reference (package libxengnttab1).
pub const DEBIAN_LIB: &str = "/usr/lib/x86_64-linux-gnu/libxengnttab.so.1.2";

/// `target/<profile>`, found from this test executable (`.../deps/<test>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps").to_path_buf()
}

/// The shipped library, as `make lib` links it (`make test` builds it first).
pub fn our_cdylib() -> PathBuf {
    let p = root().join("build/lib/libxengnttab.so.1.2");
    assert!(p.exists(), "{} missing: run `make lib` (make test does)", p.display());
    p
}

/// The repository's top directory (this crate is `capi/` in it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("capi/ has a parent").to_path_buf()
}

/// A scratch directory for this test.
pub fn scratch(name: &str) -> PathBuf {
    let d = target_dir().join("test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A directory holding our library under its soname, for LD_LIBRARY_PATH.
pub fn our_lib_dir(name: &str) -> PathBuf {
    let d = scratch(name);
    std::fs::copy(our_cdylib(), d.join("libxengnttab.so.1.2")).unwrap();
    std::os::unix::fs::symlink("libxengnttab.so.1.2", d.join("libxengnttab.so.1")).unwrap();
    std::os::unix::fs::symlink("libxengnttab.so.1", d.join("libxengnttab.so")).unwrap();
    d
}

/// Run a command; panic with its output if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (is the tool installed? .ci/run installs it)"))
}

/// Run a command that must succeed; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn require_file(p: &str, package: &str) {
    assert!(Path::new(p).exists(), "{p} missing: install Debian package {package} (.ci/run does)");
}
