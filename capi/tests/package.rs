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

fn deb_test(debian: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("capi/ is in the repository");
    let lib = root.join("build/lib/libxengnttab.so.1.2");
    assert!(
        lib.is_file(),
        "{} missing: run `make lib` (or `make test`, which builds it) first",
        lib.display()
    );
    let start = Instant::now();
    let out = Command::new("make")
        .current_dir(root)
        .args(["-o", "lib", &format!("RIG_DEBIAN={debian}"), "deb-test"])
        // Not the outer make's jobserver or flags, when run under `make test`.
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("CARGO_MAKEFLAGS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run make: {e}"));
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
