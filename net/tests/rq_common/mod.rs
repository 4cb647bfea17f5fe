//! What the tests of the job queue (`rq.rs`, `rq_lingering.rs`) share beyond the Redis server.

#![allow(dead_code)] // not every test uses every helper

use std::time::Duration;

use simul_net::rq::{JobStatus, Queue};
use simul_runtime::time;

/// Polls job `id` until it has `status` (bounded: 10 s).
pub async fn until_status(queue: &mut Queue, id: &str, status: JobStatus) {
    for _ in 0..1000 {
        if queue.status(id).await.expect("status") == Some(status) {
            return;
        }
        time::sleep(Duration::from_millis(10)).await;
    }
    panic!("job {id} never became {status}");
}
