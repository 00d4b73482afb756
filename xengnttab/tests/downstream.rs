//! A Rust program outside this workspace depends on the crate by path with
//! a default cargo setup and builds, in the dev and the release profile,
//! then runs: without Xen it must say which device and what to check.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn a_downstream_crate_builds_in_both_profiles_and_runs() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The workspace's target directory, so that reruns are incremental.
    let target = manifest.parent().unwrap().join("target/downstream");
    let dir = target.join("crate");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"downstream\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\nxengnttab = {{ path = {:?} }}\n\n[workspace]\n",
            manifest
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "fn main() {\n    match xengnttab::gnttab::GntDev::open() {\n        \
         Ok(_) => println!(\"opened\"),\n        Err(e) => println!(\"Error: {e}\"),\n    }\n}\n",
    )
    .unwrap();
    // Same dependency versions as this workspace, without the network.
    std::fs::copy(manifest.parent().unwrap().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    for profile in [&[][..], &["--release"][..]] {
        let out = Command::new(env!("CARGO"))
            .args(["run", "--quiet", "--offline"])
            .args(profile)
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", target.join("build"))
            .env_remove("RUSTFLAGS")
            .output()
            .expect("run cargo");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{profile:?}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        let on_xen = std::path::Path::new("/dev/xen/gntdev").exists();
        assert!(
            if on_xen { stdout.contains("opened") } else { stdout.contains("open /dev/xen/gntdev: No such file or directory (not running in a Xen domain") },
            "{profile:?}: {stdout}"
        );
    }
}
