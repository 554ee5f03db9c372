//! The metrics renderer (Prometheus text 0.0.4 and OpenMetrics 1.0): any label values and any
//! sample values render to an exposition that parses back (with the formats' own escaping rules)
//! to the same labels and values, one sample per line, `# EOF` last in OpenMetrics.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/zombies/src/serve/expo.rs"]
mod expo;
use expo::{encode, Family, Format, Kind};

#[path = "../common/parse_sample.rs"]
mod parse_sample;
use parse_sample::parse_sample;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&c| c == 0xff);
    let text = parts.next().unwrap_or_default();
    let nums = parts.next().unwrap_or_default();
    let values: Vec<String> = String::from_utf8_lossy(text).split('\0').map(str::to_string).collect();
    let floats: Vec<f64> = nums
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let mut g = Family::new("zombies_fuzz", Kind::Gauge, "help \\ with \"quotes\"\nand lines", &["a", "b"]);
    let mut c = Family::new("zombies_fuzz_events", Kind::Counter, "counter", &["a"]);
    let mut expected = Vec::new();
    for (i, pair) in values.chunks(2).enumerate() {
        let a = pair[0].clone();
        let b = pair.get(1).cloned().unwrap_or_default();
        let v = floats.get(i).copied().unwrap_or(i as f64);
        g.push(vec![a.clone(), b.clone()], v);
        c.push(vec![a.clone()], v.abs());
        expected.push(("zombies_fuzz".to_string(), vec![("a".into(), a.clone()), ("b".into(), b)], v));
    }
    let counters: Vec<_> = values
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let v = floats.get(i).copied().unwrap_or(i as f64).abs();
            ("zombies_fuzz_events_total".to_string(), vec![("a".to_string(), pair[0].clone())], v)
        })
        .collect();
    expected.extend(counters);
    for fmt in [Format::Text004, Format::OpenMetrics] {
        let out = encode(&[g.clone(), c.clone()], fmt);
        let samples: Vec<_> = out
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(parse_sample)
            .collect();
        assert_eq!(samples.len(), expected.len(), "{out}");
        for (got, want) in samples.iter().zip(&expected) {
            assert_eq!(got.0, want.0);
            assert_eq!(got.1, want.1, "{out}");
            assert!(
                got.2 == want.2 || (got.2.is_nan() && want.2.is_nan()),
                "{} != {} in {out}",
                got.2,
                want.2
            );
        }
        if fmt == Format::OpenMetrics {
            assert!(out.ends_with("# EOF\n"));
        }
    }
});
