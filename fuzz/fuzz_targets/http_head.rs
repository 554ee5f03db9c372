//! The request-head parser of `zombies serve`: never panics; answers only with the documented
//! statuses; accepts only GET/HEAD with an origin-form target within the limits; is consistent
//! as bytes arrive (a prefix it refused stays refused with the same status once more bytes come,
//! and a complete head is never "incomplete").
#![no_main]
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/zombies/src/serve/http.rs"]
mod http;
use http::{parse_head, Limits, Parsed};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_head_bytes: 512,
        max_target_bytes: 64,
        ..Limits::default()
    };
    let whole = parse_head(data, limits);
    match &whole {
        Parsed::Ok(r) => {
            assert!(r.method == "GET" || r.method == "HEAD");
            assert!(r.path.starts_with('/'));
            assert!(r.path.len() <= limits.max_target_bytes);
            assert!(!r.path.contains(['?', '#']));
        }
        Parsed::Err(st) => assert!(matches!(st, 400 | 405 | 414 | 431 | 505), "{st}"),
        Parsed::Incomplete => assert!(data.len() <= limits.max_head_bytes),
    }
    // Byte by byte: once refused, every longer prefix is refused too.
    let mut refused = None;
    for n in 1..=data.len().min(600) {
        match parse_head(&data[..n], limits) {
            Parsed::Err(st) => {
                if refused.is_none() {
                    refused = Some((n, st));
                }
            }
            other => {
                if let Some((at, st)) = refused {
                    panic!("prefix of {at} bytes refused with {st}, prefix of {n} bytes: {other:?}");
                }
            }
        }
    }
});
