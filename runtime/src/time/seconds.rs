//! Reading a number of seconds typed by a person (a command-line flag) as a `Duration`.
//!
//! `Duration::from_secs_f64` panics on a negative, NaN, infinite or too large value, and
//! `"1e20".parse::<f64>()` succeeds; so a flag like `--max-time 1e20` must be checked between
//! the two. Invariant this file owns: every string gives a `Duration` of at most
//! [`MAX_SECONDS`] or an error that says what was wrong, never a panic.

use std::fmt;
use std::time::Duration;

/// The longest duration a flag may ask for: 100 years. Longer is surely a typo, and every
/// deadline in simul stays far from where `Instant` and Redis's expiry times overflow.
pub const MAX_SECONDS: u64 = 100 * 365 * 24 * 3600;

/// Why a string is not a usable number of seconds.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SecondsError {
    /// Not a decimal number (`"ten"`, `""`, `"5s"`).
    NotANumber(String),
    /// Below zero.
    Negative(f64),
    /// NaN or infinite.
    NotFinite(f64),
    /// More than [`MAX_SECONDS`].
    TooLong(f64),
}

impl fmt::Display for SecondsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecondsError::NotANumber(text) => {
                write!(
                    f,
                    "expected a number of seconds (such as 2.5), not {text:?}"
                )
            }
            SecondsError::Negative(s) => write!(f, "a duration cannot be negative, not {s}"),
            SecondsError::NotFinite(s) => write!(f, "a duration must be a finite number, not {s}"),
            SecondsError::TooLong(s) => write!(
                f,
                "{s} seconds is more than the limit of {MAX_SECONDS} seconds (100 years)"
            ),
        }
    }
}

impl std::error::Error for SecondsError {}

/// Parses `text` as seconds (`"30"`, `"0.25"`, `"1e3"`), refusing what no `Duration` flag
/// should mean. Surrounding whitespace is ignored.
///
/// ```
/// use std::time::Duration;
/// use simul_runtime::time::{parse_seconds, SecondsError};
/// assert_eq!(parse_seconds("2.5"), Ok(Duration::from_millis(2500)));
/// assert_eq!(parse_seconds("-1"), Err(SecondsError::Negative(-1.0)));
/// assert!(matches!(parse_seconds("1e20"), Err(SecondsError::TooLong(_))));
/// assert!(matches!(parse_seconds("NaN"), Err(SecondsError::NotFinite(_))));
/// ```
pub fn parse_seconds(text: &str) -> Result<Duration, SecondsError> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| SecondsError::NotANumber(text.to_owned()))?;
    if !seconds.is_finite() {
        return Err(SecondsError::NotFinite(seconds));
    }
    // `-0` is zero, not negative.
    if seconds < 0.0 {
        return Err(SecondsError::Negative(seconds));
    }
    if seconds > MAX_SECONDS as f64 {
        return Err(SecondsError::TooLong(seconds));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hostile_string_is_an_error_not_a_panic() {
        for text in [
            "1e19",
            "1e20",
            "1e308",
            "18446744073709551616",
            "3153600001",
        ] {
            assert!(
                matches!(parse_seconds(text), Err(SecondsError::TooLong(_))),
                "{text}"
            );
        }
        for text in ["-1", "-1e-9", "-1e20"] {
            assert!(
                matches!(parse_seconds(text), Err(SecondsError::Negative(_))),
                "{text}"
            );
        }
        for text in ["NaN", "inf", "-inf", "infinity"] {
            assert!(
                matches!(parse_seconds(text), Err(SecondsError::NotFinite(_))),
                "{text}"
            );
        }
        for text in ["", "ten", "5s", "0x10", "1,5"] {
            assert!(
                matches!(parse_seconds(text), Err(SecondsError::NotANumber(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn ordinary_values_and_the_edges_parse() {
        assert_eq!(parse_seconds("0"), Ok(Duration::ZERO));
        assert_eq!(parse_seconds("-0"), Ok(Duration::ZERO));
        assert_eq!(parse_seconds(" 90 "), Ok(Duration::from_secs(90)));
        assert_eq!(parse_seconds("1e3"), Ok(Duration::from_secs(1000)));
        assert_eq!(parse_seconds("0.001"), Ok(Duration::from_millis(1)));
        let century = MAX_SECONDS.to_string();
        assert_eq!(
            parse_seconds(&century),
            Ok(Duration::from_secs(MAX_SECONDS))
        );
    }

    #[test]
    fn messages_say_what_to_type() {
        let e = parse_seconds("1e20").unwrap_err().to_string();
        assert!(e.contains("100 years"), "{e}");
        let e = parse_seconds("soon").unwrap_err().to_string();
        assert!(e.contains("number of seconds"), "{e}");
    }
}
