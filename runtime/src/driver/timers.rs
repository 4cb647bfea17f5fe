//! The timer queue: pending deadlines, the nearest first.
//!
//! A binary heap orders `(deadline, sequence)` — the sequence makes timers
//! with equal deadlines fire in creation order. Each heap entry names a slot in
//! a slab that holds the waker. Cancelling (dropping a `Sleep`) frees the slot
//! at once and leaves the heap entry behind as garbage, recognised later by
//! its sequence number; when garbage outnumbers live entries the heap is
//! rebuilt. So cancel is O(1), and a million timers cancelled at once cost
//! one O(n) rebuild, not a million O(log n) removals. asyncio does the same
//! with its `_timer_cancelled_count`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::Instant;

use slab::Slab;

/// Names a pending timer: slab slot plus the sequence it was created with.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    slot: usize,
    seq: u64,
}

struct TimerSlot {
    seq: u64,
    waker: Waker,
}

pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    slots: Slab<TimerSlot>,
    next_seq: u64,
    /// Heap entries whose slot was cancelled: garbage to skip or sweep.
    cancelled: usize,
}

impl TimerQueue {
    pub(crate) fn new() -> TimerQueue {
        TimerQueue {
            heap: BinaryHeap::new(),
            slots: Slab::new(),
            next_seq: 0,
            cancelled: 0,
        }
    }

    pub(crate) fn insert(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = self.slots.insert(TimerSlot { seq, waker });
        self.heap.push(Reverse((deadline, seq, slot)));
        TimerKey { slot, seq }
    }

    /// True while the timer is pending (not fired, not cancelled).
    pub(crate) fn is_pending(&self, key: TimerKey) -> bool {
        self.slots.get(key.slot).is_some_and(|s| s.seq == key.seq)
    }

    /// Replaces the waker if the timer is now awaited by someone else, and
    /// returns the old one for the caller to drop outside its borrow.
    pub(crate) fn update_waker(&mut self, key: TimerKey, waker: &Waker) -> Option<Waker> {
        match self.slots.get_mut(key.slot) {
            Some(slot) if slot.seq == key.seq && !slot.waker.will_wake(waker) => {
                Some(std::mem::replace(&mut slot.waker, waker.clone()))
            }
            _ => None,
        }
    }

    /// Cancels a pending timer; a fired or already cancelled one is ignored.
    /// Returns the waker so the caller can drop it outside any borrow.
    // BOOK: timer-cancel
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<Waker> {
        if !self.is_pending(key) {
            return None;
        }
        let slot = self.slots.remove(key.slot);
        self.cancelled += 1;
        if self.cancelled > 64 && self.cancelled > self.heap.len() / 2 {
            let slots = &self.slots;
            self.heap
                .retain(|Reverse((_, seq, slot))| slots.get(*slot).is_some_and(|s| s.seq == *seq));
            self.cancelled = 0;
        }
        Some(slot.waker)
    }

    /// The nearest pending deadline, sweeping cancelled entries off the top.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((deadline, seq, slot))) = self.heap.peek() {
            if self.slots.get(slot).is_some_and(|s| s.seq == seq) {
                return Some(deadline);
            }
            self.heap.pop();
            self.cancelled = self.cancelled.saturating_sub(1);
        }
        None
    }

    /// Removes every timer due at `now` (deadline <= now, so never early) and
    /// collects their wakers in deadline order. Returns how many fired.
    pub(crate) fn fire_due(&mut self, now: Instant, wakers: &mut Vec<Waker>) -> usize {
        let mut fired = 0;
        while let Some(&Reverse((deadline, seq, slot))) = self.heap.peek() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            if self.slots.get(slot).is_some_and(|s| s.seq == seq) {
                wakers.push(self.slots.remove(slot).waker);
                fired += 1;
            } else {
                self.cancelled = self.cancelled.saturating_sub(1);
            }
        }
        fired
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Heap entries, live or garbage: lets tests check that garbage is bounded.
    #[cfg(test)]
    fn heap_len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_task::noop_waker;
    use std::time::Duration;

    #[test]
    fn equal_deadlines_fire_in_creation_order_and_never_early() {
        let mut q = TimerQueue::new();
        let t0 = Instant::now();
        let a = q.insert(t0 + Duration::from_millis(5), noop_waker());
        let b = q.insert(t0 + Duration::from_millis(5), noop_waker());
        let c = q.insert(t0 + Duration::from_millis(1), noop_waker());
        let mut w = Vec::new();
        assert_eq!(q.fire_due(t0, &mut w), 0, "nothing is due yet");
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(1)));
        assert_eq!(q.fire_due(t0 + Duration::from_millis(1), &mut w), 1);
        assert!(!q.is_pending(c) && q.is_pending(a) && q.is_pending(b));
        assert_eq!(q.fire_due(t0 + Duration::from_millis(5), &mut w), 2);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn cancelling_most_timers_keeps_the_heap_bounded() {
        let mut q = TimerQueue::new();
        let t0 = Instant::now();
        let keys: Vec<_> = (0..10_000)
            .map(|i| q.insert(t0 + Duration::from_millis(i), noop_waker()))
            .collect();
        for k in &keys[..9_000] {
            assert!(q.cancel(*k).is_some());
        }
        assert!(q.cancel(keys[0]).is_none(), "double cancel is a no-op");
        assert_eq!(q.len(), 1_000);
        assert!(
            q.heap_len() <= 2 * 1_000 + 64,
            "garbage is swept: {}",
            q.heap_len()
        );
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(9_000)));
    }
}
