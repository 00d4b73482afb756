//! The xenstore wire protocol (`xen/io/xs_wire.h`) over xenstored's UNIX
//! socket or `/dev/xen/xenbus`: read, write, directory, rm, watch. Watch
//! events that arrive while waiting for a reply are queued, not lost.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

pub const XS_DIRECTORY: u32 = 1;
pub const XS_READ: u32 = 2;
pub const XS_GET_PERMS: u32 = 3;
pub const XS_WATCH: u32 = 4;
pub const XS_UNWATCH: u32 = 5;
pub const XS_GET_DOMAIN_PATH: u32 = 10;
pub const XS_WRITE: u32 = 11;
pub const XS_MKDIR: u32 = 12;
pub const XS_RM: u32 = 13;
pub const XS_WATCH_EVENT: u32 = 15;
pub const XS_ERROR: u32 = 16;
/// `sizeof(struct xsd_sockmsg)`
pub const HEADER_SIZE: usize = 16;
pub const PAYLOAD_MAX: usize = 4096;

/// The default places to reach xenstored, in order.
pub const SOCKET_PATH: &str = "/var/run/xenstored/socket";
pub const XENBUS_DEV: &str = "/dev/xen/xenbus";

/// One message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub kind: u32,
    pub req_id: u32,
    pub tx_id: u32,
    pub payload: Vec<u8>,
}

impl Msg {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_SIZE + self.payload.len());
        for v in [self.kind, self.req_id, self.tx_id, self.payload.len() as u32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&self.payload);
        b
    }

    /// Read one whole message; a length above `PAYLOAD_MAX` is an error.
    pub fn read_from(r: &mut impl Read) -> io::Result<Msg> {
        let mut h = [0u8; HEADER_SIZE];
        r.read_exact(&mut h)?;
        let w = |i: usize| u32::from_le_bytes(h[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
        let len = w(3) as usize;
        if len > PAYLOAD_MAX {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("xenstore message of {len} bytes")));
        }
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload)?;
        Ok(Msg { kind: w(0), req_id: w(1), tx_id: w(2), payload })
    }
}

/// NUL-separated strings of a payload (a trailing NUL does not make an
/// empty last element).
pub fn split_nul(p: &[u8]) -> Vec<String> {
    let p = p.strip_suffix(&[0]).unwrap_or(p);
    if p.is_empty() {
        return Vec::new();
    }
    p.split(|&b| b == 0).map(|s| String::from_utf8_lossy(s).into_owned()).collect()
}

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum XsError {
    #[error("xenstore: {0}")]
    Io(#[from] io::Error),
    /// xenstored's answer, e.g. "ENOENT", "EACCES".
    #[error("xenstore error {0}")]
    Daemon(String),
}

impl XsError {
    pub fn is_enoent(&self) -> bool {
        matches!(self, XsError::Daemon(e) if e == "ENOENT")
    }
}

/// The byte stream to xenstored.
#[derive(Debug)]
pub enum Transport {
    Socket(UnixStream),
    Dev(File),
}

impl Read for Transport {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Socket(s) => s.read(b),
            Transport::Dev(f) => f.read(b),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Socket(s) => s.write(b),
            Transport::Dev(f) => f.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for Transport {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Transport::Socket(s) => s.as_raw_fd(),
            Transport::Dev(f) => f.as_raw_fd(),
        }
    }
}

/// A xenstore connection.
#[derive(Debug)]
pub struct XenStore {
    t: Transport,
    next_id: u32,
    events: VecDeque<(String, String)>,
}

impl XenStore {
    /// xenstored's socket if it exists, else `/dev/xen/xenbus` (what a
    /// guest, or a dom0 whose xenstored runs elsewhere, uses).
    pub fn open() -> io::Result<XenStore> {
        if let Ok(p) = std::env::var("XENSTORED_PATH") {
            return XenStore::open_path(&p);
        }
        match UnixStream::connect(SOCKET_PATH) {
            Ok(s) => Ok(XenStore::new(Transport::Socket(s))),
            Err(_) => XenStore::open_path(XENBUS_DEV),
        }
    }

    pub fn open_path(p: &str) -> io::Result<XenStore> {
        if p.starts_with("/dev/") {
            Ok(XenStore::new(Transport::Dev(OpenOptions::new().read(true).write(true).open(p)?)))
        } else {
            Ok(XenStore::new(Transport::Socket(UnixStream::connect(p)?)))
        }
    }

    pub fn new(t: Transport) -> XenStore {
        XenStore { t, next_id: 1, events: VecDeque::new() }
    }

    pub fn fd(&self) -> RawFd {
        self.t.as_raw_fd()
    }

    fn queue_event(&mut self, m: &Msg) {
        let parts = split_nul(&m.payload);
        if parts.len() >= 2 {
            self.events.push_back((parts[0].clone(), parts[1].clone()));
        }
    }

    /// Send a request and wait for its reply.
    pub fn request(&mut self, kind: u32, payload: &[u8]) -> Result<Vec<u8>, XsError> {
        if payload.len() > PAYLOAD_MAX {
            return Err(XsError::Daemon("E2BIG".into()));
        }
        let req_id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.t.write_all(&Msg { kind, req_id, tx_id: 0, payload: payload.to_vec() }.encode())?;
        loop {
            let m = Msg::read_from(&mut self.t)?;
            if m.kind == XS_WATCH_EVENT {
                self.queue_event(&m);
                continue;
            }
            if m.req_id != req_id {
                continue; // a stale reply: not ours
            }
            if m.kind == XS_ERROR {
                return Err(XsError::Daemon(split_nul(&m.payload).into_iter().next().unwrap_or_default()));
            }
            return Ok(m.payload);
        }
    }

    fn path_arg(path: &str) -> Vec<u8> {
        let mut v = path.as_bytes().to_vec();
        v.push(0);
        v
    }

    /// The value, or None if the node does not exist.
    pub fn read(&mut self, path: &str) -> Result<Option<String>, XsError> {
        match self.request(XS_READ, &Self::path_arg(path)) {
            Ok(v) => Ok(Some(String::from_utf8_lossy(&v).into_owned())),
            Err(e) if e.is_enoent() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The node's permissions (`n0`, `r5`, ...: the first names the owner
    /// and the default for others), or None if the node does not exist.
    pub fn get_perms(&mut self, path: &str) -> Result<Option<Vec<String>>, XsError> {
        match self.request(XS_GET_PERMS, &Self::path_arg(path)) {
            Ok(v) => Ok(Some(split_nul(&v))),
            Err(e) if e.is_enoent() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn write(&mut self, path: &str, value: &str) -> Result<(), XsError> {
        let mut p = Self::path_arg(path);
        p.extend_from_slice(value.as_bytes());
        self.request(XS_WRITE, &p).map(drop)
    }

    pub fn mkdir(&mut self, path: &str) -> Result<(), XsError> {
        self.request(XS_MKDIR, &Self::path_arg(path)).map(drop)
    }

    /// Children names; empty if the node does not exist.
    pub fn directory(&mut self, path: &str) -> Result<Vec<String>, XsError> {
        match self.request(XS_DIRECTORY, &Self::path_arg(path)) {
            Ok(v) => Ok(split_nul(&v)),
            Err(e) if e.is_enoent() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    pub fn rm(&mut self, path: &str) -> Result<(), XsError> {
        match self.request(XS_RM, &Self::path_arg(path)) {
            Err(e) if e.is_enoent() => Ok(()),
            r => r.map(drop),
        }
    }

    fn watch_arg(path: &str, token: &str) -> Vec<u8> {
        let mut p = Self::path_arg(path);
        p.extend_from_slice(token.as_bytes());
        p.push(0);
        p
    }

    /// Watch `path` and everything below it. xenstored fires once at once.
    pub fn watch(&mut self, path: &str, token: &str) -> Result<(), XsError> {
        self.request(XS_WATCH, &Self::watch_arg(path, token)).map(drop)
    }

    pub fn unwatch(&mut self, path: &str, token: &str) -> Result<(), XsError> {
        self.request(XS_UNWATCH, &Self::watch_arg(path, token)).map(drop)
    }

    pub fn get_domain_path(&mut self, domid: u32) -> Result<String, XsError> {
        let v = self.request(XS_GET_DOMAIN_PATH, format!("{domid}\0").as_bytes())?;
        Ok(split_nul(&v).into_iter().next().unwrap_or_default())
    }

    /// Watch events received so far.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    pub fn take_events(&mut self) -> Vec<(String, String)> {
        self.events.drain(..).collect()
    }

    /// Read one message (call when the fd is readable) and queue it if it is
    /// a watch event.
    pub fn pump(&mut self) -> Result<(), XsError> {
        let m = Msg::read_from(&mut self.t)?;
        if m.kind == XS_WATCH_EVENT {
            self.queue_event(&m);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::support::fake_xenstored::FakeXenstored;
    use super::*;

    #[test]
    fn header_layout() {
        let m = Msg { kind: XS_WRITE, req_id: 7, tx_id: 0, payload: b"a\0b".to_vec() };
        let b = m.encode();
        assert_eq!(&b[..16], &[11, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(Msg::read_from(&mut &b[..]).unwrap(), m);
    }

    #[test]
    fn oversized_message_refused() {
        let mut b = Msg { kind: XS_READ, req_id: 1, tx_id: 0, payload: vec![] }.encode();
        b[12..16].copy_from_slice(&(PAYLOAD_MAX as u32 + 1).to_le_bytes());
        assert!(Msg::read_from(&mut &b[..]).is_err());
    }

    #[test]
    fn split() {
        assert_eq!(split_nul(b"a\0bc\0"), vec!["a", "bc"]);
        assert_eq!(split_nul(b""), Vec::<String>::new());
        assert_eq!(split_nul(b"x"), vec!["x"]);
    }

    #[test]
    fn client_against_fake_daemon() {
        let d = FakeXenstored::start();
        let mut xs = d.client();
        assert_eq!(xs.read("/a/b").unwrap(), None);
        xs.write("/a/b/c", "1").unwrap();
        assert_eq!(xs.read("/a/b/c").unwrap().as_deref(), Some("1"));
        assert_eq!(xs.directory("/a/b").unwrap(), vec!["c"]);
        assert_eq!(xs.directory("/nope").unwrap(), Vec::<String>::new());
        xs.watch("/a", "tok").unwrap();
        // events arriving while waiting for other replies are queued
        let mut other = d.client();
        other.write("/a/b/d", "2").unwrap();
        assert_eq!(xs.read("/a/b/d").unwrap().as_deref(), Some("2"));
        let mut evs = xs.take_events();
        for _ in 0..50 {
            if evs.len() >= 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            xs.read("/a").unwrap();
            evs.extend(xs.take_events());
        }
        assert!(evs.contains(&("/a".into(), "tok".into())), "{evs:?}");
        assert!(evs.contains(&("/a/b/d".into(), "tok".into())), "{evs:?}");
        xs.rm("/a/b").unwrap();
        assert_eq!(xs.read("/a/b/c").unwrap(), None);
        assert_eq!(xs.get_domain_path(3).unwrap(), "/local/domain/3");
    }
}
