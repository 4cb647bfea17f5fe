//! Two "hosts" on one machine: two network namespaces joined by a veth pair, each end with a
//! private address of its own. A program runs on a host under `ip netns exec`, which `exec`s
//! it, so the child's pid is the program's own: signals reach it, not a wrapper.
//!
//! Cleanup is one mechanism for every way the test can end: a small `sh` watchdog, started
//! before anything is made, holds the read end of a pipe whose write end only the test process
//! has. On drop (a pass, or a panic unwinding) the test closes it; if the test process is killed
//! the kernel does. Either way the watchdog reads EOF, SIGKILLs every process still in either
//! namespace (`ip netns pids`), deletes both namespaces (the veth pair goes with them) and
//! removes the scratch directory. The watchdog runs in a process group of its own, so a Ctrl-C
//! or a kill of the test's group, which ends the test, does not end the watchdog with it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// Kills what runs in `$A` and `$B`, deletes them, removes `$DIR`, once stdin reads EOF. A
/// process can fork while it is being killed (Python's worker forks a work horse per job), so
/// each namespace is emptied in rounds until `ip netns pids` lists nothing.
const WATCHDOG: &str = r#"read _
for ns in "$A" "$B"; do
  for _ in $(seq 50); do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -z "$pids" ] && break
    kill -9 $pids 2>/dev/null
    sleep 0.1
  done
  ip netns del "$ns" 2>/dev/null
done
rm -rf "$DIR""#;

/// Which end of the veth pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    A,
    B,
}

/// The two namespaces, their addresses, and a scratch directory; all removed on drop.
pub struct Hosts {
    names: [String; 2],
    addresses: [&'static str; 2],
    dir: PathBuf,
    watchdog: Child,
    lifeline: Option<ChildStdin>,
}

impl Hosts {
    /// Makes both hosts, or panics saying what is missing: the test needs root (namespaces,
    /// links) and iproute2's `ip`. It must not pass without having run.
    pub fn new() -> Hosts {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let uid = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .unwrap_or("?");
        assert_eq!(
            uid, "0",
            "this test makes network namespaces and a veth pair: run it as root"
        );
        let has_ip = Command::new("ip")
            .arg("-V")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            has_ip,
            "this test needs iproute2's `ip` (apt-get install iproute2; scripts/test.sh does)"
        );
        let pid = std::process::id();
        let names = [
            format!("simul-chaos-{pid}-a"),
            format!("simul-chaos-{pid}-b"),
        ];
        // Shared memory if there is some: redis-server fsyncs every write (appendfsync always).
        let base = Path::new("/dev/shm");
        let base = if base.is_dir() {
            base.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("simul-chaos-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        let mut watchdog = Command::new("sh")
            .args(["-c", WATCHDOG])
            .env("A", &names[0])
            .env("B", &names[1])
            .env("DIR", &dir)
            .stdin(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start the cleanup watchdog");
        let lifeline = watchdog.stdin.take();
        let hosts = Hosts {
            names,
            // Private addresses: they exist only inside the two namespaces, so two runs of this
            // test at once do not collide.
            addresses: ["10.213.7.1", "10.213.7.2"],
            dir,
            watchdog,
            lifeline,
        };
        let [a, b] = &hosts.names;
        // Interface names have at most 15 bytes.
        let (veth_a, veth_b) = (format!("sc{pid}a"), format!("sc{pid}b"));
        ip(&["netns", "add", a]);
        ip(&["netns", "add", b]);
        ip(&[
            "link", "add", &veth_a, "netns", a, "type", "veth", "peer", "name", &veth_b, "netns", b,
        ]);
        for (ns, veth, address) in [
            (a, &veth_a, hosts.addresses[0]),
            (b, &veth_b, hosts.addresses[1]),
        ] {
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                veth,
            ]);
            ip(&["-n", ns, "link", "set", veth, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        hosts
    }

    /// The host's address on the veth link.
    pub fn address(&self, host: Host) -> &'static str {
        self.addresses[host as usize]
    }

    /// A directory for the run's files (Redis's data, logs, the side-effect file).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `program` on `host`: `ip netns exec <ns> program`. The environment passes through.
    pub fn command(&self, host: Host, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.names[host as usize]])
            .arg(program);
        command
    }
}

impl Hosts {
    /// The pids of the processes in `host`'s namespace.
    pub fn pids(&self, host: Host) -> Vec<u32> {
        let out = Command::new("ip")
            .args(["netns", "pids", &self.names[host as usize]])
            .output()
            .expect("cannot run ip");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// `pid: command line`, for a message.
    pub fn describe(&self, pid: u32) -> String {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let words: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        format!("{pid}: {}", words.join(" "))
    }

    /// SIGKILLs every process on both hosts but `keep`.
    pub fn kill_all_but(&self, keep: u32) {
        for host in [Host::A, Host::B] {
            for pid in self.pids(host).into_iter().filter(|p| *p != keep) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        drop(self.lifeline.take());
        let _ = self.watchdog.wait();
    }
}

/// Runs `ip ARGS`, panicking with its stderr if it fails.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("cannot run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
