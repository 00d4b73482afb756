//! `vdispl-backend`'s options: the command line (clap) and a configuration
//! file of `key = value` lines whose keys are the long option names. The
//! file is read first; the command line overrides it (repeatable options,
//! like `connector`, add up).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

use crate::buffer::Limits;
use crate::display::{Config, ZeroCopy};

/// Where the default configuration file lives (used only if it exists).
pub const DEFAULT_CONFIG: &str = "/etc/vdispl-backend.conf";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ZeroCopyArg {
    /// Zero-copy where the kernel and card allow it, map-and-copy otherwise.
    Auto,
    /// Always map (and copy to the screen).
    Off,
}

/// Para-virtual display backend for Xen guests (displif, drm_xen_front):
/// shows each guest connector on a DRM/KMS connector of this domain, with
/// zero copies where the kernel allows, and/or writes frames as PNG files.
///
/// Log levels: VDISPL_LOG=error|warn|info|debug|trace (default info), or
/// per module, e.g. VDISPL_LOG=info,vdispl::kms=debug.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
#[command(name = "vdispl-backend", version, args_override_self = true)]
pub struct Args {
    /// Configuration file of `option = value` lines (long option names);
    /// the command line overrides it. Default: /etc/vdispl-backend.conf if it exists.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// DRM/KMS card to show guests on, e.g. /dev/dri/card0 (none: no screen).
    #[arg(long, value_name = "PATH")]
    pub card: Option<PathBuf>,

    /// Show the guest connector whose unique-id is ID on the card's connector
    /// NAME (e.g. 0=VGA-1). Repeatable. A unique-id not listed names the
    /// card's connector itself (vdispl = [ 'connectors=VGA-1:1024x768' ]).
    #[arg(long = "connector", value_name = "ID=NAME", action = ArgAction::Append, value_parser = parse_mapping)]
    pub connectors: Vec<(String, String)>,

    /// Zero-copy policy.
    #[arg(long, value_enum, default_value_t = ZeroCopyArg::Auto)]
    pub zero_copy: ZeroCopyArg,

    /// Write frames as PNG files into DIR (named d<domid>-v<devid>-c<connector>-<frame>.png).
    #[arg(long, alias = "out", value_name = "DIR")]
    pub png_dir: Option<PathBuf>,

    /// At most N PNG frames per second, for the whole backend (0: every frame).
    #[arg(long, alias = "max-png-per-sec", value_name = "N", default_value_t = 5)]
    pub png_per_sec: u32,

    /// Stop writing PNG files after this many MiB in total.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub png_max_mib: u64,

    /// Frames waiting for the PNG encoder, at most (more are dropped).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub png_queue: u32,

    /// Pace flip-done events of connectors not on a screen to N Hz (0: at once).
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub refresh_hz: u32,

    /// MiB of display buffers one domain may hold over all its devices.
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    pub max_domain_mib: u64,

    /// Share of one CPU (percent) spent on one domain's requests, at most
    /// (0: no limit); beyond it, that domain waits.
    #[arg(long, value_name = "PERCENT", default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub max_domain_cpu: u32,

    /// MiB of display buffers one device may hold.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub max_device_mib: u64,

    /// Backend root to watch.
    #[arg(long, value_name = "XS-PATH", default_value = "/local/domain/0/backend/vdispl")]
    pub root: String,

    /// xenstored's socket or /dev/xen/xenbus (default: the socket, else xenbus).
    #[arg(long, value_name = "PATH", env = "XENSTORED_PATH")]
    pub xenstore: Option<String>,

    /// Stop after this many seconds (test rigs).
    #[arg(long, value_name = "SECONDS")]
    pub exit_after: Option<u64>,
}

fn parse_mapping(s: &str) -> Result<(String, String), String> {
    let (id, name) = s.split_once('=').ok_or_else(|| format!("{s:?}: expected ID=NAME"))?;
    if id.is_empty() || name.is_empty() {
        return Err(format!("{s:?}: empty ID or NAME"));
    }
    Ok((id.to_string(), name.to_string()))
}

/// A configuration file's lines as `--key=value` arguments.
pub fn config_args(text: &str, file: &str) -> Result<Vec<OsString>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once('=').ok_or_else(|| format!("{file}:{}: expected `option = value`", n + 1))?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || k.starts_with('-') || k == "config" {
            return Err(format!("{file}:{}: bad option name {k:?}", n + 1));
        }
        out.push(OsString::from(format!("--{k}={v}")));
    }
    Ok(out)
}

/// Where `--config` points on the command line, if anywhere.
fn config_on_command_line(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let a = a.to_string_lossy();
        if a == "--" {
            break;
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
    }
    None
}

/// Parse the command line, with the configuration file's options first.
/// Usage errors (and --help, --version) are clap's: printed, then exit.
/// A configuration file that cannot be read or parsed is a runtime error.
pub fn parse(argv: Vec<OsString>) -> Result<Args, String> {
    let file = config_on_command_line(&argv).or_else(|| std::path::Path::new(DEFAULT_CONFIG).exists().then(|| PathBuf::from(DEFAULT_CONFIG)));
    let mut all = vec![argv.first().cloned().unwrap_or_else(|| "vdispl-backend".into())];
    if let Some(f) = &file {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        all.extend(config_args(&text, &f.display().to_string())?);
    }
    all.extend(argv.into_iter().skip(1));
    let mut a = Args::try_parse_from(all).unwrap_or_else(|e| e.exit());
    a.config = file;
    Ok(a)
}

impl Args {
    pub fn config(&self) -> Config {
        let limits = Limits { max_device_bytes: self.max_device_mib << 20, max_domain_bytes: self.max_domain_mib << 20, ..Limits::default() };
        Config {
            refresh_hz: self.refresh_hz,
            zero_copy: match self.zero_copy {
                ZeroCopyArg::Auto => ZeroCopy::Auto,
                ZeroCopyArg::Off => ZeroCopy::Off,
            },
            limits,
            max_domain_cpu: self.max_domain_cpu,
            ..Config::default()
        }
    }

    pub fn outputs(&self) -> BTreeMap<String, String> {
        self.connectors.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(v: &[&str]) -> Vec<OsString> {
        std::iter::once("vdispl-backend").chain(v.iter().copied()).map(OsString::from).collect()
    }

    #[test]
    fn options_both_spellings_and_defaults() {
        let a = Args::try_parse_from(argv(&["--card=/dev/dri/card0", "--connector", "0=VGA-1", "--connector=1=HDMI-A-1", "--out", "/tmp/f"])).unwrap();
        assert_eq!(a.card, Some(PathBuf::from("/dev/dri/card0")));
        assert_eq!(a.outputs().get("1").map(String::as_str), Some("HDMI-A-1"));
        assert_eq!(a.png_dir, Some(PathBuf::from("/tmp/f")));
        assert_eq!((a.png_per_sec, a.refresh_hz, a.zero_copy), (5, 60, ZeroCopyArg::Auto));
        assert!(Args::try_parse_from(argv(&["--connector", "VGA-1"])).is_err());
        assert!(Args::try_parse_from(argv(&["--zero-copy", "sometimes"])).is_err());
        assert!(Args::try_parse_from(argv(&["--png-queue", "0"])).is_err());
    }

    #[test]
    fn config_file_then_command_line() {
        let dir = std::env::temp_dir().join(format!("vdispl-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.conf");
        std::fs::write(&f, "# a comment\ncard = /dev/dri/card1\nconnector = 0=VGA-1\nrefresh-hz = 30\n\npng-per-sec=2\n").unwrap();
        let a = parse(argv(&["--config", f.to_str().unwrap(), "--refresh-hz", "75", "--connector", "1=DP-1"])).unwrap();
        assert_eq!(a.card, Some(PathBuf::from("/dev/dri/card1")));
        assert_eq!(a.refresh_hz, 75, "the command line wins");
        assert_eq!(a.png_per_sec, 2);
        assert_eq!(a.outputs().len(), 2, "repeatable options add up");
        std::fs::write(&f, "card /dev/dri/card1\n").unwrap();
        assert!(parse(argv(&["--config", f.to_str().unwrap()])).unwrap_err().contains(":1: expected"));
        assert!(parse(argv(&["--config", "/nonexistent/x.conf"])).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
