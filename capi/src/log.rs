//! Where the C ABI's error messages go, in upstream's words and shape:
//! `<context>: error: <message>: <strerror(errno)>`, to the caller's
//! `xentoollog_logger` or, with a NULL logger, to stderr exactly as
//! upstream's default stdio logger prints them. (The safe API logs nothing:
//! its errors carry everything.)

use std::io::Write;

use xengnttab::{Error, Op};

use crate::xentools::toollog::XtlLogger;

/// A log destination plus the context word (`gnttab` or `gntshr`).
pub struct Logger {
    sink: Sink,
    context: &'static str,
}

enum Sink {
    Stderr,
    Xtl(XtlLogger),
}

impl Logger {
    /// Print messages to stderr like upstream's default logger.
    pub fn stderr(context: &'static str) -> Self {
        Logger { sink: Sink::Stderr, context }
    }

    pub(crate) fn xtl(logger: XtlLogger, context: &'static str) -> Self {
        Logger { sink: Sink::Xtl(logger), context }
    }

    /// Log `message` at error level with `errno`'s text appended.
    pub fn error(&self, errno: i32, message: &str) {
        match &self.sink {
            Sink::Stderr => write_stderr(self.context, errno, message),
            Sink::Xtl(x) => {
                if !x.log_error(self.context, errno, message) {
                    write_stderr(self.context, errno, message);
                }
            }
        }
    }

    /// Log what upstream logs when the kernel refuses `e`'s system call in
    /// a call whose messages `lines` gives. Upstream logs nothing for bad
    /// input it rejects itself, nor for failed allocations: neither do we.
    pub fn kernel_refused(&self, e: &Error, lines: impl Fn(Op) -> &'static [&'static str]) {
        if let Error::Os { op, errno } = *e {
            for line in lines(op) {
                self.error(errno, line);
            }
        }
    }
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sink = match self.sink {
            Sink::Stderr => "stderr",
            Sink::Xtl(_) => "xentoollog",
        };
        f.debug_struct("Logger").field("sink", &sink).field("context", &self.context).finish()
    }
}

/// Upstream's messages for a failed map (linux.c, osdep_gnttab_grant_map):
/// a refused notification is followed by the mmap line, as there.
pub fn map_lines(op: Op) -> &'static [&'static str] {
    match op {
        Op::MapGrantRef => &["ioctl MAP_GRANT_REF failed"],
        Op::Mmap => &["mmap failed"],
        Op::SetUnmapNotify => &["ioctl SET_UNMAP_NOTIFY failed", "mmap failed"],
        _ => &[],
    }
}

/// Upstream's messages for a failed share (linux.c, osdep_gntshr_share_pages),
/// except ALLOC_GREF's, which the caller words itself ([`alloc_gref_message`]).
pub fn share_lines(op: Op) -> &'static [&'static str] {
    match op {
        Op::Mmap => &["mmap failed"],
        Op::SetUnmapNotify => &["ioctl SET_UNMAP_NOTIFY failed"],
        _ => &[],
    }
}

/// Upstream says only "ioctl failed"; say what failed and, at gntalloc's
/// limit, where the limit is (the message Qubes users asked for).
pub fn alloc_gref_message(errno: i32, count: usize) -> String {
    if errno == libc::ENOSPC {
        format!(
            "ioctl ALLOC_GREF failed for {count} page(s): gntalloc's system-wide page limit reached \
             (see /sys/module/xen_gntalloc/parameters/limit)"
        )
    } else {
        format!("ioctl ALLOC_GREF failed for {count} page(s)")
    }
}

/// The one message of each other call, word for word.
pub fn single_line(op: Op) -> &'static [&'static str] {
    match op {
        Op::SetMaxGrants => &["ioctl SET_MAX_GRANTS failed"],
        Op::DmabufExpFromRefs => &["ioctl DMABUF_EXP_FROM_REFS failed"],
        Op::DmabufExpWaitReleased => &["ioctl DMABUF_EXP_WAIT_RELEASED failed"],
        Op::DmabufImpToRefs => &["ioctl DMABUF_IMP_TO_REFS failed"],
        Op::DmabufImpRelease => &["ioctl DMABUF_IMP_RELEASE failed"],
        _ => &[],
    }
}

/// strerror() text, as glibc prints it.
fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    // std appends " (os error N)" to the C library's text.
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn format_line(context: &str, errno: i32, message: &str) -> String {
    format!("{context}: error: {message}: {}\n", strerror(errno))
}

fn write_stderr(context: &str, errno: i32, message: &str) {
    // One write, so lines from several threads do not interleave.
    let _ = std::io::stderr().lock().write_all(format_line(context, errno, message).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_upstreams_shape() {
        assert_eq!(
            format_line("gnttab", libc::ENOTTY, "ioctl MAP_GRANT_REF failed"),
            "gnttab: error: ioctl MAP_GRANT_REF failed: Inappropriate ioctl for device\n"
        );
    }
}
