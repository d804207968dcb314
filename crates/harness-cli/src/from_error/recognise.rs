//! Recognising a pasted error: the AADSTS catalogue entry, Dataverse error code, throttle or
//! flow problem it shows. Only codes and fixed phrases are read; ids, timestamps and anything
//! else in the text (secrets included) are ignored and never returned.

use d365_source::ProblemKind;
use fake_dataverse::{ERROR_CODES, ErrorCodeEntry};
use fake_entra::{CATALOGUE, CatalogueEntry};

/// What a pasted error was recognised as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recognised {
    /// An entry of the AADSTS catalogue.
    Aadsts(&'static CatalogueEntry),
    /// A row of the Dataverse error table (throttles included).
    Dataverse(&'static ErrorCodeEntry),
    /// Entra ID's 429.
    EntraThrottle,
    /// A flow problem with no code of its own (TLS, DNS, timeouts, dropped connections).
    Problem(ProblemKind),
}

impl Recognised {
    /// How messages and the written scenario name it: `AADSTS7000215 invalid_client_secret`.
    pub(crate) fn label(self) -> String {
        match self {
            Recognised::Aadsts(entry) => format!("AADSTS{} {}", entry.code, entry.name),
            Recognised::Dataverse(entry) => {
                format!("Dataverse {} {}", display_code(entry), entry.variant)
            }
            Recognised::EntraThrottle => "Entra ID 429 Too Many Requests".to_owned(),
            Recognised::Problem(kind) => format!("problem {}", kind.as_str()),
        }
    }

    /// The recognised entry's own words, from the catalogue or error table (never the paste).
    pub(crate) fn quote(self) -> String {
        match self {
            Recognised::Aadsts(entry) => format!(
                "{} {}: AADSTS{}: {}",
                entry.status, entry.error, entry.code, entry.template
            ),
            Recognised::Dataverse(entry) => format!(
                "{} {} {}{}",
                entry.status,
                display_code(entry),
                entry.name,
                entry
                    .message
                    .map(|message| format!(": {message}"))
                    .unwrap_or_default()
            ),
            Recognised::EntraThrottle => {
                "429 Too Many Requests from login.microsoftonline.com".to_owned()
            }
            Recognised::Problem(kind) => format!("the flow's `{}` problem", kind.as_str()),
        }
    }
}

fn display_code(entry: &ErrorCodeEntry) -> String {
    if entry.code.is_empty() {
        format!("{} (no code)", entry.status)
    } else {
        entry.code.to_owned()
    }
}

/// Every entry a paste could be recognised as, with the words it is known by (its code and
/// name), for "the closest are ...".
fn known() -> Vec<(Recognised, Vec<String>)> {
    let mut known: Vec<(Recognised, Vec<String>)> = CATALOGUE
        .iter()
        .map(|entry| {
            (
                Recognised::Aadsts(entry),
                vec![format!("AADSTS{}", entry.code), entry.name.to_owned()],
            )
        })
        .collect();
    known.extend(ERROR_CODES.iter().map(|entry| {
        (
            Recognised::Dataverse(entry),
            vec![entry.code.to_owned(), entry.variant.to_owned()],
        )
    }));
    known.push((
        Recognised::EntraThrottle,
        vec!["429".to_owned(), "TooManyRequests".to_owned()],
    ));
    known.extend(
        ProblemKind::ALL
            .iter()
            .map(|kind| (Recognised::Problem(*kind), vec![kind.as_str().to_owned()])),
    );
    known
}

/// The 3 entries nearest the words of `text` (by the edit distance of its closest word to the
/// entry's code or name), as labels.
pub(crate) fn closest(text: &str) -> Vec<String> {
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.len() > 2)
        .collect();
    let mut ranked: Vec<(usize, usize, Recognised)> = known()
        .into_iter()
        .enumerate()
        .map(|(index, (recognised, keys))| {
            let distance = keys
                .iter()
                .filter(|key| !key.is_empty())
                .flat_map(|key| {
                    words
                        .iter()
                        .map(move |word| scenario::suggest::edit_distance(word, key))
                })
                .min()
                .unwrap_or(usize::MAX);
            (distance, index, recognised)
        })
        .collect();
    ranked.sort_by_key(|(distance, index, _)| (*distance, *index));
    ranked
        .into_iter()
        .take(3)
        .map(|(_, _, recognised)| recognised.label())
        .collect()
}

/// What `text` shows, or `None`.
pub(crate) fn recognise(text: &str) -> Option<Recognised> {
    let lower = text.to_ascii_lowercase();
    if let Some(code) = aadsts_code(text) {
        return aadsts_entry(code, text).map(Recognised::Aadsts);
    }
    if let Some(entry) = throttle_message(&lower) {
        return Some(Recognised::Dataverse(entry));
    }
    if let Some(code) = hex_code(&lower) {
        return dataverse_entry(&code, &lower).map(Recognised::Dataverse);
    }
    if let Some(entry) = ERROR_CODES.iter().find(|entry| {
        entry
            .message
            .is_some_and(|message| lower.contains(&message.to_ascii_lowercase()))
            || (!entry.code.is_empty() && lower.contains(&decimal(entry.code)))
    }) {
        return Some(Recognised::Dataverse(entry));
    }
    if lower.contains("is missing prv") {
        return variant("PrivilegeDenied").map(Recognised::Dataverse);
    }
    if has_word(&lower, "429") || lower.contains("too many requests") {
        return if lower.contains("login.microsoftonline") || lower.contains("login.windows.net") {
            Some(Recognised::EntraThrottle)
        } else {
            variant("RequestsExceeded").map(Recognised::Dataverse)
        };
    }
    transport_problem(&lower)
        .or_else(|| {
            ProblemKind::ALL.iter().copied().find(|kind| {
                lower
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .any(|word| word == kind.as_str())
            })
        })
        .map(Recognised::Problem)
}

/// The flow problem a paste points to beyond its code, to pick among the scenarios that reach
/// the code: Dataverse answers `0x80040220` both for a missing table privilege and for a user
/// without roles, and says which in the message.
pub(crate) fn problem_hint(text: &str) -> Option<ProblemKind> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("rolecount=0") {
        Some(ProblemKind::NoSecurityRole)
    } else if lower.contains("is missing prv") {
        Some(ProblemKind::MissingTablePrivilege)
    } else {
        None
    }
}

/// The number after the first `AADSTS` in `text`.
fn aadsts_code(text: &str) -> Option<u32> {
    let upper = text.to_ascii_uppercase();
    let start = upper.find("AADSTS")? + "AADSTS".len();
    let digits: String = upper[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The catalogue entry with `code` that `text` shows: several entries share a code (90002 has
/// three), told apart by their message and their `error` value.
fn aadsts_entry(code: u32, text: &str) -> Option<&'static CatalogueEntry> {
    let with_code: Vec<&'static CatalogueEntry> = CATALOGUE
        .iter()
        .filter(|entry| entry.code == code)
        .collect();
    let with_error: Vec<&'static CatalogueEntry> = with_code
        .iter()
        .copied()
        .filter(|entry| {
            text.contains(&format!("\"error\":\"{}\"", entry.error))
                || text.contains(&format!("\"error\": \"{}\"", entry.error))
        })
        .collect();
    let candidates = if with_error.is_empty() {
        with_code
    } else {
        with_error
    };
    candidates
        .iter()
        .copied()
        .find(|entry| {
            entry
                .template
                .split('{')
                .next()
                .is_some_and(|prefix| !prefix.is_empty() && text.contains(prefix))
        })
        .or_else(|| {
            // No message quoted whole (a paraphrase, a truncated log line): the entry whose
            // words the text shares most, the first on a tie.
            let words = |text: &str| -> std::collections::BTreeSet<String> {
                text.split(|c: char| !c.is_ascii_alphanumeric())
                    .filter(|word| word.len() > 3)
                    .map(str::to_ascii_lowercase)
                    .collect()
            };
            let pasted = words(text);
            let shared =
                |entry: &CatalogueEntry| words(entry.template).intersection(&pasted).count();
            let best = candidates.iter().map(|entry| shared(entry)).max()?;
            candidates
                .iter()
                .copied()
                .find(|entry| shared(entry) == best)
        })
}

/// Dataverse's service-protection messages, which QA often has without the code.
fn throttle_message(lower: &str) -> Option<&'static ErrorCodeEntry> {
    let name = if lower.contains("number of requests exceeded the limit") {
        "RequestsExceeded"
    } else if lower.contains("combined execution time of incoming requests exceeded") {
        "ExecutionTimeExceeded"
    } else if lower.contains("number of concurrent requests exceeded the limit") {
        "ConcurrencyExceeded"
    } else {
        return None;
    };
    variant(name)
}

/// The first `0x` and eight hex digits in `lower`.
fn hex_code(lower: &str) -> Option<String> {
    lower.match_indices("0x").find_map(|(index, _)| {
        let digits = lower.get(index + 2..index + 10)?;
        let after = lower[index + 10..].chars().next();
        (digits.chars().all(|c| c.is_ascii_hexdigit())
            && !after.is_some_and(|c| c.is_ascii_hexdigit()))
        .then(|| format!("0x{digits}"))
    })
}

/// The row with `code`: rows sharing a code are told apart by the status or message the text
/// also shows, else the first row (the one a client most often meets) is taken.
fn dataverse_entry(code: &str, lower: &str) -> Option<&'static ErrorCodeEntry> {
    let candidates: Vec<&'static ErrorCodeEntry> = ERROR_CODES
        .iter()
        .filter(|entry| entry.code.eq_ignore_ascii_case(code))
        .collect();
    candidates
        .iter()
        .copied()
        .find(|entry| {
            entry
                .message
                .is_some_and(|message| lower.contains(&message.to_ascii_lowercase()))
        })
        .or_else(|| {
            candidates
                .iter()
                .copied()
                .find(|entry| has_word(lower, &entry.status.to_string()))
        })
        .or_else(|| candidates.first().copied())
}

/// Whether `word` stands alone in `text` (a status must not match inside a GUID or a port).
fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|candidate| candidate == word)
}

fn variant(name: &str) -> Option<&'static ErrorCodeEntry> {
    ERROR_CODES.iter().find(|entry| entry.variant == name)
}

/// The signed decimal form of a hex code, as .NET clients log it (`-2147015902`).
fn decimal(code: &str) -> String {
    u32::from_str_radix(code.trim_start_matches("0x"), 16)
        .map_or_else(|_| String::new(), |value| (value as i32).to_string())
}

/// A transport failure as reqwest, .NET or a proxy words it.
fn transport_problem(lower: &str) -> Option<ProblemKind> {
    let any = |phrases: &[&str]| phrases.iter().any(|phrase| lower.contains(phrase));
    if any(&[
        "certificate",
        "tls",
        "ssl",
        "handshake",
        "unknownissuer",
        "unknown issuer",
    ]) {
        Some(ProblemKind::TlsFailure)
    } else if any(&[
        "dns error",
        "failed to lookup address",
        "no address for host",
        "name or service not known",
        "no such host",
        "name resolution",
    ]) {
        // A Microsoft sign-in host that does not resolve is the network's fault; an
        // environment host that does not resolve is a wrong or deleted environment.
        if any(&[
            "login.microsoftonline",
            "login.windows.net",
            "login.partner",
        ]) {
            Some(ProblemKind::ConnectionFailed)
        } else {
            Some(ProblemKind::EnvironmentNotFound)
        }
    } else if any(&["connection refused", "proxy", "network is unreachable"]) {
        Some(ProblemKind::ConnectionFailed)
    } else if any(&["timed out", "timeout"]) {
        Some(ProblemKind::Timeout)
    } else if any(&[
        "connection reset",
        "connection closed",
        "broken pipe",
        "stream reset",
        "connection was closed",
        "connection aborted",
    ]) {
        Some(ProblemKind::ConnectionDropped)
    } else if ["502", "503", "504"]
        .iter()
        .any(|status| has_word(lower, status))
        || any(&["service unavailable", "bad gateway", "gateway timeout"])
    {
        Some(ProblemKind::ServiceUnavailable)
    } else {
        None
    }
}
