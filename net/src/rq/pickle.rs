//! RQ's default serializer, pickle, restricted to plain data.
//!
//! A pickle is not a data format: it is a program for a small stack machine, and some of its
//! instructions import a Python object by name and call it (`GLOBAL`, `STACK_GLOBAL`, `REDUCE`,
//! `INST`, `OBJ`, `NEWOBJ`, `NEWOBJ_EX`, `BUILD`, `EXT1/2/4`, `PERSID`, `BINPERSID`). That is how
//! `pickle.loads` ends up running `os.system`. We run none of it.
//!
//! Invariant this file owns: **a pickle is decoded only after [`scan`] has walked every opcode
//! and found nothing but plain data**: `None`, `bool`, `int`, `float`, `str`, `bytes`, `tuple`,
//! `list`, `dict`, written with the binary opcodes of protocols 2 to 5 (what Python's
//! `pickle.HIGHEST_PROTOCOL`, RQ's choice, writes). The scan also runs the machine's stack in
//! miniature, so it bounds what decoding may build: every length is checked against the bytes
//! that remain, nesting is at most [`MAX_DEPTH`], and the decoded size (after memo references,
//! which may repeat one string many times) is at most [`MAX_WEIGHT`]. A memo reference may name
//! a string or number, never a container: plain data is a tree, and refusing shared containers
//! also refuses recursive ones. Only then does `serde-pickle` decode, and the result is turned
//! into JSON values the way RQ's JSON serializer would have written them (tuples become lists,
//! dict keys that are numbers become their text; bytes become lists of byte values).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Number, Value};
use serde_pickle::{HashableValue, Value as Pickled};

/// The deepest nesting of containers accepted (Python's own recursion limit is 1000; plain
/// job arguments are a few levels deep).
pub const MAX_DEPTH: u32 = 100;

/// The largest decoded size accepted, in bytes of text plus 32 per value: memo references can
/// make a small pickle decode into a large value.
pub const MAX_WEIGHT: u64 = 64 * 1024 * 1024;

/// What one value on the scanned stack would cost once decoded.
#[derive(Debug, Clone, Copy)]
struct Item {
    /// A list, tuple or dict (these must not be memo-referenced), or a scalar.
    container: bool,
    /// Decoded size estimate: text bytes plus 32 per value.
    weight: u64,
    /// 0 for a scalar, 1 + the deepest child for a container.
    depth: u32,
}

const SCALAR_WEIGHT: u64 = 32;

impl Item {
    fn scalar(bytes: u64) -> Item {
        Item {
            container: false,
            weight: SCALAR_WEIGHT + bytes,
            depth: 0,
        }
    }

    fn empty_container() -> Item {
        Item {
            container: true,
            weight: SCALAR_WEIGHT,
            depth: 1,
        }
    }
}

/// An entry of the scanned stack: a value, or a `MARK`.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Mark,
    Value(Item),
}

/// The opcodes that make Python import or call something, by byte, with their names.
const CODE_OPCODES: &[(u8, &str)] = &[
    (b'c', "GLOBAL"),
    (0x93, "STACK_GLOBAL"),
    (b'R', "REDUCE"),
    (b'i', "INST"),
    (b'o', "OBJ"),
    (0x81, "NEWOBJ"),
    (0x92, "NEWOBJ_EX"),
    (b'b', "BUILD"),
    (0x82, "EXT1"),
    (0x83, "EXT2"),
    (0x84, "EXT4"),
    (b'P', "PERSID"),
    (b'Q', "BINPERSID"),
];

/// The scanner's walk over one pickle.
struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
    stack: Vec<Slot>,
    memo: HashMap<u32, Item>,
}

// BOOK: rq-pickle-scan
/// Walks every opcode of `bytes` without building anything, and says why it is not a plain-data
/// pickle, if it is not. See the module doc for what is accepted.
///
/// ```
/// use simul_net::rq::pickle_scan;
/// // pickle.dumps(("mymodule.add", None, (1, 2), {}), protocol=5)
/// let plain = b"\x80\x05\x95\x1c\x00\x00\x00\x00\x00\x00\x00(\x8c\x0cmymodule.add\x94NK\x01K\x02\x86\x94}\x94t\x94.";
/// assert!(pickle_scan(plain).is_ok());
/// // pickle.dumps(os.system) names a function to import: refused before anything runs.
/// let code = b"\x80\x05\x95\x14\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94.";
/// assert!(pickle_scan(code).unwrap_err().contains("STACK_GLOBAL"));
/// ```
pub fn scan(bytes: &[u8]) -> Result<(), String> {
    let mut scan = Scan {
        bytes,
        at: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
    };
    scan.run()
}

impl<'a> Scan<'a> {
    fn run(&mut self) -> Result<(), String> {
        if self.bytes.first() != Some(&0x80) {
            return Err("not a pickle of protocol 2 or later (no PROTO opcode)".into());
        }
        loop {
            let offset = self.at;
            let op = self.take(1, "an opcode")?[0];
            if let Some((_, name)) = CODE_OPCODES.iter().find(|(b, _)| *b == op) {
                return Err(format!(
                    "opcode {name} at byte {offset} would make Python import or call an object: \
                     pickle is code, and only plain data (None, bool, int, float, str, bytes, \
                     tuple, list, dict) is accepted"
                ));
            }
            match op {
                0x80 => {
                    let version = self.take(1, "PROTO")?[0];
                    if offset != 0 || !(2..=5).contains(&version) {
                        return Err(format!("PROTO {version} at byte {offset}"));
                    }
                }
                // FRAME: a length hint for buffered readers; the frame's bytes follow inline.
                0x95 => {
                    self.take(8, "FRAME")?;
                }
                b'.' => {
                    return match (self.stack.as_slice(), self.at == self.bytes.len()) {
                        ([Slot::Value(_)], true) => Ok(()),
                        (_, false) => {
                            Err(format!("{} bytes after STOP", self.bytes.len() - self.at))
                        }
                        _ => Err("STOP with other than one value on the stack".into()),
                    };
                }
                b'(' => self.stack.push(Slot::Mark),
                b'N' | 0x88 | 0x89 => self.push(Item::scalar(0))?,
                b'K' => self.scalar(1, "BININT1")?,
                b'M' => self.scalar(2, "BININT2")?,
                b'J' => self.scalar(4, "BININT")?,
                b'G' => self.scalar(8, "BINFLOAT")?,
                0x8a => {
                    let n = self.length(1, "LONG1")?;
                    self.scalar(n, "LONG1")?;
                }
                0x8b => {
                    let n = self.length(4, "LONG4")?;
                    self.scalar(n, "LONG4")?;
                }
                0x8c => self.text(1, "SHORT_BINUNICODE")?,
                b'X' => self.text(4, "BINUNICODE")?,
                0x8d => self.text(8, "BINUNICODE8")?,
                b'C' => self.text(1, "SHORT_BINBYTES")?,
                b'B' => self.text(4, "BINBYTES")?,
                0x8e => self.text(8, "BINBYTES8")?,
                b')' | b']' | b'}' => self.push(Item::empty_container())?,
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let items = self.pop_values(n, "TUPLEn")?;
                    self.push(container_of(&items)?)?;
                }
                b't' | b'l' | b'd' => {
                    let items = self.pop_to_mark("TUPLE/LIST/DICT")?;
                    if op == b'd' && items.len() % 2 != 0 {
                        return Err(format!("DICT at byte {offset} with an odd item count"));
                    }
                    self.push(container_of(&items)?)?;
                }
                b'a' => {
                    let items = self.pop_values(1, "APPEND")?;
                    self.extend_top(&items, "APPEND")?;
                }
                b's' => {
                    let items = self.pop_values(2, "SETITEM")?;
                    self.extend_top(&items, "SETITEM")?;
                }
                b'e' | b'u' => {
                    let items = self.pop_to_mark("APPENDS/SETITEMS")?;
                    if op == b'u' && items.len() % 2 != 0 {
                        return Err(format!("SETITEMS at byte {offset} with an odd item count"));
                    }
                    self.extend_top(&items, "APPENDS/SETITEMS")?;
                }
                b'q' => {
                    let id = self.length(1, "BINPUT")?;
                    self.put(id)?;
                }
                b'r' => {
                    let id = self.length(4, "LONG_BINPUT")?;
                    self.put(id)?;
                }
                0x94 => {
                    let id = self.memo.len() as u64;
                    self.put(id)?;
                }
                b'h' => {
                    let id = self.length(1, "BINGET")?;
                    self.get(id)?;
                }
                b'j' => {
                    let id = self.length(4, "LONG_BINGET")?;
                    self.get(id)?;
                }
                other => {
                    return Err(format!(
                        "opcode 0x{other:02x} at byte {offset} is not one of the plain-data \
                         opcodes of pickle protocols 2 to 5 (sets, bytearrays, out-of-band \
                         buffers and protocol-0 text opcodes are not accepted)"
                    ))
                }
            }
        }
    }

    /// The next `n` bytes; an error naming `what` if the pickle ends first.
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], String> {
        let left = (self.bytes.len() - self.at) as u64;
        if n > left {
            return Err(format!(
                "{what} at byte {} wants {n} bytes, and {left} remain (a truncated pickle)",
                self.at
            ));
        }
        let start = self.at;
        self.at += n as usize;
        Ok(&self.bytes[start..self.at])
    }

    /// A little-endian unsigned length (or id) of `size` bytes; LONG4's signed length must
    /// not be negative.
    fn length(&mut self, size: u64, what: &str) -> Result<u64, String> {
        let raw = self.take(size, what)?;
        let mut buf = [0u8; 8];
        buf[..raw.len()].copy_from_slice(raw);
        let n = u64::from_le_bytes(buf);
        if size == 4 && what == "LONG4" && n > i32::MAX as u64 {
            return Err("LONG4 with a negative length".into());
        }
        Ok(n)
    }

    fn scalar(&mut self, bytes: u64, what: &str) -> Result<(), String> {
        self.take(bytes, what)?;
        self.push(Item::scalar(bytes))
    }

    /// A length-prefixed string or bytes: the length is checked against what remains before
    /// anything is allocated.
    fn text(&mut self, size: u64, what: &str) -> Result<(), String> {
        let n = self.length(size, what)?;
        self.scalar(n, what)
    }

    fn push(&mut self, item: Item) -> Result<(), String> {
        check(item)?;
        self.stack.push(Slot::Value(item));
        Ok(())
    }

    fn pop_values(&mut self, n: usize, what: &str) -> Result<Vec<Item>, String> {
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            match self.stack.pop() {
                Some(Slot::Value(item)) => items.push(item),
                _ => return Err(format!("{what} with too few values on the stack")),
            }
        }
        Ok(items)
    }

    fn pop_to_mark(&mut self, what: &str) -> Result<Vec<Item>, String> {
        let mut items = Vec::new();
        loop {
            match self.stack.pop() {
                Some(Slot::Value(item)) => items.push(item),
                Some(Slot::Mark) => return Ok(items),
                None => return Err(format!("{what} without a MARK")),
            }
        }
    }

    /// Adds `items` to the container under them (APPEND, SETITEM and their batch forms).
    fn extend_top(&mut self, items: &[Item], what: &str) -> Result<(), String> {
        let Some(Slot::Value(top)) = self.stack.last_mut() else {
            return Err(format!("{what} with no list or dict under its values"));
        };
        if !top.container {
            return Err(format!("{what} onto a value that is not a list or dict"));
        }
        let grown = container_of(items)?;
        top.weight = top.weight.saturating_add(grown.weight - SCALAR_WEIGHT);
        top.depth = top.depth.max(grown.depth);
        let top = *top;
        check(top)
    }

    fn put(&mut self, id: u64) -> Result<(), String> {
        let Some(Slot::Value(top)) = self.stack.last() else {
            return Err("a memo PUT with no value on the stack".into());
        };
        let id = u32::try_from(id).map_err(|_| "a memo id over 32 bits".to_owned())?;
        self.memo.insert(id, *top);
        Ok(())
    }

    fn get(&mut self, id: u64) -> Result<(), String> {
        let item = u32::try_from(id)
            .ok()
            .and_then(|id| self.memo.get(&id).copied())
            .ok_or_else(|| format!("a memo GET of id {id}, which was never PUT"))?;
        if item.container {
            return Err(
                "a memo GET of a list, tuple or dict: shared or recursive containers are not \
                 plain data"
                    .into(),
            );
        }
        self.push(item)
    }
}

/// The container holding `items`: its weight is theirs plus its own, its depth one more than
/// the deepest.
fn container_of(items: &[Item]) -> Result<Item, String> {
    let mut out = Item::empty_container();
    for item in items {
        out.weight = out.weight.saturating_add(item.weight);
        out.depth = out.depth.max(item.depth + 1);
    }
    check(out)?;
    Ok(out)
}

fn check(item: Item) -> Result<(), String> {
    if item.depth > MAX_DEPTH {
        return Err(format!("containers nested deeper than {MAX_DEPTH}"));
    }
    if item.weight > MAX_WEIGHT {
        return Err(format!(
            "the pickle would decode into more than {} MiB",
            MAX_WEIGHT >> 20
        ));
    }
    Ok(())
}

/// Decodes a plain-data pickle (after [`scan`]) into serde-pickle's value.
pub(crate) fn decode(bytes: &[u8]) -> Result<Pickled, String> {
    scan(bytes)?;
    serde_pickle::value_from_slice(bytes, serde_pickle::DeOptions::new())
        .map_err(|e| format!("the pickle cannot be decoded: {e}"))
}

/// A decoded pickle value as JSON, the way RQ's JSON serializer would have written it: tuples
/// become lists, `bytes` a list of byte values, and dict keys that are `None`, booleans or
/// numbers their JSON text (`json.dumps({1: 'a'})` is `{"1": "a"}`).
pub(crate) fn to_json(value: Pickled) -> Result<Value, String> {
    Ok(match value {
        Pickled::None => Value::Null,
        Pickled::Bool(b) => Value::Bool(b),
        Pickled::I64(n) => Value::from(n),
        Pickled::Int(big) => u64::try_from(&big)
            .map(Value::from)
            .map_err(|_| format!("the integer {big} does not fit in 64 bits"))?,
        Pickled::F64(f) => Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("the float {f} has no JSON form"))?,
        Pickled::String(s) => Value::String(s),
        Pickled::Bytes(bytes) => Value::Array(bytes.into_iter().map(Value::from).collect()),
        Pickled::List(items) | Pickled::Tuple(items) => Value::Array(
            items
                .into_iter()
                .map(to_json)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Pickled::Dict(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                out.insert(json_key(key)?, to_json(item)?);
            }
            Value::Object(out)
        }
        Pickled::Set(_) | Pickled::FrozenSet(_) => {
            return Err("a set is not plain data here".into());
        }
    })
}

/// A dict key as `json.dumps` writes it.
fn json_key(key: HashableValue) -> Result<String, String> {
    Ok(match key {
        HashableValue::String(s) => s,
        HashableValue::None => "null".into(),
        HashableValue::Bool(b) => b.to_string(),
        HashableValue::I64(n) => n.to_string(),
        HashableValue::Int(n) => n.to_string(),
        HashableValue::F64(f) => f.to_string(),
        other => return Err(format!("a dict key that JSON cannot hold: {other:?}")),
    })
}

/// A JSON value as the pickle value Python would have for it (objects become dicts, arrays
/// lists, big unsigned numbers Python ints).
pub(crate) fn from_json(value: &Value) -> Pickled {
    match value {
        Value::Null => Pickled::None,
        Value::Bool(b) => Pickled::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Pickled::I64(i),
            (None, Some(u), _) => Pickled::Int(u.into()),
            (_, _, f) => Pickled::F64(f.unwrap_or(f64::NAN)),
        },
        Value::String(s) => Pickled::String(s.clone()),
        Value::Array(items) => Pickled::List(items.iter().map(from_json).collect()),
        Value::Object(map) => Pickled::Dict(
            map.iter()
                .map(|(k, v)| (HashableValue::String(k.clone()), from_json(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// Pickles `value` (protocol 3, which every Python 3 reads).
pub(crate) fn encode(value: &Pickled) -> Result<Vec<u8>, String> {
    serde_pickle::value_to_vec(value, serde_pickle::SerOptions::new())
        .map_err(|e| format!("the value cannot be pickled: {e}"))
}

#[cfg(test)]
mod tests;
