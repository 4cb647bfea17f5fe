//! The decoder and encoder without a server: every reply type, every limit, and the property that
//! matters for an incremental decoder: the replies do not depend on how the bytes were split.

use super::*;

/// Feeds `pieces` one after another, as reads from a socket would deliver them, keeping the
/// unconsumed tail as the connection does; returns every reply completed, or the first error.
fn feed(decoder: &mut Decoder, pieces: &[&[u8]]) -> Result<Vec<Value>, ProtocolError> {
    let mut buf = Vec::new();
    let mut replies = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            let (used, reply) = decoder.decode(&buf)?;
            buf.drain(..used);
            match reply {
                Some(reply) => replies.push(reply),
                None => break,
            }
        }
    }
    Ok(replies)
}

fn whole(input: &[u8]) -> Result<Vec<Value>, ProtocolError> {
    feed(&mut Decoder::new(), &[input])
}

fn wire(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(value, &mut out);
    out
}

fn bulk(b: &[u8]) -> Value {
    Value::Bulk(b.to_vec())
}

/// One of each reply type, and the shapes real commands return (EXEC, XREVRANGE, HGETALL).
fn representative() -> Vec<Value> {
    vec![
        Value::Simple("OK".into()),
        Value::Simple(String::new()),
        Value::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into()),
        Value::Integer(0),
        Value::Integer(i64::MIN),
        Value::Integer(i64::MAX),
        bulk(b""),
        bulk(b"binary \r\n\0\xff safe"),
        bulk(&[b'x'; 3000]),
        Value::Nil,
        Value::NilArray,
        Value::Array(vec![]),
        Value::Array(vec![
            Value::Integer(1),
            Value::Error("ERR value is not an integer or out of range".into()),
            Value::Nil,
            Value::Array(vec![
                bulk(b"1700000000000-0"),
                Value::Array(vec![bulk(b"type"), bulk(b"1")]),
            ]),
            Value::Array(vec![]),
            Value::NilArray,
        ]),
    ]
}

#[test]
fn every_reply_type_decodes() {
    let input = b"+OK\r\n-ERR bad\r\n:-42\r\n$3\r\nabc\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n*2\r\n:1\r\n*1\r\n+x\r\n";
    assert_eq!(
        whole(input).unwrap(),
        vec![
            Value::Simple("OK".into()),
            Value::Error("ERR bad".into()),
            Value::Integer(-42),
            bulk(b"abc"),
            bulk(b""),
            Value::Nil,
            Value::NilArray,
            Value::Array(vec![]),
            Value::Array(vec![
                Value::Integer(1),
                Value::Array(vec![Value::Simple("x".into())])
            ]),
        ]
    );
}

#[test]
fn split_at_every_boundary_gives_the_same_replies() {
    for value in representative() {
        let bytes = wire(&value);
        assert_eq!(whole(&bytes).unwrap(), vec![value.clone()]);
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            let replies = feed(&mut Decoder::new(), &[a, b]).unwrap();
            assert_eq!(replies, vec![value.clone()], "cut at {cut} of {bytes:?}");
            // The stateless form: every strict prefix is "need more".
            if cut < bytes.len() {
                assert_eq!(decode(a).unwrap(), None, "prefix {a:?}");
            }
        }
    }
}

#[test]
fn one_byte_at_a_time_gives_the_same_replies() {
    let all = representative();
    let bytes: Vec<u8> = all.iter().flat_map(wire).collect();
    let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(feed(&mut Decoder::new(), &pieces).unwrap(), all);
}

/// xorshift64: a reproducible stream of pseudo-random numbers, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let text = |rng: &mut Rng| -> String {
        (0..rng.below(12))
            .map(|_| char::from(b' ' + rng.below(94) as u8))
            .collect()
    };
    match rng.below(if depth < 4 { 7 } else { 6 }) {
        0 => Value::Simple(text(rng)),
        1 => Value::Error(text(rng)),
        2 => Value::Integer(rng.next() as i64 >> rng.below(64)),
        3 => Value::Bulk((0..rng.below(40)).map(|_| rng.next() as u8).collect()),
        4 => Value::Nil,
        5 => Value::NilArray,
        _ => Value::Array(
            (0..rng.below(6))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
    }
}

#[test]
fn random_replies_split_at_random_points_round_trip() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for _ in 0..2000 {
        let values: Vec<Value> = (0..1 + rng.below(4))
            .map(|_| random_value(&mut rng, 0))
            .collect();
        let bytes: Vec<u8> = values.iter().flat_map(wire).collect();
        let mut pieces = Vec::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at((1 + rng.below(9)).min(rest.len()));
            pieces.push(piece);
            rest = tail;
        }
        assert_eq!(feed(&mut Decoder::new(), &pieces).unwrap(), values);
    }
}

#[test]
fn random_garbage_never_panics_and_split_does_not_change_the_outcome() {
    let mut rng = Rng(0xdead_beef_0bad_cafe);
    let alphabet = b"+-:$*\r\n0123456789-1abc";
    for _ in 0..20_000 {
        let len = rng.below(40);
        let input: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(4) == 0 {
                    rng.next() as u8
                } else {
                    alphabet[rng.below(alphabet.len() as u64)]
                }
            })
            .collect();
        let limits = Limits {
            max_reply_bytes: 512,
            max_bulk: 8,
            max_array: 4,
            max_depth: 3,
            max_line: 12,
        };
        let at_once = feed(&mut Decoder::with_limits(limits), &[&input]);
        let pieces: Vec<&[u8]> = input.chunks(1 + rng.below(5)).collect();
        let in_pieces = feed(&mut Decoder::with_limits(limits), &pieces);
        match (&at_once, &in_pieces) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{input:?}"),
            // Split input may produce some replies before reaching the same error.
            (Err(a), Err(b)) => assert_eq!(a, b, "{input:?}"),
            _ => panic!("{input:?}: {at_once:?} vs {in_pieces:?}"),
        }
    }
}

#[test]
fn malformed_replies_are_typed_errors() {
    use ProtocolError as P;
    let cases: [(&[u8], P); 12] = [
        (b"?\r\n", P::UnknownType { byte: b'?' }),
        (b"+OK\n", P::BadLineEnd),
        (b"+O\rK\r\n", P::BadLineEnd),
        (
            b":12a\r\n",
            P::BadNumber {
                what: "integer reply",
                text: "12a".into(),
            },
        ),
        (
            b":\r\n",
            P::BadNumber {
                what: "integer reply",
                text: "".into(),
            },
        ),
        (
            b":9223372036854775808\r\n",
            P::BadNumber {
                what: "integer reply",
                text: "9223372036854775808".into(),
            },
        ),
        (
            b":+1\r\n",
            P::BadNumber {
                what: "integer reply",
                text: "+1".into(),
            },
        ),
        (
            b"$-2\r\n",
            P::NegativeLength {
                what: "bulk length",
                len: -2,
            },
        ),
        (b"$3\r\nabcd\r\n", P::BulkNotTerminated { len: 3 }),
        (
            b"$536870913\r\n",
            P::TooLong {
                what: "bulk length",
                len: 536_870_913,
                limit: 512 << 20,
            },
        ),
        (
            b"*-5\r\n",
            P::NegativeLength {
                what: "array length",
                len: -5,
            },
        ),
        (
            b"*99999999999\r\n",
            P::TooLong {
                what: "array length",
                len: 99_999_999_999,
                limit: 16 << 20,
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(decode(input), Err(expected), "{input:?}");
    }
    assert_eq!(
        decode(b":-9223372036854775808\r\n").unwrap().unwrap().0,
        Value::Integer(i64::MIN)
    );
    // A huge announced bulk is refused from its header, before any byte of it is buffered.
    assert!(decode(b"$99999999999999\r\n").is_err());
}

#[test]
fn nesting_and_line_limits_hold() {
    let deep = b"*1\r\n".repeat(65);
    assert_eq!(decode(&deep), Err(ProtocolError::TooDeep { limit: 64 }));
    let ok = [b"*1\r\n".repeat(64), b":1\r\n".to_vec()].concat();
    assert!(decode(&ok).unwrap().is_some());
    // A status line that never ends is refused at the limit, not buffered for ever.
    let limits = Limits {
        max_line: 10,
        ..Limits::default()
    };
    let mut decoder = Decoder::with_limits(limits);
    assert_eq!(decoder.decode(b"+0123456789"), Ok((0, None)));
    assert_eq!(
        decoder.decode(b"+0123456789A"),
        Err(ProtocolError::LineTooLong { limit: 10 })
    );
}

#[test]
fn commands_encode_every_kind_of_argument() {
    let c = cmd("ZADD")
        .arg(String::from("z"))
        .arg(1.5)
        .arg(f64::INFINITY)
        .arg(-3i64)
        .arg(7u64)
        .arg(vec![0u8, 255])
        .arg(&b"\r\n"[..]);
    let expected = whole(&c.to_bytes()).unwrap();
    let args: Vec<&[u8]> = vec![
        b"ZADD",
        b"z",
        b"1.5",
        b"inf",
        b"-3",
        b"7",
        b"\x00\xff",
        b"\r\n",
    ];
    assert_eq!(
        expected,
        vec![Value::Array(args.into_iter().map(bulk).collect())]
    );
}

#[test]
fn values_display_like_redis_cli() {
    let v = Value::Array(vec![
        Value::Simple("OK".into()),
        Value::Error("ERR x".into()),
        Value::Integer(3),
        bulk(b"a\"\n\xff"),
        Value::Nil,
    ]);
    assert_eq!(
        v.to_string(),
        r#"[OK, (error) ERR x, (integer) 3, "a\"\n\xff", (nil)]"#
    );
}

#[test]
fn connection_errors_say_whether_the_command_may_have_run() {
    let closed = Error::Closed {
        command: "LPUSH".into(),
        may_have_run: true,
    };
    assert_eq!(
        closed.to_string(),
        "the Redis server closed the connection before replying to LPUSH; it may or may not \
         have run; the next command reconnects"
    );
    let io = Error::Io {
        command: "GET".into(),
        may_have_run: false,
        source: std::io::ErrorKind::BrokenPipe.into(),
    };
    assert!(io.to_string().contains("it was not sent"), "{io}");
}

/// A decoder whose replies may cost at most `budget` bytes, with no other limit in the way.
fn budgeted(budget: usize) -> Decoder {
    Decoder::with_limits(Limits {
        max_reply_bytes: budget,
        max_array: usize::MAX,
        ..Limits::default()
    })
}

#[test]
fn an_endless_array_is_refused_at_its_header() {
    // The attack of issue 12: `*4294967295`, then `:1` for ever.
    assert_eq!(
        decode(b"*4294967295\r\n:1\r\n"),
        Err(ProtocolError::TooLong {
            what: "array length",
            len: 4_294_967_295,
            limit: 16 << 20,
        })
    );
    // Without the count limit, the budget refuses the claim: 2^32 slots cannot fit in 1 MiB.
    let mut decoder = budgeted(1 << 20);
    assert_eq!(
        decoder.decode(b"*4294967295\r\n"),
        Err(ProtocolError::ReplyTooLarge { limit: 1 << 20 })
    );
}

#[test]
fn elements_are_counted_by_their_memory_not_their_wire_size() {
    // 30,000 `:1` are 120 KB on the wire and 960 KB as values: within a 1 MiB budget.
    let fits = [b"*30000\r\n".to_vec(), b":1\r\n".repeat(30_000)].concat();
    let (used, reply) = budgeted(1 << 20).decode(&fits).unwrap();
    assert_eq!(used, fits.len());
    assert_eq!(reply.unwrap().into_array().unwrap().len(), 30_000);
    // 40,000 of them (160 KB on the wire) are 1.28 MB as values: refused, part-way.
    let too_many = [b"*40000\r\n".to_vec(), b":1\r\n".repeat(40_000)].concat();
    assert_eq!(
        feed(&mut budgeted(1 << 20), &[&too_many]),
        Err(ProtocolError::ReplyTooLarge { limit: 1 << 20 })
    );
}

#[test]
fn a_bulk_string_past_the_budget_is_refused_before_it_is_buffered() {
    let mut decoder = budgeted(1 << 20);
    let first = [&b"*2\r\n$600000\r\n"[..], &vec![b'a'; 600_000], b"\r\n"].concat();
    assert_eq!(decoder.decode(&first).unwrap(), (first.len(), None));
    // The second header alone is refused: its 600,000 bytes would not fit in what is left.
    assert_eq!(
        decoder.decode(b"$600000\r\n"),
        Err(ProtocolError::ReplyTooLarge { limit: 1 << 20 })
    );
}

#[test]
fn the_budget_is_per_reply() {
    let reply = [&b"$900000\r\n"[..], &vec![b'b'; 900_000], b"\r\n"].concat();
    let twice = [reply.clone(), reply].concat();
    let replies = feed(&mut budgeted(1 << 20), &[&twice]).unwrap();
    assert_eq!(replies.len(), 2);
}
