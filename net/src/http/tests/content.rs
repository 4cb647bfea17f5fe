//! The content decoder, byte for byte: split anywhere, bounded, complete or an error.

use std::io::Write;

use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use flate2::Compression;

use super::*;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn sample() -> Vec<u8> {
    (0..20_000u32)
        .flat_map(|i| format!("line {i} {}\n", i * 7919 % 1000).into_bytes())
        .collect()
}

/// Decodes `pieces` in order with `room` per call; the output, or the first error.
fn decode_pieces(
    coding: ContentCoding,
    pieces: &[&[u8]],
    room: usize,
) -> Result<Vec<u8>, DecodeError> {
    let mut decoder = ContentDecoder::new(coding);
    let mut out = Vec::new();
    for piece in pieces {
        let mut rest = *piece;
        while !rest.is_empty() {
            let mut chunk = Vec::new();
            let used = decoder.decode(rest, &mut chunk, room)?;
            assert!(
                chunk.len() <= room,
                "{} bytes for a room of {room}",
                chunk.len()
            );
            assert!(used > 0 || !chunk.is_empty(), "no progress");
            out.extend_from_slice(&chunk);
            rest = &rest[used..];
        }
    }
    loop {
        let mut chunk = Vec::new();
        decoder.decode(&[], &mut chunk, room)?;
        if chunk.is_empty() {
            break;
        }
        out.extend_from_slice(&chunk);
    }
    decoder.finish()?;
    Ok(out)
}

#[test]
fn gzip_zlib_and_raw_deflate_all_decode() {
    let data = sample();
    assert_eq!(
        decode_pieces(ContentCoding::Gzip, &[&gzip(&data)], 64 * 1024).unwrap(),
        data
    );
    let deflate = ContentCoding::Deflate;
    assert_eq!(
        decode_pieces(deflate, &[&zlib(&data)], 64 * 1024).unwrap(),
        data
    );
    assert_eq!(
        decode_pieces(deflate, &[&raw_deflate(&data)], 64 * 1024).unwrap(),
        data
    );
}

#[test]
fn the_output_is_the_same_however_the_input_is_split() {
    let data = b"hello, hello, hello world, with some words repeated repeated".repeat(3);
    for (coding, encoded) in [
        (ContentCoding::Gzip, gzip(&data)),
        (ContentCoding::Deflate, zlib(&data)),
        (ContentCoding::Deflate, raw_deflate(&data)),
    ] {
        for cut in 0..=encoded.len() {
            let (a, b) = encoded.split_at(cut);
            assert_eq!(
                decode_pieces(coding, &[a, b], 7).unwrap(),
                data,
                "cut at {cut}"
            );
        }
        let bytes: Vec<&[u8]> = encoded.chunks(1).collect();
        assert_eq!(
            decode_pieces(coding, &bytes, 1).unwrap(),
            data,
            "byte by byte"
        );
    }
}

#[test]
fn a_bomb_fills_only_the_room_given() {
    let bomb = gzip(&vec![0u8; 50 << 20]);
    assert!(bomb.len() < 100_000, "{} bytes", bomb.len());
    let mut decoder = ContentDecoder::new(ContentCoding::Gzip);
    let mut out = Vec::new();
    let used = decoder.decode(&bomb, &mut out, 64 * 1024).unwrap();
    assert_eq!(out.len(), 64 * 1024);
    assert!(
        used < bomb.len(),
        "the rest of the input waits for the next call"
    );
}

#[test]
fn a_truncated_stream_is_an_error_at_the_end_never_a_short_ok() {
    let data = sample();
    for encoded in [gzip(&data), zlib(&data)] {
        let coding = if encoded[0] == 0x1F {
            ContentCoding::Gzip
        } else {
            ContentCoding::Deflate
        };
        for cut in [1, 5, 10, encoded.len() / 2, encoded.len() - 1] {
            let error = decode_pieces(coding, &[&encoded[..cut]], 1 << 20).unwrap_err();
            assert!(error.what.contains("truncated"), "cut at {cut}: {error}");
        }
    }
}

#[test]
fn corruption_is_a_typed_error() {
    let mut crc = gzip(b"some data");
    let at = crc.len() - 8;
    crc[at] ^= 1;
    let error = decode_pieces(ContentCoding::Gzip, &[&crc], 1024).unwrap_err();
    assert!(error.what.contains("CRC"), "{error}");
    let error = decode_pieces(ContentCoding::Gzip, &[b"not gzip at all"], 1024).unwrap_err();
    assert!(error.what.contains("1F 8B"), "{error}");
    assert!(
        error.to_string().starts_with("the gzip body is corrupt"),
        "{error}"
    );
    let mut trailing = zlib(b"some data");
    trailing.extend_from_slice(b"junk");
    let error = decode_pieces(ContentCoding::Deflate, &[&trailing], 1024).unwrap_err();
    assert!(error.what.contains("after the end"), "{error}");
    let garbage = [0xFFu8; 64];
    assert!(decode_pieces(ContentCoding::Deflate, &[&garbage], 1024).is_err());
}

#[test]
fn concatenated_gzip_members_are_one_body_and_an_empty_body_is_empty() {
    let mut two = gzip(b"first ");
    two.extend_from_slice(&gzip(b"second"));
    assert_eq!(
        decode_pieces(ContentCoding::Gzip, &[&two], 1024).unwrap(),
        b"first second"
    );
    assert_eq!(decode_pieces(ContentCoding::Gzip, &[], 1024).unwrap(), b"");
}

#[test]
fn header_values_name_the_codings_we_decode() {
    assert_eq!(
        ContentCoding::from_header("gzip"),
        Some(ContentCoding::Gzip)
    );
    assert_eq!(
        ContentCoding::from_header(" X-GZIP "),
        Some(ContentCoding::Gzip)
    );
    assert_eq!(
        ContentCoding::from_header("deflate"),
        Some(ContentCoding::Deflate)
    );
    for other in ["identity", "br", "gzip, br", ""] {
        assert_eq!(ContentCoding::from_header(other), None, "{other}");
    }
}
