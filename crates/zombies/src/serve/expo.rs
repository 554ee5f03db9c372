//! The exposition: metric families and their two text encodings.
//!
//! * Prometheus text format 0.0.4 (`text/plain; version=0.0.4; charset=utf-8`), the default.
//! * OpenMetrics 1.0 (`application/openmetrics-text; version=1.0.0; charset=utf-8`), chosen by the
//!   scraper's `Accept` header; ends with `# EOF`.
//!
//! Hand-written rather than with the `prometheus-client` crate: that crate encodes OpenMetrics
//! only, so a 0.0.4 encoder is needed anyway, and one data model with two small encoders keeps the
//! two formats from drifting apart. Both outputs are checked by `promtool check metrics` (0.0.4)
//! and by a real Prometheus scraping with its default `Accept` (OpenMetrics) in the tests.

use std::fmt::Write;

/// Content-Type of the 0.0.4 text format.
pub const TEXT_0_0_4: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content-Type of OpenMetrics 1.0.
pub const OPENMETRICS_1_0: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A monotonic count; its samples are named `<name>_total`.
    Counter,
    /// Metadata as labels on a constant 1; samples named `<name>_info`. A gauge in 0.0.4.
    Info,
}

/// One metric family. `name` is the family name without the `_total`/`_info` suffix.
#[derive(Debug, Clone)]
pub struct Family {
    /// Family name, e.g. `zombies_observed` (sample `zombies_observed_total`).
    pub name: &'static str,
    /// One-line help text.
    pub help: &'static str,
    /// Type.
    pub kind: Kind,
    /// OpenMetrics unit (the name must end with `_<unit>`), e.g. `seconds`.
    pub unit: Option<&'static str>,
    /// Label names, in order.
    pub labels: &'static [&'static str],
    /// Samples: label values (same length as `labels`) and the value.
    pub samples: Vec<(Vec<String>, f64)>,
}

impl Family {
    /// An empty family.
    pub fn new(
        name: &'static str,
        kind: Kind,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Family {
        Family {
            name,
            help,
            kind,
            unit: None,
            labels,
            samples: Vec::new(),
        }
    }

    /// Sets the OpenMetrics unit.
    pub fn unit(mut self, unit: &'static str) -> Family {
        debug_assert!(self.name.ends_with(&format!("_{unit}")));
        self.unit = Some(unit);
        self
    }

    /// Adds a sample.
    pub fn push(&mut self, values: Vec<String>, v: f64) {
        debug_assert_eq!(values.len(), self.labels.len(), "{}", self.name);
        self.samples.push((values, v));
    }

    /// Adds a sample and returns self.
    pub fn with(mut self, values: Vec<String>, v: f64) -> Family {
        self.push(values, v);
        self
    }

    fn sample_name(&self) -> String {
        match self.kind {
            Kind::Gauge => self.name.to_string(),
            Kind::Counter => format!("{}_total", self.name),
            Kind::Info => format!("{}_info", self.name),
        }
    }
}

/// Which text format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4.
    Text004,
    /// OpenMetrics 1.0.
    OpenMetrics,
}

impl Format {
    /// The Content-Type header value.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text004 => TEXT_0_0_4,
            Format::OpenMetrics => OPENMETRICS_1_0,
        }
    }

    /// Negotiates from an `Accept` header: OpenMetrics when it is acceptable with a quality at
    /// least that of `text/plain` (and of `*/*`); 0.0.4 otherwise, and when there is no header.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text004;
        };
        let (mut om, mut text) = (0.0f64, 0.0f64);
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = 1.0f64;
            let mut version: Option<String> = None;
            for p in parts {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                match k.trim().to_ascii_lowercase().as_str() {
                    "q" => q = v.trim().parse().unwrap_or(0.0),
                    "version" => version = Some(v.trim().trim_matches('"').to_string()),
                    _ => {}
                }
            }
            if !(0.0..=1.0).contains(&q) {
                continue;
            }
            match media.as_str() {
                // We speak 1.0.0; 0.0.1 (the pre-1.0 draft) is the same text for what we send.
                "application/openmetrics-text"
                    if version
                        .as_deref()
                        .is_none_or(|v| v == "1.0.0" || v == "0.0.1") =>
                {
                    om = om.max(q)
                }
                "text/plain" | "*/*" | "text/*" => text = text.max(q),
                _ => {}
            }
        }
        if om > 0.0 && om >= text {
            Format::OpenMetrics
        } else {
            Format::Text004
        }
    }
}

fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(out: &mut String, v: &str, fmt: Format) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if fmt == Format::OpenMetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Encodes `families` in `fmt`.
pub fn encode(families: &[Family], fmt: Format) -> String {
    let mut out = String::with_capacity(4096);
    for f in families {
        let sample = f.sample_name();
        let (meta_name, type_name) = match (fmt, f.kind) {
            (Format::Text004, Kind::Gauge | Kind::Info) => (sample.as_str(), "gauge"),
            (Format::Text004, Kind::Counter) => (sample.as_str(), "counter"),
            (Format::OpenMetrics, Kind::Gauge) => (f.name, "gauge"),
            (Format::OpenMetrics, Kind::Counter) => (f.name, "counter"),
            (Format::OpenMetrics, Kind::Info) => (f.name, "info"),
        };
        match fmt {
            Format::Text004 => {
                let _ = write!(out, "# HELP {meta_name} ");
                escape_help(&mut out, f.help, fmt);
                let _ = writeln!(out, "\n# TYPE {meta_name} {type_name}");
            }
            Format::OpenMetrics => {
                let _ = writeln!(out, "# TYPE {meta_name} {type_name}");
                if let Some(u) = f.unit {
                    let _ = writeln!(out, "# UNIT {meta_name} {u}");
                }
                let _ = write!(out, "# HELP {meta_name} ");
                escape_help(&mut out, f.help, fmt);
                out.push('\n');
            }
        }
        for (values, v) in &f.samples {
            out.push_str(&sample);
            if !f.labels.is_empty() {
                out.push('{');
                for (i, (k, val)) in f.labels.iter().zip(values).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    out.push_str("=\"");
                    escape_label(&mut out, val);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            write_value(&mut out, *v);
            out.push('\n');
        }
    }
    if fmt == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fams() -> Vec<Family> {
        vec![
            Family::new("zombies_build", Kind::Info, "Build.", &["version"])
                .with(vec!["1.2.3".into()], 1.0),
            Family::new("zombies_observed", Kind::Counter, "Seen \\ new.", &["pod"])
                .with(vec!["a\"b\\c\nd".into()], 3.0),
            Family::new("zombies_scrape_duration_seconds", Kind::Gauge, "Time.", &[])
                .unit("seconds")
                .with(vec![], 0.0125),
        ]
    }

    #[test]
    fn text_004() {
        let s = encode(&fams(), Format::Text004);
        assert_eq!(
            s,
            "# HELP zombies_build_info Build.\n# TYPE zombies_build_info gauge\nzombies_build_info{version=\"1.2.3\"} 1\n\
             # HELP zombies_observed_total Seen \\\\ new.\n# TYPE zombies_observed_total counter\nzombies_observed_total{pod=\"a\\\"b\\\\c\\nd\"} 3\n\
             # HELP zombies_scrape_duration_seconds Time.\n# TYPE zombies_scrape_duration_seconds gauge\nzombies_scrape_duration_seconds 0.0125\n"
        );
    }

    #[test]
    fn openmetrics() {
        let s = encode(&fams(), Format::OpenMetrics);
        assert!(s.starts_with(
            "# TYPE zombies_build info\n# HELP zombies_build Build.\nzombies_build_info{version=\"1.2.3\"} 1\n"
        ));
        assert!(s.contains(
            "# TYPE zombies_observed counter\n# HELP zombies_observed Seen \\\\ new.\nzombies_observed_total{"
        ));
        assert!(s.contains("# UNIT zombies_scrape_duration_seconds seconds\n"));
        assert!(s.ends_with("zombies_scrape_duration_seconds 0.0125\n# EOF\n"));
    }

    #[test]
    fn values() {
        let mut s = String::new();
        for v in [0.0, 42.0, -1.0, 1.5, f64::NAN, f64::INFINITY, 1.7e9 + 0.25] {
            write_value(&mut s, v);
            s.push(' ');
        }
        assert_eq!(s, "0 42 -1 1.5 NaN +Inf 1700000000.25 ");
    }

    #[test]
    fn negotiation() {
        use Format::*;
        assert_eq!(Format::negotiate(None), Text004);
        assert_eq!(Format::negotiate(Some("*/*")), Text004);
        assert_eq!(Format::negotiate(Some("text/plain")), Text004);
        // Prometheus 2.42's default scrape Accept header.
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")),
            OpenMetrics
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text")),
            OpenMetrics
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0.2, text/plain")),
            Text004
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Text004
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=9.9.9")),
            Text004
        );
        assert_eq!(Format::negotiate(Some("garbage;;;q=abc,,")), Text004);
    }
}
