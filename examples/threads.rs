//! The article's section 2, "Multiple Threads", in Rust: `cargo run --example threads`.
//!
//! The Python runs two functions on two threads, then joins them:
//!
//! ```text
//! t1 = threading.Thread(target=print_square, args=(10,))
//! t2 = threading.Thread(target=print_cube, args=(10,))
//! t1.start(); t2.start()
//! t1.join(); t2.join()
//! print("Done!")
//! ```
//!
//! Part 1 is the same program on `std::thread`. These are OS threads, as
//! Python's are, but without a GIL: both can run Rust at once, on two cores.
//!
//! Part 2 sends the same two jobs to simul's blocking pool (asyncio's
//! `loop.run_in_executor`) and awaits them from a task. The loop's thread
//! never blocks on a join: the task waiting for a job is parked, and the
//! pool thread that finishes the job wakes it. That wake crosses threads,
//! so it cannot just push the task on the ready queue, which only the loop's
//! thread touches: it goes through a locked inject queue and interrupts the
//! loop's sleep in `epoll` (`runtime/src/waker.rs`, `push_remote`;
//! `simul::stats().wakes_remote` counts these wakes).
//!
//! Each part prints the article's three lines after a `#` header.

use std::thread;

// The Python's functions print; these return the line instead, so that the
// caller decides when it is printed (see `with_std_threads`).
fn square(num: u64) -> String {
    format!("Square: {}", num * num)
}

fn cube(num: u64) -> String {
    format!("Cube: {}", num * num * num)
}

fn main() {
    with_std_threads();
    with_blocking_pool();
}

fn with_std_threads() {
    println!("# std::thread: two OS threads, joined");
    let t1 = thread::spawn(|| square(10));
    let t2 = thread::spawn(|| cube(10));

    // In the Python each thread prints its own line, so the order of the two
    // lines is the OS's choice. "Square" usually wins because t1 starts
    // first and both jobs are tiny, but on a busy machine t2 can print first.
    // A Rust thread can hand back a value through `join`, so the main thread
    // prints in join order: the article's order, every time.
    println!("{}", t1.join().expect("the square thread panicked"));
    println!("{}", t2.join().expect("the cube thread panicked"));
    println!("Done!");
}

fn with_blocking_pool() {
    println!("# simul::spawn_blocking: pool threads run the jobs and wake the task awaiting them");
    simul::run(async {
        let loop_thread = thread::current().id();
        let t1 = simul::spawn_blocking(|| (square(10), thread::current().id()));
        let t2 = simul::spawn_blocking(|| (cube(10), thread::current().id()));

        // Each `await` parks this task until its job's result is back; the
        // loop could run other tasks meanwhile (here there are none, so it
        // sleeps). A job's result travels through a oneshot channel whose
        // sender, on the pool thread, wakes the task waiting for it. (If a
        // job is so quick that it is done before anyone waits, no wake is
        // needed: the value is simply there at the first poll. That is why
        // the number of remote wakes varies from run to run and is not
        // printed here.)
        for job in [t1, t2] {
            let (line, ran_on) = job.await.expect("a blocking job panicked");
            assert_ne!(
                ran_on, loop_thread,
                "blocking jobs run off the loop's thread"
            );
            println!("{line}");
        }
        println!("Done!");
    });
}
