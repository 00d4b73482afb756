//! Where the library's error messages go, in upstream's shape:
//! `<context>: error: <message>: <strerror(errno)>`.
//!
//! The safe API is silent by default; the C ABI logs to the caller's
//! `xentoollog_logger` or, with a NULL logger, to stderr exactly as
//! upstream's default stdio logger does.

use std::io::Write;

use nix::errno::Errno;

use crate::xentools::toollog::XtlLogger;

/// A log destination plus the context word (`gnttab` or `gntshr`).
pub struct Logger {
    sink: Sink,
    context: &'static str,
}

enum Sink {
    Silent,
    Stderr,
    Xtl(XtlLogger),
}

impl Logger {
    /// Discard messages (errors are still returned).
    pub fn silent(context: &'static str) -> Self {
        Logger { sink: Sink::Silent, context }
    }

    /// Print messages to stderr like upstream's default logger.
    pub fn stderr(context: &'static str) -> Self {
        Logger { sink: Sink::Stderr, context }
    }

    pub(crate) fn xtl(logger: XtlLogger, context: &'static str) -> Self {
        Logger { sink: Sink::Xtl(logger), context }
    }

    /// Log `message` at error level with `errno` appended.
    pub fn error(&self, errno: Errno, message: &str) {
        match &self.sink {
            Sink::Silent => {}
            Sink::Stderr => write_stderr(self.context, errno, message),
            Sink::Xtl(x) => {
                if !x.log_error(self.context, errno, message) {
                    write_stderr(self.context, errno, message);
                }
            }
        }
    }
}

/// strerror() text, as glibc prints it.
pub fn strerror(errno: Errno) -> String {
    let s = std::io::Error::from_raw_os_error(errno as i32).to_string();
    // std appends " (os error N)" to the C library's text.
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn format_line(context: &str, errno: Errno, message: &str) -> String {
    format!("{context}: error: {message}: {}\n", strerror(errno))
}

fn write_stderr(context: &str, errno: Errno, message: &str) {
    // One write, so lines from several threads do not interleave.
    let _ = std::io::stderr().lock().write_all(format_line(context, errno, message).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_upstreams_shape() {
        assert_eq!(
            format_line("gnttab", Errno::ENOTTY, "ioctl MAP_GRANT_REF failed"),
            "gnttab: error: ioctl MAP_GRANT_REF failed: Inappropriate ioctl for device\n"
        );
    }
}
