//! The keep-alive pool: idle connections per (scheme, host, port), ready for reuse.
//!
//! A connection comes back only when `Connection::may_be_reused` said so at the end of its
//! body. At checkout an idle connection is checked again (the connection layer's idle probe):
//! a server may have closed it while it sat here, and sending a request into it would fail.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use simul_runtime::time;

use super::conn::{Connection, PoolKey};
use crate::connect::ProbeDepth;

pub(super) struct Pool {
    idle: RefCell<HashMap<PoolKey, Vec<Connection>>>,
    max_idle_per_host: usize,
    max_idle_age: Duration,
}

impl Pool {
    pub(super) fn new(max_idle_per_host: usize, max_idle_age: Duration) -> Pool {
        Pool {
            idle: RefCell::new(HashMap::new()),
            max_idle_per_host,
            max_idle_age,
        }
    }

    /// The most recently used healthy connection to `key`, if any, probed as
    /// sure as `depth` says; stale ones found on the way are closed.
    pub(super) fn checkout(&self, key: &PoolKey, depth: ProbeDepth) -> Option<Connection> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(key)?;
        // Most recent first: the least likely to have been closed by the server.
        while let Some(mut conn) = list.pop() {
            if conn.is_reusable(self.max_idle_age, depth) {
                return Some(conn);
            }
        }
        None
    }

    /// Keeps `conn` for reuse, within the per-host bound (the oldest goes).
    // BOOK: pool-checkin
    pub(super) fn checkin(&self, mut conn: Connection) {
        if self.max_idle_per_host == 0 {
            return;
        }
        conn.idle_since = time::now();
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(conn.key.clone()).or_default();
        list.retain(|c| c.idle_age() < self.max_idle_age);
        if list.len() >= self.max_idle_per_host {
            list.remove(0);
        }
        list.push(conn);
    }

    /// Idle connections held now, for all hosts.
    pub(super) fn idle_count(&self) -> usize {
        self.idle.borrow().values().map(Vec::len).sum()
    }
}
