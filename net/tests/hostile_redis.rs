//! A fake Redis on loopback that speaks malformed or hostile RESP, against our Redis client.
//! Each reply's verdict: a typed [`ProtocolError`] (or timeout, or close), the connection dropped
//! and the next command on a fresh one, memory bounded where memory is the point (the fake
//! counts the bytes the client let it send). Every test is bounded by a deadline of its own.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use simul_net::redis::{cmd, Connection, Error, Limits, ProtocolError, Value};
use simul_net::TcpListener;
use simul_runtime::time::timeout;
use simul_runtime::{spawn, JoinHandle, Runtime};

async fn bounded<T>(test: impl Future<Output = T>) -> T {
    timeout(Duration::from_secs(24 * 3600), test)
        .await
        .expect("the test hung: a wait the client should bound was not bounded")
}

fn virtual_runtime() -> Runtime {
    Runtime::builder().virtual_clock(true).build().unwrap()
}

/// What the fake does after reading one command.
enum Answer {
    /// Writes these bytes.
    Bytes(Vec<u8>),
    /// Writes `prefix`, then `unit` over and over until the client goes away.
    Endless { prefix: Vec<u8>, unit: Vec<u8> },
    /// Writes these bytes and then says nothing more, keeping the connection open.
    ThenSilence(Vec<u8>),
    /// Writes these bytes and closes.
    ThenClose(Vec<u8>),
}

/// The fake server: every command read (on any connection) takes the next answer; once they
/// run out, every command is answered `+PONG`.
struct FakeRedis {
    url: String,
    connections: Rc<Cell<usize>>,
    written: Rc<Cell<usize>>,
    _task: JoinHandle<()>,
}

impl FakeRedis {
    fn start(answers: Vec<Answer>) -> FakeRedis {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let answers = Rc::new(RefCell::new(VecDeque::from(answers)));
        let (connections, written) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let (c, w) = (Rc::clone(&connections), Rc::clone(&written));
        let task = spawn(async move {
            let mut tasks = Vec::new();
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    continue;
                };
                c.set(c.get() + 1);
                let (answers, w) = (Rc::clone(&answers), Rc::clone(&w));
                tasks.push(spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = conn.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        let answer = answers.borrow_mut().pop_front();
                        let (mut data, unit, after) = match answer {
                            None => (b"+PONG\r\n".to_vec(), Vec::new(), 0),
                            Some(Answer::Bytes(b)) => (b, Vec::new(), 0),
                            Some(Answer::Endless { prefix, unit }) => (prefix, unit, 0),
                            Some(Answer::ThenSilence(b)) => (b, Vec::new(), 1),
                            Some(Answer::ThenClose(b)) => (b, Vec::new(), 2),
                        };
                        loop {
                            if data.len() < unit.len() {
                                data.extend_from_slice(&unit);
                            }
                            if data.is_empty() {
                                break;
                            }
                            match conn.write(&data).await {
                                Ok(n) if n > 0 => {
                                    w.set(w.get() + n);
                                    data.drain(..n);
                                }
                                _ => return, // the client went away
                            }
                        }
                        match after {
                            1 => std::future::pending::<()>().await,
                            2 => return,
                            _ => {}
                        }
                    }
                }));
            }
        });
        FakeRedis {
            url,
            connections,
            written,
            _task: task,
        }
    }
}

/// Whether an error is the one a case expects.
type Check = fn(&ProtocolError) -> bool;

/// Sends PING and expects the fake's `+PONG`: the connection works again.
async fn pong(redis: &mut Connection) {
    let reply = redis.query(&cmd("PING")).await.unwrap();
    assert_eq!(reply, Value::Simple("PONG".into()));
}

// Attack (issue 12): `*4294967295`, then `:1` for ever. Refused at the header with the default
// limits, before a single element is kept; the fake is stopped within the socket buffers.
#[test]
fn an_endless_array_is_refused_at_its_header() {
    simul_runtime::run(bounded(async {
        let fake = FakeRedis::start(vec![Answer::Endless {
            prefix: b"*4294967295\r\n".to_vec(),
            unit: b":1\r\n".to_vec(),
        }]);
        let mut redis = Connection::open(&fake.url).await.unwrap();
        let err = redis
            .query(&cmd("LRANGE").arg("l").arg(0).arg(-1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Protocol {
                    what: ProtocolError::TooLong {
                        what: "array length",
                        ..
                    }
                }
            ),
            "{err:?}"
        );
        pong(&mut redis).await;
        assert_eq!(
            fake.connections.get(),
            2,
            "the broken connection was dropped"
        );
        assert!(
            fake.written.get() < 8 * 1024 * 1024,
            "{} bytes",
            fake.written.get()
        );
    }));
}

// Attack: an array within the element limit, whose elements never stop (or stop too late).
// The reply's memory budget stops it, counting each element at its real cost (48 bytes for a
// 16-byte string), after about 4 MiB of memory and 2 MB of wire.
#[test]
fn an_array_past_the_memory_budget_is_refused() {
    simul_runtime::run(bounded(async {
        let fake = FakeRedis::start(vec![Answer::Endless {
            prefix: b"*100000\r\n".to_vec(),
            unit: b"$16\r\nAAAAAAAAAAAAAAAA\r\n".to_vec(),
        }]);
        let mut redis = Connection::open(&fake.url).await.unwrap();
        redis.set_reply_limits(Limits {
            max_reply_bytes: 4 * 1024 * 1024,
            ..Limits::default()
        });
        let err = redis.query(&cmd("LRANGE")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Protocol {
                    what: ProtocolError::ReplyTooLarge { limit: 4_194_304 }
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("max_reply_bytes"), "{err}");
        assert!(fake.written.get() < 4 * 1024 * 1024 + 8 * 1024 * 1024);
        // The limits stay with the connection across the reconnect.
        pong(&mut redis).await;
    }));
}

// Attack: a bulk string announced larger than the budget: refused at its header, before its
// bytes are buffered.
#[test]
fn a_bulk_string_past_the_budget_is_refused_at_its_header() {
    simul_runtime::run(bounded(async {
        let fake = FakeRedis::start(vec![Answer::Endless {
            prefix: b"$1048577\r\n".to_vec(),
            unit: vec![b'x'; 4096],
        }]);
        let mut redis = Connection::open(&fake.url).await.unwrap();
        redis.set_reply_limits(Limits {
            max_reply_bytes: 1024 * 1024,
            ..Limits::default()
        });
        let err = redis.query(&cmd("GET").arg("k")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Protocol {
                    what: ProtocolError::ReplyTooLarge { .. }
                }
            ),
            "{err:?}"
        );
    }));
}

// Attack: every way a reply can break RESP2. Each is its typed error; the connection is
// dropped and the next command works on a fresh one.
#[test]
fn malformed_replies_are_typed_errors_and_the_next_command_reconnects() {
    simul_runtime::run(bounded(async {
        let deep = [b"*1\r\n".repeat(65), b":1\r\n".to_vec()].concat();
        let cases: Vec<(Vec<u8>, Check)> = vec![
            (b"?what\r\n".to_vec(), |e| {
                matches!(e, ProtocolError::UnknownType { byte: b'?' })
            }),
            (b"+OK\n".to_vec(), |e| {
                matches!(e, ProtocolError::BadLineEnd)
            }),
            (b"$3\r\nabcd\r\n".to_vec(), |e| {
                matches!(e, ProtocolError::BulkNotTerminated { len: 3 })
            }),
            (b"$-2\r\n".to_vec(), |e| {
                matches!(e, ProtocolError::NegativeLength { .. })
            }),
            (b":99999999999999999999\r\n".to_vec(), |e| {
                matches!(e, ProtocolError::BadNumber { .. })
            }),
            (b"*1x\r\n".to_vec(), |e| {
                matches!(e, ProtocolError::BadNumber { .. })
            }),
            (b"$536870913\r\n".to_vec(), |e| {
                matches!(e, ProtocolError::TooLong { .. })
            }),
            (deep, |e| matches!(e, ProtocolError::TooDeep { limit: 64 })),
        ];
        let answers = cases
            .iter()
            .map(|(bytes, _)| Answer::Bytes(bytes.clone()))
            .collect();
        let fake = FakeRedis::start(answers);
        let mut redis = Connection::open(&fake.url).await.unwrap();
        for (i, (bytes, expected)) in cases.iter().enumerate() {
            let err = redis.query(&cmd("GET").arg("k")).await.unwrap_err();
            match &err {
                Error::Protocol { what } if expected(what) => {}
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
            }
            assert_eq!(fake.connections.get(), i + 1);
        }
        pong(&mut redis).await;
    }));
}

// Attack: a status line that never ends. Refused at the line limit (1 MiB), not buffered for
// ever.
#[test]
fn an_endless_status_line_is_refused() {
    simul_runtime::run(bounded(async {
        let fake = FakeRedis::start(vec![Answer::Endless {
            prefix: b"+".to_vec(),
            unit: vec![b'o'; 4096],
        }]);
        let mut redis = Connection::open(&fake.url).await.unwrap();
        let err = redis.query(&cmd("PING")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Protocol {
                    what: ProtocolError::LineTooLong { limit: 1_048_576 }
                }
            ),
            "{err:?}"
        );
        assert!(fake.written.get() < 1024 * 1024 + 8 * 1024 * 1024);
    }));
}

// Attack: half a reply, then silence. The command deadline fires; the connection is dropped
// (its late reply would be taken for the next command's) and the next command reconnects.
#[test]
fn a_redis_that_goes_silent_mid_reply_times_out() {
    virtual_runtime().block_on(bounded(async {
        let fake = FakeRedis::start(vec![Answer::ThenSilence(b"*2\r\n:1\r\n".to_vec())]);
        let mut redis = Connection::open(&fake.url).await.unwrap();
        redis.set_command_timeout(Some(Duration::from_secs(5)));
        let err = redis.query(&cmd("LRANGE")).await.unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        pong(&mut redis).await;
        assert_eq!(fake.connections.get(), 2);
    }));
}

// Attack: half a reply, then the close. `Closed`, which says the command may have run.
#[test]
fn a_redis_that_closes_mid_reply_is_closed() {
    simul_runtime::run(bounded(async {
        let fake = FakeRedis::start(vec![Answer::ThenClose(b"$10\r\nhalf".to_vec())]);
        let mut redis = Connection::open(&fake.url).await.unwrap();
        let err = redis.query(&cmd("GET").arg("k")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Closed {
                    may_have_run: true,
                    ..
                }
            ),
            "{err:?}"
        );
        pong(&mut redis).await;
    }));
}

// Rule: `Duration::MAX` as a command deadline or a blocking timeout means "never", not a panic.
#[test]
fn duration_max_deadlines_do_not_panic() {
    simul_runtime::run(bounded(async {
        let fake = FakeRedis::start(vec![Answer::Bytes(b"*-1\r\n".to_vec())]);
        let mut redis = Connection::open(&fake.url).await.unwrap();
        redis.set_command_timeout(Some(Duration::MAX));
        let popped = redis.blpop(&["q"], Duration::MAX).await.unwrap();
        assert_eq!(popped, None);
        pong(&mut redis).await;
    }));
}

/// The process's peak resident memory so far (`VmHWM`), in bytes.
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

// Attack (issue 12, at a size a test can afford): 2 million 16-byte strings announced, sent
// without end; 200 MB on the wire once took the client to 1.56 GB. With a 64 MiB budget the
// reply is refused once it would cost that much, and the process's peak memory grows by about
// the budget, not by what the server sends.
#[test]
fn memory_stays_within_the_reply_budget() {
    simul_runtime::run(bounded(async {
        const BUDGET: usize = 64 * 1024 * 1024;
        let fake = FakeRedis::start(vec![Answer::Endless {
            prefix: b"*2000000\r\n".to_vec(),
            unit: b"$16\r\nAAAAAAAAAAAAAAAA\r\n".to_vec(),
        }]);
        let mut redis = Connection::open(&fake.url).await.unwrap();
        redis.set_reply_limits(Limits {
            max_reply_bytes: BUDGET,
            ..Limits::default()
        });
        let before = peak_rss();
        let err = redis.query(&cmd("LRANGE")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Protocol {
                    what: ProtocolError::ReplyTooLarge { .. }
                }
            ),
            "{err:?}"
        );
        let grown = peak_rss().saturating_sub(before);
        assert!(grown < 2 * BUDGET, "peak memory grew by {grown} bytes");
        assert!(
            fake.written.get() < BUDGET,
            "{} bytes sent",
            fake.written.get()
        );
    }));
}
