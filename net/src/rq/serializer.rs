//! RQ's two serializers: pickle (its default) and JSON. Redis does not record which one wrote a
//! job, so a worker tells them apart by the first byte: every pickle of protocol 2 or later
//! starts with the `PROTO` opcode, `0x80`, which no JSON text can start with.
//!
//! Invariant this file owns: **a job's results are written in the serializer its `data` was
//! written in**, so that the Python program that enqueued it reads them with the serializer it
//! already uses (`job.return_value()`).

use std::fmt;

use serde_json::Value;

use super::pickle;

/// How a job's `data` and its results are encoded.
///
/// ```
/// use simul_net::rq::Serializer;
/// let value = serde_json::json!({"words": [1, 2]});
/// for serializer in [Serializer::Pickle, Serializer::Json] {
///     let bytes = serializer.dumps(&value).unwrap();
///     assert_eq!(Serializer::detect(&bytes), serializer);
///     assert_eq!(serializer.loads(&bytes).unwrap(), value);
/// }
/// assert_eq!(Serializer::parse("json"), Some(Serializer::Json));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Serializer {
    /// RQ's default (`pickle.dumps(..., protocol=HIGHEST_PROTOCOL)`), restricted to plain data:
    /// see [`pickle_scan`](super::pickle_scan).
    #[default]
    Pickle,
    /// `rq.serializers.JSONSerializer` (`serializer='json'`, `rq worker --serializer json`).
    Json,
}

impl Serializer {
    /// The serializer that wrote `bytes` (a `data` field after inflating, or a result).
    pub fn detect(bytes: &[u8]) -> Serializer {
        if bytes.first() == Some(&0x80) {
            Serializer::Pickle
        } else {
            Serializer::Json
        }
    }

    /// The name `rq worker --serializer` takes: `pickle` or `json`.
    pub fn name(self) -> &'static str {
        match self {
            Serializer::Pickle => "pickle",
            Serializer::Json => "json",
        }
    }

    /// The serializer named `name` (`pickle` or `json`).
    pub fn parse(name: &str) -> Option<Serializer> {
        match name {
            "pickle" => Some(Serializer::Pickle),
            "json" => Some(Serializer::Json),
            _ => None,
        }
    }

    /// `serializer.dumps(value)`.
    pub fn dumps(self, value: &Value) -> Result<Vec<u8>, String> {
        match self {
            Serializer::Json => Ok(value.to_string().into_bytes()),
            Serializer::Pickle => pickle::encode(&pickle::from_json(value)),
        }
    }

    /// `serializer.loads(bytes)`, as JSON values; the error says what was wrong.
    pub fn loads(self, bytes: &[u8]) -> Result<Value, String> {
        match self {
            Serializer::Json => serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}")),
            Serializer::Pickle => pickle::decode(bytes).and_then(pickle::to_json),
        }
    }
}

impl fmt::Display for Serializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
