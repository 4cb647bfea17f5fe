//! Accepting connections when the process runs out of descriptors.
//!
//! When `accept` fails because the process (EMFILE) or the system (ENFILE)
//! has no file descriptor left, or the kernel no memory for the socket
//! (ENOBUFS, ENOMEM), the connection stays in the listen backlog and the
//! listening socket stays readable. An accept loop that simply tries again
//! spins: every try fails at once, the thread never gives the loop back,
//! and the connection tasks that hold the descriptors — the only thing that
//! could free one — never run again. That is a livelock at 100 % CPU.
//!
//! [`Acceptor`] backs off instead: after a resource error it waits until
//! one of its own connections closes (each carries a [`ConnectionGuard`]),
//! or about [`BACKOFF`], whichever comes first, and tries again. It reports
//! an episode once when it starts and once when it ends, not once per try.
//! Other errors that concern only the one connection (it was reset before
//! we took it, say) are skipped at once; anything else is returned.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use simul_runtime::select;
use simul_runtime::time::{self, sleep};

use crate::{TcpListener, TcpStream};

/// How long an acceptor waits after a resource error when none of its
/// connections closes first.
pub const BACKOFF: Duration = Duration::from_millis(100);

/// What an `accept` error means for the loop around it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AcceptErrorKind {
    /// Out of descriptors or memory: wait before trying again.
    Exhausted,
    /// About the one connection only (reset, aborted, ...): try again now.
    Transient,
    /// The listener itself is broken: stop.
    Fatal,
}

/// Sorts an `accept` error (see [`AcceptErrorKind`]). The transient ones
/// are those Linux's `accept(2)` says to treat like `EAGAIN`.
pub fn classify(error: &io::Error) -> AcceptErrorKind {
    let Some(code) = error.raw_os_error() else {
        return AcceptErrorKind::Fatal;
    };
    let is = |errno: Errno| code == errno.raw_os_error();
    if [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM]
        .into_iter()
        .any(is)
    {
        AcceptErrorKind::Exhausted
    } else if [
        Errno::CONNABORTED,
        Errno::CONNRESET,
        Errno::PROTO,
        Errno::PERM,
        Errno::NETDOWN,
        Errno::NOPROTOOPT,
        Errno::HOSTDOWN,
        Errno::NONET,
        Errno::HOSTUNREACH,
        Errno::OPNOTSUPP,
        Errno::NETUNREACH,
        Errno::TIMEDOUT,
    ]
    .into_iter()
    .any(is)
    {
        AcceptErrorKind::Transient
    } else {
        AcceptErrorKind::Fatal
    }
}

/// The acceptor's side of its guards: how many connections are open, and
/// who waits for one to close.
#[derive(Default)]
struct Live {
    open: Cell<usize>,
    /// Connections closed so far; the back-off waits for this to move.
    closed: Cell<u64>,
    waiter: RefCell<Option<Waker>>,
}

/// Held by each accepted connection; dropping it tells the acceptor that a
/// descriptor may be free. Keep it in the connection's task.
#[derive(Debug)]
pub struct ConnectionGuard {
    live: Rc<Live>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("open", &self.open.get())
            .finish_non_exhaustive()
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.live.open.set(self.live.open.get() - 1);
        self.live.closed.set(self.live.closed.get() + 1);
        let waiter = self.live.waiter.borrow_mut().take();
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

/// A connection as the [`Acceptor`] hands it out.
#[derive(Debug)]
pub struct Accepted {
    /// The connection.
    pub stream: TcpStream,
    /// The client's address.
    pub peer: SocketAddr,
    /// Keep this as long as the connection is open.
    pub guard: ConnectionGuard,
}

/// An exhaustion episode in progress.
struct Episode {
    since: Instant,
    failures: u64,
}

/// A [`TcpListener`] with an accept that rides out descriptor exhaustion.
///
/// ```
/// use simul_net::accept::Acceptor;
/// use simul_net::{TcpListener, TcpStream};
/// simul_runtime::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let addr = listener.local_addr().unwrap();
///     let mut acceptor = Acceptor::new(listener);
///     let client = simul_runtime::spawn(async move { TcpStream::connect(addr).await.unwrap() });
///     let accepted = acceptor.accept().await.unwrap();
///     assert_eq!(acceptor.open_connections(), 1);
///     drop(accepted);
///     assert_eq!(acceptor.open_connections(), 0);
///     drop(client);
/// });
/// ```
pub struct Acceptor {
    listener: TcpListener,
    live: Rc<Live>,
    episode: Option<Episode>,
    episodes: u64,
}

impl Acceptor {
    /// Wraps a listener.
    pub fn new(listener: TcpListener) -> Acceptor {
        Acceptor {
            listener,
            live: Rc::default(),
            episode: None,
            episodes: 0,
        }
    }

    /// The listener's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Connections handed out whose guard is still alive.
    pub fn open_connections(&self) -> usize {
        self.live.open.get()
    }

    /// How many times accepting ran out of resources and had to back off.
    pub fn exhaustion_episodes(&self) -> u64 {
        self.episodes
    }

    /// The next connection. Resource errors are waited out (see the module
    /// comment); errors about one connection are skipped; a broken listener
    /// is returned as an error.
    pub async fn accept(&mut self) -> io::Result<Accepted> {
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    self.end_episode();
                    self.live.open.set(self.live.open.get() + 1);
                    let guard = ConnectionGuard {
                        live: Rc::clone(&self.live),
                    };
                    return Ok(Accepted {
                        stream,
                        peer,
                        guard,
                    });
                }
                Err(error) => match classify(&error) {
                    AcceptErrorKind::Transient => {}
                    AcceptErrorKind::Fatal => return Err(error),
                    AcceptErrorKind::Exhausted => self.back_off(&error).await,
                },
            }
        }
    }

    /// Waits until one of our connections closes, or `BACKOFF`.
    async fn back_off(&mut self, error: &io::Error) {
        match &mut self.episode {
            Some(episode) => episode.failures += 1,
            None => {
                self.episodes += 1;
                self.episode = Some(Episode {
                    since: time::now(),
                    failures: 1,
                });
                eprintln!(
                    "simul: accept on {} failed: {error}; pausing new connections until one \
                     of the {} open closes (retrying every {} ms meanwhile)",
                    self.listener
                        .local_addr()
                        .map_or_else(|_| "?".to_owned(), |a| a.to_string()),
                    self.live.open.get(),
                    BACKOFF.as_millis(),
                );
            }
        }
        let closed_before = self.live.closed.get();
        let live = Rc::clone(&self.live);
        let one_closes = poll_fn(move |cx| {
            if live.closed.get() != closed_before {
                return Poll::Ready(());
            }
            *live.waiter.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        });
        let _ = select(pin!(sleep(BACKOFF)), pin!(one_closes)).await;
    }

    fn end_episode(&mut self) {
        if let Some(episode) = self.episode.take() {
            eprintln!(
                "simul: accepting again after {} failed attempt(s) over {:.1} s",
                episode.failures,
                time::now()
                    .saturating_duration_since(episode.since)
                    .as_secs_f64(),
            );
        }
    }
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor")
            .field("listener", &self.listener)
            .field("open", &self.live.open.get())
            .finish_non_exhaustive()
    }
}
