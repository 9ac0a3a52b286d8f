//! Text into HTML: everything an entry says is hostile input.

use std::fmt;

/// Text escaped for HTML element content and quoted attribute values.
///
/// `&`, `<`, `>`, `"` and `'` become character references, so no payload can open a tag,
/// end an attribute or start a script. Control characters other than tab and newline become
/// U+FFFD, and the invisible characters that reorder text (bidirectional overrides, isolates and
/// marks) are shown as `[U+202E]`, so text cannot be made to read differently from what was
/// signed.
pub(crate) struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        // Runs of plain characters are written at once.
        while let Some(i) = rest.find(needs_escape) {
            let (plain, tail) = rest.split_at(i);
            f.write_str(plain)?;
            let mut chars = tail.chars();
            if let Some(c) = chars.next() {
                match c {
                    '&' => f.write_str("&amp;")?,
                    '<' => f.write_str("&lt;")?,
                    '>' => f.write_str("&gt;")?,
                    '"' => f.write_str("&quot;")?,
                    '\'' => f.write_str("&#39;")?,
                    c if reorders(c) => write!(f, "[U+{:04X}]", u32::from(c))?,
                    _ => f.write_str("\u{FFFD}")?,
                }
            }
            rest = chars.as_str();
        }
        f.write_str(rest)
    }
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'')
        || reorders(c)
        || (c.is_control() && c != '\n' && c != '\t')
}

// Unicode's explicit directional formatting characters (UAX #9) and the Arabic letter mark.
fn reorders(c: char) -> bool {
    matches!(
        c,
        '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::Esc;

    #[test]
    fn markup_is_text() {
        assert_eq!(
            Esc("<script>alert('x')</script> & \"q\"").to_string(),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(
            Esc("plain text, ünïcödé").to_string(),
            "plain text, ünïcödé"
        );
    }

    #[test]
    fn invisible_characters_are_shown() {
        assert_eq!(Esc("a\u{202E}b").to_string(), "a[U+202E]b");
        assert_eq!(Esc("a\u{0}b\u{1b}c").to_string(), "a\u{FFFD}b\u{FFFD}c");
        assert_eq!(Esc("line\nnext\ttab").to_string(), "line\nnext\ttab");
    }
}
