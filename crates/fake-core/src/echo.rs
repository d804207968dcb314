//! Bounded echoes of client input in error messages: a 404 or an OData error quotes the path,
//! segment or expression it could not handle, but never more than [`MAX_ECHO_CHARS`] of it, so
//! a 60 KB path costs a 60 KB request, not a 60 KB answer (and a journal entry) as well.

use std::borrow::Cow;

/// The most characters of client input an error message quotes.
///
/// UNCONFIRMED: how much Microsoft's services echo is not documented; they are seen quoting
/// whole short segments and expressions. 200 characters keeps every realistic name whole.
pub const MAX_ECHO_CHARS: usize = 200;

/// `text` as an error message may quote it: whole when it has at most [`MAX_ECHO_CHARS`]
/// characters, otherwise its first [`MAX_ECHO_CHARS`] characters followed by `…`.
pub fn echo(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_ECHO_CHARS) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_echoed_whole() {
        assert_eq!(echo("accounts"), "accounts");
        let exactly = "x".repeat(MAX_ECHO_CHARS);
        assert_eq!(echo(&exactly), exactly);
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_ECHO_CHARS + 5);
        let echoed = echo(&long);
        assert_eq!(echoed.chars().count(), MAX_ECHO_CHARS + 1);
        assert!(echoed.ends_with('…'));
        assert!(echo(&"a".repeat(60_000)).len() < 2 * MAX_ECHO_CHARS);
    }
}
