//! Publish/subscribe: a [`Subscriber`] on a connection of its own, and the messages the server
//! pushes to it.
//!
//! After `SUBSCRIBE`, a connection stops being request/response: the server sends a
//! `["message", channel, payload]` array whenever someone `PUBLISH`es, and the client may only
//! (un)subscribe or `PING`. That is why a subscriber cannot share a [`Connection`]: its replies
//! would be taken for messages, and the other way round.
//!
//! Invariant this file owns: **a subscriber is always either subscribed to every channel it was
//! given, or reconnecting.** A link that fails (the server restarted) is dropped, and
//! [`Subscriber::next`] opens a new one and subscribes again before it waits. A link that is
//! merely silent may be dead without knowing it (the other host vanished; no FIN ever comes),
//! so after [`Subscriber::ping_every`] of silence the subscriber subscribes on a fresh link
//! *first* and only then drops the old one, whose read cannot be resumed once abandoned. A
//! message already in flight on the old link at that instant is lost; pub/sub never promises
//! more (messages published while nobody is subscribed are lost in Redis too).
//!
//! [`Connection`]: super::Connection

use std::time::Duration;

use simul_runtime::time::timeout;

use super::encode::cmd;
use super::error::Error;
use super::link::Link;
use super::resp::Value;
use super::url::ConnectionInfo;

/// One pushed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The channel it was published on.
    pub channel: Vec<u8>,
    /// What was published.
    pub payload: Vec<u8>,
}

/// A connection subscribed to some channels, yielding what is published on them.
///
/// ```no_run
/// use simul_net::redis::Subscriber;
/// simul_runtime::run(async {
///     let mut commands = Subscriber::open("redis://127.0.0.1:6379", ["rq:pubsub:w1"]).await?;
///     loop {
///         let message = commands.next().await?;
///         println!("{}", String::from_utf8_lossy(&message.payload));
///     }
///     # #[allow(unreachable_code)]
///     Ok::<(), simul_net::redis::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct Subscriber {
    info: ConnectionInfo,
    channels: Vec<Vec<u8>>,
    /// The subscribed link; `None` after a failure: [`next`](Self::next) reconnects.
    link: Option<Link>,
    ping_every: Duration,
}

/// How long a link may be silent before it is replaced by a fresh one, by default.
const PING_EVERY: Duration = Duration::from_secs(60);
/// How long the confirmations of a `SUBSCRIBE` may take.
const PONG_WITHIN: Duration = Duration::from_secs(10);

impl Subscriber {
    /// Connects to `url` and subscribes to `channels`; fails if the server cannot be reached.
    pub async fn open<C: AsRef<[u8]>>(
        url: &str,
        channels: impl IntoIterator<Item = C>,
    ) -> Result<Subscriber, Error> {
        let mut subscriber = Subscriber {
            info: ConnectionInfo::parse(url)?,
            channels: channels.into_iter().map(|c| c.as_ref().to_vec()).collect(),
            link: None,
            ping_every: PING_EVERY,
        };
        subscriber.link = Some(subscriber.subscribe().await?);
        Ok(subscriber)
    }

    /// Sets how long the link may be silent before it is replaced (60 s by default).
    pub fn ping_every(&mut self, silence: Duration) {
        self.ping_every = silence.max(Duration::from_millis(10));
    }

    /// A new link, subscribed: `SUBSCRIBE` answers one confirmation per channel.
    async fn subscribe(&self) -> Result<Link, Error> {
        let mut link = Link::open(&self.info).await?;
        let request = cmd("SUBSCRIBE").args(&self.channels).to_bytes();
        let work = link.exchange(&request, self.channels.len(), "SUBSCRIBE");
        let confirmations = timeout(PONG_WITHIN, work)
            .await
            .map_err(|_| Error::Timeout {
                what: "SUBSCRIBE confirmations".into(),
                after: PONG_WITHIN,
            })??;
        for reply in confirmations {
            match reply.into_array().as_deref() {
                Some([Value::Bulk(kind), ..]) if kind == b"subscribe" => {}
                other => {
                    return Err(Error::UnexpectedReply {
                        command: "SUBSCRIBE".into(),
                        reply: format!("{other:?}"),
                    })
                }
            }
        }
        Ok(link)
    }

    /// The next message. If the link was lost, reconnects and subscribes again first; an error
    /// means that reconnecting failed just now (call again to retry, after a pause).
    pub async fn next(&mut self) -> Result<Message, Error> {
        loop {
            let mut link = match self.link.take() {
                Some(link) => link,
                None => self.subscribe().await?,
            };
            // Nothing to write: read whatever the server pushes next.
            let pushed = timeout(self.ping_every, link.exchange(&[], 1, "SUBSCRIBE")).await;
            let reply = match pushed {
                Ok(replies) => replies?.pop().unwrap_or(Value::Nil),
                Err(_silence) => {
                    // The abandoned read left the old link unusable: subscribe anew (which also
                    // proves the server is there), then let the old link go.
                    self.link = Some(self.subscribe().await?);
                    drop(link);
                    continue;
                }
            };
            match reply.into_array().as_deref() {
                Some([Value::Bulk(kind), Value::Bulk(channel), Value::Bulk(payload)])
                    if kind == b"message" =>
                {
                    self.link = Some(link);
                    return Ok(Message {
                        channel: channel.clone(),
                        payload: payload.clone(),
                    });
                }
                // A late confirmation: the link is alive.
                Some([Value::Bulk(kind), ..]) if kind == b"subscribe" => self.link = Some(link),
                // Anything else means we are out of step: drop the link and start over.
                _ => {}
            }
        }
    }
}
