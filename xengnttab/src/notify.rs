//! Unmap notifications: what the kernel does for the peer when a mapping or
//! share goes away (unmap, unshare, process exit or crash), so that it
//! learns its partner is gone.

use crate::sys::gntdev::{UnmapNotify as Request, UNMAP_NOTIFY_CLEAR_BYTE, UNMAP_NOTIFY_SEND_EVENT};

/// Which notifications to arm on a mapping or share; none by default.
///
/// ```
/// let n = xengnttab::UnmapNotify::default().clear_byte(64).event(7);
/// assert_eq!((n.clear_byte_offset(), n.event_port()), (Some(64), Some(7)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnmapNotify {
    clear_byte: Option<u32>,
    event_port: Option<u32>,
}

impl UnmapNotify {
    /// Also set the byte at `offset` (from the start of the mapping) to zero.
    #[must_use]
    pub fn clear_byte(self, offset: u32) -> Self {
        UnmapNotify { clear_byte: Some(offset), ..self }
    }

    /// Also signal event channel `port` (bound in this domain, e.g. through
    /// `/dev/xen/evtchn`).
    #[must_use]
    pub fn event(self, port: u32) -> Self {
        UnmapNotify { event_port: Some(port), ..self }
    }

    /// The byte to clear, if any.
    pub fn clear_byte_offset(&self) -> Option<u32> {
        self.clear_byte
    }

    /// The event channel to signal, if any.
    pub fn event_port(&self) -> Option<u32> {
        self.event_port
    }

    /// Whether the byte to clear lies in a mapping of `len` bytes.
    pub(crate) fn fits(&self, len: usize) -> bool {
        self.clear_byte.map_or(true, |o| (o as usize) < len)
    }

    /// The request for a mapping at kernel offset `index`, or `None` if
    /// nothing is armed. The caller has checked [`Self::fits`].
    pub(crate) fn request(&self, index: u64) -> Option<Request> {
        let mut req = Request { index, action: 0, event_channel_port: 0 };
        if let Some(off) = self.clear_byte {
            req.index += u64::from(off);
            req.action |= UNMAP_NOTIFY_CLEAR_BYTE;
        }
        if let Some(port) = self.event_port {
            req.event_channel_port = port;
            req.action |= UNMAP_NOTIFY_SEND_EVENT;
        }
        (req.action != 0).then_some(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_part_sets_its_action() {
        assert!(UnmapNotify::default().request(0x5000).is_none());
        let r = UnmapNotify::default().clear_byte(10).request(0x5000).unwrap();
        assert_eq!((r.index, r.action, r.event_channel_port), (0x500a, UNMAP_NOTIFY_CLEAR_BYTE, 0));
        let r = UnmapNotify::default().event(7).request(0x5000).unwrap();
        assert_eq!((r.index, r.action, r.event_channel_port), (0x5000, UNMAP_NOTIFY_SEND_EVENT, 7));
        assert!(!UnmapNotify::default().clear_byte(4096).fits(4096));
        assert!(UnmapNotify::default().clear_byte(4095).fits(4096));
    }
}
