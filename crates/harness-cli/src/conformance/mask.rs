//! Masking: what a probe's answer says, with everything that varies between runs, tenants or
//! callers replaced by a placeholder (`{guid}`, `{timestamp}`, `{environment_host}`, `{jwt}`).
//! Invariant: known literals (the secret, the token, hosts, ids) go first, longest first and
//! case-insensitively, so a generic pattern never leaves part of a known value behind.

/// Names in Dataverse's privilege message whose numbers depend on the caller's roles, not on
/// the service's behaviour (`roleCount=1`).
const VOLATILE_COUNTS: &[&str] = &[
    "roleCount=",
    "privilegeCount=",
    "MetadataCachePrivilegesCount=",
];

/// Replaces known literals and volatile patterns in text from an answer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Masker {
    /// Longest literal first.
    literals: Vec<Literal>,
}

/// A known value and its placeholder.
#[derive(Clone, Debug)]
struct Literal {
    text: String,
    /// `{name}`.
    placeholder: String,
    /// Only where no letter or digit touches it.
    whole_word: bool,
}

impl Masker {
    /// Masks `literal` (compared case-insensitively) as `{placeholder}` wherever it appears.
    /// Literals shorter than 4 characters are ignored: they would mask ordinary words.
    pub(crate) fn add(&mut self, literal: &str, placeholder: &str) {
        self.push(literal, placeholder, false);
    }

    /// Like [`Masker::add`], but only where `word` stands alone (not inside a longer word or
    /// host label): an organization called `sales` must not turn `wholesale` into `whole{org}`.
    pub(crate) fn add_word(&mut self, word: &str, placeholder: &str) {
        self.push(word, placeholder, true);
    }

    fn push(&mut self, literal: &str, placeholder: &str, whole_word: bool) {
        if literal.chars().count() < 4 {
            return;
        }
        self.literals.push(Literal {
            text: literal.to_owned(),
            placeholder: format!("{{{placeholder}}}"),
            whole_word,
        });
        self.literals.sort_by(|left, right| {
            (right.text.len(), &left.text).cmp(&(left.text.len(), &right.text))
        });
    }

    /// `text` with every known literal, JSON Web Token, GUID, timestamp and volatile count
    /// replaced by its placeholder.
    pub(crate) fn mask(&self, text: &str) -> String {
        let mut masked = text.to_owned();
        for literal in &self.literals {
            masked = replace_ignoring_case(
                &masked,
                &literal.text,
                &literal.placeholder,
                literal.whole_word,
            );
        }
        let masked = mask_jwts(&masked);
        let masked = mask_guids(&masked);
        let masked = mask_timestamps(&masked);
        mask_counts(&masked)
    }
}

/// `text` with every ASCII-case-insensitive occurrence of `literal` replaced (with
/// `whole_word`, only those no ASCII letter or digit touches).
fn replace_ignoring_case(text: &str, literal: &str, replacement: &str, whole_word: bool) -> String {
    // ASCII lowercasing keeps byte offsets, so positions found in the lowered copy are
    // positions in `text`.
    let lowered = text.to_ascii_lowercase();
    let needle = literal.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    let mut from = 0;
    while let Some(found) = lowered[from..].find(&needle) {
        let start = from + found;
        let end = start + needle.len();
        let touches = |byte: Option<&u8>| byte.is_some_and(u8::is_ascii_alphanumeric);
        let bytes = lowered.as_bytes();
        if whole_word
            && (touches(start.checked_sub(1).and_then(|at| bytes.get(at)))
                || touches(bytes.get(end)))
        {
            // Move past this occurrence's first character (a whole one: `start` is a char
            // boundary, and the literal is non-empty).
            from = start + lowered[start..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        out.push_str(&text[rest..start]);
        out.push_str(replacement);
        rest = end;
        from = end;
    }
    out.push_str(&text[rest..]);
    out
}

/// Replaces each match of `matcher` (which returns the length of a match starting at a byte
/// offset) by `placeholder`; matches start only where `boundary` allows, given the bytes
/// before.
fn replace_matches(
    text: &str,
    placeholder: &str,
    matcher: impl Fn(&[u8]) -> Option<usize>,
    boundary: impl Fn(&[u8]) -> bool,
) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut index = 0;
    while index < bytes.len() {
        let starts_here = boundary(&bytes[..index]);
        if starts_here && let Some(length) = matcher(&bytes[index..]) {
            out.push_str(&text[copied..index]);
            out.push_str(placeholder);
            index += length;
            copied = index;
        } else {
            index += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// A GUID `8-4-4-4-12` hex digits, any case, not followed by another hex digit.
fn guid_length(bytes: &[u8]) -> Option<usize> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let mut index = 0;
    for (number, group) in GROUPS.iter().enumerate() {
        if number > 0 {
            (bytes.get(index) == Some(&b'-')).then_some(())?;
            index += 1;
        }
        for _ in 0..*group {
            bytes.get(index).filter(|byte| byte.is_ascii_hexdigit())?;
            index += 1;
        }
    }
    match bytes.get(index) {
        Some(next) if next.is_ascii_alphanumeric() => None,
        _ => Some(index),
    }
}

/// Whether a match may start after `before`: at the start, after a character that is not a
/// letter or digit, or after an escaped `{` (`%7B` in a URL, `%257B` in a paging cookie).
fn word_start(before: &[u8]) -> bool {
    let tail = before[before.len().saturating_sub(5)..].to_ascii_lowercase();
    match before.last() {
        None => true,
        Some(last) => {
            !last.is_ascii_alphanumeric() || tail.ends_with(b"%7b") || tail.ends_with(b"%257b")
        }
    }
}

fn mask_guids(text: &str) -> String {
    replace_matches(text, "{guid}", guid_length, word_start)
}

/// `YYYY-MM-DD[T ]HH:MM:SS`, then optional fraction and zone (`Z`, `+01:00`).
fn timestamp_length(bytes: &[u8]) -> Option<usize> {
    let pattern = b"dddd-dd-dd?dd:dd:dd";
    for (index, expected) in pattern.iter().enumerate() {
        let byte = *bytes.get(index)?;
        let fits = match expected {
            b'd' => byte.is_ascii_digit(),
            b'?' => byte == b'T' || byte == b' ',
            other => byte == *other,
        };
        fits.then_some(())?;
    }
    let mut index = pattern.len();
    if bytes.get(index) == Some(&b'.') {
        index += 1;
        while bytes.get(index).is_some_and(u8::is_ascii_digit) {
            index += 1;
        }
    }
    match bytes.get(index) {
        Some(b'Z') => index += 1,
        Some(b'+' | b'-')
            if bytes.len() >= index + 6
                && bytes[index + 1..index + 3].iter().all(u8::is_ascii_digit)
                && bytes[index + 3] == b':'
                && bytes[index + 4..index + 6].iter().all(u8::is_ascii_digit) =>
        {
            index += 6
        }
        _ => {}
    }
    Some(index)
}

fn mask_timestamps(text: &str) -> String {
    replace_matches(text, "{timestamp}", timestamp_length, |before| {
        !before.last().is_some_and(u8::is_ascii_digit)
    })
}

/// A compact JWS (`eyJ…`.`…`.`…`): three base64url parts.
fn jwt_length(bytes: &[u8]) -> Option<usize> {
    bytes.starts_with(b"eyJ").then_some(())?;
    let is_part = |byte: &u8| byte.is_ascii_alphanumeric() || *byte == b'-' || *byte == b'_';
    let mut index = 0;
    let mut dots = 0;
    while let Some(byte) = bytes.get(index) {
        if is_part(byte) {
            index += 1;
        } else if *byte == b'.' && dots < 2 && bytes.get(index + 1).is_some_and(is_part) {
            dots += 1;
            index += 1;
        } else {
            break;
        }
    }
    (dots == 2).then_some(index)
}

fn mask_jwts(text: &str) -> String {
    replace_matches(text, "{jwt}", jwt_length, word_start)
}

fn mask_counts(text: &str) -> String {
    let mut masked = text.to_owned();
    for name in VOLATILE_COUNTS {
        let digits = |bytes: &[u8]| {
            let rest = bytes.strip_prefix(name.as_bytes())?;
            let count = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
            (count > 0).then_some(name.len() + count)
        };
        masked = replace_matches(&masked, &format!("{name}{{n}}"), digits, word_start);
    }
    masked
}
