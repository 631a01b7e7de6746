//! The memory of one argon2 hash (19 MiB) as a mapping of its own, not from the allocator.
//!
//! Why: glibc serves a block this size with its own mmap only until the first such block
//! is freed; that free raises its adaptive mmap threshold above the size, so every later
//! area comes from the heap of whichever thread allocates it. Freed, such an area becomes
//! the top of that thread heap, which glibc keeps while it is below its (equally adaptive)
//! trim threshold, and `malloc_trim` releases free chunks in bins but not a thread heap's
//! top. Measured on the debug binary with 32 blocking threads, six bursts of 40 sign-ups
//! and 40 logins: anonymous memory 5 MiB idle, then 6, 26, 104, 84, 85 and 124 MiB after
//! successive bursts, each step one 19.5 MiB region at the start of a 64 MiB-aligned
//! thread heap in `/proc/<pid>/smaps`.
//!
//! A mapping made here is unmapped when the area is dropped, on whatever thread, so the
//! memory that hashing holds is exactly the live areas: the bound holds by construction.

use argon2::Block;

/// Zeroed argon2 blocks, owned; unmapped (or freed) on drop.
pub struct WorkArea {
    blocks: imp::Blocks,
}

impl WorkArea {
    /// `count` zeroed blocks of 1 KiB. Fails only when the system has no memory to give.
    pub fn new(count: usize) -> std::io::Result<Self> {
        imp::Blocks::new(count).map(|blocks| Self { blocks })
    }

    pub fn blocks_mut(&mut self) -> &mut [Block] {
        self.blocks.as_mut_slice()
    }
}

#[cfg(unix)]
mod imp {
    use std::ptr::NonNull;

    use argon2::Block;

    pub struct Blocks {
        start: NonNull<Block>,
        count: usize,
    }

    // SAFETY: `Blocks` owns its mapping exclusively (like a `Box<[Block]>`); nothing else
    // holds the pointer, so moving it to another thread is sound.
    unsafe impl Send for Blocks {}

    impl Blocks {
        pub fn new(count: usize) -> std::io::Result<Self> {
            let len = Self::byte_len(count)?;
            if len == 0 {
                return Ok(Self {
                    start: NonNull::dangling(),
                    count: 0,
                });
            }
            // SAFETY: an anonymous private mapping at an address of the kernel's choosing
            // touches no existing memory. It comes back zeroed and page-aligned, which is
            // a valid, aligned `[Block]` (a block is 128 u64s, aligned to 64 bytes).
            let address = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if address == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error());
            }
            let start = NonNull::new(address.cast::<Block>())
                .ok_or_else(|| std::io::Error::other("mmap returned a null mapping"))?;
            Ok(Self { start, count })
        }

        pub fn as_mut_slice(&mut self) -> &mut [Block] {
            // SAFETY: `start` points to `count` initialised blocks that this value owns;
            // `&mut self` makes the borrow exclusive.
            unsafe { std::slice::from_raw_parts_mut(self.start.as_ptr(), self.count) }
        }

        fn byte_len(count: usize) -> std::io::Result<usize> {
            count
                .checked_mul(std::mem::size_of::<Block>())
                .ok_or_else(|| std::io::Error::other("work area size overflows"))
        }
    }

    impl Drop for Blocks {
        fn drop(&mut self) {
            let Ok(len) = Self::byte_len(self.count) else {
                return;
            };
            if len > 0 {
                // SAFETY: exactly the mapping `new` made, unmapped once; no borrow of it
                // outlives `self`.
                unsafe {
                    libc::munmap(self.start.as_ptr().cast(), len);
                }
            }
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use argon2::Block;

    /// Elsewhere the allocator's own large-block path is the best there is.
    pub struct Blocks(Vec<Block>);

    impl Blocks {
        pub fn new(count: usize) -> std::io::Result<Self> {
            Ok(Self(vec![Block::default(); count]))
        }

        pub fn as_mut_slice(&mut self) -> &mut [Block] {
            &mut self.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_area_is_zeroed_writable_and_the_size_asked_for() {
        let mut area = WorkArea::new(19 * 1024).unwrap();
        let blocks = area.blocks_mut();
        assert_eq!(blocks.len(), 19 * 1024);
        assert!(blocks
            .iter()
            .all(|block| block.as_ref().iter().all(|w| *w == 0)));
        blocks[0].as_mut()[0] = 7;
        blocks[19 * 1024 - 1].as_mut()[127] = 9;
        assert_eq!(blocks[0].as_ref()[0], 7);
        assert!(WorkArea::new(0).unwrap().blocks_mut().is_empty());
    }
}
