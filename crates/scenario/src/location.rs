//! Line and column of a byte offset in a file, for error messages. Both are 1-based and the
//! column counts characters, as the `toml` crate's own messages do.

/// A position in a text file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// The line, from 1.
    pub line: usize,
    /// The column in characters, from 1.
    pub column: usize,
}

impl Location {
    /// The position of byte `offset` in `text` (clamped to the end of the text).
    pub fn of(text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "line {}, column {}", self.line, self.column)
    }
}

/// ` at line L, column C`, or nothing when the position is unknown.
pub(crate) fn at(location: Option<&Location>) -> String {
    location.map_or_else(String::new, |location| format!(" at {location}"))
}

#[cfg(test)]
mod tests;
