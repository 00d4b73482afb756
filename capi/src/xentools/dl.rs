//! dlopen/dlvsym, the only way in to the optional Xen libraries.

use std::ffi::{c_void, CStr};
use std::ptr::NonNull;

/// Address of `name@version` in `library`, loading the library if it is
/// installed but not loaded yet. Libraries are never unloaded: a symbol
/// returned here stays valid for the life of the process.
pub fn symbol(library: &CStr, name: &CStr, version: &CStr) -> Option<NonNull<c_void>> {
    // SAFETY: dlopen/dlvsym take NUL-terminated strings and have no other
    // preconditions; a shared-object's initialisers run as for any dlopen.
    unsafe {
        let handle = libc::dlopen(library.as_ptr(), libc::RTLD_LAZY);
        if handle.is_null() {
            return None;
        }
        NonNull::new(libc::dlvsym(handle, name.as_ptr(), version.as_ptr()))
    }
}
