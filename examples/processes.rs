//! The article's section 1, "Multiple Processes", in Rust: `cargo run --example processes`.
//!
//! The Python starts four processes that each run `print_func`, then joins them:
//!
//! ```text
//! def print_func(continent='Asia'):
//!     print('The name of continent is : ', continent)
//! ...
//! proc = Process(target=print_func)  # instantiating without any argument
//! ...
//! for proc in procs:
//!     proc.join()
//! ```
//!
//! Underneath, `multiprocessing` forks the interpreter (or, with the `spawn`
//! start method, starts a fresh one) and tells the child which function to
//! run. This program does the same by hand: it runs *itself* again, with
//! `--child [NAME]` telling the copy to be a child. What `multiprocessing` hides is visible here: a child
//! is a separate program, and all it can give its parent is bytes on a pipe
//! and an exit status.
//!
//! The parent runs on simul's loop. Waiting for a child (`waitpid`) blocks
//! the calling thread, so each wait goes to the blocking pool
//! (`simul::spawn_blocking`), and the loop awaits all four at once, as
//! `proc.join()` would if the loop had other work to do meanwhile.

use std::io::Write;
use std::process::{Command, ExitCode, Stdio};

/// The child's whole job. `Option` plays the part of Python's default
/// argument: no name means Asia.
fn print_func(continent: Option<&str>) {
    let continent = continent.unwrap_or("Asia");
    // Python's `print(a, b)` puts one space between its arguments, after
    // the space that ends the first one: hence two spaces after the colon.
    println!("The name of continent is :  {continent}");
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => parent(),
        ["--child"] => {
            print_func(None);
            ExitCode::SUCCESS
        }
        ["--child", name] => {
            print_func(Some(name));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: processes [--child [CONTINENT]]");
            ExitCode::from(2)
        }
    }
}

fn parent() -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("error: cannot find this program's own path to start children: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The first child gets no name, as the Python instantiates its first
    // `Process` without arguments.
    let children: [Option<&str>; 4] = [None, Some("America"), Some("Europe"), Some("Africa")];

    simul::run(async move {
        // `proc.start()`, four times. Starting a process is quick (fork and
        // exec), so it happens on the loop; waiting for one is not.
        let mut waits = Vec::new();
        for name in children {
            let mut command = Command::new(&exe);
            // `args(name)` adds the name if there is one: `None` adds nothing.
            command.arg("--child").args(name).stdout(Stdio::piped());
            let child = match command.spawn() {
                Ok(child) => child,
                Err(e) => {
                    eprintln!("error: cannot start {}: {e}", exe.display());
                    return ExitCode::FAILURE;
                }
            };
            waits.push(simul::spawn_blocking(move || child.wait_with_output()));
        }

        // `proc.join()` for each, but all four awaited together.
        //
        // In the Python every child prints straight to the terminal, so the
        // lines come out in whatever order the OS runs the children. Asia
        // usually comes first only because it was started first and every
        // child has almost nothing to do; on a busy machine a later child can
        // overtake it. Here each child writes to its own pipe and the parent prints
        // the pipes in start order, whatever order the children finish in.
        let outputs = simul::join_all(waits).await;

        let mut stdout = std::io::stdout().lock();
        for output in outputs {
            match output {
                Ok(Ok(child)) if child.status.success() => {
                    // A failed write (a closed pipe, say) is not worth a panic.
                    let _ = stdout.write_all(&child.stdout);
                }
                Ok(Ok(child)) => {
                    eprintln!("error: a child process failed: {}", child.status);
                    return ExitCode::FAILURE;
                }
                Ok(Err(e)) => {
                    eprintln!("error: waiting for a child process failed: {e}");
                    return ExitCode::FAILURE;
                }
                Err(e) => {
                    eprintln!("error: the blocking job waiting for a child failed: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        ExitCode::SUCCESS
    })
}
