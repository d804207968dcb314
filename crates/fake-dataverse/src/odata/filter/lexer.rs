//! The `$filter`/`$orderby` lexer, a port of the token rules of Microsoft.OData's
//! `ExpressionLexer` (the library Dataverse parses query options with), so that literals are
//! recognised the same way and errors carry the same wording and positions.
//!
//! Positions in messages count characters from 0 (.NET counts UTF-16 units; the same for text in
//! the Basic Multilingual Plane). Tokens are read one at a time, on demand, like the original:
//! an error in a later token is only reported once the parser reaches it.

use fake_core::echo;

use crate::odata::scalar;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TokenKind {
    /// The end of the text.
    End,
    /// Whitespace (only when whitespace is not skipped).
    Whitespace,
    /// A name: property, function, keyword operator.
    Identifier,
    /// `'text'` (quotes included, `''` escapes a quote).
    String,
    /// A whole number that fits `Edm.Int32`.
    Integer,
    /// A whole number that needs `Edm.Int64` (or has an `L` suffix).
    Int64,
    /// A number with a fraction that `Edm.Single` holds exactly (or an `f` suffix).
    Single,
    /// A number with a fraction or exponent (or a `d` suffix).
    Double,
    /// A number that only `Edm.Decimal` holds exactly (or an `m` suffix).
    Decimal,
    /// `true` / `false`.
    Boolean,
    /// `null`.
    Null,
    /// `8-4-4-4-12` hexadecimal digits, unquoted.
    Guid,
    /// `2024-01-01`.
    Date,
    /// `2024-01-01T10:00:00Z`.
    DateTimeOffset,
    /// `10:00:00`.
    TimeOfDay,
    /// `duration'P1D'`.
    Duration,
    /// `binary'AQID'` or `0x0102`.
    Binary,
    /// Any other `prefix'text'` literal: enum members, spatial values, custom types.
    Quoted,
    /// `(`.
    OpenParen,
    /// `)`.
    CloseParen,
    /// `,`.
    Comma,
    /// `-` not followed by a number.
    Minus,
    /// `=`.
    Equal,
    /// `/`.
    Slash,
    /// `?`.
    Question,
    /// `.`.
    Dot,
    /// `*`.
    Star,
    /// `:`.
    Colon,
    /// `[ … ]` (a JSON array, as in `PropertyValues=["a","b"]`).
    Bracketed,
    /// `{ … }`.
    Braced,
    /// `@p1`.
    Alias,
}

impl TokenKind {
    /// Whether the token is a number literal.
    pub(super) fn is_numeric(self) -> bool {
        matches!(
            self,
            TokenKind::Integer
                | TokenKind::Int64
                | TokenKind::Single
                | TokenKind::Double
                | TokenKind::Decimal
        )
    }
}

/// One token: its kind and byte range in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) kind: TokenKind,
    pub(super) start: usize,
    pub(super) end: usize,
    /// The byte offset of a `-` the parser folded into this number literal.
    pub(super) sign_start: Option<usize>,
}

/// Reads tokens from a `$filter` or `$orderby` expression.
#[derive(Clone, Debug)]
pub(super) struct Lexer<'t> {
    text: &'t str,
    position: usize,
    /// Whether whitespace between tokens is skipped (the parser turns it off to recognise
    /// function calls, which need `name(` without a space).
    pub(super) skip_whitespace: bool,
}

impl<'t> Lexer<'t> {
    pub(super) fn new(text: &'t str) -> Lexer<'t> {
        Lexer {
            text,
            position: 0,
            skip_whitespace: true,
        }
    }

    /// The text being read.
    pub(super) fn text(&self) -> &'t str {
        self.text
    }

    /// The byte offset just after the last token read.
    pub(super) fn position(&self) -> usize {
        self.position
    }

    /// The character position of byte offset `at`, as error messages count.
    pub(super) fn char_position(&self, at: usize) -> usize {
        self.text.get(..at).map_or(at, |head| head.chars().count())
    }

    /// `"{what} at position {n} in '{text}'."`, the shape of every lexer and parser error.
    pub(super) fn error_at(&self, what: &str, at: usize) -> String {
        format!(
            "{what} at position {} in '{}'.",
            self.char_position(at),
            echo(self.text)
        )
    }

    /// The next token, without moving.
    pub(super) fn peek(&self) -> Result<Token, String> {
        self.clone().next_token()
    }

    fn current(&self) -> Option<char> {
        self.text.get(self.position..)?.chars().next()
    }

    fn char_after_current(&self) -> Option<char> {
        let mut chars = self.text.get(self.position..)?.chars();
        chars.next();
        chars.next()
    }

    fn advance(&mut self) {
        if let Some(current) = self.current() {
            self.position += current.len_utf8();
        }
    }

    fn skip_whitespace_run(&mut self) {
        while self.current().is_some_and(char::is_whitespace) {
            self.advance();
        }
    }

    /// Reads the next token.
    pub(super) fn next_token(&mut self) -> Result<Token, String> {
        if self.skip_whitespace {
            self.skip_whitespace_run();
        }
        let start = self.position;
        let kind = match self.current() {
            None => TokenKind::End,
            Some('(') => self.single(TokenKind::OpenParen),
            Some(')') => self.single(TokenKind::CloseParen),
            Some(',') => self.single(TokenKind::Comma),
            Some('=') => self.single(TokenKind::Equal),
            Some('/') => self.single(TokenKind::Slash),
            Some('?') => self.single(TokenKind::Question),
            Some('.') => self.single(TokenKind::Dot),
            Some('*') => self.single(TokenKind::Star),
            Some(':') => self.single(TokenKind::Colon),
            Some('-') => self.minus(start)?,
            Some('\'') => self.string()?,
            Some('[') => self.balanced('[', ']')?,
            Some('{') => self.balanced('{', '}')?,
            Some('@') => self.alias()?,
            Some(character) if character.is_whitespace() => {
                self.skip_whitespace_run();
                TokenKind::Whitespace
            }
            Some(character) if is_identifier_start(character) => {
                self.identifier_chars();
                if self.current() == Some('-') && self.try_literal(start, is_guid) {
                    TokenKind::Guid
                } else {
                    TokenKind::Identifier
                }
            }
            Some(character) if character.is_ascii_digit() => self.number(start)?,
            Some(character) => {
                let message = format!("Syntax error: character '{character}' is not valid");
                return Err(self.error_at(&message, start));
            }
        };
        let kind = if kind == TokenKind::Identifier {
            self.type_prefixed_literal(start)?
        } else {
            kind
        };
        Ok(Token {
            kind,
            start,
            end: self.position,
            sign_start: None,
        })
    }

    fn single(&mut self, kind: TokenKind) -> TokenKind {
        self.advance();
        kind
    }

    /// `-` starts a negative number, `-INF`, or stands alone.
    fn minus(&mut self, start: usize) -> Result<TokenKind, String> {
        if self
            .char_after_current()
            .is_some_and(|next| next.is_ascii_digit())
        {
            let kind = self.number(start)?;
            if kind.is_numeric() {
                return Ok(kind);
            }
            self.position = start;
        } else if self.char_after_current() == Some('I') {
            self.advance();
            self.identifier_chars();
            if self.text.get(start + 1..self.position) == Some("INF") {
                return Ok(TokenKind::Double);
            }
            self.position = start;
        }
        self.advance();
        Ok(TokenKind::Minus)
    }

    /// `'…'`, where `''` is an escaped quote.
    fn string(&mut self) -> Result<TokenKind, String> {
        loop {
            self.advance();
            while self.current().is_some_and(|character| character != '\'') {
                self.advance();
            }
            if self.current().is_none() {
                let message = "There is an unterminated string literal";
                return Err(self.error_at(message, self.position));
            }
            self.advance();
            if self.current() != Some('\'') {
                return Ok(TokenKind::String);
            }
        }
    }

    /// `[ … ]` or `{ … }`, skipping quoted text, as one token.
    fn balanced(&mut self, open: char, close: char) -> Result<TokenKind, String> {
        self.advance();
        let mut depth = 1usize;
        while depth > 0 {
            if self.current() == Some('\'') {
                self.advance();
                while self.current().is_some_and(|character| character != '\'') {
                    self.advance();
                }
            }
            match self.current() {
                None => return Err("Found an unbalanced bracket expression.".to_owned()),
                Some(character) if character == open => depth += 1,
                Some(character) if character == close => depth -= 1,
                Some(_) => {}
            }
            self.advance();
        }
        Ok(if open == '[' {
            TokenKind::Bracketed
        } else {
            TokenKind::Braced
        })
    }

    /// `@name`, a parameter alias.
    fn alias(&mut self) -> Result<TokenKind, String> {
        self.advance();
        match self.current() {
            None => Err(self.error_at("Syntax error", self.position)),
            Some(character) if is_identifier_start(character) => {
                self.identifier_chars();
                Ok(TokenKind::Alias)
            }
            Some(character) => {
                let message = format!("Syntax error: character '{character}' is not valid");
                Err(self.error_at(&message, self.position))
            }
        }
    }

    fn identifier_chars(&mut self) {
        self.advance();
        while self.current().is_some_and(is_identifier_part) {
            self.advance();
        }
    }

    /// Keywords (`true`, `null`, `INF`) and `prefix'…'` literals, after an identifier.
    fn type_prefixed_literal(&mut self, start: usize) -> Result<TokenKind, String> {
        let word = self.text.get(start..self.position).unwrap_or_default();
        if self.current() != Some('\'') {
            return Ok(match word {
                "true" | "false" => TokenKind::Boolean,
                "null" => TokenKind::Null,
                "INF" | "NaN" => TokenKind::Double,
                "INFF" | "NaNF" | "INFf" | "NaNf" => TokenKind::Single,
                _ => TokenKind::Identifier,
            });
        }
        let kind = if word.eq_ignore_ascii_case("duration") {
            TokenKind::Duration
        } else if word.eq_ignore_ascii_case("binary") || word.eq_ignore_ascii_case("X") {
            TokenKind::Binary
        } else if word.eq_ignore_ascii_case("null") {
            return Err(self.error_at("Syntax error", self.position));
        } else {
            TokenKind::Quoted
        };
        loop {
            self.advance();
            while self.current().is_some_and(|character| character != '\'') {
                self.advance();
            }
            if self.current().is_none() {
                let message = "There is an unterminated literal";
                return Err(self.error_at(message, self.position));
            }
            self.advance();
            if self.current() != Some('\'') {
                return Ok(kind);
            }
        }
    }

    /// A token starting with a digit (or `-digit`): numbers, dates, date-times, times of day
    /// and GUIDs that start with a digit.
    fn number(&mut self, start: usize) -> Result<TokenKind, String> {
        let first = self.current();
        self.advance();
        if first == Some('0') && matches!(self.current(), Some('x' | 'X')) {
            self.advance();
            while self
                .current()
                .is_some_and(|character| character.is_ascii_hexdigit())
            {
                self.advance();
            }
            return Ok(TokenKind::Binary);
        }
        let mut kind = TokenKind::Integer;
        while self
            .current()
            .is_some_and(|character| character.is_ascii_digit())
        {
            self.advance();
        }
        if self.current() == Some('-') {
            if self.try_literal(start, |text| scalar::parse_date_time(text).is_some()) {
                return Ok(TokenKind::DateTimeOffset);
            }
            if self.try_literal(start, |text| scalar::parse_date(text).is_some()) {
                return Ok(TokenKind::Date);
            }
            if self.try_literal(start, is_guid) {
                return Ok(TokenKind::Guid);
            }
        }
        if self.current() == Some(':') && self.try_literal(start, is_time_of_day) {
            return Ok(TokenKind::TimeOfDay);
        }
        if self.current().is_some_and(char::is_alphabetic) && self.try_literal(start, is_guid) {
            return Ok(TokenKind::Guid);
        }
        if self.current() == Some('.') {
            kind = TokenKind::Double;
            self.advance();
            self.digits()?;
        }
        if matches!(self.current(), Some('E' | 'e')) {
            kind = TokenKind::Double;
            self.advance();
            if matches!(self.current(), Some('+' | '-')) {
                self.advance();
            }
            self.digits()?;
        }
        let suffixed = match self.current() {
            Some('M' | 'm') => Some(TokenKind::Decimal),
            Some('D' | 'd') => Some(TokenKind::Double),
            Some('L' | 'l') => Some(TokenKind::Int64),
            Some('F' | 'f') => Some(TokenKind::Single),
            _ => None,
        };
        if let Some(suffixed) = suffixed {
            self.advance();
            return Ok(suffixed);
        }
        let text = self.text.get(start..self.position).unwrap_or_default();
        Ok(best_guess(text, kind))
    }

    /// At least one digit (`A digit was expected` otherwise), then any more.
    fn digits(&mut self) -> Result<(), String> {
        if !self
            .current()
            .is_some_and(|character| character.is_ascii_digit())
        {
            return Err(self.error_at("A digit was expected", self.position));
        }
        while self
            .current()
            .is_some_and(|character| character.is_ascii_digit())
        {
            self.advance();
        }
        Ok(())
    }

    /// Reads up to the next `,`, `)`, space or the end and keeps it if `accept` says the text
    /// from `start` is a literal of that kind; otherwise stays where it was.
    fn try_literal(&mut self, start: usize, accept: impl Fn(&str) -> bool) -> bool {
        let saved = self.position;
        while self
            .current()
            .is_some_and(|character| !matches!(character, ',' | ')' | ' '))
        {
            self.advance();
        }
        if self.text.get(start..self.position).is_some_and(accept) {
            return true;
        }
        self.position = saved;
        false
    }
}

fn is_identifier_start(character: char) -> bool {
    character.is_alphabetic() || character == '_' || character == '$'
}

fn is_identifier_part(character: char) -> bool {
    character.is_alphanumeric() || character == '_'
}

/// `8-4-4-4-12` hexadecimal digits.
pub(super) fn is_guid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(index, character)| match index {
            8 | 13 | 18 | 23 => character == '-',
            _ => character.is_ascii_hexdigit(),
        })
}

/// `hh:mm[:ss[.fffffff]]`.
fn is_time_of_day(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |at: usize| {
        bytes
            .get(at..at + 2)
            .is_some_and(|pair| pair.iter().all(u8::is_ascii_digit))
    };
    let valid_head = bytes.len() >= 5 && digits(0) && bytes[2] == b':' && digits(3);
    match bytes.len() {
        5 => valid_head,
        8 => valid_head && bytes[5] == b':' && digits(6),
        length if length > 9 => {
            valid_head
                && bytes[5] == b':'
                && digits(6)
                && bytes[8] == b'.'
                && bytes[9..].iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// Microsoft.OData's `MakeBestGuessOnNoSuffixStr`: the narrowest type that holds the number
/// exactly (only the type name in error messages depends on it).
fn best_guess(text: &str, kind: TokenKind) -> TokenKind {
    if kind == TokenKind::Integer {
        if text.parse::<i32>().is_ok() {
            return TokenKind::Integer;
        }
        if text.parse::<i64>().is_ok() {
            return TokenKind::Int64;
        }
    }
    let double = text.parse::<f64>().ok();
    let decimal_digits = text.chars().filter(char::is_ascii_digit).count();
    let can_be_decimal = !text.contains(['e', 'E']) && decimal_digits <= 28;
    if let Some(double) = double {
        if can_be_decimal && normalized_decimal(&double.to_string()) != normalized_decimal(text) {
            return TokenKind::Decimal;
        }
        if let Ok(single) = text.parse::<f32>()
            && single.to_string().parse::<f64>().ok() == Some(double)
        {
            return TokenKind::Single;
        }
        return TokenKind::Double;
    }
    TokenKind::Decimal
}

/// A decimal numeral without insignificant zeros, for exactness checks.
fn normalized_decimal(text: &str) -> String {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    format!("{sign}{whole}.{fraction}")
}
