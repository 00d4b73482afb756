//! Values the toolstack writes for a device, read strictly: decimal numbers
//! and resolutions parsed without leniency, and nodes whose meaning must not
//! come from the guest (`be-alloc`, `unique-id`) checked to be writable by
//! the toolstack only.

use crate::xenstore::{XenStore, XsError};

/// A decimal u32 and nothing else (no sign, no spaces, no hex).
pub fn parse_u32(s: Option<String>) -> Option<u32> {
    let s = s?;
    let s = s.trim_end_matches('\0');
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `WxH`, each side 1..=8192.
pub fn parse_resolution(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.trim_end_matches('\0').split_once('x')?;
    let (w, h) = (parse_u32(Some(w.into()))?, parse_u32(Some(h.into()))?);
    ((1..=8192).contains(&w) && (1..=8192).contains(&h)).then_some((w, h))
}

/// Whether a node's permissions (`xs_perm` strings: letter + domid, the
/// first naming the owner and the default for unlisted domains) let domain
/// `guest` change it: it owns it, or may write it.
pub fn guest_may_write(perms: &[String], guest: u32) -> bool {
    let parse = |p: &String| -> Option<(char, u32)> {
        let mut c = p.chars();
        let l = c.next()?;
        Some((l, c.as_str().parse().ok()?))
    };
    let Some(Some((default, owner))) = perms.first().map(parse) else { return true };
    if owner != 0 {
        return true; // not the toolstack's node
    }
    let writes = |l: char| l == 'w' || l == 'b';
    let listed = perms.iter().skip(1).filter_map(parse).find(|(_, d)| *d == guest);
    match listed {
        Some((l, _)) => writes(l),
        None => writes(default),
    }
}

/// A value read from the first existing node of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Written by the toolstack, not writable by the guest.
    Trusted(String),
    /// None of the nodes exists.
    Absent,
    /// The node found (named) may be written by the guest: not used.
    GuestWritable(String),
}

/// Read the first of `paths` that exists, and say whether domain `guest`
/// could have written it.
pub fn read_trusted(xs: &mut XenStore, paths: &[String], guest: u32) -> Result<Trust, XsError> {
    for p in paths {
        let Some(v) = xs.read(p)? else { continue };
        let Some(perms) = xs.get_perms(p)? else { continue };
        return Ok(if guest_may_write(&perms, guest) { Trust::GuestWritable(p.clone()) } else { Trust::Trusted(v) });
    }
    Ok(Trust::Absent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_untrusted_numbers() {
        assert_eq!(parse_u32(Some("42".into())), Some(42));
        assert_eq!(parse_u32(Some("4294967295".into())), Some(u32::MAX));
        for bad in ["", "-1", "4294967296", "0x10", " 1", "1 ", "99999999999999999999"] {
            assert_eq!(parse_u32(Some(bad.into())), None, "{bad:?}");
        }
        assert_eq!(parse_resolution("1024x768"), Some((1024, 768)));
        for bad in ["1024", "0x768", "1024x0", "x", "99999x1", "1024x768x1", "-1x2"] {
            assert_eq!(parse_resolution(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn who_may_write_a_node() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // libxl's read-only frontend nodes: owner dom0, guest may read
        assert!(!guest_may_write(&p(&["n0", "r5"]), 5));
        // the guest's own node
        assert!(guest_may_write(&p(&["n5", "r0"]), 5));
        // dom0's node but the guest listed as writer, or writable by default
        assert!(guest_may_write(&p(&["n0", "b5"]), 5));
        assert!(guest_may_write(&p(&["w0"]), 5));
        assert!(!guest_may_write(&p(&["r0", "w7"]), 5));
        // garbage reads as writable (untrusted)
        assert!(guest_may_write(&p(&[]), 5));
        assert!(guest_may_write(&p(&["zz"]), 5));
    }

    #[test]
    fn trusted_reads_against_a_xenstored() {
        use crate::support::fake_xenstored::FakeXenstored;
        let d = FakeXenstored::start();
        let mut xs = d.client();
        d.set("/be/be-alloc", "1");
        d.set("/fe/be-alloc", "0");
        d.set_perms("/fe/be-alloc", &["n5", "r0"]);
        let both = [String::from("/be/be-alloc"), String::from("/fe/be-alloc")];
        assert_eq!(read_trusted(&mut xs, &both, 5).unwrap(), Trust::Trusted("1".into()));
        assert_eq!(read_trusted(&mut xs, &both[1..], 5).unwrap(), Trust::GuestWritable("/fe/be-alloc".into()));
        d.set_perms("/fe/be-alloc", &["n0", "r5"]);
        assert_eq!(read_trusted(&mut xs, &both[1..], 5).unwrap(), Trust::Trusted("0".into()));
        assert_eq!(read_trusted(&mut xs, &[String::from("/nope")], 5).unwrap(), Trust::Absent);
    }
}
