//! The drop-in contract, checked without Xen: exported symbols and versions
//! equal Debian's libxengnttab1, the generated header serves upstream-style
//! C89/C11/C++ clients, a program linked against Debian's library runs on
//! ours (LD_LIBRARY_PATH and LD_PRELOAD), the error paths hold, and an
//! installed copy builds clients through pkg-config.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;

/// `(name, version)` of every symbol the library defines, read with
/// `objdump` (the host's, or a cross toolchain's for another architecture).
fn exports(objdump: &str, lib: &Path) -> BTreeSet<(String, String)> {
    let out = run_ok(Command::new(objdump).arg("-T").arg(lib));
    out.lines()
        .filter(|l| l.contains(" g ") && !l.contains("*UND*"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[f.len() - 1].to_string(), f[f.len() - 2].to_string())
        })
        .collect()
}

/// Without the absolute symbol GNU ld emits per version node (name =
/// version), which lld does not emit and nothing binds to.
fn functions(objdump: &str, lib: &Path) -> BTreeSet<(String, String)> {
    exports(objdump, lib).into_iter().filter(|(name, version)| name != version).collect()
}

/// SONAME and the version definitions with their parents, from `objdump -p`.
fn dynamic_identity(objdump: &str, lib: &Path) -> (String, Vec<String>) {
    let out = run_ok(Command::new(objdump).arg("-p").arg(lib));
    let soname = out.lines().find_map(|l| l.trim().strip_prefix("SONAME")).expect("SONAME").trim().to_string();
    let mut defs = Vec::new();
    let mut in_defs = false;
    for l in out.lines() {
        if l.starts_with("Version definitions:") {
            in_defs = true;
        } else if in_defs && l.trim().is_empty() {
            break;
        } else if in_defs {
            // "2 0x00 0x0a9fa1e0 VERS_1.0" or "\tVERS_1.0" (parent)
            defs.push(l.split_whitespace().last().unwrap().to_string());
        }
    }
    // The base definition is the file's own name; compare the rest.
    (soname, defs.into_iter().skip(1).collect())
}

fn same_identity_as_debians(objdump: &str, ours: &Path, theirs: &Path) {
    let (ours_ex, theirs_ex) = (exports(objdump, ours), exports(objdump, theirs));
    assert_eq!(theirs_ex.len(), 23, "Debian: 20 functions and 3 version names: {theirs_ex:?}");
    assert_eq!(functions(objdump, theirs).len(), 20);
    assert_eq!(ours_ex, theirs_ex);
    assert_eq!(dynamic_identity(objdump, ours), dynamic_identity(objdump, theirs));
    let (soname, defs) = dynamic_identity(objdump, ours);
    assert_eq!(soname, "libxengnttab.so.1");
    assert_eq!(defs, ["VERS_1.0", "VERS_1.1", "VERS_1.0", "VERS_1.2", "VERS_1.1"]);
}

#[test]
fn exports_versions_and_soname_equal_debians() {
    require_file(DEBIAN_LIB, "libxengnttab1");
    same_identity_as_debians("objdump", &our_cdylib(), Path::new(DEBIAN_LIB));
}

/// The arm64 build (`make lib TARGET=aarch64-unknown-linux-gnu`) against
/// Debian's arm64 libxengnttab1, downloaded (never installed) into the
/// arm64 rig's cache by testing/rig/debian-file.sh.
#[test]
fn arm64_exports_versions_and_soname_equal_debians_arm64() {
    let ours = root().join("build/aarch64-unknown-linux-gnu/lib/libxengnttab.so.1.2");
    assert!(ours.exists(), "{} missing: run `make lib TARGET=aarch64-unknown-linux-gnu` (make host-test does)", ours.display());
    let theirs = run_ok(Command::new(root().join("testing/rig/debian-file.sh")).args(["libxengnttab1", "usr/lib/@MULTIARCH@/libxengnttab.so.1.2"]).env("RIG_ARCH", "arm64").env("RIG_DEBIAN", "12"));
    let theirs = Path::new(theirs.trim());
    assert!(theirs.ends_with("aarch64-linux-gnu/libxengnttab.so.1.2"), "{}", theirs.display());
    same_identity_as_debians(ARM64_OBJDUMP, &ours, theirs);
    needs_only_the_c_runtime_of(ARM64_OBJDUMP, &ours, "ld-linux-aarch64.so.1");
}

/// binutils-aarch64-linux-gnu (with gcc-aarch64-linux-gnu; .ci/run installs it):
/// the host's objdump does not decode arm64 symbol versions.
const ARM64_OBJDUMP: &str = "aarch64-linux-gnu-objdump";

/// Upstream needs libxentoollog and libxentoolcore; ours finds them at run
/// time when present and needs nothing but the C runtime.
fn needs_only_the_c_runtime_of(objdump: &str, lib: &Path, ldso: &str) {
    let out = run_ok(Command::new(objdump).arg("-p").arg(lib));
    let needed: BTreeSet<&str> =
        out.lines().filter_map(|l| l.trim().strip_prefix("NEEDED")).map(str::trim).collect();
    let allowed = BTreeSet::from(["libc.so.6", "libgcc_s.so.1", ldso]);
    assert!(needed.is_subset(&allowed) && needed.contains("libc.so.6"), "NEEDED: {needed:?}");
}

#[test]
fn needs_only_the_c_runtime() {
    needs_only_the_c_runtime_of("objdump", &our_cdylib(), "ld-linux-x86-64.so.2");
}

fn compile(out: &Path, compiler: &str, flags: &[&str], include: &Path, link: &[&str]) {
    let mut cmd = Command::new(compiler);
    cmd.args(flags).arg("-I").arg(include).arg("-o").arg(out);
    if compiler == "g++" {
        cmd.args(["-x", "c++"]);
    }
    cmd.arg(root().join("capi/tests/c/noxen.c")).args(link);
    run_ok(&mut cmd);
}

#[test]
fn header_serves_c89_c11_and_cxx_clients() {
    require_file("/usr/include/xen/grant_table.h", "libxen-dev");
    let dir = scratch("header");
    let inc = root().join("include");
    let lib = our_lib_dir("header-lib");
    let link = ["-L", lib.to_str().unwrap(), "-lxengnttab", "-ldl"];
    for (name, compiler, flags) in [
        ("c89", "cc", &["-ansi", "-Wall", "-Werror"][..]),
        ("c89-extra", "cc", &["-std=c89", "-Wall", "-Wextra", "-Werror"][..]),
        ("c11", "cc", &["-std=c11", "-Wall", "-Wextra", "-Werror"][..]),
        ("cxx", "g++", &["-std=c++17", "-Wall", "-Werror"][..]),
    ] {
        let exe = dir.join(name);
        compile(&exe, compiler, flags, &inc, &link);
        let out = run_ok(Command::new(&exe).env("LD_LIBRARY_PATH", &lib));
        assert!(out.contains("xengnttab_open: NULL ENOENT"), "{name}: {out}");
    }
}

/// The same program must give the same answers on both libraries (for the
/// calls upstream survives), and report which one the loader picked.
#[test]
fn program_linked_against_debian_runs_on_ours() {
    require_file(DEBIAN_LIB, "libxengnttab1");
    require_file("/usr/include/xengnttab.h", "libxen-dev");
    let dir = scratch("dropin");
    let exe = dir.join("noxen-upstream-linked");
    compile(&exe, "cc", &["-Wall", "-Werror"], Path::new("/usr/include"), &["-L/usr/lib/x86_64-linux-gnu", "-lxengnttab", "-ldl"]);
    let needed = run_ok(Command::new("objdump").arg("-T").arg(&exe));
    assert!(needed.contains("(VERS_1.0)   xengnttab_open"), "versioned reference expected:\n{needed}");

    let upstream = run(&mut Command::new(&exe));
    assert!(upstream.status.success());
    let ours_dir = our_lib_dir("dropin-lib");
    let ours_lib = ours_dir.join("libxengnttab.so.1");
    let via_path = run(Command::new(&exe).env("LD_LIBRARY_PATH", &ours_dir));
    let via_preload = run(Command::new(&exe).env("LD_PRELOAD", &ours_lib));
    for (how, out) in [("LD_LIBRARY_PATH", &via_path), ("LD_PRELOAD", &via_preload)] {
        assert!(out.status.success(), "{how}: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let loaded = stdout.lines().next().unwrap_or_default();
        assert!(loaded.starts_with(&format!("# library: {}", ours_dir.display())), "{how} did not load ours: {loaded}");
        let strip = |s: &[u8]| String::from_utf8_lossy(s).lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
        assert_eq!(strip(&out.stdout), strip(&upstream.stdout), "{how}: results differ from upstream");
        assert_eq!(out.stderr, upstream.stderr, "{how}: log output differs (open failures log nothing)");
        assert!(out.stderr.is_empty());
    }
    let stdout = String::from_utf8_lossy(&upstream.stdout);
    assert!(stdout.contains("xengnttab_open: NULL ENOENT") && stdout.contains("xengntshr_open: NULL ENOENT"));
    assert!(stdout.contains("xengnttab_close(NULL): 0 -"));
}

#[test]
fn every_function_refuses_a_null_handle_with_einval() {
    let lib = our_lib_dir("badargs-lib");
    let exe = scratch("badargs").join("noxen");
    compile(&exe, "cc", &["-Wall", "-Werror"], &root().join("include"), &["-L", lib.to_str().unwrap(), "-lxengnttab", "-ldl"]);
    let out = run(Command::new(&exe).arg("bad-args").env("LD_LIBRARY_PATH", &lib));
    assert!(out.status.success(), "crashed: {out:?}");
    assert!(out.stderr.is_empty(), "bad arguments are not logged: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let cases: Vec<&str> = stdout.lines().filter(|l| l.contains("(NULL")).filter(|l| !l.contains("close(NULL)")).collect();
    assert_eq!(cases.len(), 17, "{stdout}");
    for l in cases {
        assert!(l.ends_with(": -1 EINVAL") || l.ends_with(": NULL EINVAL"), "{l}");
    }
}

#[test]
fn installed_copy_builds_clients_through_pkg_config() {
    require_file("/usr/include/xen/grant_table.h", "libxen-dev");
    let dest = scratch("install");
    let lib = our_lib_dir("install-lib");
    // `-o lib`: use the library this test run built instead of rebuilding.
    run_ok(Command::new("make").current_dir(root()).args(["-s", "-o", "lib", "install", "PREFIX=/usr"]).arg(format!("DESTDIR={}", dest.display())).arg(format!("OUT_LIB={}", lib.display())).arg("LIBDIR=/usr/lib/x86_64-linux-gnu"));
    let libdir = dest.join("usr/lib/x86_64-linux-gnu");
    assert_eq!(std::fs::read_link(libdir.join("libxengnttab.so.1")).unwrap(), Path::new("libxengnttab.so.1.2"));
    assert_eq!(std::fs::read_link(libdir.join("libxengnttab.so")).unwrap(), Path::new("libxengnttab.so.1"));
    assert!(dest.join("usr/include/xengnttab.h").exists());
    let pc = |arg: &str| {
        run_ok(Command::new("pkg-config").arg(arg).arg("xengnttab").env("PKG_CONFIG_PATH", libdir.join("pkgconfig")).env("PKG_CONFIG_SYSROOT_DIR", &dest).env("PKG_CONFIG_LIBDIR", ""))
    };
    assert_eq!(pc("--modversion").trim(), "1.2");
    let flags = pc("--cflags") + " " + &pc("--libs");
    let exe = dest.join("client");
    let mut cmd = Command::new("cc");
    cmd.arg("-o").arg(&exe).arg(root().join("capi/tests/c/noxen.c")).args(flags.split_whitespace()).arg("-ldl");
    run_ok(&mut cmd);
    let out = run_ok(Command::new(&exe).env("LD_LIBRARY_PATH", &libdir));
    assert!(out.contains(&format!("# library: {}", libdir.display())), "{out}");
}
