//! jig's global allocator: a bump arena in front of the system allocator.
//!
//! A shim allocates a few hundred kilobytes (the index, the plan, paths) and then execs
//! the tool, which discards the whole address space: freeing and reusing memory buys
//! nothing there. The system allocator still costs on that path: musl's allocator maps
//! and unmaps small regions as it goes (a system call and a page fault each), and
//! glibc's spends its first call sizing its caches. So the first [`ARENA`] bytes are
//! handed out from a static buffer by bumping an offset: a few instructions per
//! allocation, and pages are touched in order, densely.
//!
//! Memory is given back only when the most recent allocation is freed or resized (a
//! growing `Vec` or `String` grows in place); anything else stays allocated until the
//! process ends. Once the arena is used up, every further allocation goes to the
//! system allocator, so long-running commands (an install) lose at most the arena's
//! size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Arena size. Less than a transparent huge page (2 MiB), so the kernel never backs it
/// with one (zeroing 2 MiB on the first touch would cost more than the arena saves).
pub const ARENA: usize = 1 << 20;

/// The allocator: `N` bytes of arena, then the system allocator (see the module docs).
#[repr(C, align(4096))]
pub struct Arena<const N: usize> {
    buffer: UnsafeCell<[u8; N]>,
    /// Offset of the first free byte in `buffer`.
    next: AtomicUsize,
}

// SAFETY: bytes of the buffer are handed out at most once at a time, through the
// atomic offset; the buffer itself is never accessed as a whole.
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Arena<N> {
    /// An empty arena.
    pub const fn new() -> Self {
        Arena {
            buffer: UnsafeCell::new([0; N]),
            next: AtomicUsize::new(0),
        }
    }

    fn base(&self) -> usize {
        self.buffer.get() as usize
    }

    /// The offset of `ptr` in the arena, if it points into it.
    fn offset(&self, ptr: *mut u8) -> Option<usize> {
        (ptr as usize).checked_sub(self.base()).filter(|o| *o < N)
    }

    /// Takes `size` bytes aligned to `align` from the arena, or returns None when it
    /// has no room left.
    fn bump(&self, size: usize, align: usize) -> Option<*mut u8> {
        let base = self.base();
        let mut next = self.next.load(Ordering::Relaxed);
        loop {
            let start = (base + next).checked_next_multiple_of(align)? - base;
            let end = start.checked_add(size).filter(|e| *e <= N)?;
            match self
                .next
                .compare_exchange_weak(next, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some((base + start) as *mut u8),
                Err(now) => next = now,
            }
        }
    }
}

// SAFETY: every block handed out is either a range of the arena no other live block
// overlaps (the offset only moves back over a block being freed or resized, and only
// when it is the last one), or comes from the system allocator and goes back to it.
unsafe impl<const N: usize> GlobalAlloc for Arena<N> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout.size(), layout.align()) {
            Some(p) => p,
            // SAFETY: forwarded with the caller's layout.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match self.offset(ptr) {
            Some(start) => {
                // Only the last block can be returned; a failed exchange means it is not.
                let end = start + layout.size();
                let _ =
                    self.next
                        .compare_exchange(end, start, Ordering::Relaxed, Ordering::Relaxed);
            }
            // SAFETY: a block from the system allocator, with the layout it was given.
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(start) = self.offset(ptr) else {
            // SAFETY: a block from the system allocator, with the layout it was given.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        let end = start + layout.size();
        // The last block grows or shrinks in place.
        if let Some(new_end) = start.checked_add(new_size).filter(|e| *e <= N)
            && self
                .next
                .compare_exchange(end, new_end, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: the caller guarantees new_size, rounded up to the alignment, fits
        // isize (GlobalAlloc::realloc's contract), which is what Layout requires.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a non-zero size (new_size > layout.size() >= 0).
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for layout.size() bytes and do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size());
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_distinct_and_the_last_one_grows_in_place() {
        let a = Box::new(Arena::<4096>::new());
        unsafe {
            let l8 = Layout::from_size_align(24, 8).unwrap();
            let p = a.alloc(l8);
            let q = a.alloc(Layout::from_size_align(10, 64).unwrap());
            assert_eq!(q as usize % 64, 0);
            assert!(q as usize >= p as usize + 24);
            p.write_bytes(0xaa, 24);
            // q is last: it grows in place, and p keeps its bytes.
            let q2 = a.realloc(q, Layout::from_size_align(10, 64).unwrap(), 100);
            assert_eq!(q2, q);
            // p is not last: growing it moves it, with its contents.
            let p2 = a.realloc(p, l8, 48);
            assert_ne!(p2, p);
            assert!((0..24).all(|i| *p2.add(i) == 0xaa));
            // Freeing the last block gives its bytes back.
            let before = a.next.load(Ordering::Relaxed);
            a.dealloc(p2, Layout::from_size_align(48, 8).unwrap());
            assert!(a.next.load(Ordering::Relaxed) < before);
            a.dealloc(q2, Layout::from_size_align(100, 64).unwrap());
        }
    }

    #[test]
    fn blocks_beyond_the_arena_come_from_the_system() {
        let a = Box::new(Arena::<4096>::new());
        unsafe {
            let small = a.alloc(Layout::from_size_align(4000, 8).unwrap());
            assert!(a.offset(small).is_some());
            let l = Layout::from_size_align(200, 8).unwrap();
            let p = a.alloc(l);
            assert!(!p.is_null());
            assert!(a.offset(p).is_none());
            p.add(199).write(1);
            // Growing an arena block past the end moves it to the system allocator.
            let grown = a.realloc(small, Layout::from_size_align(4000, 8).unwrap(), 8000);
            assert!(a.offset(grown).is_none());
            a.dealloc(grown, Layout::from_size_align(8000, 8).unwrap());
            a.dealloc(p, l);
        }
    }
}
