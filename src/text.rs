//! Small helpers that keep messages grammatical: "1 entry", "2 entries", "an `approval` entry".

use std::fmt;

/// A count with its noun in the right number: `Count(1, "entry", "entries")` shows "1 entry".
#[derive(Debug, Clone, Copy)]
pub(crate) struct Count(pub u64, pub &'static str, pub &'static str);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if self.0 == 1 { self.1 } else { self.2 };
        write!(f, "{} {noun}", self.0)
    }
}

/// "N entry" or "N entries".
pub(crate) fn entries(n: u64) -> Count {
    Count(n, "entry", "entries")
}

/// A kind in backquotes with its indefinite article: "a `file_read`", "an `approval`".
#[derive(Debug, Clone, Copy)]
pub(crate) struct AKind<'a>(pub &'a str);

impl fmt::Display for AKind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let article = match self.0.as_bytes().first() {
            Some(b'a' | b'e' | b'i' | b'o' | b'u') => "an",
            _ => "a",
        };
        write!(f, "{article} `{}`", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_articles() {
        assert_eq!(entries(0).to_string(), "0 entries");
        assert_eq!(entries(1).to_string(), "1 entry");
        assert_eq!(entries(2).to_string(), "2 entries");
        assert_eq!(AKind("approval").to_string(), "an `approval`");
        assert_eq!(AKind("erasure").to_string(), "an `erasure`");
        assert_eq!(AKind("file_read").to_string(), "a `file_read`");
    }
}
