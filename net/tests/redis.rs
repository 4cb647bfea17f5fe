//! The Redis client against a real `redis-server` (see `redis_support`): every reply type,
//! errors as values, pipelining, MULTI/EXEC, blocking commands and their client-side deadline,
//! AUTH and SELECT from the URL, and reconnecting after the server dropped the connection.
//!
//! One shared server for the whole binary, a database per test. Nothing here sleeps to
//! synchronise: a task that must act once another connection is blocked polls the server's own
//! `CLIENT LIST` until it says so.

mod redis_support;

use std::time::Duration;

use redis_support::{free_port, fresh_db, shared, RedisServer};
use simul_net::redis::{cmd, Connection, Error, Value};
use simul_net::TcpListener;
use simul_runtime::time::{self, timeout};
use simul_runtime::{run, spawn};

/// A connection to the shared server, in a database of this test's own, emptied.
async fn connect() -> Connection {
    let mut redis = Connection::open(&shared().url(fresh_db()))
        .await
        .expect("open");
    let flushed = redis.query(&cmd("FLUSHDB")).await.expect("FLUSHDB");
    assert_eq!(flushed, Value::Simple("OK".into()));
    redis
}

/// The server's id for this connection (`CLIENT ID`): changes when the client reconnects.
async fn client_id(redis: &mut Connection) -> i64 {
    let id = redis
        .query(&cmd("CLIENT").arg("ID"))
        .await
        .expect("CLIENT ID");
    id.as_int().unwrap_or_else(|| panic!("CLIENT ID said {id}"))
}

/// Waits until connection `id` is blocked in `command`, asking the server (bounded).
async fn until_blocked(observer: &mut Connection, id: i64, command: &str) {
    for _ in 0..10_000 {
        let list = observer
            .query(&cmd("CLIENT").arg("LIST").arg("ID").arg(id))
            .await
            .expect("CLIENT LIST");
        let line = list.as_str().unwrap_or_default().to_owned();
        if line.contains(&format!("cmd={command}")) && line.contains("flags=b") {
            return;
        }
        simul_runtime::yield_now().await;
    }
    panic!("client {id} never blocked in {command}");
}

fn bulk(bytes: &[u8]) -> Value {
    Value::Bulk(bytes.to_vec())
}

#[test]
fn every_reply_type_from_a_real_server() {
    run(async {
        let mut r = connect().await;
        let set = cmd("SET").arg("k").arg("v");
        assert_eq!(r.query(&set).await.unwrap(), Value::Simple("OK".into()));
        let error = r.query(&cmd("NOSUCHCOMMAND")).await.unwrap();
        assert!(
            error.as_error().unwrap().starts_with("ERR unknown command"),
            "{error}"
        );
        assert_eq!(
            r.query(&cmd("INCR").arg("n")).await.unwrap(),
            Value::Integer(1)
        );
        assert_eq!(r.query(&cmd("GET").arg("k")).await.unwrap(), bulk(b"v"));
        assert_eq!(r.query(&cmd("GET").arg("nope")).await.unwrap(), Value::Nil);
        r.query(&cmd("RPUSH").arg("l").args(["a", "b"]))
            .await
            .unwrap();
        let range = r
            .query(&cmd("LRANGE").arg("l").arg(0).arg(-1))
            .await
            .unwrap();
        assert_eq!(range, Value::Array(vec![bulk(b"a"), bulk(b"b")]));
        let empty = r
            .query(&cmd("LRANGE").arg("nope").arg(0).arg(-1))
            .await
            .unwrap();
        assert_eq!(empty, Value::Array(vec![]));
        // BLPOP that times out on the server answers with the nil *array*.
        let popped = r
            .blocking(&cmd("BLPOP").arg("nope").arg(0.01), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(popped, Value::NilArray);
        // Nested arrays: XRANGE gives [[id, [field, value]]].
        r.query(&cmd("XADD").arg("s").arg("1-1").arg("type").arg(1))
            .await
            .unwrap();
        let entries = r
            .query(&cmd("XRANGE").arg("s").arg("-").arg("+"))
            .await
            .unwrap();
        let expected = vec![bulk(b"1-1"), Value::Array(vec![bulk(b"type"), bulk(b"1")])];
        assert_eq!(entries, Value::Array(vec![Value::Array(expected)]));
    });
}

#[test]
fn bulk_strings_are_binary_safe_and_large_ones_arrive_whole() {
    run(async {
        let mut r = connect().await;
        let every_byte: Vec<u8> = (0..=255u8).chain(*b"\r\n$-1\r\n").collect();
        r.set("bin", &every_byte).await.unwrap();
        assert_eq!(r.get("bin").await.unwrap(), Some(every_byte));
        // 4 MiB: hundreds of reads, decoded as they come.
        let big: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
        r.set("big", &big).await.unwrap();
        assert_eq!(r.get("big").await.unwrap(), Some(big));
    });
}

#[test]
fn error_replies_are_values_and_the_connection_stays_usable() {
    run(async {
        let mut r = connect().await;
        r.set("s", "text").await.unwrap();
        let reply = r.query(&cmd("INCR").arg("s")).await.unwrap();
        assert_eq!(
            reply,
            Value::Error("ERR value is not an integer or out of range".into())
        );
        let reply = r.query(&cmd("LPUSH").arg("s").arg("x")).await.unwrap();
        assert!(reply.as_error().unwrap().starts_with("WRONGTYPE"));
        // A typed helper cannot return the error reply as its type: it becomes a Rust error.
        let err = r.lrem("s", 0, "x").await.unwrap_err();
        assert!(
            matches!(&err, Error::ServerError(m) if m.starts_with("WRONGTYPE")),
            "{err}"
        );
        // Same connection, still in step.
        assert_eq!(r.get("s").await.unwrap().as_deref(), Some(&b"text"[..]));
    });
}

#[test]
fn a_thousand_pipelined_commands_in_one_write() {
    run(async {
        let mut r = connect().await;
        let id = client_id(&mut r).await;
        let commands: Vec<_> = (0..1000).map(|_| cmd("INCR").arg("counter")).collect();
        let replies = r.pipeline(&commands).await.unwrap();
        let expected: Vec<Value> = (1..=1000).map(Value::Integer).collect();
        assert_eq!(replies, expected);
        // Mixed replies, an error among them, each in its place.
        let replies = r
            .pipeline(&[
                cmd("GET").arg("counter"),
                cmd("HGET").arg("counter").arg("f"),
                cmd("PING"),
            ])
            .await
            .unwrap();
        assert_eq!(replies[0], bulk(b"1000"));
        assert!(replies[1].as_error().unwrap().starts_with("WRONGTYPE"));
        assert_eq!(replies[2], Value::Simple("PONG".into()));
        assert_eq!(r.pipeline(&[]).await.unwrap(), vec![]);
        assert_eq!(client_id(&mut r).await, id, "all on one connection");
    });
}

#[test]
fn multi_exec_returns_the_exec_array() {
    run(async {
        let mut r = connect().await;
        let results = r
            .transaction(&[
                cmd("SET").arg("k").arg(1),
                cmd("INCR").arg("k"),
                cmd("GET").arg("k"),
            ])
            .await
            .unwrap();
        assert_eq!(
            results,
            vec![Value::Simple("OK".into()), Value::Integer(2), bulk(b"2")]
        );
    });
}

#[test]
fn exec_with_a_command_failing_at_run_time_runs_the_others() {
    run(async {
        let mut r = connect().await;
        let results = r
            .transaction(&[
                cmd("SET").arg("s").arg("text"),
                cmd("INCR").arg("s"),
                cmd("SET").arg("after").arg("yes"),
            ])
            .await
            .unwrap();
        assert_eq!(results[0], Value::Simple("OK".into()));
        assert!(results[1]
            .as_error()
            .unwrap()
            .starts_with("ERR value is not an integer"));
        assert_eq!(r.get("after").await.unwrap().as_deref(), Some(&b"yes"[..]));
    });
}

#[test]
fn exec_aborts_when_a_command_is_refused_while_queueing() {
    run(async {
        let mut r = connect().await;
        let err = r
            .transaction(&[
                cmd("SET").arg("a").arg(1),
                cmd("NOSUCHCMD"),
                cmd("SET").arg("b").arg(2),
            ])
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::TransactionAborted { .. }), "{message}");
        assert!(message.contains("EXECABORT"), "{message}");
        assert!(
            message.contains("command 1 (NOSUCHCMD) was refused"),
            "{message}"
        );
        assert_eq!(r.get("a").await.unwrap(), None, "nothing ran");
        // WATCH: a watched key changed by another client aborts the transaction.
        r.query(&cmd("WATCH").arg("w")).await.unwrap();
        let mut other = Connection::open(&r.info().to_string()).await.unwrap();
        other.set("w", "changed").await.unwrap();
        let err = r
            .transaction(&[cmd("SET").arg("w").arg("mine")])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("WATCHed key"), "{err}");
        assert_eq!(r.get("w").await.unwrap().as_deref(), Some(&b"changed"[..]));
    });
}

#[test]
fn blpop_gets_a_value_pushed_by_another_task() {
    run(async {
        let mut r = connect().await;
        let url = r.info().to_string();
        let id = client_id(&mut r).await;
        let pusher = spawn(async move {
            let mut other = Connection::open(&url).await.unwrap();
            until_blocked(&mut other, id, "blpop").await;
            other.rpush("jobs", "job-1").await.unwrap()
        });
        let popped = r.blpop(["jobs"], Duration::from_secs(30)).await.unwrap();
        assert_eq!(popped, Some((b"jobs".to_vec(), b"job-1".to_vec())));
        assert_eq!(pusher.await.unwrap(), 1);
    });
}

#[test]
fn blmove_takes_into_the_intermediate_list_or_times_out_on_the_server() {
    run(async {
        let mut r = connect().await;
        let (queue, taken) = ("rq:queue:default", "rq:queue:default:intermediate");
        assert_eq!(
            r.blmove(queue, taken, Duration::from_millis(50))
                .await
                .unwrap(),
            None
        );
        r.rpush(queue, "job-1").await.unwrap();
        let moved = r
            .blmove(queue, taken, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(moved.as_deref(), Some(&b"job-1"[..]));
        let left = r
            .query(&cmd("LRANGE").arg(taken).arg(0).arg(-1))
            .await
            .unwrap();
        assert_eq!(left, Value::Array(vec![bulk(b"job-1")]));
    });
}

#[test]
fn blocking_command_past_the_client_deadline_drops_the_connection() {
    run(async {
        let mut r = connect().await;
        r.set("mark", "here").await.unwrap();
        let before = client_id(&mut r).await;
        let start = time::now();
        // The server would wait 30 s; the client gives up after 200 ms.
        let blpop = cmd("BLPOP").arg("empty").arg(30);
        let err = r
            .blocking(&blpop, Duration::from_millis(200))
            .await
            .unwrap_err();
        let waited = time::now() - start;
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        assert!(
            err.to_string().contains("no reply to BLPOP within 200ms"),
            "{err}"
        );
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        // The next command runs on a fresh connection, in the same database.
        assert_ne!(client_id(&mut r).await, before);
        assert_eq!(r.get("mark").await.unwrap().as_deref(), Some(&b"here"[..]));
    });
}

#[test]
fn a_cancelled_command_does_not_desynchronise_the_connection() {
    run(async {
        let mut r = connect().await;
        let before = client_id(&mut r).await;
        // The caller's own timeout drops the future while BLPOP's reply is outstanding.
        let cancelled = timeout(
            Duration::from_millis(50),
            r.query(&cmd("BLPOP").arg("empty").arg(30)),
        )
        .await;
        assert!(cancelled.is_err());
        // Were the old socket kept, this would read BLPOP's reply, or wait for it for ever.
        assert_eq!(
            r.query(&cmd("ECHO").arg("mine")).await.unwrap(),
            bulk(b"mine")
        );
        assert_ne!(client_id(&mut r).await, before);
    });
}

#[test]
fn a_command_cut_off_by_the_server_fails_clearly_and_the_next_reconnects() {
    run(async {
        let mut r = connect().await;
        r.set("mark", "here").await.unwrap();
        let url = r.info().to_string();
        let id = client_id(&mut r).await;
        let killer = spawn(async move {
            let mut other = Connection::open(&url).await.unwrap();
            until_blocked(&mut other, id, "blpop").await;
            let killed = other
                .query(&cmd("CLIENT").arg("KILL").arg("ID").arg(id))
                .await;
            assert_eq!(killed.unwrap(), Value::Integer(1));
        });
        let blpop = cmd("BLPOP").arg("empty").arg(30);
        let err = r
            .blocking(&blpop, Duration::from_secs(60))
            .await
            .unwrap_err();
        killer.await.unwrap();
        assert!(
            matches!(
                err,
                Error::Closed {
                    may_have_run: true,
                    ..
                } | Error::Io {
                    may_have_run: true,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("BLPOP; it may or may not have run"),
            "{err}"
        );
        // The next command reconnects, and SELECT was replayed.
        assert_eq!(r.get("mark").await.unwrap().as_deref(), Some(&b"here"[..]));
        assert_ne!(client_id(&mut r).await, id);
    });
}

#[test]
fn a_connection_killed_while_idle_is_replaced_before_the_next_command() {
    run(async {
        let mut r = connect().await;
        r.set("mark", "here").await.unwrap();
        let id = client_id(&mut r).await;
        let mut other = Connection::open(&r.info().to_string()).await.unwrap();
        let killed = other
            .query(&cmd("CLIENT").arg("KILL").arg("ID").arg(id))
            .await;
        assert_eq!(killed.unwrap(), Value::Integer(1));
        // The server's FIN is normally in by now, and the client sees it before sending
        // anything, so it reconnects at once. If it were still in flight, the command would
        // fail as `Closed` and the next one reconnect: either way nothing hangs or is lost.
        let mark = match r.get("mark").await {
            Err(Error::Closed { .. }) => r.get("mark").await,
            other => other,
        };
        assert_eq!(mark.unwrap().as_deref(), Some(&b"here"[..]));
        assert_ne!(client_id(&mut r).await, id);
    });
}

#[test]
fn auth_and_select_come_from_the_url() {
    let server = RedisServer::start(&["--requirepass", "s3cret"]);
    run(async {
        // A wrong password fails at open, with the server's reason and a hint.
        let err = Connection::open(&server.url_with(":wrong", 0))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Handshake {
                    command: "AUTH",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("WRONGPASS"), "{err}");
        assert!(
            !err.to_string().contains("wrong@"),
            "password leaked: {err}"
        );
        // No password: the connection opens, commands get NOAUTH as a value.
        let mut anonymous = Connection::open(&server.url(0)).await.unwrap();
        let reply = anonymous.query(&cmd("PING")).await.unwrap();
        assert!(reply.as_error().unwrap().starts_with("NOAUTH"), "{reply}");

        let mut in3 = Connection::open(&server.url_with(":s3cret", 3))
            .await
            .unwrap();
        in3.set("where", "db3").await.unwrap();
        let mut in0 = Connection::open(&server.url_with(":s3cret", 0))
            .await
            .unwrap();
        assert_eq!(in0.get("where").await.unwrap(), None);
        in0.query(&cmd("SELECT").arg(3)).await.unwrap();
        assert_eq!(
            in0.get("where").await.unwrap().as_deref(),
            Some(&b"db3"[..])
        );

        // An ACL user: `redis://user:password@` sends AUTH user password.
        let acl = cmd("ACL").args(["SETUSER", "worker", "on", ">pw", "~*", "+@all"]);
        assert_eq!(in0.query(&acl).await.unwrap(), Value::Simple("OK".into()));
        let mut worker = Connection::open(&server.url_with("worker:pw", 3))
            .await
            .unwrap();
        assert_eq!(
            worker.query(&cmd("ACL").arg("WHOAMI")).await.unwrap(),
            bulk(b"worker")
        );
        assert_eq!(
            worker.get("where").await.unwrap().as_deref(),
            Some(&b"db3"[..])
        );

        // After the server drops the connection, AUTH and SELECT are replayed.
        let id = client_id(&mut in3).await;
        in0.query(&cmd("CLIENT").arg("KILL").arg("ID").arg(id))
            .await
            .unwrap();
        let again = match in3.get("where").await {
            Err(Error::Closed { .. }) => in3.get("where").await,
            other => other,
        };
        assert_eq!(again.unwrap().as_deref(), Some(&b"db3"[..]));

        let err = Connection::open(&server.url_with(":s3cret", 999))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Handshake {
                    command: "SELECT",
                    ..
                }
            ),
            "{err:?}"
        );
    });
}

#[test]
fn a_password_the_server_does_not_expect_is_refused_at_open() {
    run(async {
        let err = Connection::open(&shared().url_with(":pw", fresh_db()))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Handshake {
                    command: "AUTH",
                    ..
                }
            ),
            "{err:?}"
        );
    });
}

#[test]
fn a_server_that_is_down_is_refused_quickly() {
    let port = free_port();
    run(async {
        let start = time::now();
        let err = Connection::open(&format!("redis://127.0.0.1:{port}"))
            .await
            .unwrap_err();
        assert!(matches!(&err, Error::Connect { .. }), "{err:?}");
        assert!(
            err.to_string().contains("is redis-server running there?"),
            "{err}"
        );
        assert!(time::now() - start < Duration::from_secs(2));
    });
}

#[test]
fn a_server_that_went_away_fails_the_next_command_quickly() {
    let server = RedisServer::start(&[]);
    let url = server.url(0);
    run(async move {
        let mut r = Connection::open(&url).await.unwrap();
        r.ping().await.unwrap();
        drop(server);
        // The server's close is seen before sending (the reconnect is then refused), or the
        // command is cut off: a clear error either way, and no hang.
        let start = time::now();
        let err = r.ping().await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Connect { .. } | Error::Closed { .. } | Error::Io { .. }
            ),
            "{err:?}"
        );
        let err = r.ping().await.unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{err:?}");
        assert!(time::now() - start < Duration::from_secs(2));
    });
}

#[test]
fn typed_helpers_cover_the_queue_commands() {
    run(async {
        let mut r = connect().await;
        r.ping().await.unwrap();
        assert_eq!(
            r.hset("job", [("status", "queued"), ("origin", "default")])
                .await
                .unwrap(),
            2
        );
        let job = r.hgetall("job").await.unwrap();
        assert_eq!(job["status"], b"queued");
        assert_eq!(job.len(), 2);
        assert!(r.hgetall("no-job").await.unwrap().is_empty());
        assert!(r.expire("job", 500).await.unwrap());
        assert_eq!(
            r.query(&cmd("TTL").arg("job")).await.unwrap(),
            Value::Integer(500)
        );

        assert_eq!(r.rpush("q", "b").await.unwrap(), 1);
        assert_eq!(r.lpush("q", "a").await.unwrap(), 2);
        assert_eq!(r.lrem("q", 1, "a").await.unwrap(), 1);

        assert!(r.sadd("queues", "rq:queue:default").await.unwrap());
        assert!(!r.sadd("queues", "rq:queue:default").await.unwrap());
        assert_eq!(
            r.smembers("queues").await.unwrap(),
            vec![b"rq:queue:default".to_vec()]
        );
        assert!(r.srem("queues", "rq:queue:default").await.unwrap());

        assert!(r.zadd("wip", 20.0, "late").await.unwrap());
        assert!(r.zadd("wip", 10.0, "early").await.unwrap());
        let due = r.zrangebyscore("wip", "-inf", 15).await.unwrap();
        assert_eq!(due, vec![b"early".to_vec()]);
        assert!(r.zrem("wip", "early").await.unwrap());

        // Streams through the generic query: RQ's results.
        let xadd = cmd("XADD").args(["results", "MAXLEN", "~", "10", "*", "type", "1"]);
        let stream_id = r.query(&xadd).await.unwrap();
        let latest = r
            .query(&cmd("XREVRANGE").args(["results", "+", "-", "COUNT", "1"]))
            .await
            .unwrap();
        let entry = latest.into_array().unwrap().remove(0).into_array().unwrap();
        assert_eq!(entry[0], stream_id);

        assert!(r.del("job").await.unwrap());
        assert!(!r.del("job").await.unwrap());
    });
}

/// A "server" that answers each command it reads with the next of `replies`, accepting a new
/// connection whenever the client drops one; its URL.
fn scripted_server(replies: Vec<&'static [u8]>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    spawn(async move {
        let mut replies = replies.into_iter();
        while let Ok((stream, _)) = listener.accept().await {
            let mut command = [0u8; 1024];
            // Our client writes each command here in one small write: one read each.
            while stream.read(&mut command).await.unwrap_or(0) > 0 {
                let Some(reply) = replies.next() else { return };
                stream.write_all(reply).await.unwrap();
            }
        }
    });
    url
}

#[test]
fn bad_replies_are_typed_errors_and_the_connection_is_replaced() {
    run(async {
        let url = scripted_server(vec![
            b":1\r\n",              // to GET: the wrong type
            b"?garbage\r\n",        // not RESP at all
            b"$5\r\nabc\r\n:1\r\n", // a bulk shorter than announced
            b"+PONG\r\n",           // after reconnecting
        ]);
        let mut r = Connection::open(&url).await.unwrap();
        let err = r.get("k").await.unwrap_err();
        assert!(
            matches!(&err, Error::UnexpectedReply { command, reply } if command == "GET" && reply == "(integer) 1"),
            "{err:?}"
        );
        let err = r.ping().await.unwrap_err();
        assert!(matches!(&err, Error::Protocol { .. }), "{err:?}");
        assert!(err.to_string().contains("none of + - : $ *"), "{err}");
        let err = r.ping().await.unwrap_err();
        assert!(err.to_string().contains("not followed by CRLF"), "{err}");
        r.ping().await.unwrap();
    });
}
