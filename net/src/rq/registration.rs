//! Worker registration, as RQ 2.x does it: the `rq:worker:<name>` hash, membership in
//! `rq:workers` and `rq:workers:<queue>`, a heartbeat that renews the key's ttl, and the record
//! of death. This is what `rq info`, `Worker.all()` and `Worker.find_by_key()` read.
//!
//! Invariant this file owns: **while a worker runs, its hash exists and is in the indexes; once
//! it has stopped, it is in no index.** Birth writes the hash and the indexes in one
//! transaction, refusing a name a live worker holds (RQ's rule: a hash without a `death` field);
//! every heartbeat renews the hash's ttl, and re-registers if the hash was lost (a Redis
//! restarted without its data); death leaves the indexes and keeps the hash 60 s, with `death`.
//! A worker killed without its death expires from the hash after `worker_ttl + 60` s, and
//! `Worker.all()` drops index entries whose hash is gone.

use std::time::SystemTime;

use super::codec::utc_timestamp;
use super::error::Error;
use super::keys::{Keys, WORKERS};
use super::options::WorkerOptions;
use crate::redis::{cmd, Cmd, Connection, Value as Reply};

/// What the hash says about this process.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub name: String,
    pub key: String,
    pub queues: Vec<String>,
    pub hostname: String,
    pub ip_address: String,
    /// `worker_ttl + 60`: the hash's ttl, as RQ sets it.
    pub ttl: u64,
}

/// The hostname, as Python's `socket.gethostname()` gives it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

impl Identity {
    /// Who we are, and our address as Redis sees it: RQ names its connection (`CLIENT SETNAME`)
    /// and finds it in `CLIENT LIST`; `CLIENT INFO` is that, for the calling connection.
    pub(crate) async fn learn(
        conn: &mut Connection,
        name: &str,
        options: &WorkerOptions,
    ) -> Identity {
        let mut ip_address = "unknown".to_owned();
        let named = conn.query(&cmd("CLIENT").arg("SETNAME").arg(name)).await;
        if matches!(named, Ok(Reply::Simple(_))) {
            if let Ok(info) = conn.query(&cmd("CLIENT").arg("INFO")).await {
                if let Some(addr) = info.as_str().and_then(|line| {
                    line.split_whitespace()
                        .find_map(|field| field.strip_prefix("addr="))
                }) {
                    ip_address = addr.to_owned();
                }
            }
        }
        Identity {
            name: name.to_owned(),
            key: Keys::worker(name),
            queues: options.queues.clone(),
            hostname: hostname(),
            ip_address,
            ttl: options.worker_ttl.as_secs().saturating_add(60),
        }
    }

    fn hash(&self, now: SystemTime) -> Cmd {
        let stamp = utc_timestamp(now);
        cmd("HSET")
            .arg(&self.key)
            .args(["birth", &stamp, "last_heartbeat", &stamp])
            .args(["queues", &self.queues.join(",")])
            .arg("pid")
            .arg(std::process::id())
            .args(["hostname", &self.hostname, "ip_address", &self.ip_address])
            .args(["version", env!("CARGO_PKG_VERSION")])
            .args(["python_version", "simul (Rust), not Python"])
            .args(["state", "started"])
            .args(["successful_job_count", "0", "failed_job_count", "0"])
            .args(["total_working_time", "0"])
    }

    fn indexes(&self, command: &str) -> Vec<Cmd> {
        let mut out = vec![cmd(command).arg(WORKERS).arg(&self.key)];
        out.extend(
            self.queues
                .iter()
                .map(|q| cmd(command).arg(Keys::new(q).workers).arg(&self.key)),
        );
        out
    }

    // BOOK: rq-register-birth
    /// Registers the worker, as RQ's `register_birth`: fails if a live worker has this name.
    pub(crate) async fn birth(&self, conn: &mut Connection) -> Result<(), Error> {
        let exists = conn
            .query(&cmd("EXISTS").arg(&self.key))
            .await?
            .into_result()?;
        let dead = conn
            .query(&cmd("HEXISTS").arg(&self.key).arg("death"))
            .await?
            .into_result()?;
        if exists == Reply::Integer(1) && dead == Reply::Integer(0) {
            return Err(Error::NameTaken(self.name.clone()));
        }
        self.rebirth(conn).await
    }

    /// Writes the hash and the indexes, in one transaction.
    async fn rebirth(&self, conn: &mut Connection) -> Result<(), Error> {
        let mut commands = vec![cmd("DEL").arg(&self.key), self.hash(SystemTime::now())];
        commands.extend(self.indexes("SADD"));
        commands.push(cmd("EXPIRE").arg(&self.key).arg(self.ttl));
        for reply in conn.transaction(&commands).await? {
            reply.into_result()?;
        }
        Ok(())
    }

    /// Renews `last_heartbeat` and the ttl; re-registers if the hash was gone.
    pub(crate) async fn heartbeat(&self, conn: &mut Connection) -> Result<(), Error> {
        let replies = conn
            .transaction(&[
                cmd("HSET")
                    .arg(&self.key)
                    .arg("last_heartbeat")
                    .arg(utc_timestamp(SystemTime::now())),
                cmd("EXPIRE").arg(&self.key).arg(self.ttl),
            ])
            .await?;
        if replies.first() == Some(&Reply::Integer(1)) {
            // A new field: the hash had expired or been lost with the data.
            self.rebirth(conn).await?;
        }
        Ok(())
    }

    /// RQ's `register_death`: out of the indexes, `death` stamped, the hash kept 60 s.
    pub(crate) async fn death(&self, conn: &mut Connection) -> Result<(), Error> {
        let mut commands = self.indexes("SREM");
        commands.push(cmd("HSET").arg(&self.key).args([
            "death",
            &utc_timestamp(SystemTime::now()),
            "state",
            "dead",
        ]));
        commands.push(cmd("HDEL").arg(&self.key).arg("current_job"));
        commands.push(cmd("EXPIRE").arg(&self.key).arg(60));
        for reply in conn.transaction(&commands).await? {
            reply.into_result()?;
        }
        Ok(())
    }
}

/// Marks the worker idle, or busy with one of the jobs still running (RQ's `current_job`
/// names one job; ours may run several).
pub(crate) fn state(key: &str, still_running: Option<&str>) -> Vec<Cmd> {
    match still_running {
        Some(id) => vec![cmd("HSET")
            .arg(key)
            .args(["state", "busy", "current_job", id])],
        None => vec![
            cmd("HSET").arg(key).args(["state", "idle"]),
            cmd("HDEL").arg(key).arg("current_job"),
        ],
    }
}
