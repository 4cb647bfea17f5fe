//! Commands on the wire: every command is an array of bulk strings.
//!
//! `SET k v` goes out as `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n`. Because every argument is
//! length-prefixed, any bytes are safe in any argument (no quoting, no injection), and the server
//! never has to guess where an argument ends. [`Cmd`] builds that encoding as arguments are added,
//! so sending a command is one copy into the write buffer.
//!
//! [`write_value`] encodes any [`Value`], the server's side of the protocol: the decoder's tests
//! and the fuzz target use it to produce replies.

use std::borrow::Cow;

use super::resp::Value;

/// A command ready to send, built with [`cmd`] and [`Cmd::arg`].
///
/// ```
/// use simul_net::redis::cmd;
/// let set = cmd("SET").arg("greeting").arg(b"hi\r\n").arg("EX").arg(60);
/// assert_eq!(set.name(), "SET");
/// assert_eq!(
///     set.to_bytes(),
///     b"*5\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$4\r\nhi\r\n\r\n$2\r\nEX\r\n$2\r\n60\r\n".to_vec()
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// The command name as given, for error messages ("no reply to BLPOP ...").
    name: String,
    /// How many arguments, the name included: the `*N` header, written at send time.
    count: usize,
    /// The arguments, already encoded as `$len\r\nbytes\r\n` each.
    args: Vec<u8>,
}

/// Starts a command: `cmd("HSET")`, then add arguments with [`Cmd::arg`].
///
/// Names are case-insensitive to Redis; multi-word commands are a name plus arguments
/// (`cmd("CLIENT").arg("ID")`).
pub fn cmd(name: &str) -> Cmd {
    let mut command = Cmd {
        name: name.to_owned(),
        count: 0,
        args: Vec::new(),
    };
    command.push(name.as_bytes());
    command
}

impl Cmd {
    /// Adds one argument: text (`&str`, `String`), bytes (`&[u8]`, `Vec<u8>`, `b"..."`), an
    /// integer or a float (written in decimal, as Redis parses them).
    pub fn arg(mut self, arg: impl Arg) -> Cmd {
        self.push(&arg.as_arg());
        self
    }

    /// Adds every argument of an iterator, for variadic commands (`RPUSH key a b c`).
    ///
    /// ```
    /// use simul_net::redis::cmd;
    /// assert_eq!(cmd("DEL").args(["a", "b"]), cmd("DEL").arg("a").arg("b"));
    /// ```
    pub fn args<A: Arg>(self, args: impl IntoIterator<Item = A>) -> Cmd {
        args.into_iter().fold(self, Cmd::arg)
    }

    /// How many arguments, the name included.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Never: a command has at least its name.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds every argument of `other`, its name first, as arguments of this command: how a
    /// Lua script receives commands to run in `ARGV` (`EVAL script 0 ... 3 HSET key f v`).
    ///
    /// ```
    /// use simul_net::redis::cmd;
    /// let inner = cmd("HSET").arg("k").arg("f").arg("v");
    /// let outer = cmd("EVAL").arg("...").arg(0).arg(inner.len()).args_of(&inner);
    /// assert_eq!(outer, cmd("EVAL").args(["...", "0", "4", "HSET", "k", "f", "v"]));
    /// ```
    pub fn args_of(mut self, other: &Cmd) -> Cmd {
        self.count += other.count;
        self.args.extend_from_slice(&other.args);
        self
    }

    /// The command name, as given to [`cmd`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends the command's wire form to `out` (pipelines put several into one buffer).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("*{}\r\n", self.count).as_bytes());
        out.extend_from_slice(&self.args);
    }

    /// The command's wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.args.len() + 16);
        self.write_to(&mut out);
        out
    }

    fn push(&mut self, bytes: &[u8]) {
        self.count += 1;
        write_bulk(&mut self.args, bytes);
    }
}

/// Something that can be a command argument. Implemented for text, bytes, integers and floats,
/// and for references to any of them.
pub trait Arg {
    /// This argument's bytes (without framing): borrowed for text and bytes, formatted for numbers.
    fn as_arg(&self) -> Cow<'_, [u8]>;
}

impl<T: Arg + ?Sized> Arg for &T {
    fn as_arg(&self) -> Cow<'_, [u8]> {
        (**self).as_arg()
    }
}

impl Arg for str {
    fn as_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl Arg for String {
    fn as_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl Arg for [u8] {
    fn as_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl<const N: usize> Arg for [u8; N] {
    fn as_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl Arg for Vec<u8> {
    fn as_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

macro_rules! display_arg {
    ($($t:ty),*) => {$(
        impl Arg for $t {
            fn as_arg(&self) -> Cow<'_, [u8]> {
                Cow::Owned(self.to_string().into_bytes())
            }
        }
    )*};
}

// Rust's `Display` for floats is what Redis's `strtold` reads back exactly: the shortest
// round-tripping decimal, and `inf` / `-inf` for the infinities sorted-set scores allow.
display_arg!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);

fn write_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// Appends the RESP2 encoding of `value` to `out`, as a server would send it.
///
/// Simple strings and errors must not contain `\r` or `\n` (RESP2 has no escape for them); this
/// function writes them as they are, so such a value does not survive a round trip.
///
/// ```
/// use simul_net::redis::{decode, write_value, Value};
/// let reply = Value::Array(vec![Value::Integer(1), Value::Nil, Value::Error("ERR x".into())]);
/// let mut wire = Vec::new();
/// write_value(&reply, &mut wire);
/// assert_eq!(wire, b"*3\r\n:1\r\n$-1\r\n-ERR x\r\n");
/// assert_eq!(decode(&wire).unwrap(), Some((reply, wire.len())));
/// ```
pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Simple(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
        Value::Error(e) => out.extend_from_slice(format!("-{e}\r\n").as_bytes()),
        Value::Integer(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        Value::Bulk(b) => write_bulk(out, b),
        Value::Nil => out.extend_from_slice(b"$-1\r\n"),
        Value::NilArray => out.extend_from_slice(b"*-1\r\n"),
        Value::Array(items) => {
            out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
            for item in items {
                write_value(item, out);
            }
        }
    }
}
