//! BOOK.md points into the code; this test keeps those pointers true, as
//! xv6's `lineref` script does for its book.
//!
//! Three kinds of citation, found by plain string scanning:
//! - an anchor, written in the book as `` `// BOOK: name` ``, must exist as a
//!   comment line `// BOOK: name` in some `.rs` file under `runtime/src`,
//!   `net/src`, `examples` or `mini` (chapter 0's loop);
//! - a test, written as ``test `file::function` `` (a line break may follow
//!   the word `test`), must exist as `fn function` in `runtime/tests/file.rs`,
//!   `tests/file.rs`, `net/tests/file.rs`, `mini/tests/file.rs`, or (for unit tests)
//!   `runtime/src/file.rs` or `net/src/file.rs` (`file` may contain `/`, as
//!   in `time/queue`);
//! - an excerpt, a ```` ```text ```` block whose first line is a path comment
//!   such as `// runtime/src/tick.rs`, must be made of lines of that file, in
//!   the file's order, indented as in the file once the indentation common to
//!   the quoted lines is removed (lines `// ...` mark elisions; they and blank
//!   lines may stand anywhere).

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

/// The book and the documents that cite anchors and tests the same way: the list of
/// invariants and the exercises' guide. Their citations are checked together.
fn documents() -> String {
    let mut text = book();
    for extra in ["docs/INVARIANTS.md", "exercises/README.md"] {
        if let Ok(more) = fs::read_to_string(root().join(extra)) {
            text.push_str("\n\n");
            text.push_str(&more);
        }
    }
    text
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
    rust_files(&root().join("mini"), &mut files);
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
    let book = documents();
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

/// The "extend it" test file (`exercises/extend/*.rs`) whose `//! install: PATH` line names
/// `path`: the book cites its tests where they will be, once the reader has copied it there.
fn extend_test_installed_at(path: &str) -> Option<String> {
    let entries = fs::read_dir(root().join("exercises").join("extend")).ok()?;
    entries.flatten().find_map(|entry| {
        let source = fs::read_to_string(entry.path()).ok()?;
        let installs_here = source
            .lines()
            .any(|line| line.strip_prefix("//! install:").map(str::trim) == Some(path));
        installs_here.then_some(source)
    })
}

#[test]
fn every_test_the_book_names_exists() {
    let book = documents();
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
            format!("mini/tests/{file}.rs"),
        ];
        let found = candidates.iter().any(|path| {
            let source = fs::read_to_string(root().join(path))
                .ok()
                .or_else(|| extend_test_installed_at(path));
            source.is_some_and(|source| defines_fn(&source, function))
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

/// An excerpt of the book: the file it names, and its lines after that first one.
struct Excerpt<'a> {
    path: &'a str,
    lines: Vec<&'a str>,
}

/// The excerpts of `book`: ```` ```text ```` blocks whose first line is a path comment such as
/// `// runtime/src/tick.rs`. Other text blocks are pseudocode, and are not checked.
fn excerpts(book: &str) -> Vec<Excerpt<'_>> {
    let mut found = Vec::new();
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
        found.push(Excerpt {
            path,
            lines: lines.collect(),
        });
    }
    found
}

/// The number of spaces a line starts with.
fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Whether an excerpt line is quoted from the file (not blank, not an elision `// ...`).
fn is_quoted(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty() && line != "// ..."
}

/// Checks that `excerpt` is made of lines of `file`, in the file's order, and looks like them:
/// once the indentation common to the excerpt's lines is removed, and the indentation common to
/// the file lines they quote, each line must be the same, spaces included. Blank lines and
/// elisions (`// ...`) may stand anywhere. On a mismatch, the error says which line is wrong and
/// shows the excerpt as it should be.
fn check_excerpt(excerpt: &[&str], file: &str) -> Result<(), String> {
    let quoted: Vec<&str> = excerpt.iter().copied().filter(|l| is_quoted(l)).collect();
    let Some(first) = quoted.first() else {
        return Ok(());
    };
    let common = quoted.iter().map(|l| indentation(l)).min().unwrap_or(0);
    let file_lines: Vec<&str> = file.lines().map(str::trim_end).collect();
    // Each place the first line occurs fixes a base indentation: try them in order.
    let mut first_failure = None;
    for (start, candidate) in file_lines.iter().enumerate() {
        if candidate.trim() != first.trim() || indentation(candidate) + common < indentation(first)
        {
            continue;
        }
        let base = indentation(candidate) + common - indentation(first);
        let mut from = start;
        let mut failed = None;
        for line in &quoted {
            let wanted = format!("{}{}", " ".repeat(base), &line.trim_end()[common..]);
            match file_lines[from..].iter().position(|l| *l == wanted) {
                Some(offset) => from += offset + 1,
                None => {
                    failed = Some(*line);
                    break;
                }
            }
        }
        match failed {
            None => return Ok(()),
            Some(line) => {
                first_failure.get_or_insert(line);
            }
        }
    }
    // No placement fits. Say why: a line that is not in the file at all (in this order), or
    // one whose indentation differs; in the second case, show the excerpt as it should be.
    let mut from = 0;
    let mut matched = Vec::new();
    for line in &quoted {
        match file_lines[from..]
            .iter()
            .position(|l| l.trim() == line.trim())
        {
            Some(offset) => {
                matched.push(file_lines[from + offset]);
                from += offset + 1;
            }
            None => {
                return Err(format!(
                    "a line that is not in the file (or not in this order): {:?}",
                    line.trim()
                ))
            }
        }
    }
    let file_common = matched.iter().map(|l| indentation(l)).min().unwrap_or(0);
    let mut expected = Vec::new();
    let mut next = matched.iter();
    let mut last_indent = 0;
    for line in excerpt {
        if is_quoted(line) {
            let quoted_line = next.next().copied().unwrap_or_default();
            last_indent = indentation(quoted_line) - file_common;
            expected.push(quoted_line[file_common..].to_string());
        } else if line.trim().is_empty() {
            expected.push(String::new());
        } else {
            expected.push(format!("{}// ...", " ".repeat(last_indent)));
        }
    }
    Err(format!(
        "its indentation differs from the file's, first at {:?}; with the file's indentation \
         (less what its lines have in common) the excerpt reads:\n{}",
        first_failure.unwrap_or(first).trim(),
        expected.join("\n")
    ))
}

#[test]
fn every_excerpt_matches_the_file_it_names() {
    let book = book();
    let found = excerpts(&book);
    assert!(
        !found.is_empty(),
        "BOOK.md has no excerpt: is the first line still `// path/to/file.rs`?"
    );
    let mut failures = Vec::new();
    for excerpt in &found {
        let file = fs::read_to_string(root().join(excerpt.path)).unwrap_or_else(|e| {
            panic!("BOOK.md quotes {}, which cannot be read: {e}", excerpt.path)
        });
        if let Err(why) = check_excerpt(&excerpt.lines, &file) {
            failures.push(format!("BOOK.md's excerpt of {}: {why}", excerpt.path));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The excerpt check on small inputs: indentation counts, but only relative to the excerpt.
#[test]
fn excerpt_check_compares_indentation_after_removing_only_the_common_part() {
    let file = "fn f() {\n    if x {\n        y();\n    }\n    z();\n}\n";
    // The file's own indentation, less the 4 spaces its quoted lines share.
    assert_eq!(check_excerpt(&["if x {", "    y();", "}"], file), Ok(()));
    // The same, shifted right as a whole (inside a list item, say): still the same excerpt.
    assert_eq!(
        check_excerpt(&["  if x {", "      y();", "  }"], file),
        Ok(())
    );
    // Elisions and blank lines may stand anywhere.
    assert_eq!(
        check_excerpt(&["fn f() {", "    // ...", "", "    z();", "}"], file),
        Ok(())
    );
    // Flush left: every line is in the file, but the excerpt does not look like it.
    let flush = check_excerpt(&["if x {", "y();", "}"], file).unwrap_err();
    assert!(flush.contains("indentation differs"), "{flush}");
    assert!(
        flush.contains("if x {\n    y();\n}"),
        "the fix is shown: {flush}"
    );
    // One space off is as wrong as flush left.
    assert!(check_excerpt(&["if x {", "     y();"], file).is_err());
    // A line from elsewhere, or out of order.
    assert!(check_excerpt(&["if x {", "    w();"], file)
        .unwrap_err()
        .contains("not in the file"));
    assert!(check_excerpt(&["z();", "if x {"], file)
        .unwrap_err()
        .contains("not in the file"));
}

/// The numbers of the invariants `docs/INVARIANTS.md` defines: its `## N. Title` headings.
fn defined_invariants(list: &str) -> BTreeSet<u32> {
    list.lines()
        .filter_map(|line| line.strip_prefix("## "))
        .filter_map(|heading| heading.split_once(". "))
        .filter_map(|(number, _)| number.parse().ok())
        .collect()
}

/// The invariant numbers `text` cites: the word `invariant` (or `invariants`, any case), a space,
/// then numbers joined by `, `, ` and ` or `, and `, as in "invariant 4" or "invariants 2, 3 and
/// 5". A citation of a design document outside the repository ("design invariant 4", in any
/// case) is refused: it points nowhere.
fn cited_invariants(text: &str) -> Result<Vec<u32>, String> {
    let lower = text.to_ascii_lowercase();
    let mut cited = Vec::new();
    for (at, word) in lower.match_indices("invariant") {
        let mut rest = &lower[at + word.len()..];
        rest = rest.strip_prefix('s').unwrap_or(rest);
        let Some(mut rest) = rest.strip_prefix(' ') else {
            continue;
        };
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            continue; // prose: "the invariant owned here"
        }
        if lower[..at].ends_with("design ") {
            return Err(format!(
                "{}: cite docs/INVARIANTS.md as `invariant N`; no design document outside the repository can be cited",
                excerpt(text, at)
            ));
        }
        loop {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 {
                break;
            }
            cited.push(rest[..digits].parse().expect("ASCII digits"));
            rest = &rest[digits..];
            let Some(after) = [", and ", " and ", ", "]
                .iter()
                .find_map(|joint| rest.strip_prefix(joint))
            else {
                break;
            };
            rest = after;
        }
    }
    Ok(cited)
}

/// Every file that may cite an invariant: the book, and the Rust and Markdown files of the
/// workspace (targets and hidden directories left out).
fn citing_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if path.is_dir() {
                walk(&path, out);
            } else if name.ends_with(".rs") || name.ends_with(".md") || name.ends_with(".patch") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root(), &mut files);
    files.sort();
    files
}

#[test]
fn every_cited_invariant_exists_and_every_invariant_is_tested() {
    let list_path = root().join("docs/INVARIANTS.md");
    let list = fs::read_to_string(&list_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", list_path.display()));
    let defined = defined_invariants(&list);
    assert!(
        !defined.is_empty(),
        "docs/INVARIANTS.md defines no invariant: are its headings still `## N. Title`?"
    );
    let mut problems = Vec::new();
    let mut tested = BTreeSet::new();
    for file in citing_files() {
        // The list itself, and this file, whose examples are the parser's test inputs.
        if file == list_path || file.ends_with("tests/book_anchors.rs") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap_or_default();
        let shown = file
            .strip_prefix(root())
            .unwrap_or(&file)
            .display()
            .to_string();
        match cited_invariants(&text) {
            Err(why) => problems.push(format!("{shown}: {why}")),
            Ok(numbers) => {
                for number in numbers {
                    if !defined.contains(&number) {
                        problems.push(format!(
                            "{shown} cites invariant {number}, which docs/INVARIANTS.md does not define"
                        ));
                    }
                    let is_test = shown.starts_with("tests/") || shown.contains("/tests/");
                    if is_test {
                        tested.insert(number);
                    }
                }
            }
        }
    }
    for number in defined.difference(&tested) {
        problems.push(format!(
            "invariant {number} of docs/INVARIANTS.md is cited by no test file (a `tests/` directory)"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn invariant_citations_are_parsed_as_documented() {
    assert_eq!(
        cited_invariants("Timers (invariant 4): never early"),
        Ok(vec![4])
    );
    assert_eq!(
        cited_invariants("Fairness (Invariants 2 and 3), and invariants 5, 6, and 7."),
        Ok(vec![2, 3, 5, 6, 7])
    );
    assert_eq!(
        cited_invariants("the invariant owned here; invariants: none"),
        Ok(vec![])
    );
    assert!(cited_invariants("(Design invariant 1)").is_err());
    assert_eq!(
        defined_invariants("# The list\n## 1. No lost wakeup\ntext 2. no\n## 12. Twelve\n"),
        BTreeSet::from([1, 12])
    );
}

/// The `expect VERB file::test` lines of an exercise patch's header (before `diff --git`).
fn expected_tests(patch: &str) -> Vec<(String, String)> {
    patch
        .lines()
        .take_while(|line| !line.starts_with("diff --git"))
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("expect")).then_some(())?;
            let verb = words.next()?.split('@').next()?.to_string();
            Some((verb, words.next()?.to_string()))
        })
        .collect()
}

/// Every checked exercise is set in the book, and names only tests the book names with it: a
/// patch the book does not mention, or one whose tests the book does not cite, would check
/// something the student is never told.
#[test]
fn every_exercise_patch_is_in_the_book_with_the_tests_it_checks() {
    let book = book();
    let mut problems = Vec::new();
    let mut checked = 0;
    for kind in ["break", "naive"] {
        let Ok(entries) = fs::read_dir(root().join("exercises").join(kind)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if !name.ends_with(".patch") {
                continue;
            }
            checked += 1;
            let patch = fs::read_to_string(&path).unwrap_or_default();
            let cited = format!("exercises/{kind}/{name}");
            if kind == "break" && !book.contains(&cited) {
                problems.push(format!("BOOK.md never mentions {cited}"));
            }
            let tests = expected_tests(&patch);
            if tests.is_empty() {
                problems.push(format!("{cited} has no `expect VERB file::test` line"));
            }
            for (verb, test) in tests {
                if !["fail", "hang", "spin", "pass"].contains(&verb.as_str()) {
                    problems.push(format!("{cited}: unknown verb {verb:?}"));
                }
                if kind == "break" && !book.contains(&format!("`{test}`")) {
                    problems.push(format!(
                        "{cited} checks {test}, which BOOK.md does not cite"
                    ));
                }
            }
        }
    }
    assert!(checked > 0, "no exercise patch found under exercises/");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
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
