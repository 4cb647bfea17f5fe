//! The pickle subset, against bytes Python 3.11's `pickle.dumps` wrote (protocol 5 unless
//! said), and against hostile input: code opcodes, truncation at every byte, absurd lengths,
//! deep nesting, memo bombs.

use serde_json::json;

use super::*;

/// `pickle.dumps(("mymodule.count_words_at_url", None, ("http://nvie.com",), {}))`
const CALL: &[u8] = b"\x80\x05\x95\x39\x00\x00\x00\x00\x00\x00\x00\x28\x8c\x1bmymodule.count_words_at_url\x94N\x8c\x0fhttp://nvie.com\x94\x85\x94}\x94t\x94.";
/// `[None, True, False, 0, -1, 255, 65535, -2**31, 2**40, 2**63, 1.5, "é\n", b"\x00\xff",
/// (1,), (1,2), (1,2,3), (1,2,3,4), [], {}, {1: "a", "b": [None]}]`
const KINDS: &[u8] = b"\x80\x05\x95\x73\x00\x00\x00\x00\x00\x00\x00\x5d\x94\x28\x4e\x88\x89\x4b\x00\x4a\xff\xff\xff\xff\x4b\xff\x4d\xff\xff\x4a\x00\x00\x00\x80\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00\x47\x3f\xf8\x00\x00\x00\x00\x00\x00\x8c\x03\xc3\xa9\x0a\x94\x43\x02\x00\xff\x94\x4b\x01\x85\x94\x4b\x01\x4b\x02\x86\x94\x4b\x01\x4b\x02\x4b\x03\x87\x94\x28\x4b\x01\x4b\x02\x4b\x03\x4b\x04\x74\x94\x5d\x94\x7d\x94\x7d\x94\x28\x4b\x01\x8c\x01\x61\x94\x8c\x01\x62\x94\x5d\x94\x4e\x61\x75\x65\x2e";
/// `s = "abc"; [{s: 1}, {s: 2}]`: the second `s` is a memo GET of a string.
const SHARED_STR: &[u8] = b"\x80\x05\x95\x17\x00\x00\x00\x00\x00\x00\x00\x5d\x94\x28\x7d\x94\x8c\x03\x61\x62\x63\x94\x4b\x01\x73\x7d\x94\x68\x02\x4b\x02\x73\x65\x2e";
/// `("f", None, (1,), {"k": "v"})` at protocol 3 (BINPUT memo, BINUNICODE).
const PROTO3: &[u8] = b"\x80\x03\x28\x58\x01\x00\x00\x00\x66\x71\x00\x4e\x4b\x01\x85\x71\x01\x7d\x71\x02\x58\x01\x00\x00\x00\x6b\x71\x03\x58\x01\x00\x00\x00\x76\x71\x04\x73\x74\x71\x05\x2e";

fn loads(bytes: &[u8]) -> Result<Value, String> {
    decode(bytes).and_then(to_json)
}

#[test]
fn pythons_plain_data_reads_as_the_json_serializer_would_have_written_it() {
    assert_eq!(
        loads(CALL).unwrap(),
        json!(["mymodule.count_words_at_url", null, ["http://nvie.com"], {}])
    );
    assert_eq!(loads(PROTO3).unwrap(), json!(["f", null, [1], {"k": "v"}]));
    assert_eq!(
        loads(KINDS).unwrap(),
        json!([
            null, true, false, 0, -1, 255, 65535, -2147483648_i64, 1099511627776_i64,
            9223372036854775808_u64, 1.5, "é\n", [0, 255], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4],
            [], {}, {"1": "a", "b": [null]}
        ])
    );
    assert_eq!(loads(SHARED_STR).unwrap(), json!([{"abc": 1}, {"abc": 2}]));
}

#[test]
fn what_we_write_reads_back_and_python_reads_it_too() {
    let value = json!(["mymodule.add", null, [1, -2, 3.5, "x", [true]], {"k": {"n": null}}]);
    let bytes = encode(&from_json(&value)).unwrap();
    assert_eq!(&bytes[..2], b"\x80\x03");
    assert_eq!(loads(&bytes).unwrap(), value);
    // u64 above i64::MAX round-trips as a Python int.
    let big = json!(u64::MAX);
    assert_eq!(loads(&encode(&from_json(&big)).unwrap()).unwrap(), big);
}

#[test]
fn code_opcodes_are_refused_before_anything_is_decoded() {
    for (bytes, name) in [
        // pickle.dumps(os.system, protocol=5)
        (
            &b"\x80\x05\x95\x14\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94."[..],
            "STACK_GLOBAL",
        ),
        // an object whose __reduce__ is (os.system, ("true",)): STACK_GLOBAL comes first
        (
            b"\x80\x05\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x04true\x94\x85\x94R\x94.",
            "STACK_GLOBAL",
        ),
        // protocol 2 writes bytes as a call of _codecs.encode
        (
            b"\x80\x02c_codecs\nencode\nq\x00X\x02\x00\x00\x00abq\x01X\x06\x00\x00\x00latin1q\x02\x86q\x03Rq\x04.",
            "GLOBAL",
        ),
        (b"\x80\x05N\x85R.", "REDUCE"),
        (b"\x80\x05}N\x86b.", "BUILD"),
        (b"\x80\x05(ios\nsystem\n.", "INST"),
        (b"\x80\x05(N\x85o.", "OBJ"),
        (b"\x80\x05N)\x81.", "NEWOBJ"),
        (b"\x80\x05N))\x92.", "NEWOBJ_EX"),
        (b"\x80\x05\x82\x01.", "EXT1"),
        (b"\x80\x05\x83\x01\x00.", "EXT2"),
        (b"\x80\x05\x84\x01\x00\x00\x00.", "EXT4"),
        (b"\x80\x05P1\n.", "PERSID"),
        (b"\x80\x05NQ.", "BINPERSID"),
    ] {
        let err = scan(bytes).unwrap_err();
        assert!(err.contains(name) && err.contains("pickle is code"), "{err}");
    }
    // Protocol 0 (no PROTO opcode) is refused as a whole.
    assert!(scan(b"cposix\nsystem\np0\n.")
        .unwrap_err()
        .contains("protocol 2"));
}

#[test]
fn shared_and_recursive_containers_sets_and_buffers_are_not_plain_data() {
    // l = [1]; (l, l)
    let shared = b"\x80\x05\x95\x0a\x00\x00\x00\x00\x00\x00\x00]\x94K\x01ah\x00\x86\x94.";
    assert!(scan(shared).unwrap_err().contains("shared or recursive"));
    // r = []; r.append(r)
    let recursive = b"\x80\x05\x95\x06\x00\x00\x00\x00\x00\x00\x00]\x94h\x00a.";
    assert!(scan(recursive).unwrap_err().contains("shared or recursive"));
    let set = b"\x80\x05\x95\x09\x00\x00\x00\x00\x00\x00\x00\x8f\x94(K\x01K\x02\x90.";
    assert!(scan(set).unwrap_err().contains("0x8f"));
    let bytearray =
        b"\x80\x05\x95\x0d\x00\x00\x00\x00\x00\x00\x00\x96\x02\x00\x00\x00\x00\x00\x00\x00ab\x94.";
    assert!(scan(bytearray).unwrap_err().contains("0x96"));
}

#[test]
fn numbers_json_cannot_hold_are_errors() {
    // 2**70
    let big = b"\x80\x05\x95\x0c\x00\x00\x00\x00\x00\x00\x00\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x40.";
    assert!(loads(big).unwrap_err().contains("64 bits"));
    // float('nan')
    let nan = b"\x80\x05\x95\x0a\x00\x00\x00\x00\x00\x00\x00G\x7f\xf8\x00\x00\x00\x00\x00\x00.";
    assert!(loads(nan).unwrap_err().contains("no JSON form"));
}

#[test]
fn every_truncation_of_a_valid_pickle_is_an_error() {
    for pickle in [CALL, KINDS, SHARED_STR, PROTO3] {
        for cut in 0..pickle.len() {
            assert!(
                scan(&pickle[..cut]).is_err(),
                "a prefix of {cut} bytes passed"
            );
            assert!(loads(&pickle[..cut]).is_err());
        }
        let mut longer = pickle.to_vec();
        longer.push(b'N');
        assert!(scan(&longer).unwrap_err().contains("after STOP"));
    }
}

#[test]
fn huge_lengths_are_checked_before_anything_is_allocated() {
    let mut huge = b"\x80\x05\x8d".to_vec(); // BINUNICODE8
    huge.extend_from_slice(&(1u64 << 62).to_le_bytes());
    huge.extend_from_slice(b"abc.");
    assert!(scan(&huge).unwrap_err().contains("truncated"));
    for op in [b'X', b'B'] {
        let mut four = vec![0x80, 5, op];
        four.extend_from_slice(&u32::MAX.to_le_bytes());
        four.push(b'.');
        assert!(scan(&four).unwrap_err().contains("truncated"));
    }
    // LONG4 with a negative length.
    assert!(scan(b"\x80\x05\x8b\xff\xff\xff\xff.").is_err());
}

#[test]
fn nesting_is_bounded() {
    let nested = |depth: usize| {
        let mut p = vec![0x80, 5];
        p.extend(std::iter::repeat_n(b']', depth));
        p.push(b'N');
        p.extend(std::iter::repeat_n(b'a', depth));
        p.push(b'.');
        p
    };
    let ok = loads(&nested(MAX_DEPTH as usize - 1)).unwrap();
    assert!(ok.is_array());
    assert!(scan(&nested(100_000))
        .unwrap_err()
        .contains("nested deeper"));
    // MARKs without values, and values without MARKs, are errors too.
    assert!(scan(&[&[0x80, 5][..], &[b'('; 100_000], b"."].concat()).is_err());
    assert!(scan(b"\x80\x05t.").unwrap_err().contains("MARK"));
    assert!(scan(b"\x80\x05\x86.").unwrap_err().contains("too few"));
    assert!(scan(b"\x80\x05Ns.").unwrap_err().contains("too few"));
    assert!(scan(b"\x80\x05NNs.")
        .unwrap_err()
        .contains("no list or dict"));
    assert!(scan(b"\x80\x05NNNs.")
        .unwrap_err()
        .contains("not a list or dict"));
}

#[test]
fn a_memo_bomb_is_refused() {
    // One 1 MiB string, then 100 memo references to it: 100 MiB once decoded.
    let mut p = vec![0x80, 5, b']', b'(', b'X'];
    p.extend_from_slice(&(1u32 << 20).to_le_bytes());
    p.extend(std::iter::repeat_n(b'x', 1 << 20));
    p.push(0x94);
    for _ in 0..100 {
        p.extend_from_slice(b"h\x00");
    }
    p.extend_from_slice(b"e.");
    assert!(scan(&p).unwrap_err().contains("MiB"));
    // A GET of an id never PUT.
    assert!(scan(b"\x80\x05h\x07.").unwrap_err().contains("never PUT"));
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap stand-in for the fuzz target (net/fuzz/fuzz_targets/rq_pickle.rs): every byte
    // after every prefix of a valid pickle.
    for pickle in [CALL, KINDS] {
        for cut in 2..pickle.len() {
            for byte in 0..=255u8 {
                let mut p = pickle[..cut].to_vec();
                p.push(byte);
                p.extend_from_slice(&pickle[cut..]);
                let _ = loads(&p);
            }
        }
    }
}
