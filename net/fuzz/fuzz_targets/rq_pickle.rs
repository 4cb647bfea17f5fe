//! Feeds arbitrary bytes to the plain-data pickle reader (`rq/pickle.rs`, through
//! `Serializer::Pickle.loads`) and to the scanner alone, and checks that neither panics, that
//! both always terminate, and that whatever the reader accepts the scanner accepted first, and
//! round-trips: written back as a pickle, it reads as the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simul_net::rq::{pickle_scan, Serializer};

fuzz_target!(|data: &[u8]| {
    let scanned = pickle_scan(data);
    if let Ok(value) = Serializer::Pickle.loads(data) {
        assert!(scanned.is_ok(), "decoded what the scan refused");
        let again = Serializer::Pickle.dumps(&value).expect("a decoded value pickles");
        assert_eq!(Serializer::Pickle.loads(&again).expect("our own pickle reads"), value);
    }
});
