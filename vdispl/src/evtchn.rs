//! Event channels through `/dev/xen/evtchn` (ioctls from linux-libc-dev's
//! `xen/evtchn.h`): bind to a remote port, bind an unbound port (what a
//! frontend does), unbind, notify; `read()` gives pending ports (each one
//! masked until written back with `write()`).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

use xengnttab::ioctl::request_code_none;

/// `_IOC(_IOC_NONE, 'E', nr, size)`, in this architecture's encoding (the
/// library's: "none" has direction bits of its own on powerpc and mips).
const fn ioc_none(nr: u8, size: usize) -> libc::c_ulong {
    request_code_none(b'E', nr, size)
}

/// `struct ioctl_evtchn_bind_interdomain`
#[repr(C)]
pub struct BindInterdomain {
    pub remote_domain: u32,
    pub remote_port: u32,
}
/// `struct ioctl_evtchn_bind_unbound_port`
#[repr(C)]
pub struct BindUnboundPort {
    pub remote_domain: u32,
}
/// `struct ioctl_evtchn_unbind` and `struct ioctl_evtchn_notify`
#[repr(C)]
pub struct Port {
    pub port: u32,
}

pub const IOCTL_EVTCHN_BIND_INTERDOMAIN: libc::c_ulong = ioc_none(1, std::mem::size_of::<BindInterdomain>());
pub const IOCTL_EVTCHN_BIND_UNBOUND_PORT: libc::c_ulong = ioc_none(2, std::mem::size_of::<BindUnboundPort>());
pub const IOCTL_EVTCHN_UNBIND: libc::c_ulong = ioc_none(3, std::mem::size_of::<Port>());
pub const IOCTL_EVTCHN_NOTIFY: libc::c_ulong = ioc_none(4, std::mem::size_of::<Port>());
pub const IOCTL_EVTCHN_RESET: libc::c_ulong = ioc_none(5, 0);

/// What the display code needs from event channels.
pub trait EventChannels {
    /// Bind a local port to `remote_port` of `domid`; returns the local port.
    fn bind_interdomain(&mut self, domid: u32, remote_port: u32) -> io::Result<u32>;
    fn unbind(&mut self, port: u32) -> io::Result<()>;
    fn notify(&mut self, port: u32) -> io::Result<()>;
}

/// An open `/dev/xen/evtchn`.
pub struct Evtchn {
    f: File,
}

impl Evtchn {
    pub fn open() -> io::Result<Evtchn> {
        let f = OpenOptions::new().read(true).write(true).custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK).open("/dev/xen/evtchn")?;
        Ok(Evtchn { f })
    }

    pub fn fd(&self) -> RawFd {
        self.f.as_raw_fd()
    }

    fn ioctl<T>(&self, req: libc::c_ulong, arg: &mut T) -> io::Result<u32> {
        // SAFETY: `arg` is the #[repr(C)] struct the kernel expects for
        // `req` (sizes checked against the header by tests/layout.rs), valid
        // for the call; the fd is open.
        let rc = unsafe { libc::ioctl(self.f.as_raw_fd(), req as _, arg as *mut T) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc as u32)
        }
    }

    /// A new port that `domid` may bind to (frontend side).
    pub fn bind_unbound(&mut self, domid: u32) -> io::Result<u32> {
        self.ioctl(IOCTL_EVTCHN_BIND_UNBOUND_PORT, &mut BindUnboundPort { remote_domain: domid })
    }

    /// Pending ports (masked until `unmask`ed); empty if none.
    pub fn pending(&mut self) -> io::Result<Vec<u32>> {
        let mut buf = [0u8; 4 * 64];
        match self.f.read(&mut buf) {
            Ok(n) => Ok(buf[..n - n % 4].chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4"))).collect()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    pub fn unmask(&mut self, port: u32) -> io::Result<()> {
        self.f.write_all(&port.to_le_bytes())
    }
}

impl EventChannels for Evtchn {
    fn bind_interdomain(&mut self, domid: u32, remote_port: u32) -> io::Result<u32> {
        self.ioctl(IOCTL_EVTCHN_BIND_INTERDOMAIN, &mut BindInterdomain { remote_domain: domid, remote_port })
    }
    fn unbind(&mut self, port: u32) -> io::Result<()> {
        self.ioctl(IOCTL_EVTCHN_UNBIND, &mut Port { port }).map(drop)
    }
    fn notify(&mut self, port: u32) -> io::Result<()> {
        self.ioctl(IOCTL_EVTCHN_NOTIFY, &mut Port { port }).map(drop)
    }
}

/// In-memory event channels for tests: records binds and notifications.
#[derive(Default, Debug)]
pub struct FakeEvtchn {
    pub next: u32,
    pub bound: Vec<(u32, u32, u32)>,
    pub notified: Vec<u32>,
    pub refuse_remote_port: Option<u32>,
}

impl EventChannels for FakeEvtchn {
    fn bind_interdomain(&mut self, domid: u32, remote_port: u32) -> io::Result<u32> {
        if self.refuse_remote_port == Some(remote_port) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        self.next += 1;
        self.bound.push((self.next + 100, domid, remote_port));
        Ok(self.next + 100)
    }
    fn unbind(&mut self, port: u32) -> io::Result<()> {
        let before = self.bound.len();
        self.bound.retain(|b| b.0 != port);
        if self.bound.len() == before {
            return Err(io::Error::from_raw_os_error(libc::ENOTCONN));
        }
        Ok(())
    }
    fn notify(&mut self, port: u32) -> io::Result<()> {
        self.notified.push(port);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers() {
        assert_eq!(IOCTL_EVTCHN_BIND_INTERDOMAIN, 0x0008_4501);
        assert_eq!(IOCTL_EVTCHN_BIND_UNBOUND_PORT, 0x0004_4502);
        assert_eq!(IOCTL_EVTCHN_UNBIND, 0x0004_4503);
        assert_eq!(IOCTL_EVTCHN_NOTIFY, 0x0004_4504);
    }
}
