//! Messages quote what users wrote; a quoted control character (a stray CR, a NUL, a newline
//! inside an XML name) must not break a one-line message, so it is shown escaped.

/// `s` with every control character escaped (`\r`, `\n`, `\u{1e}`), everything else as is.
pub fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A 10-digit number as `NPA-NXX-XXXX` (an ANI, ELIN, ESQK or callback number).
pub fn tn_dashed(n: u64) -> String {
    let s = format!("{n:010}");
    format!("{}-{}-{}", &s[..3], &s[3..6], &s[6..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_text_is_kept() {
        assert_eq!(one_line("a\rb\nc\u{1e}dé"), "a\\rb\\nc\\u{1e}dé");
        assert_eq!(one_line("KP 0 5551234 ST"), "KP 0 5551234 ST");
    }
}
