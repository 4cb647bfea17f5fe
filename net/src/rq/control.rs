//! RQ's worker commands, over pub/sub: what Python's `send_shutdown_command`,
//! `send_stop_job_command` and `send_kill_horse_command` publish on `rq:pubsub:<name>`, a JSON
//! object such as `{"command": "stop-job", "job_id": "..."}`.
//!
//! | command | what our worker does (what RQ's does) |
//! |---|---|
//! | `shutdown` | a warm stop, as SIGINT (RQ sends itself SIGINT) |
//! | `stop-job` | the job, if it runs here, is interrupted and ends *stopped*, in the failed registry |
//! | `kill-horse` | every running job is interrupted and fails as if its work horse had died |
//!
//! Invariant this file owns: **a command is only ever a request.** Payloads are untrusted: one
//! that is not a JSON object with a known command is logged and ignored, and no command can do
//! more than the three above.

use std::rc::Rc;
use std::time::Duration;

use serde_json::Value;
use simul_runtime::time::sleep;
use simul_runtime::{select, Either};

use super::codec::log_safe;
use super::context::{Context, Interrupt, StopEvents};
use super::keys::Keys;
use crate::redis::Subscriber;

/// Listens on `rq:pubsub:<name>` until the worker stops; reconnects after an outage.
pub(crate) async fn listen(context: Rc<Context>, mut commands: Subscriber) {
    let mut failing = false;
    loop {
        match commands.next().await {
            Ok(message) => {
                failing = false;
                handle(&context, &message.payload);
            }
            Err(e) => {
                if !failing {
                    context.log(&format!(
                        "command channel {}: {e}; reconnecting",
                        Keys::pubsub(&context.worker)
                    ));
                }
                failing = true;
                if let Either::Right(()) =
                    select(sleep(Duration::from_secs(1)), context.stop.cold.wait()).await
                {
                    return;
                }
            }
        }
    }
}

/// Acts on one payload.
pub(crate) fn handle(context: &Context, payload: &[u8]) {
    let parsed: Option<Value> = serde_json::from_slice(payload).ok();
    let command = parsed
        .as_ref()
        .and_then(|v| v.get("command"))
        .and_then(Value::as_str);
    match command {
        Some("shutdown") => {
            context.log("Received shutdown command: warm shut down");
            warm_stop(&context.stop);
        }
        Some("stop-job") => {
            let id = parsed
                .as_ref()
                .and_then(|v| v.get("job_id"))
                .and_then(Value::as_str)
                .unwrap_or("");
            match context.running.borrow().get(id) {
                Some(job) => {
                    context.log(&format!("Stopping job {} on request", log_safe(id)));
                    job.interrupt(Interrupt::Stop);
                }
                None => context.log(&format!(
                    "Not working on job {}, command ignored.",
                    log_safe(id)
                )),
            }
        }
        Some("kill-horse") => {
            let running = context.running.borrow();
            if running.is_empty() {
                context.log("Worker is not working, kill horse command ignored");
            }
            for job in running.values() {
                job.interrupt(Interrupt::Kill);
            }
        }
        _ => context.log(&format!(
            "Ignored a message on the command channel: {}",
            log_safe(&String::from_utf8_lossy(payload))
        )),
    }
}

fn warm_stop(stop: &StopEvents) {
    stop.warm.set();
}
