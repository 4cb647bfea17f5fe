//! Finding where a header block (a response head, or a trailer section) ends, incrementally.
//!
//! httparse re-parses from the first byte on every call and answers `Partial` until the blank
//! line arrives; calling it on every read would cost O(n²) for a head that trickles in one byte
//! at a time. So we first look for the blank line ourselves, resuming where the last look stopped,
//! and call httparse once the block is whole. Invariant: every byte is examined once per block.

/// Resumable search for the empty line that ends a header block.
#[derive(Debug, Default, Clone)]
pub(crate) struct BlockEnd {
    /// Bytes already examined; the search resumes here.
    scanned: usize,
    /// Where the line being examined starts.
    line_start: usize,
    /// Whether a non-empty line was seen. A response head may be preceded by empty lines (RFC
    /// 9112 §2.2, which httparse skips), so an empty line only ends a head after a non-empty one.
    seen_content: bool,
}

impl BlockEnd {
    /// Forgets progress, for the next block.
    pub(crate) fn reset(&mut self) {
        *self = BlockEnd::default();
    }

    /// The length of the block in `buf` up to and including its empty line, if that line has
    /// arrived. `buf` must be the same bytes as on earlier calls, possibly longer.
    ///
    /// An empty line is LF or CRLF, as httparse accepts both; a bare CR is left for httparse to
    /// reject. With `leading_empty_lines` false (trailers) the first line may already be the empty
    /// one.
    pub(crate) fn find(&mut self, buf: &[u8], leading_empty_lines: bool) -> Option<usize> {
        while let Some(offset) = buf.get(self.scanned..)?.iter().position(|&b| b == b'\n') {
            let lf = self.scanned + offset;
            let line = &buf[self.line_start..lf];
            let empty = line.is_empty() || line == b"\r";
            self.scanned = lf + 1;
            self.line_start = lf + 1;
            if !empty {
                self.seen_content = true;
            } else if self.seen_content || !leading_empty_lines {
                return Some(lf + 1);
            }
        }
        self.scanned = buf.len();
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(input: &[u8], leading: bool) -> Option<usize> {
        BlockEnd::default().find(input, leading)
    }

    #[test]
    fn finds_crlf_and_bare_lf_blank_lines() {
        assert_eq!(
            whole(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody", true),
            Some(25)
        );
        assert_eq!(whole(b"HTTP/1.1 200 OK\nA: b\n\nbody", true), Some(22));
        assert_eq!(whole(b"HTTP/1.1 200 OK\r\nA: b\r\n", true), None);
    }

    #[test]
    fn leading_empty_lines_do_not_end_a_head_but_end_trailers() {
        assert_eq!(whole(b"\r\n\nHTTP/1.1 200 OK\r\n\r\n", true), Some(22));
        assert_eq!(whole(b"\r\nrest", false), Some(2));
    }

    #[test]
    fn resumes_one_byte_at_a_time() {
        let input = b"\r\nHTTP/1.1 200 OK\r\nA: b\r\n\r\nxyz";
        let mut scan = BlockEnd::default();
        let found = (1..=input.len()).find_map(|n| scan.find(&input[..n], true));
        assert_eq!(found, Some(input.len() - 3));
    }
}
