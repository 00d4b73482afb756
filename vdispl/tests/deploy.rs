//! What a deployed `vdispl-backend` offers, checked on the built binary:
//! `--help`, `--version`, exit status 2 for usage errors and 1 (no usage
//! text) for runtime errors, the man page naming every option `--help`
//! shows, `make install-vdispl` and the Debian package's contents.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_vdispl-backend")
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).env_remove("XENSTORED_PATH").output().expect("run vdispl-backend")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn top() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Long options of `--help`.
fn help_options() -> Vec<String> {
    let (out, _) = text(&run(&["--help"]));
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| l.trim_start().split([' ', ',']).find(|w| w.starts_with("--")).map(str::to_string))
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn help_version_and_exit_status() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let (out, _) = text(&o);
    for opt in ["--card", "--connector", "--config", "--png-dir", "--zero-copy", "VDISPL_LOG"] {
        assert!(out.contains(opt), "--help lacks {opt}:\n{out}");
    }
    let o = run(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(text(&o).0.trim(), format!("vdispl-backend {}", env!("CARGO_PKG_VERSION")));
    // usage error: status 2 and a usage line
    let o = run(&["--no-such-option"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("Usage:"));
    // runtime errors: status 1, the reason, no usage text
    for args in [&["--xenstore", "/nonexistent/socket"][..], &["--config", "/nonexistent/vdispl.conf"][..]] {
        let o = run(args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("error: ") && err.contains("/nonexistent/"), "{args:?}: {err}");
        assert!(!err.contains("Usage:"), "{args:?}: a runtime error must not print the usage: {err}");
    }
    // the log level comes from VDISPL_LOG: at "off" nothing is printed
    let o = Command::new(bin()).args(["--xenstore", "/nonexistent/socket"]).env("VDISPL_LOG", "off").output().unwrap();
    assert_eq!((o.status.code(), o.stderr.len()), (Some(1), 0));
}

#[test]
fn man_page_and_config_example_cover_every_option() {
    let man = std::fs::read_to_string(top().join("vdispl/dist/vdispl-backend.8")).unwrap();
    let conf = std::fs::read_to_string(top().join("vdispl/dist/vdispl-backend.conf")).unwrap();
    let opts = help_options();
    assert!(opts.len() >= 12, "{opts:?}");
    for o in &opts {
        let troff = o.replacen("--", "\\-\\-", 1);
        assert!(man.contains(&troff), "the man page does not describe {o}");
        let key = o.trim_start_matches("--");
        if !["help", "version", "config", "root", "xenstore", "exit-after", "png-queue"].contains(&key) {
            assert!(conf.contains(&format!("#{key} =")), "the example configuration lacks {key}");
        }
    }
}

fn make(args: &[&str]) -> Output {
    Command::new("make")
        .current_dir(top())
        .args(args)
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("CARGO_MAKEFLAGS")
        .output()
        .expect("make")
}

#[test]
fn make_install_and_debian_package() {
    let dest = std::env::temp_dir().join(format!("vdispl-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dest);
    let o = make(&["-s", "install-vdispl", "PREFIX=/usr", &format!("DESTDIR={}", dest.display())]);
    assert!(o.status.success(), "make install-vdispl: {}", text(&o).1);
    let installed = dest.join("usr/sbin/vdispl-backend");
    let v = Command::new(&installed).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("vdispl-backend "));
    let unit = std::fs::read_to_string(dest.join("usr/lib/systemd/system/vdispl-backend.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/sbin/vdispl-backend\n"), "{unit}");
    assert!(unit.contains("[Install]") && unit.contains("Before=xendomains.service"));
    assert!(dest.join("usr/share/man/man8/vdispl-backend.8").is_file());
    assert!(dest.join("usr/share/doc/vdispl-backend/vdispl-backend.conf.example").is_file());
    let _ = std::fs::remove_dir_all(&dest);

    let o = make(&["-s", "-o", "lib", "deb"]);
    assert!(o.status.success(), "make deb: {}", text(&o).1);
    let deb = std::fs::read_dir(top().join("build/deb"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("vdispl-backend_"))
        .expect("build/deb/vdispl-backend_*.deb");
    let c = Command::new("dpkg-deb").arg("-c").arg(&deb).output().expect("dpkg-deb (dpkg)");
    let list = String::from_utf8_lossy(&c.stdout);
    for f in ["./usr/sbin/vdispl-backend", "./lib/systemd/system/vdispl-backend.service", "./usr/share/man/man8/vdispl-backend.8.gz", "./etc/vdispl-backend.conf", "./usr/share/doc/vdispl-backend/copyright"] {
        assert!(list.contains(f), "{} lacks {f}:\n{list}", deb.display());
    }
    let info = Command::new("dpkg-deb").arg("-I").arg(&deb).arg("conffiles").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&info.stdout).trim(), "/etc/vdispl-backend.conf");
    let dep = Command::new("dpkg-deb").args(["-f"]).arg(&deb).arg("Depends").output().unwrap();
    assert!(String::from_utf8_lossy(&dep.stdout).contains("libc6"));
}
