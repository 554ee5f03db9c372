//! Property tests of `zombies serve`'s request-head parser and metrics renderer (the same
//! properties as the fuzz targets http_head and metrics_render, in the normal suite). The two
//! modules have no dependency on the rest of the binary, so they are compiled here from source.

#[allow(dead_code)]
#[path = "../src/serve/http.rs"]
mod http;

#[allow(dead_code)]
#[path = "../src/serve/expo.rs"]
mod expo;

use expo::{encode, Family, Format, Kind};
use http::{parse_head, Limits, Parsed};
use proptest::prelude::*;

// The same reader of a sample line as the fuzz target metrics_render.
#[path = "../../../fuzz/common/parse_sample.rs"]
mod parse_sample;
use parse_sample::parse_sample;

fn limits() -> Limits {
    Limits {
        max_head_bytes: 512,
        max_target_bytes: 64,
        ..Limits::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any bytes: only documented statuses, only GET/HEAD with an origin-form target accepted,
    /// and a refusal stays a refusal whatever bytes follow.
    #[test]
    fn head_parser_answers_consistently(b in proptest::collection::vec(any::<u8>(), 0..300),
                                        start in proptest::sample::select(vec!["", "GET /", "HEAD /x HTTP/1.1\r\n", "POST "])) {
        let mut data = start.as_bytes().to_vec();
        data.extend_from_slice(&b);
        let mut refused = None;
        for n in 0..=data.len() {
            match parse_head(&data[..n], limits()) {
                Parsed::Err(st) => {
                    prop_assert!(matches!(st, 400 | 405 | 414 | 431 | 505), "{}", st);
                    refused.get_or_insert((n, st));
                }
                Parsed::Ok(r) => {
                    prop_assert!(refused.is_none(), "refused at {:?}, accepted at {}", refused, n);
                    prop_assert!(r.method == "GET" || r.method == "HEAD");
                    prop_assert!(r.path.starts_with('/') && r.path.len() <= 64);
                }
                Parsed::Incomplete => {
                    prop_assert!(refused.is_none(), "refused at {:?}, incomplete at {}", refused, n);
                    prop_assert!(n <= 512);
                }
            }
        }
    }

    /// A well-formed request is accepted with its path and Accept header, whatever the headers.
    #[test]
    fn valid_heads_are_accepted(method in proptest::sample::select(vec!["GET", "HEAD"]),
                                path in "/[a-zA-Z0-9._~-]{0,40}",
                                query in proptest::option::of("[a-z0-9=&]{0,10}"),
                                accept in proptest::option::of("[a-z/;=.,* 0-9-]{1,30}"),
                                headers in proptest::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,20}"), 0..6),
                                crlf in any::<bool>()) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let target = match &query { Some(q) => format!("{path}?{q}"), None => path.clone() };
        let mut head = format!("{method} {target} HTTP/1.1{eol}");
        for (k, v) in &headers {
            if !k.eq_ignore_ascii_case("accept") {
                head += &format!("{k}: {v}{eol}");
            }
        }
        if let Some(a) = &accept {
            head += &format!("Accept: {a}{eol}");
        }
        head += eol;
        match parse_head(head.as_bytes(), limits()) {
            Parsed::Ok(r) => {
                prop_assert_eq!(&r.method, method);
                prop_assert_eq!(&r.path, &path);
                prop_assert_eq!(r.accept.as_deref(), accept.as_deref().map(str::trim));
            }
            other => prop_assert!(false, "{:?} for {:?}", other, head),
        }
    }

    /// Any label values and sample values render, in both formats, to lines that parse back to
    /// the same values.
    #[test]
    fn expositions_round_trip(samples in proptest::collection::vec(
        ("\\PC{0,12}|[\\\\\"\n]{0,4}", "\\PC{0,12}", any::<f64>()), 0..8)) {
        let mut g = Family::new("zombies_prop", Kind::Gauge, "help \\ \"q\"\nx", &["a", "b"]);
        for (a, b, v) in &samples {
            g.push(vec![a.clone(), b.clone()], *v);
        }
        for fmt in [Format::Text004, Format::OpenMetrics] {
            let out = encode(std::slice::from_ref(&g), fmt);
            let got: Vec<_> = out.lines().filter(|l| !l.starts_with('#')).map(parse_sample).collect();
            prop_assert_eq!(got.len(), samples.len(), "{}", out);
            for ((name, labels, value), (a, b, v)) in got.iter().zip(&samples) {
                prop_assert_eq!(name, "zombies_prop");
                prop_assert_eq!(labels, &vec![("a".to_string(), a.clone()), ("b".to_string(), b.clone())]);
                prop_assert!(value == v || (value.is_nan() && v.is_nan()), "{} vs {}", value, v);
            }
            if fmt == Format::OpenMetrics {
                prop_assert!(out.ends_with("# EOF\n"));
            }
        }
    }
}

/// A number of seconds as a user might type it, or not.
fn seconds_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|v| v.to_string()),
        any::<u64>().prop_map(|v| v.to_string()),
        "[0-9eE.+-]{0,14}",
        proptest::sample::select(vec![
            "inf".to_string(),
            "-inf".into(),
            "NaN".into(),
            "1e308".into(),
            "-0".into(),
            "0.05".into(),
            "31536000".into(),
            "31536000.1".into(),
            "".into(),
        ]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The duration and ratio flags (`--interval`, `--window`, `--min-age`, `--max-pid-usage`)
    /// take any text: a clear error (exit 2, the flag named) or a run, never an internal error.
    #[test]
    fn duration_flags_never_crash(interval in seconds_text(), window in seconds_text(),
                                  min_age in seconds_text(), ratio in seconds_text()) {
        let root = std::env::temp_dir().join(format!("zombies-props-{}", std::process::id()));
        std::fs::create_dir_all(root.join("1")).unwrap();
        std::fs::write(root.join("1/stat"), format!("1 (init) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5{} 0\n", " 0".repeat(29))).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_zombies"))
            .args(["watch", "--iterations", "1", "--proc-root", root.to_str().unwrap(), "--sys-root", "/nonexistent"])
            .arg(format!("--interval={interval}"))
            .arg(format!("--window={window}"))
            .arg(format!("--min-age={min_age}"))
            .arg(format!("--max-pid-usage={ratio}"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        prop_assert!(!err.contains("internal error") && !err.contains("panicked"), "{}", err);
        match out.status.code() {
            Some(0) | Some(1) => {}
            Some(2) => prop_assert!(err.contains("invalid value"), "{}", err),
            other => prop_assert!(false, "exit {:?}: {}", other, err),
        }
    }
}
