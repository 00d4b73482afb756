//! A small in-memory xenstored (threads + a UNIX socket) for tests.

use std::collections::BTreeMap;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use std::io::Write;
use std::os::unix::net::UnixStream;

use vdispl::xenstore::*;

type Conn = Arc<Mutex<UnixStream>>;

#[derive(Default)]
struct State {
    nodes: BTreeMap<String, String>,
    /// permissions set by tests (`set_perms`); others read as "n0"
    perms: BTreeMap<String, Vec<String>>,
    watches: Vec<(Conn, String, String)>,
}

/// A running fake xenstored; the socket path goes to `XenStore::open_path`.
pub struct FakeXenstored {
    pub path: PathBuf,
    state: Arc<Mutex<State>>,
}

fn parent(p: &str) -> Option<&str> {
    p.rfind('/').map(|i| if i == 0 { "/" } else { &p[..i] })
}

fn under(node: &str, watched: &str) -> bool {
    node == watched || (node.starts_with(watched) && node.as_bytes().get(watched.len()) == Some(&b'/'))
}

impl State {
    fn fire(&mut self, node: &str) {
        self.watches.retain(|(c, path, token)| {
            if !under(node, path) {
                return true;
            }
            let mut p = node.as_bytes().to_vec();
            p.push(0);
            p.extend_from_slice(token.as_bytes());
            p.push(0);
            let m = Msg { kind: XS_WATCH_EVENT, req_id: 0, tx_id: 0, payload: p };
            c.lock().unwrap().write_all(&m.encode()).is_ok()
        });
    }
    fn create(&mut self, path: &str) {
        let mut cur = Some(path);
        let mut made = Vec::new();
        while let Some(p) = cur {
            if p == "/" || self.nodes.contains_key(p) {
                break;
            }
            made.push(p.to_string());
            cur = parent(p);
        }
        for p in made {
            self.nodes.insert(p, String::new());
        }
    }
}

impl FakeXenstored {
    pub fn start() -> FakeXenstored {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("vdispl-fake-xs-{}-{n}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind fake xenstored");
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(s) = s else { break };
                let st = st.clone();
                std::thread::spawn(move || serve(s, st));
            }
        });
        FakeXenstored { path, state }
    }

    pub fn client(&self) -> XenStore {
        XenStore::open_path(self.path.to_str().unwrap()).unwrap()
    }

    pub fn get(&self, p: &str) -> Option<String> {
        self.state.lock().unwrap().nodes.get(p).cloned()
    }

    pub fn set(&self, p: &str, v: &str) {
        let mut s = self.state.lock().unwrap();
        s.create(p);
        s.nodes.insert(p.to_string(), v.to_string());
        s.fire(p);
    }

    /// Set a node's permissions, e.g. `["n0", "r3"]` (toolstack-owned,
    /// readable by domain 3) or `["n3"]` (owned by domain 3).
    pub fn set_perms(&self, p: &str, perms: &[&str]) {
        self.state.lock().unwrap().perms.insert(p.to_string(), perms.iter().map(|s| s.to_string()).collect());
    }

    pub fn rm(&self, p: &str) {
        let mut s = self.state.lock().unwrap();
        let gone: Vec<String> = s.nodes.keys().filter(|k| under(k, p)).cloned().collect();
        for k in &gone {
            s.nodes.remove(k);
        }
        s.fire(p);
    }
}

impl Drop for FakeXenstored {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(s: UnixStream, st: Arc<Mutex<State>>) {
    let conn: Conn = Arc::new(Mutex::new(s.try_clone().unwrap()));
    let mut r = s;
    while let Ok(m) = Msg::read_from(&mut r) {
        let args = split_nul(&m.payload);
        let arg0 = args.first().cloned().unwrap_or_default();
        let mut s = st.lock().unwrap();
        let reply: Result<Vec<u8>, &str> = match m.kind {
            XS_READ => s.nodes.get(&arg0).map(|v| v.as_bytes().to_vec()).ok_or("ENOENT"),
            XS_WRITE => {
                let i = m.payload.iter().position(|&b| b == 0).unwrap_or(m.payload.len());
                let val = String::from_utf8_lossy(m.payload.get(i + 1..).unwrap_or(&[])).into_owned();
                s.create(&arg0);
                s.nodes.insert(arg0.clone(), val);
                s.fire(&arg0);
                Ok(b"OK\0".to_vec())
            }
            XS_MKDIR => {
                s.create(&arg0);
                s.fire(&arg0);
                Ok(b"OK\0".to_vec())
            }
            XS_RM => {
                let gone: Vec<String> = s.nodes.keys().filter(|k| under(k, &arg0)).cloned().collect();
                for k in &gone {
                    s.nodes.remove(k);
                }
                s.fire(&arg0);
                Ok(b"OK\0".to_vec())
            }
            XS_DIRECTORY => {
                if !s.nodes.contains_key(&arg0) {
                    Err("ENOENT")
                } else {
                    let mut out = Vec::new();
                    for k in s.nodes.keys() {
                        if parent(k) == Some(arg0.as_str()) {
                            out.extend_from_slice(&k.as_bytes()[arg0.len() + 1..]);
                            out.push(0);
                        }
                    }
                    Ok(out)
                }
            }
            XS_WATCH => {
                let token = args.get(1).cloned().unwrap_or_default();
                s.watches.push((conn.clone(), arg0.clone(), token.clone()));
                // reply first, then the initial event
                let ok = Msg { kind: m.kind, req_id: m.req_id, tx_id: 0, payload: b"OK\0".to_vec() };
                conn.lock().unwrap().write_all(&ok.encode()).ok();
                let mut p = arg0.into_bytes();
                p.push(0);
                p.extend_from_slice(token.as_bytes());
                p.push(0);
                conn.lock().unwrap().write_all(&Msg { kind: XS_WATCH_EVENT, req_id: 0, tx_id: 0, payload: p }.encode()).ok();
                continue;
            }
            XS_UNWATCH => {
                let token = args.get(1).cloned().unwrap_or_default();
                s.watches.retain(|(c, p, t)| !(Arc::ptr_eq(c, &conn) && *p == arg0 && *t == token));
                Ok(b"OK\0".to_vec())
            }
            XS_GET_PERMS => match (s.nodes.contains_key(&arg0), s.perms.get(&arg0)) {
                (false, _) => Err("ENOENT"),
                (true, Some(p)) => Ok(p.iter().flat_map(|e| e.bytes().chain([0])).collect()),
                (true, None) => Ok(b"n0\0".to_vec()),
            },
            XS_GET_DOMAIN_PATH => Ok(format!("/local/domain/{arg0}\0").into_bytes()),
            _ => Err("ENOSYS"),
        };
        drop(s);
        let out = match reply {
            Ok(p) => Msg { kind: m.kind, req_id: m.req_id, tx_id: m.tx_id, payload: p },
            Err(e) => Msg { kind: XS_ERROR, req_id: m.req_id, tx_id: m.tx_id, payload: format!("{e}\0").into_bytes() },
        };
        if conn.lock().unwrap().write_all(&out.encode()).is_err() {
            break;
        }
    }
    st.lock().unwrap().watches.retain(|(c, _, _)| !Arc::ptr_eq(c, &conn));
}
