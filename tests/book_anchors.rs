//! BOOK.md points into the code; this test keeps those pointers true, as
//! xv6's `lineref` script does for its book.
//!
//! Three kinds of citation, found by plain string scanning:
//! - an anchor, written in the book as `` `// BOOK: name` ``, must exist as a
//!   comment line `// BOOK: name` in some `.rs` file under `runtime/src` or
//!   `net/src` or `examples`;
//! - a test, written as ``test `file::function` `` (a line break may follow
//!   the word `test`), must exist as `fn function` in `runtime/tests/file.rs`,
//!   `tests/file.rs`, `net/tests/file.rs`, or (for unit tests)
//!   `runtime/src/file.rs` or `net/src/file.rs` (`file` may contain `/`, as
//!   in `time/queue`);
//! - an excerpt, a ```` ```text ```` block whose first line is a path comment
//!   such as `// runtime/src/tick.rs`, must be made of lines of that file, in
//!   the file's order (whitespace at either end ignored; lines `// ...` mark
//!   elisions and are skipped).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn book() -> String {
    let path = root().join("BOOK.md");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every `.rs` file under `dir`, recursively (none if `dir` does not exist).
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The anchors defined in the code: the names of `// BOOK: name` lines.
fn code_anchors() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join("runtime/src"), &mut files);
    rust_files(&root().join("net/src"), &mut files);
    rust_files(&root().join("examples"), &mut files);
    let mut anchors = BTreeSet::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap_or_default();
        for line in text.lines() {
            if let Some(name) = line.trim().strip_prefix("// BOOK: ") {
                anchors.insert(name.trim().to_string());
            }
        }
    }
    anchors
}

/// The anchors the book cites. A bare mention of the syntax, `` `// BOOK:` ``,
/// is allowed; anything else that looks like an anchor but is malformed
/// fails, so that a typo cannot hide a citation from the check.
fn cited_anchors(book: &str) -> Vec<String> {
    let mut cited = Vec::new();
    for (at, _) in book.match_indices("// BOOK:") {
        let before = &book[..at];
        let after = &book[at + "// BOOK:".len()..];
        assert!(
            before.ends_with('`'),
            "BOOK.md: an anchor must be cited in backticks, as `// BOOK: name`: {}",
            excerpt(book, at)
        );
        if after.starts_with('`') {
            continue; // the syntax itself, named in prose
        }
        let name = after
            .strip_prefix(' ')
            .and_then(|rest| rest.find('`').map(|end| &rest[..end]))
            .filter(|name| !name.is_empty() && !name.contains(char::is_whitespace))
            .unwrap_or_else(|| panic!("BOOK.md: malformed anchor citation: {}", excerpt(book, at)));
        cited.push(name.to_string());
    }
    cited
}

/// The tests the book cites, as `(file, function)`: the word `test`, then
/// whitespace (a line break is fine), then `` `file::function` ``. The plural
/// (`tests` before a backtick) is refused, so that a citation cannot slip
/// past the check by being written as a list.
fn cited_tests(book: &str) -> Vec<(String, String)> {
    let mut cited = Vec::new();
    for (at, word) in book.match_indices("test") {
        // Only the word itself, not the end of "latest" or "contest".
        if book[..at]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
        {
            continue;
        }
        let after = &book[at + word.len()..];
        let plural = after.starts_with('s');
        let after = if plural { &after[1..] } else { after };
        let rest = after.trim_start();
        if rest.len() == after.len() || !rest.starts_with('`') || rest.starts_with("``") {
            continue; // not whitespace and one backtick: prose, `cargo test`, a code fence
        }
        assert!(
            !plural,
            "BOOK.md: cite each test on its own, as test `file::function`: {}",
            excerpt(book, at)
        );
        let citation = rest[1..].split('`').next().unwrap_or_default();
        let (file, function) = citation.rsplit_once("::").unwrap_or_else(|| {
            panic!(
                "BOOK.md: a test is cited as test `file::function`: {}",
                excerpt(book, at)
            )
        });
        cited.push((file.to_string(), function.to_string()));
    }
    cited
}

/// Whether `source` defines `fn name` (not merely `fn name_longer`).
fn defines_fn(source: &str, name: &str) -> bool {
    let needle = format!("fn {name}");
    source.match_indices(&needle).any(|(at, _)| {
        let next = source[at + needle.len()..].chars().next();
        matches!(next, Some('(' | '<'))
    })
}

/// A few characters of the book around `at`, for error messages.
fn excerpt(book: &str, at: usize) -> String {
    let mut start = at.saturating_sub(30);
    while !book.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + 60).min(book.len());
    while !book.is_char_boundary(end) {
        end += 1;
    }
    format!("{:?}", &book[start..end])
}

#[test]
fn every_anchor_the_book_cites_exists_in_the_code() {
    let book = book();
    let cited = cited_anchors(&book);
    assert!(
        !cited.is_empty(),
        "BOOK.md cites no anchor: is the syntax still `// BOOK: name`?"
    );
    let defined = code_anchors();
    let missing: BTreeSet<_> = cited.iter().filter(|a| !defined.contains(*a)).collect();
    assert!(
        missing.is_empty(),
        "BOOK.md cites anchors that no `// BOOK: name` comment in runtime/src, net/src or examples defines: \
         {missing:?} (defined: {defined:?})"
    );
}

#[test]
fn every_test_the_book_names_exists() {
    let book = book();
    let cited = cited_tests(&book);
    assert!(
        !cited.is_empty(),
        "BOOK.md names no test: is the syntax still test `file::function`?"
    );
    let mut missing = Vec::new();
    for (file, function) in &cited {
        let candidates = [
            format!("runtime/tests/{file}.rs"),
            format!("tests/{file}.rs"),
            format!("net/tests/{file}.rs"),
            format!("runtime/src/{file}.rs"),
            format!("net/src/{file}.rs"),
        ];
        let found = candidates.iter().any(|path| {
            fs::read_to_string(root().join(path)).is_ok_and(|source| defines_fn(&source, function))
        });
        if !found {
            missing.push(format!(
                "{file}::{function} (looked in {})",
                candidates.join(", ")
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "BOOK.md names tests that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_excerpt_matches_the_file_it_names() {
    let book = book();
    let mut checked = 0;
    let mut blocks = book.split("```text\n");
    blocks.next(); // the text before the first block
    for block in blocks {
        let body = block.split("\n```").next().unwrap_or_default();
        let mut lines = body.lines();
        let Some(path) = lines
            .next()
            .and_then(|first| first.trim().strip_prefix("// "))
            .filter(|p| p.ends_with(".rs") && !p.contains(' '))
        else {
            continue; // pseudocode, not an excerpt
        };
        let file = fs::read_to_string(root().join(path))
            .unwrap_or_else(|e| panic!("BOOK.md quotes {path}, which cannot be read: {e}"));
        let file_lines: Vec<&str> = file.lines().map(str::trim).collect();
        let mut from = 0;
        for line in lines.map(str::trim) {
            if line.is_empty() || line == "// ..." {
                continue;
            }
            match file_lines[from..].iter().position(|l| *l == line) {
                Some(offset) => from += offset + 1,
                None => panic!(
                    "BOOK.md's excerpt of {path} has a line that is not in the file \
                     (or not in this order): {line:?}"
                ),
            }
        }
        checked += 1;
    }
    assert!(
        checked > 0,
        "BOOK.md has no excerpt: is the first line still `// path/to/file.rs`?"
    );
}

/// The checks' own parsing, on small inputs.
#[test]
fn citation_syntax_is_parsed_as_documented() {
    let text = "see `// BOOK: tick` and the `// BOOK:` syntax; the latest `x`, `cargo test`, \
                test `timers::never_early`, and test\n   `time/queue::bounded`.\n## Tests\n```text\n```";
    assert_eq!(cited_anchors(text), ["tick"]);
    let pair = |file: &str, function: &str| (file.to_string(), function.to_string());
    assert_eq!(
        cited_tests(text),
        [pair("timers", "never_early"), pair("time/queue", "bounded")]
    );
    assert!(defines_fn("fn never_early() {}", "never_early"));
    assert!(!defines_fn("fn never_early_either() {}", "never_early"));
}
