//! Shared by the fuzz target names_json and procmodel's property tests (tests/props.rs): the
//! inverse of `procmodel::model::printable`, to check that escaping loses nothing.

/// Inverse of `printable` on its own output.
pub fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next().expect("a lone backslash at the end") {
            '\\' => out.push('\\'),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'u' => {
                assert_eq!(it.next(), Some('{'));
                let hex: String = it.by_ref().take_while(|&c| c != '}').collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
            }
            other => panic!("unexpected escape \\{other} in {s:?}"),
        }
    }
    out
}
