//! `cargo` for a nested build from a test, and the examples a test runs as processes, built
//! that way.
//!
//! A test that runs an example must run the example as the sources are now. `cargo test --test
//! NAME` builds no examples, so a path guessed next to the test binary may hold an old build, or
//! none; and the target directory may be anywhere (`CARGO_TARGET_DIR`, `.cargo/config.toml`,
//! `--target`). So the test asks cargo to build the examples it needs, and takes their paths
//! from cargo's JSON messages.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// `cargo`, without the variables cargo set for the running test (`CARGO_PKG_NAME`,
/// `CARGO_MANIFEST_DIR`, ...). Build scripts watch some of them (ring's does): seeing them
/// change, cargo would rebuild those crates here, and again in the next plain `cargo build`.
pub fn cargo() -> Command {
    let mut command = Command::new(env!("CARGO"));
    for (key, _) in std::env::vars_os() {
        let Some(name) = key.to_str() else { continue };
        let set_for_the_test = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
            || name == "CARGO_PRIMARY_PACKAGE"
            || name == "CARGO_TARGET_TMPDIR";
        if set_for_the_test {
            command.env_remove(&key);
        }
    }
    command
}

/// The examples of package `simul` that one test binary runs, built together on first use
/// (only these: another example being edited must not fail the test).
///
/// ```ignore
/// static EXAMPLES: Examples = Examples::new(&["http_get", "rq_worker"]);
/// let output = EXAMPLES.command("http_get").arg(url).output()?;
/// ```
pub struct Examples {
    names: &'static [&'static str],
    built: OnceLock<HashMap<String, PathBuf>>,
}

impl Examples {
    /// The set `names`; nothing is built until a path is asked for.
    pub const fn new(names: &'static [&'static str]) -> Self {
        Examples {
            names,
            built: OnceLock::new(),
        }
    }

    /// The executable of example `name`, which must be one of the set's names.
    pub fn path(&self, name: &str) -> &Path {
        assert!(
            self.names.contains(&name),
            "example {name} is not among {:?}, the examples this test builds",
            self.names
        );
        self.built
            .get_or_init(|| build(self.names))
            .get(name)
            .unwrap_or_else(|| panic!("cargo reported no executable for example {name}"))
    }

    /// A command that runs example `name`, without the `SIMUL_TRACE` of the shell that started
    /// the tests (every example run would write the trace the user asked for).
    pub fn command(&self, name: &str) -> Command {
        let mut command = Command::new(self.path(name));
        command.env_remove("SIMUL_TRACE");
        command
    }
}

/// Builds examples `names` in one cargo run and maps each name to its executable.
fn build(names: &[&str]) -> HashMap<String, PathBuf> {
    let output = cargo()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--package", "simul"])
        .args(names.iter().flat_map(|name| ["--example", name]))
        // Artifacts as JSON on stdout, compiler errors as text on stderr.
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .expect("cannot run cargo");
    assert!(
        output.status.success(),
        "building examples {names:?} failed: see cargo's errors above"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|message| {
            // Only executables have an "executable" path (it is null for libraries and build
            // scripts).
            let name = message["target"]["name"].as_str()?;
            let path = message["executable"].as_str()?;
            Some((name.to_owned(), PathBuf::from(path)))
        })
        .collect()
}
