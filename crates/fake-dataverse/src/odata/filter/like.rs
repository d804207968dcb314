//! SQL `LIKE` patterns, which is what Dataverse turns `contains`, `startswith` and `endswith`
//! into: `%` (any run), `_` (any one character), `[abc]`/`[a-z]` (one of) and `[^…]` (none of)
//! keep their wildcard meaning inside the value (reference §8.4, filter-rows "Use wildcard
//! characters"). Matching is case-insensitive like Dataverse's collation, compiled once per
//! query and allocation-free per row.

/// A compiled `LIKE` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LikePattern {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// A character (lowercased).
    Char(char),
    /// `_`.
    One,
    /// `%`.
    Any,
    /// `[…]` / `[^…]`: inclusive ranges, lowercased.
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Which string function the pattern comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Anchor {
    /// `contains`: `%value%`.
    Contains,
    /// `startswith`: `value%`.
    StartsWith,
    /// `endswith`: `%value`.
    EndsWith,
}

impl LikePattern {
    /// The pattern Dataverse builds for `function(column, 'value')`.
    pub(super) fn new(anchor: Anchor, value: &str) -> LikePattern {
        let mut parts = Vec::new();
        if matches!(anchor, Anchor::Contains | Anchor::EndsWith) {
            parts.push(Part::Any);
        }
        let characters: Vec<char> = value.chars().collect();
        let mut index = 0;
        while index < characters.len() {
            match characters[index] {
                '%' => parts.push(Part::Any),
                '_' => parts.push(Part::One),
                '[' => match set(&characters[index + 1..]) {
                    Some((part, consumed)) => {
                        parts.push(part);
                        index += consumed;
                    }
                    None => parts.push(Part::Char('[')),
                },
                character => parts.push(Part::Char(lowercase(character))),
            }
            index += 1;
        }
        if matches!(anchor, Anchor::Contains | Anchor::StartsWith) {
            parts.push(Part::Any);
        }
        LikePattern { parts }
    }

    /// Whether `text` matches (greedy `%` with one backtracking point, linear for the
    /// patterns the three functions produce).
    pub(super) fn matches(&self, text: &str) -> bool {
        let parts = &self.parts;
        let mut part = 0;
        let mut at = 0;
        let mut retry: Option<(usize, usize)> = None;
        loop {
            if parts.get(part) == Some(&Part::Any) {
                part += 1;
                retry = Some((part, at));
                continue;
            }
            let next = text.get(at..).and_then(|rest| rest.chars().next());
            match (next, parts.get(part)) {
                (Some(character), Some(expected)) if expected.accepts(character) => {
                    at += character.len_utf8();
                    part += 1;
                }
                (None, None) => return true,
                _ => {
                    let Some((retry_part, retry_at)) = retry else {
                        return false;
                    };
                    let Some(skipped) = text.get(retry_at..).and_then(|rest| rest.chars().next())
                    else {
                        return false;
                    };
                    at = retry_at + skipped.len_utf8();
                    part = retry_part;
                    retry = Some((retry_part, at));
                }
            }
        }
    }
}

impl Part {
    fn accepts(&self, character: char) -> bool {
        let character = lowercase(character);
        match self {
            Part::Char(expected) => *expected == character,
            Part::One | Part::Any => true,
            Part::Set { negated, ranges } => {
                let inside = ranges
                    .iter()
                    .any(|(low, high)| (*low..=*high).contains(&character));
                inside != *negated
            }
        }
    }
}

/// Reads `…]` after a `[`; `None` when there is no closing `]` (then `[` is literal).
fn set(characters: &[char]) -> Option<(Part, usize)> {
    let close = characters.iter().position(|character| *character == ']')?;
    let mut body = &characters[..close];
    let negated = body.first() == Some(&'^');
    if negated {
        body = &body[1..];
    }
    let mut ranges = Vec::new();
    let mut index = 0;
    while index < body.len() {
        let low = lowercase(body[index]);
        if body.get(index + 1) == Some(&'-') && index + 2 < body.len() {
            ranges.push((low, lowercase(body[index + 2])));
            index += 3;
        } else {
            ranges.push((low, low));
            index += 1;
        }
    }
    Some((Part::Set { negated, ranges }, close + 1))
}

fn lowercase(character: char) -> char {
    character.to_lowercase().next().unwrap_or(character)
}
