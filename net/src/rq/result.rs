//! A job's outcome as RQ records it: an entry of the `rq:results:<id>` stream, read as RQ's
//! `job.latest_result()` reads it. Like the job's hash (`job.rs`), an entry is never trusted:
//! anything RQ could not have written is a typed error.

use serde_json::Value;

use super::codec::{base64_decode, zlib_decompress};
use super::error::Error;
use super::serializer::Serializer;

/// The outcome of a job's latest execution: the latest entry of `rq:results:<id>`, read as
/// RQ's `job.latest_result()` reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum JobResult {
    /// Type 1, SUCCESSFUL: the return value (`null` when the function returned `None`).
    Finished(Value),
    /// Type 2, FAILED: the exception text (`exc_string`).
    Failed(String),
    /// Another type: 3 STOPPED, 4 RETRIED, 5 MAX_RETRIES_EXCEEDED.
    Other {
        /// RQ's `Result.Type` number.
        kind: u32,
    },
}

impl JobResult {
    /// Reads one stream entry's field/value pairs.
    pub fn from_entry(id: &str, fields: &[(Vec<u8>, Vec<u8>)]) -> Result<JobResult, Error> {
        let bad = |reason: &str| Error::BadResult {
            id: id.to_owned(),
            reason: reason.to_owned(),
        };
        let field = |name: &str| {
            fields
                .iter()
                .find(|(f, _)| f == name.as_bytes())
                .map(|(_, v)| v.as_slice())
        };
        let base64 = |name: &str| -> Result<Option<Vec<u8>>, Error> {
            let Some(text) = field(name) else {
                return Ok(None);
            };
            let text = std::str::from_utf8(text).map_err(|_| bad("a base64 field is not text"))?;
            base64_decode(text)
                .map(Some)
                .ok_or_else(|| bad(&format!("{name} is not base64")))
        };
        let kind = field("type")
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(|t| t.parse::<u32>().ok())
            .ok_or_else(|| bad("no numeric type field"))?;
        match kind {
            1 => match base64("return_value")? {
                None => Ok(JobResult::Finished(Value::Null)),
                Some(bytes) => Serializer::detect(&bytes)
                    .loads(&bytes)
                    .map(JobResult::Finished)
                    .map_err(|e| bad(&format!("return_value: {e}"))),
            },
            2 => {
                let packed = base64("exc_string")?.unwrap_or_default();
                let text = zlib_decompress(&packed).ok_or_else(|| bad("exc_string is not zlib"))?;
                Ok(JobResult::Failed(
                    String::from_utf8_lossy(&text).into_owned(),
                ))
            }
            kind => Ok(JobResult::Other { kind }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rq::codec::{base64_encode, zlib_compress};

    #[test]
    fn result_entries_of_each_type() {
        let entry = |pairs: &[(&str, String)]| -> Vec<(Vec<u8>, Vec<u8>)> {
            pairs
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect()
        };
        let ok = entry(&[
            ("type", "1".into()),
            ("return_value", base64_encode(b"322")),
        ]);
        assert_eq!(
            JobResult::from_entry("j", &ok).unwrap(),
            JobResult::Finished(322.into())
        );
        let none = entry(&[("type", "1".into())]);
        assert_eq!(
            JobResult::from_entry("j", &none).unwrap(),
            JobResult::Finished(Value::Null)
        );
        let failed = entry(&[
            ("type", "2".into()),
            (
                "exc_string",
                base64_encode(&zlib_compress(b"ValueError: boom")),
            ),
        ]);
        assert_eq!(
            JobResult::from_entry("j", &failed).unwrap(),
            JobResult::Failed("ValueError: boom".into())
        );
        let bad = entry(&[("type", "1".into()), ("return_value", "!!".into())]);
        assert!(JobResult::from_entry("j", &bad).is_err());
        let untyped = entry(&[("return_value", "MzIy".into())]);
        assert!(JobResult::from_entry("j", &untyped).is_err());
    }
}
