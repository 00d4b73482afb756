//! `vdispl-backend`: serves every guest's `vdispl` devices from this domain.
//! Options: `src/cli.rs` (`--help`); the event loop is a poll over
//! xenstore, the event channels and the screen.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vdispl::backend::Backend;
use vdispl::capture::{Capture, CaptureConfig};
use vdispl::evtchn::Evtchn;
use vdispl::kms::Kms;
use vdispl::screen::Screen;
use vdispl::xen::XenGrants;
use vdispl::xenstore::XenStore;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// A runtime error: logged, exit status 1, no usage text.
fn fail(msg: &str) -> ! {
    log::error!("{msg}");
    std::process::exit(1)
}

fn init_log() {
    let start = Instant::now();
    env_logger::Builder::from_env(env_logger::Env::new().filter_or("VDISPL_LOG", "info").write_style_or("VDISPL_LOG_STYLE", "never"))
        .format(move |buf, rec| {
            let lvl = match rec.level() {
                log::Level::Error => "error: ",
                log::Level::Warn => "warning: ",
                log::Level::Info => "",
                log::Level::Debug => "debug: ",
                log::Level::Trace => "trace: ",
            };
            writeln!(buf, "[{:9.3}] {lvl}{}", start.elapsed().as_secs_f64(), rec.args())
        })
        .init();
}

/// What zero-copy this platform allows, said once at start-up.
fn report_zero_copy(screen: Option<&dyn Screen>, export_off: bool) {
    let guest_type = std::fs::read_to_string("/sys/hypervisor/guest_type").map(|s| s.trim().to_string()).unwrap_or_else(|_| "unknown".into());
    let Some(s) = screen else {
        log::info!("zero-copy: no screen; frontend buffers {} (domain type {guest_type})", if export_off { "are mapped" } else { "are exported as dma-bufs where the kernel allows" });
        return;
    };
    let alloc1 = if s.can_export() { "zero-copy (the card's dumb buffers granted to the guest)" } else { "map-and-copy (the card exports no dma-bufs)" };
    let alloc0 = if export_off {
        "map-and-copy (zero-copy off)"
    } else if guest_type == "PV" {
        "map-and-copy (a PV domain cannot export grants as dma-bufs)"
    } else if !s.can_import() {
        "map-and-copy (the card imports no dma-bufs)"
    } else {
        "zero-copy if the card accepts the guest's dma-buf, else map-and-copy (decided at the first buffer)"
    };
    log::info!("zero-copy in this {guest_type} domain: be-alloc=1 {alloc1}; be-alloc=0 {alloc0}");
}

fn main() {
    init_log();
    let args = vdispl::cli::parse(std::env::args_os().collect()).unwrap_or_else(|e| fail(&e));
    let cfg = args.config();
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let xs = match &args.xenstore {
        Some(p) => XenStore::open_path(p),
        None => XenStore::open(),
    }
    .unwrap_or_else(|e| fail(&format!("xenstore {}: {e}", args.xenstore.as_deref().unwrap_or("(xenstored's socket, or /dev/xen/xenbus)"))));
    let grants = XenGrants::open().unwrap_or_else(|e| fail(&format!("grant tables: {e}")));
    if grants.shr.is_none() {
        log::warn!("/dev/xen/gntalloc unavailable: backend-allocated buffers (be-alloc) will be refused unless the card provides them");
    }
    let ev = Evtchn::open().unwrap_or_else(|e| fail(&format!("/dev/xen/evtchn: {e}")));
    let screen: Option<Box<dyn Screen>> = args.card.as_ref().map(|p| {
        let k = Kms::open(&p.to_string_lossy()).unwrap_or_else(|e| fail(&format!("{}: {e}", p.display())));
        log::info!("screen: {}", k.describe());
        Box::new(k) as Box<dyn Screen>
    });
    report_zero_copy(screen.as_deref(), cfg.zero_copy == vdispl::display::ZeroCopy::Off);
    let capture = args.png_dir.as_ref().map(|d| {
        let c = CaptureConfig { dir: d.clone(), max_per_sec: args.png_per_sec, max_bytes: args.png_max_mib << 20 };
        Capture::start(c, args.png_queue as usize).unwrap_or_else(|e| fail(&format!("{}: {e}", d.display())))
    });
    log::info!(
        "vdispl-backend {}: refresh {} Hz, PNG {}, max {} per second, zero-copy {:?}, config {}",
        env!("CARGO_PKG_VERSION"),
        cfg.refresh_hz,
        args.png_dir.as_ref().map_or("off".to_string(), |d| d.display().to_string()),
        args.png_per_sec,
        cfg.zero_copy,
        args.config.as_ref().map_or("none".to_string(), |c| c.display().to_string())
    );
    let mut be = Backend::new(xs, &grants, ev, cfg, capture, &args.root);
    if let Some(s) = screen {
        be = be.with_screen(s, args.outputs());
    }
    if let Err(e) = be.start() {
        fail(&format!("xenstore: {e}"));
    }
    let rc = run(&mut be, args.exit_after.map(Duration::from_secs));
    be.shutdown();
    log::info!("vdispl-backend: stopped");
    std::process::exit(rc);
}

/// The event loop; returns the exit status.
fn run(be: &mut Backend<'_, Evtchn>, exit_after: Option<Duration>) -> i32 {
    let started = Instant::now();
    let screen_fd = be.screen().and_then(|s| s.fd());
    loop {
        if STOP.load(Ordering::SeqCst) || exit_after.is_some_and(|t| started.elapsed() >= t) {
            return 0;
        }
        let timeout = be.timeout(Instant::now()).min(Duration::from_millis(500));
        let mut fds = vec![
            libc::pollfd { fd: be.xs.fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: be.evtchn.fd(), events: libc::POLLIN, revents: 0 },
        ];
        if let Some(fd) = screen_fd {
            fds.push(libc::pollfd { fd, events: libc::POLLIN, revents: 0 });
        }
        // timeout.as_millis() rounds down: a wait under 1 ms is a poll of 0,
        // so round up to the next millisecond instead of spinning
        let ms = timeout.as_micros().div_ceil(1000) as libc::c_int;
        // SAFETY: `fds` is a valid array of pollfd for the call's duration.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            log::error!("poll: {e}");
            return 1;
        }
        if fds[0].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            if let Err(e) = be.xs.pump() {
                log::error!("xenstore connection: {e}");
                return 1;
            }
        }
        if let Err(e) = be.on_xenstore() {
            log::error!("xenstore: {e}");
            return 1;
        }
        let mut ports = Vec::new();
        if fds[1].revents & libc::POLLIN != 0 {
            match be.evtchn.pending() {
                Ok(p) => ports = p,
                Err(e) => {
                    log::error!("evtchn read: {e}");
                    return 1;
                }
            }
            for &p in &ports {
                let _ = be.evtchn.unmask(p);
            }
        }
        let now = Instant::now();
        let screen_ready = fds.get(2).is_some_and(|f| f.revents & libc::POLLIN != 0);
        let r = be.on_ports(&ports, now).and_then(|_| if screen_ready { be.on_screen(Instant::now()) } else { Ok(()) }).and_then(|_| be.tick(Instant::now()));
        if let Err(e) = r {
            log::error!("xenstore: {e}");
            return 1;
        }
    }
}
