//! Caller-supplied text inside an error or a log line, bounded: a value of
//! any size comes out as a short prefix and its length, so a megabyte slug
//! or key cannot flood a log or an error answer.

use crate::error::Error;
use crate::types::ValidationError;

/// Longest prefix of a caller's value that [`quote`] keeps.
const PREFIX: usize = 40;
/// Longest field path an error names: our own paths are far shorter, so only
/// a caller's unknown key can reach it.
const MAX_FIELD: usize = 120;
/// Longest message an error carries; serde's messages quote the value they
/// refused.
const MAX_MESSAGE: usize = 400;

/// `value` when it is short, else its first characters, `…` and its size in
/// bytes.
pub fn quote(value: &str) -> String {
    bounded(value, PREFIX)
}

/// `text` when it is at most `max` bytes, else cut on a character boundary
/// with its size in bytes appended.
pub fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &text[..cut], text.len())
}

impl Error {
    /// The error with its field and message bounded. Every answer passes here
    /// on its way out, whatever produced it.
    pub fn bounded(self) -> Self {
        match self {
            Error::Validation(e) => Error::Validation(ValidationError {
                field: bounded(&e.field, MAX_FIELD),
                message: bounded(&e.message, MAX_MESSAGE),
                retryable: e.retryable,
            }),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_become_a_prefix_and_their_size() {
        assert_eq!(quote("main"), "main");
        let long = "x".repeat(1 << 20);
        let quoted = quote(&long);
        assert!(quoted.len() < 80, "{quoted}");
        assert!(quoted.ends_with("… (1048576 bytes)"));
        // The cut never splits a character.
        assert_eq!(bounded("ééé", 3), "é… (6 bytes)");
    }

    #[test]
    fn an_error_naming_a_huge_unknown_key_stays_small() {
        let key = "k".repeat(1 << 20);
        let error = Error::validation(&key, format!("unknown variant `{key}`")).bounded();
        let Error::Validation(e) = error else {
            panic!("stays a validation error");
        };
        assert!(e.field.len() < 200 && e.message.len() < 500);
        assert!(e.field.starts_with("kkk"));
    }
}
