//! The Debian packages: `make -o lib deb-test` builds build/deb/*.deb from the
//! already built build/lib (`make lib`; `make test` builds it first) and runs
//! packaging/test-package.sh, which installs them over Debian's libxengnttab1
//! in a throwaway dpkg root and checks replacement, loading, dependants, the
//! -dev diversions and the restore. Never skips: a missing tool, a failed
//! download or any failed check fails this test.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[test]
fn deb_builds_installs_replaces_and_restores() {
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
        .args(["-o", "lib", "deb-test"])
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
        "`make -o lib deb-test` failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("deb-test: PASS"),
        "`make -o lib deb-test` exited 0 without its PASS line:\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
    println!("deb-test took {:.1} s", start.elapsed().as_secs_f64());
}
