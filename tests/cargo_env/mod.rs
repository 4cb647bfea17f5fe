//! `cargo` for a nested build from a test (the examples run as processes are built this way).

use std::process::Command;

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
