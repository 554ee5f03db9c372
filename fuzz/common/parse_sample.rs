//! Shared by the fuzz target metrics_render and zombies' property tests (tests/props.rs): reads
//! one sample line of an exposition back, with the formats' own escaping rules.

/// Parses `name{k="v",...} value`, unescaping label values.
pub fn parse_sample(line: &str) -> (String, Vec<(String, String)>, f64) {
    let (name_end, mut rest) = match line.find(['{', ' ']) {
        Some(i) => (i, &line[i..]),
        None => panic!("no value in {line:?}"),
    };
    let name = line[..name_end].to_string();
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let r = rest.strip_prefix(',').unwrap_or(rest);
            let eq = r
                .find("=\"")
                .unwrap_or_else(|| panic!("no =\" in {line:?}"));
            let key = r[..eq].to_string();
            let mut val = String::new();
            let mut chars = r[eq + 2..].char_indices();
            let end = loop {
                let (i, c) = chars
                    .next()
                    .unwrap_or_else(|| panic!("unterminated {line:?}"));
                match c {
                    '"' => break i,
                    '\\' => match chars.next().unwrap().1 {
                        'n' => val.push('\n'),
                        '\\' => val.push('\\'),
                        '"' => val.push('"'),
                        o => panic!("bad escape \\{o} in {line:?}"),
                    },
                    '\n' => panic!("raw newline in {line:?}"),
                    c => val.push(c),
                }
            };
            labels.push((key, val));
            rest = &r[eq + 2 + end + 1..];
        }
    }
    let v = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("no space in {line:?}"));
    let value = match v {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse()
            .unwrap_or_else(|_| panic!("bad value {v:?} in {line:?}")),
    };
    (name, labels, value)
}
