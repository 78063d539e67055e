//! One heap allocation that holds an actor's handler future, refilled for
//! every message.
//!
//! Each message builds a future of its own type (one per method, plus the
//! ready futures of refused letters), so the slot is type-erased. It keeps
//! the largest size and alignment asked so far, and a future that fits is
//! written into the existing allocation: an actor whose methods build
//! futures of different sizes allocates once per size it grows to, not once
//! per change of method. (tokio-util's `ReusableBoxFuture` reuses its box
//! only for a future of exactly the same layout, and swaps a placeholder in
//! and out of it on every refill.)

use std::alloc::{self, Layout};
use std::future::Future;
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll};

type Erased<O> = dyn Future<Output = O> + Send + 'static;

/// A slot for futures with output `O`.
pub(crate) struct FutureSlot<O: 'static> {
    /// The last future put in the slot; its address is the start of the
    /// slot's memory (dangling before the first future).
    future: NonNull<Erased<O>>,
    /// Whether `future` is still there (not dropped yet).
    live: bool,
    /// The memory's size in bytes (0: no memory yet) and the log2 of its
    /// alignment: 8 bytes rather than a `Layout`'s 16, as every actor's task
    /// holds a slot.
    size: u32,
    align_log2: u8,
}

// SAFETY: the slot owns its future, which is `Send`, and its memory; it
// gives out the future only through `&mut self`.
unsafe impl<O: 'static> Send for FutureSlot<O> {}

impl<O: 'static> FutureSlot<O> {
    /// An empty slot; it allocates with the first future it is given.
    pub(crate) fn new() -> FutureSlot<O> {
        let none: NonNull<std::future::Pending<O>> = NonNull::dangling();
        FutureSlot { future: none, live: false, size: 0, align_log2: 0 }
    }

    /// Drops the future in the slot, if any, and puts `future` in its place.
    pub(crate) fn set<F: Future<Output = O> + Send + 'static>(&mut self, future: F) {
        self.set_with(|| future);
    }

    /// As [`set`](FutureSlot::set), with the future made by `make` once the
    /// slot is ready for it: written where it will be polled, rather than
    /// made first and copied in (a handler's future can be a few hundred
    /// bytes).
    pub(crate) fn set_with<F: Future<Output = O> + Send + 'static>(&mut self, make: impl FnOnce() -> F) {
        self.clear();
        let needed = Layout::new::<F>();
        let layout = self.layout();
        if needed.size() > layout.size() || needed.align() > layout.align() {
            self.grow(needed);
        }
        let place = self.future.cast::<F>();
        // SAFETY: the memory is valid for writes of its layout, which is at
        // least as large and as aligned as `F` (`grow` made it so), and
        // holds no value since `clear`.
        unsafe { place.as_ptr().write(make()) };
        self.future = place;
        self.live = true;
    }

    /// Polls the future in the slot; an empty slot is done, with `None`.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<O>> {
        if !self.live {
            return Poll::Ready(None);
        }
        // SAFETY: a live future sits in the slot's memory until `clear` drops
        // it in place; it is never moved, so pinning it is sound.
        unsafe { Pin::new_unchecked(&mut *self.future.as_ptr()) }.poll(cx).map(Some)
    }

    /// The layout of the slot's memory.
    fn layout(&self) -> Layout {
        // SAFETY: `size` and `align_log2` are only ever set from a valid
        // layout (`grow`), or are those of `()`.
        unsafe { Layout::from_size_align_unchecked(self.size as usize, 1 << self.align_log2) }
    }

    /// Drops the future in the slot, if any; the memory stays.
    fn clear(&mut self) {
        if std::mem::take(&mut self.live) {
            // SAFETY: a live future is a value in the slot's memory, dropped
            // once: it is marked dropped above.
            unsafe { ptr::drop_in_place(self.future.as_ptr()) };
        }
    }

    /// Makes the memory fit `needed` as well as what it held before (and
    /// at least one byte, so that even a zero-sized future gets memory
    /// aligned for it). The slot must be empty.
    fn grow(&mut self, needed: Layout) {
        let old = self.layout();
        let size = needed.size().max(old.size()).max(1);
        let align = needed.align().max(old.align());
        let (Ok(layout), Ok(size32)) = (Layout::from_size_align(size, align), u32::try_from(size)) else {
            panic!("a handler future of {size} bytes aligned to {align}");
        };
        self.release();
        // SAFETY: `layout` is at least one byte.
        let memory = unsafe { alloc::alloc(layout) };
        let memory = NonNull::new(memory).unwrap_or_else(|| alloc::handle_alloc_error(layout));
        self.future = memory.cast::<std::future::Pending<O>>();
        (self.size, self.align_log2) = (size32, align.trailing_zeros() as u8);
    }

    /// Gives the memory back (the slot must be empty).
    fn release(&mut self) {
        if self.size > 0 {
            // SAFETY: the memory was allocated with this layout, and is
            // released once: the slot is reset to no memory right after.
            unsafe { alloc::dealloc(self.future.cast::<u8>().as_ptr(), self.layout()) };
        }
        self.future = NonNull::<std::future::Pending<O>>::dangling();
        (self.size, self.align_log2) = (0, 0);
    }
}

impl<O: 'static> Drop for FutureSlot<O> {
    fn drop(&mut self) {
        self.clear();
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use std::future::{self, poll_fn};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Waker;

    use super::*;

    /// What the test futures end with.
    enum Outcome {
        Done,
        Panicked(String),
    }

    /// Counts its drops.
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll(slot: &mut FutureSlot<Outcome>) -> Poll<Option<Outcome>> {
        slot.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn futures_of_any_size_run_and_are_dropped_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut slot = FutureSlot::new();
        assert!(matches!(poll(&mut slot), Poll::Ready(None)), "empty is done");
        let big = [7u8; 300];
        let counted = Counted(drops.clone());
        slot.set(async move {
            let _counted = counted;
            let mut first = true;
            poll_fn(|_| if std::mem::take(&mut first) { Poll::Pending } else { Poll::Ready(()) }).await;
            Outcome::Panicked(format!("{}", big.iter().map(|&b| usize::from(b)).sum::<usize>()))
        });
        let grown = slot.layout();
        assert!(poll(&mut slot).is_pending());
        assert!(matches!(poll(&mut slot), Poll::Ready(Some(Outcome::Panicked(sum))) if sum == "2100"));
        assert_eq!(drops.load(Ordering::SeqCst), 1, "the finished future dropped what it held");
        // A smaller future reuses the memory; an unfinished one is dropped
        // when replaced.
        let counted = Counted(drops.clone());
        slot.set(async move {
            let _counted = counted;
            future::pending::<()>().await;
            Outcome::Done
        });
        assert_eq!(slot.layout(), grown, "no new memory for a smaller future");
        assert!(poll(&mut slot).is_pending());
        slot.set(future::ready(Outcome::Done));
        assert_eq!(drops.load(Ordering::SeqCst), 2, "the unfinished future was dropped");
        assert!(matches!(poll(&mut slot), Poll::Ready(Some(Outcome::Done))));
        let counted = Counted(drops.clone());
        slot.set(async move {
            let _counted = counted;
            future::pending::<Outcome>().await
        });
        drop(slot);
        assert_eq!(drops.load(Ordering::SeqCst), 3, "the slot drops its future");
    }

    #[test]
    fn a_more_aligned_future_gets_aligned_memory() {
        #[repr(align(64))]
        struct Aligned(u8);
        let mut slot = FutureSlot::new();
        slot.set(future::ready(Outcome::Done));
        let aligned = Aligned(3);
        slot.set(async move {
            let at = &raw const aligned as usize;
            Outcome::Panicked(format!("{} {}", aligned.0, at % 64))
        });
        assert!(slot.layout().align() >= 64);
        assert!(matches!(poll(&mut slot), Poll::Ready(Some(Outcome::Panicked(s))) if s == "3 0"));
    }
}
