//! The allocator's part of the memory bound (ARCHITECTURE.md, "Memory").
//!
//! The fetch and parse stages bound what is *live*: the body budget bounds the bytes held, the
//! parse's expansion is charged before it runs. What the process keeps is another matter: glibc
//! raises its mmap threshold each time it frees a large mapped block, so after the first large
//! body every later one (and every large string the parser builds) comes from the arenas, and a
//! freed arena is kept, one per thread that allocated in it. Several large documents parsed in
//! turn on different threads then cost their sum, not their maximum. Here the threshold is fixed
//! (large blocks are always mapped, and unmapped when freed), and the arenas' free pages are
//! given back after a large parse. Both are glibc's; elsewhere these do nothing.

/// Blocks at least this large are mapped on their own and returned to the system when freed.
/// Bodies, documents and their copies are larger; a feed's many small strings are not.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 256 * 1024;

/// Fixes the allocator's behaviour for large blocks. Call once, first thing in `main`, before
/// any thread starts.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's parameters; called before other threads exist.
    unsafe {
        // Setting it at all turns off glibc's dynamic raising of the threshold.
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Gives the free pages of every arena back to the system: after a parse of a large document,
/// whose thousands of strings were freed into the parse thread's arena.
pub fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe (it locks each arena in turn).
    unsafe {
        libc::malloc_trim(0);
    }
}
