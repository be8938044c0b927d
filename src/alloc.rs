//! The process's memory allocator: the system's, with large blocks backed by huge pages.
//!
//! A 10-million-row run touches gigabytes of fresh memory (polars' decoded columns, the
//! metric buffers), and with 4 kB pages the kernel takes a fault for each: a million
//! faults, a third of the CPU time of a Parquet `tiers` run. Blocks of [`HUGE`] bytes or more are
//! marked `MADV_HUGEPAGE`, so that where the kernel allows transparent huge pages (the
//! common `madvise` setting) they fault in 2 MB at a time. Everything else is the system
//! allocator's behaviour; elsewhere than Linux it is the system allocator alone.

use std::alloc::{GlobalAlloc, Layout, System};

/// The system allocator, asking for huge pages under large blocks.
pub struct HugePages;

/// Blocks of this many bytes or more are advised (below it a block holds at most one
/// aligned 2 MB page, rarely any).
pub const HUGE: usize = 1 << 20;

// SAFETY: every call is the system allocator's, with the same arguments; the advice only
// changes how the kernel backs pages of a block the caller owns.
unsafe impl GlobalAlloc for HugePages {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        advise(p, layout.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // (A large zeroed block is fresh mapped memory whose pages fault in when first
        // touched, after the advice.)
        let p = unsafe { System.alloc_zeroed(layout) };
        advise(p, layout.size());
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if new_size > layout.size() {
            advise(p, new_size);
        }
        p
    }
}

/// Marks the whole pages inside a large block for huge pages.
#[cfg(target_os = "linux")]
fn advise(p: *mut u8, size: usize) {
    if p.is_null() || size < HUGE {
        return;
    }
    const PAGE: usize = 4096;
    let start = (p as usize).next_multiple_of(PAGE);
    let end = (p as usize + size) / PAGE * PAGE;
    if end > start {
        // SAFETY: the range lies inside a block just allocated to the caller; the advice
        // does not change its contents. A refusal (no THP support) is harmless.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_: *mut u8, _: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_every_size_allocate_grow_and_free() {
        let a = HugePages;
        for size in [1, 4096, HUGE - 1, HUGE, 3 * HUGE + 5] {
            let layout = Layout::from_size_align(size, 64).unwrap();
            unsafe {
                let p = a.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                p.write_bytes(7, size);
                let q = a.realloc(p, layout, 2 * size);
                assert!(!q.is_null());
                assert!(std::slice::from_raw_parts(q, size).iter().all(|&b| b == 7));
                a.dealloc(q, Layout::from_size_align(2 * size, 64).unwrap());
            }
        }
    }
}
