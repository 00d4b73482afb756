//! Unmap notifications: what the kernel does for the peer when a mapping or
//! share goes away (unmap, unshare, process exit or crash).

use crate::sys::gntdev::{UnmapNotify as RawNotify, UNMAP_NOTIFY_CLEAR_BYTE, UNMAP_NOTIFY_SEND_EVENT};

/// Which notifications to arm on a one-page mapping or share.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnmapNotify {
    /// Byte offset in the page to set to zero.
    pub clear_byte: Option<u32>,
    /// Event channel port (bound in this domain) to signal.
    pub event_port: Option<u32>,
}

impl UnmapNotify {
    /// From the C convention: `-1` means "none" for both.
    pub fn from_c(offset: u32, port: u32) -> Self {
        UnmapNotify {
            clear_byte: (offset != u32::MAX).then_some(offset),
            event_port: (port != u32::MAX).then_some(port),
        }
    }

    /// The request for a mapping at kernel offset `index` of `len` bytes, or
    /// `None` if nothing is armed. As upstream, a byte offset outside the
    /// mapping is ignored rather than refused.
    pub(crate) fn request(&self, index: u64, len: usize) -> Option<RawNotify> {
        let mut req = RawNotify { index, action: 0, event_channel_port: 0 };
        if let Some(off) = self.clear_byte.filter(|&o| (o as usize) < len) {
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
    fn minus_one_disables_each_part() {
        assert_eq!(UnmapNotify::from_c(u32::MAX, u32::MAX).request(0x5000, 4096).map(|r| r.action), None);
        let r = UnmapNotify::from_c(10, u32::MAX).request(0x5000, 4096).unwrap();
        assert_eq!((r.index, r.action, r.event_channel_port), (0x500a, UNMAP_NOTIFY_CLEAR_BYTE, 0));
        let r = UnmapNotify::from_c(u32::MAX, 7).request(0x5000, 4096).unwrap();
        assert_eq!((r.index, r.action, r.event_channel_port), (0x5000, UNMAP_NOTIFY_SEND_EVENT, 7));
    }

    #[test]
    fn offset_outside_the_mapping_is_ignored_like_upstream() {
        assert!(UnmapNotify::from_c(4096, u32::MAX).request(0, 4096).is_none());
        assert!(UnmapNotify::from_c(4095, u32::MAX).request(0, 4096).is_some());
    }
}
