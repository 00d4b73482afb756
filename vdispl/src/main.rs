//! `vdispl-backend`: serves every guest's `vdispl` devices from this domain.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vdispl::backend::Backend;
use vdispl::display::{Config, ZeroCopy};
use vdispl::evtchn::Evtchn;
use vdispl::xen::XenGrants;
use vdispl::xenstore::XenStore;

const USAGE: &str = "usage: vdispl-backend [--out DIR] [--max-png-per-sec N] [--refresh-hz N] [--zero-copy auto|off]
                      [--root XS-PATH] [--xenstore SOCKET-OR-DEVICE] [--exit-after SECONDS]
  --out DIR              write each connector's frames as PNG into DIR (default: no PNGs)
  --max-png-per-sec N    at most N PNGs per second per connector (0 = every frame; default 0)
  --refresh-hz N         pace flip-done events to N Hz (0 = at once; default 60)
  --zero-copy auto|off   export frontend buffers as dma-bufs where the kernel allows (default auto)
  --root XS-PATH         backend root to watch (default /local/domain/0/backend/vdispl)
  --xenstore PATH        xenstored socket or /dev/xen/xenbus (default: socket, else xenbus)
  --exit-after SECONDS   stop after this long (tests)";

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn die(msg: &str) -> ! {
    eprintln!("vdispl-backend: {msg}\n{USAGE}");
    std::process::exit(2)
}

fn main() {
    let mut cfg = Config::default();
    let mut out: Option<PathBuf> = None;
    let mut root = "/local/domain/0/backend/vdispl".to_string();
    let mut xs_path: Option<String> = None;
    let mut exit_after: Option<Duration> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| die(&format!("{a} needs a value")));
        let num = |v: String| v.parse::<u32>().unwrap_or_else(|_| die(&format!("not a number: {v}")));
        match a.as_str() {
            "--out" => out = Some(PathBuf::from(val())),
            "--max-png-per-sec" => cfg.max_png_per_sec = num(val()),
            "--refresh-hz" => cfg.refresh_hz = num(val()),
            "--zero-copy" => {
                cfg.zero_copy = match val().as_str() {
                    "auto" | "on" => ZeroCopy::Auto,
                    "off" => ZeroCopy::Off,
                    v => die(&format!("--zero-copy {v}: auto or off")),
                }
            }
            "--root" => root = val(),
            "--xenstore" => xs_path = Some(val()),
            "--exit-after" => exit_after = Some(Duration::from_secs(num(val()) as u64)),
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            _ => die(&format!("unknown argument {a}")),
        }
    }
    if let Some(d) = &out {
        if let Err(e) = std::fs::create_dir_all(d) {
            die(&format!("{}: {e}", d.display()));
        }
    }
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let xs = match &xs_path {
        Some(p) => XenStore::open_path(p),
        None => XenStore::open(),
    }
    .unwrap_or_else(|e| die(&format!("xenstore: {e}")));
    let grants = XenGrants::open().unwrap_or_else(|e| die(&format!("grant tables: {e}")));
    if grants.shr.is_none() {
        eprintln!("vdispl-backend: /dev/xen/gntalloc unavailable: backend-allocated buffers (be-alloc) will be refused");
    }
    let ev = Evtchn::open().unwrap_or_else(|e| die(&format!("/dev/xen/evtchn: {e}")));
    eprintln!(
        "vdispl-backend: refresh {} Hz, PNG {}, max {} per second, zero-copy {:?}",
        cfg.refresh_hz,
        out.as_ref().map_or("off".to_string(), |d| d.display().to_string()),
        cfg.max_png_per_sec,
        cfg.zero_copy
    );
    let mut be = Backend::new(xs, &grants, ev, cfg, out, &root);
    if let Err(e) = be.start() {
        die(&format!("xenstore: {e}"));
    }
    let started = Instant::now();
    let rc = loop {
        if STOP.load(Ordering::SeqCst) || exit_after.is_some_and(|t| started.elapsed() >= t) {
            break 0;
        }
        let now = Instant::now();
        let timeout = be.timeout(now).min(Duration::from_millis(500));
        let mut fds = [
            libc::pollfd { fd: be.xs.fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: be.evtchn.fd(), events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: `fds` is a valid array of 2 pollfd for the call's duration.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout.as_millis() as libc::c_int) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            eprintln!("vdispl-backend: poll: {e}");
            break 1;
        }
        if fds[0].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            if let Err(e) = be.xs.pump() {
                eprintln!("vdispl-backend: xenstore connection: {e}");
                break 1;
            }
        }
        if let Err(e) = be.on_xenstore() {
            eprintln!("vdispl-backend: xenstore: {e}");
            break 1;
        }
        let mut ports = Vec::new();
        if fds[1].revents & libc::POLLIN != 0 {
            match be.evtchn.pending() {
                Ok(p) => ports = p,
                Err(e) => {
                    eprintln!("vdispl-backend: evtchn read: {e}");
                    break 1;
                }
            }
            for &p in &ports {
                let _ = be.evtchn.unmask(p);
            }
        }
        let now = Instant::now();
        if let Err(e) = be.on_ports(&ports, now).and_then(|_| be.tick(Instant::now())) {
            eprintln!("vdispl-backend: xenstore: {e}");
            break 1;
        }
    };
    be.shutdown();
    eprintln!("vdispl-backend: stopped");
    std::process::exit(rc);
}
