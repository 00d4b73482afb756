//! The Debian packages, for each Debian release the project supports:
//! `make -o lib RIG_DEBIAN=<n> deb-test` builds build[/<release>]/deb/*.deb
//! from the already built build/lib (`make lib`; `make test` builds it first)
//! and runs packaging/test-package.sh, which installs them over that release's
//! libxengnttab1 in a throwaway dpkg root and checks replacement, loading,
//! dependants, the -dev diversions and the restore, then
//! packaging/test-no-upgrades.sh (installing ours changes no other package).
//! Never skips: a missing tool, a failed download or any failed check fails
//! the test.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// `make ARGS` in the repository, not with the outer make's jobserver or
/// flags (when run under `make test`).
fn make(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new("make")
        .current_dir(root)
        .args(args)
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("CARGO_MAKEFLAGS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run make: {e}"))
}

fn deb_test(debian: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("capi/ is in the repository");
    let lib = root.join("build/lib/libxengnttab.so.1.2");
    assert!(
        lib.is_file(),
        "{} missing: run `make lib` (or `make test`, which builds it) first",
        lib.display()
    );
    let start = Instant::now();
    let out = make(root, &["-o", "lib", &format!("RIG_DEBIAN={debian}"), "deb-test"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "`make RIG_DEBIAN={debian} deb-test` failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    for pass in ["deb-test: PASS", "deb-test (no side effects): PASS"] {
        assert!(
            stdout.contains(pass),
            "`make RIG_DEBIAN={debian} deb-test` exited 0 without its line {pass:?}:\n{stdout}\n{stderr}"
        );
    }
    println!("{stdout}");
    println!("Debian {debian}: deb-test took {:.1} s", start.elapsed().as_secs_f64());
}

#[test]
fn deb_debian12_builds_installs_replaces_restores_upgrades_nothing() {
    deb_test("12");
}

#[test]
fn deb_debian13_builds_installs_replaces_restores_upgrades_nothing() {
    deb_test("13");
}

/// The arm64 packages (`make deb RIG_ARCH=arm64`), from the cross-built
/// library (`make lib TARGET=aarch64-unknown-linux-gnu`; `make host-test`
/// builds it): built for arm64, the library in its multiarch directory,
/// the C runtime as its only dependencies (computed from Debian's arm64
/// libc6 and libgcc-s1, fetched into the arm64 rig's cache). An arm64
/// dpkg root cannot run here; the real-Xen suites run the library itself.
#[test]
fn deb_arm64_builds_the_arm64_packages() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("capi/ is in the repository");
    let out = make(root, &["-o", "lib", "RIG_ARCH=arm64", "deb"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "`make RIG_ARCH=arm64 deb` failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let deb = |name: &str| {
        let dir = root.join("build/arm64/deb");
        let f = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.path());
        let found: Vec<_> = f.filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("{name}_"))).collect();
        assert_eq!(found.len(), 1, "one {name} package in {}: {found:?}", dir.display());
        found[0].clone()
    };
    let field = |deb: &Path, f: &str| {
        let o = Command::new("dpkg-deb").arg("-f").arg(deb).arg(f).output().expect("dpkg-deb");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let rt = deb("libxengnttab1-rs");
    assert!(rt.to_string_lossy().ends_with("_arm64.deb"), "{}", rt.display());
    assert_eq!(field(&rt, "Architecture"), "arm64");
    let depends = field(&rt, "Depends");
    assert!(depends.starts_with("libc6 (>= ") && depends.contains("libgcc-s1"), "Depends: {depends}");
    assert!(field(&rt, "Provides").starts_with("libxengnttab1 (= 4.17"), "{}", field(&rt, "Provides"));
    let list = Command::new("dpkg-deb").arg("-c").arg(&rt).output().expect("dpkg-deb -c");
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("./usr/lib/aarch64-linux-gnu/libxengnttab.so.1.2"), "{list}");
    let dev = deb("libxengnttab-rs-dev");
    assert_eq!(field(&dev, "Architecture"), "arm64");
}
