//! Just enough of X.509 to *show* a certificate: its subject, issuer and validity, as `curl -v`
//! prints them. Verification is rustls's (through webpki); nothing here decides trust.
//!
//! A certificate is DER: nested tag-length-value triples. The fields we want are the first six
//! of `tbsCertificate` (RFC 5280 §4.1):
//!
//! ```text
//! Certificate ::= SEQUENCE { tbsCertificate SEQUENCE {
//!     [0] version OPTIONAL, serialNumber INTEGER, signature AlgorithmIdentifier,
//!     issuer Name, validity SEQUENCE { notBefore Time, notAfter Time }, subject Name, ... } ... }
//! Name ::= SEQUENCE OF SET OF SEQUENCE { type OBJECT IDENTIFIER, value ANY (a string) }
//! ```
//!
//! Invariant: any input gives a summary or `None`, never a panic, and every length is checked
//! against the bytes that are really there (the input comes from the network).

/// What `-v` shows of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    /// The subject, as `CN=example.com, O=Example`.
    pub subject: String,
    /// The issuer, in the same form.
    pub issuer: String,
    /// Start of validity, as `2026-01-31 12:00:00 UTC`.
    pub not_before: String,
    /// End of validity, in the same form.
    pub not_after: String,
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const INTEGER: u8 = 0x02;
const VERSION: u8 = 0xA0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// Reads the summary from a DER certificate; `None` if it is not one.
pub fn summarize(der: &[u8]) -> Option<CertificateSummary> {
    let (certificate, _) = element(der, SEQUENCE)?;
    let (tbs, _) = element(certificate, SEQUENCE)?;
    let mut rest = tbs;
    if rest.first() == Some(&VERSION) {
        rest = element(rest, VERSION)?.1;
    }
    rest = element(rest, INTEGER)?.1; // serial number
    rest = element(rest, SEQUENCE)?.1; // signature algorithm
    let (issuer, rest) = element(rest, SEQUENCE)?;
    let (validity, rest) = element(rest, SEQUENCE)?;
    let (subject, _) = element(rest, SEQUENCE)?;
    let (not_before, after) = time(validity)?;
    let (not_after, _) = time(after)?;
    Some(CertificateSummary {
        subject: name(subject)?,
        issuer: name(issuer)?,
        not_before,
        not_after,
    })
}

/// One DER element of tag `tag` at the front of `input`: its contents, and what follows it.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, contents, rest) = any_element(input)?;
    (found == tag).then_some((contents, rest))
}

/// The element at the front of `input`, whatever its tag (single-byte tags only, which is all
/// a certificate's fields use).
fn any_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7F => (usize::from(first), rest),
        // Long form: the low bits say how many length bytes follow (at most 4 here).
        0x81..=0x84 => {
            let count = usize::from(first & 0x7F);
            let bytes = rest.get(..count)?;
            let len = bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
            (len, &rest[count..])
        }
        _ => return None,
    };
    let contents = rest.get(..len)?;
    Some((tag, contents, &rest[len..]))
}

/// A Name as `CN=..., O=...`, in the order of the certificate.
fn name(mut rdns: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    while !rdns.is_empty() {
        let (set, rest) = element(rdns, SET)?;
        rdns = rest;
        let mut attributes = set;
        while !attributes.is_empty() {
            let (attribute, rest) = element(attributes, SEQUENCE)?;
            attributes = rest;
            let (oid, value) = element(attribute, OID)?;
            let (tag, text, _) = any_element(value)?;
            parts.push(format!("{}={}", attribute_name(oid), string(tag, text)));
        }
    }
    Some(parts.join(", "))
}

/// The short names OpenSSL prints for the common attribute types; a dotted OID for the rest.
fn attribute_name(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 0x03] => "CN".into(),
        [0x55, 0x04, 0x06] => "C".into(),
        [0x55, 0x04, 0x07] => "L".into(),
        [0x55, 0x04, 0x08] => "ST".into(),
        [0x55, 0x04, 0x0A] => "O".into(),
        [0x55, 0x04, 0x0B] => "OU".into(),
        [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01] => "emailAddress".into(),
        _ => dotted(oid),
    }
}

fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &byte in oid {
        value = value.saturating_mul(128) | u64::from(byte & 0x7F);
        if byte & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.extend([first, value - first * 40]);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    let text: Vec<String> = arcs.iter().map(u64::to_string).collect();
    text.join(".")
}

/// A directory string's text: UTF-8 and the ASCII types as they are, BMPString as UTF-16.
fn string(tag: u8, bytes: &[u8]) -> String {
    const BMP_STRING: u8 = 0x1E;
    if tag == BMP_STRING {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// A UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as `YYYY-MM-DD HH:MM:SS UTC`.
fn time(input: &[u8]) -> Option<(String, &[u8])> {
    let (tag, text, rest) = any_element(input)?;
    let digits = text.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    let (year, rest_of) = match (tag, text.len()) {
        (UTC_TIME, 12) => {
            // RFC 5280 §4.1.2.5.1: two-digit years 50-99 are 19xx, 00-49 are 20xx.
            let yy: u32 = text[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        (GENERALIZED_TIME, 14) => (text[..4].parse().ok()?, &text[4..]),
        _ => return None,
    };
    let f = |i: usize| &rest_of[i..i + 2];
    let formatted = format!("{year:04}-{}-{} {}:{}:{} UTC", f(0), f(2), f(4), f(6), f(8));
    Some((formatted, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_is_summarized() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "simul test leaf");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "simul");
        params.not_before = rcgen::date_time_ymd(2001, 2, 3);
        params.not_after = rcgen::date_time_ymd(2061, 4, 5);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let summary = summarize(cert.der()).expect("a certificate");
        assert_eq!(summary.subject, "CN=simul test leaf, O=simul");
        assert_eq!(summary.issuer, summary.subject, "self-signed");
        assert_eq!(summary.not_before, "2001-02-03 00:00:00 UTC");
        assert_eq!(summary.not_after, "2061-04-05 00:00:00 UTC");
    }

    #[test]
    fn any_cut_or_corruption_gives_none_or_a_summary_never_a_panic() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["a.test".into()]).unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        for cut in 0..der.len() {
            assert_eq!(summarize(&der[..cut]), None, "cut at {cut}");
        }
        for at in 0..der.len() {
            let mut bad = der.clone();
            bad[at] ^= 0xFF;
            let _ = summarize(&bad);
        }
        assert_eq!(summarize(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]), None);
    }

    #[test]
    fn unknown_attribute_types_are_printed_as_dotted_oids() {
        assert_eq!(
            dotted(&[0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37]),
            "1.3.6.1.4.1.311"
        );
    }
}
