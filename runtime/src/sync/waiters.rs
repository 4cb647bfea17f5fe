//! A FIFO list of parked waiters: the queue inside `Semaphore` and `Event`.
//!
//! Each waiting future owns one node, named by its slab key. A node is either
//! *waiting* (linked into the list, holding the task's latest waker) or
//! *notified* (unlinked, holding the notice it was given: "you got a permit",
//! "the semaphore closed", "the event was set"). Only the owning future
//! removes its node, so a key is never reused while its owner still holds it.
//!
//! The list is threaded through the slab by keys (`prev`/`next`), which gives
//! the three operations a fair lock needs in O(1) and in safe Rust: append a
//! newcomer, take the oldest waiter, and unlink a waiter that gave up.
//!
//! The list knows nothing of locks: its owner keeps it behind a mutex and
//! wakes the returned wakers only after unlocking.

use std::task::Waker;

use slab::Slab;

/// One waiter's node.
struct Node<N> {
    /// The waker to call on notification. Replaced when the task is polled
    /// with a different waker; taken when the node is notified.
    waker: Option<Waker>,
    /// `None` while waiting (and linked); `Some` once notified (and unlinked).
    notice: Option<N>,
    /// Neighbours in the list; meaningful only while waiting.
    prev: Option<usize>,
    next: Option<usize>,
}

/// Waiters in arrival order; `N` is what a notified waiter is told.
pub(crate) struct WaitList<N> {
    nodes: Slab<Node<N>>,
    /// The oldest waiting node: the next to be notified.
    head: Option<usize>,
    /// The newest waiting node: where newcomers are linked.
    tail: Option<usize>,
}

impl<N> WaitList<N> {
    pub(crate) const fn new() -> WaitList<N> {
        WaitList {
            nodes: Slab::new(),
            head: None,
            tail: None,
        }
    }

    /// True when no node is waiting (notified nodes do not count: they are
    /// only waiting to be picked up by their owners).
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Queues a new waiter at the back and returns its key.
    pub(crate) fn push_back(&mut self, waker: Waker) -> usize {
        let key = self.nodes.insert(Node {
            waker: Some(waker),
            notice: None,
            prev: self.tail,
            next: None,
        });
        match self.tail {
            Some(tail) => self.nodes[tail].next = Some(key),
            None => self.head = Some(key),
        }
        self.tail = Some(key);
        key
    }

    /// The owner of `key` is being polled again: hands over its notice (and
    /// frees the node) if it has one, or else remembers `waker` in place.
    /// The node keeps its place in the queue, so polling twice never queues
    /// a waiter twice.
    pub(crate) fn poll_notice(&mut self, key: usize, waker: &Waker) -> Option<N> {
        let node = &mut self.nodes[key];
        if node.notice.is_some() {
            return self.nodes.remove(key).notice;
        }
        match &mut node.waker {
            // The common case: the same task polls again; skip the clone.
            Some(w) if w.will_wake(waker) => {}
            other => *other = Some(waker.clone()),
        }
        None
    }

    /// The owner of `key` gives up (it is being dropped): frees its node and
    /// returns the notice it had been given but never picked up, if any. The
    /// caller must pass on whatever that notice granted.
    pub(crate) fn remove(&mut self, key: usize) -> Option<N> {
        if self.nodes[key].notice.is_none() {
            self.unlink(key);
        }
        self.nodes.remove(key).notice
    }

    /// Notifies the oldest waiter: unlinks it, gives it `notice`, and returns
    /// its waker for the caller to wake once its lock is released. `None`
    /// when nobody waits.
    pub(crate) fn notify_one(&mut self, notice: N) -> Option<Waker> {
        let key = self.head?;
        self.unlink(key);
        let node = &mut self.nodes[key];
        node.notice = Some(notice);
        node.waker.take()
    }

    /// Notifies every waiter, appending their wakers to `wakers`.
    pub(crate) fn notify_all(&mut self, notice: N, wakers: &mut Vec<Waker>)
    where
        N: Clone,
    {
        while let Some(waker) = self.notify_one(notice.clone()) {
            wakers.push(waker);
        }
    }

    /// Takes a waiting node out of the chain, joining its neighbours.
    fn unlink(&mut self, key: usize) {
        let (prev, next) = {
            let node = &mut self.nodes[key];
            (node.prev.take(), node.next.take())
        };
        match prev {
            Some(prev) => self.nodes[prev].next = next,
            None => self.head = next,
        }
        match next {
            Some(next) => self.nodes[next].prev = prev,
            None => self.tail = prev,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> Waker {
        Waker::from(Arc::new(Count(AtomicUsize::new(0))))
    }

    #[test]
    fn notifies_in_arrival_order_and_skips_the_removed() {
        let mut list = WaitList::new();
        let a = list.push_back(waker());
        let b = list.push_back(waker());
        let c = list.push_back(waker());
        assert_eq!(list.remove(b), None); // gave up while waiting
        assert!(list.notify_one(1).is_some());
        assert!(list.notify_one(2).is_some());
        assert!(list.notify_one(3).is_none());
        assert!(list.is_empty());
        assert_eq!(list.poll_notice(a, &waker()), Some(1));
        assert_eq!(list.remove(c), Some(2)); // notified, then dropped
    }

    #[test]
    fn removing_the_tail_lets_newcomers_link_after_the_rest() {
        let mut list = WaitList::new();
        let a = list.push_back(waker());
        let b = list.push_back(waker());
        list.remove(b);
        let c = list.push_back(waker());
        list.notify_one('a');
        list.notify_one('c');
        assert_eq!(list.poll_notice(a, &waker()), Some('a'));
        assert_eq!(list.poll_notice(c, &waker()), Some('c'));
    }
}
