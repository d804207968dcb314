//! The `Prefer` request header (RFC 7240, OData 4.0 §8.2.8) and the matching
//! `Preference-Applied` answer. Start at [`Prefer::parse`].
//!
//! Rules: preferences are comma-separated (commas inside quotes do not split), names compare
//! case-insensitively, the first occurrence of a preference wins (RFC 7240 §2), and values may
//! be quoted or not (Power Apps sends `odata.maxpagesize=1,odata.include-annotations=*`,
//! dynamics-web-api quotes; reference §5.3). Only the `odata.`-prefixed names count: Dataverse
//! speaks OData 4.0, where the prefix is required.

/// The largest page Dataverse serves (page-results: "You can't request a page size larger
/// than 5,000").
pub(crate) const MAX_PAGE_SIZE: u32 = 5000;

/// The preferences this fake acts on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Prefer {
    /// `odata.maxpagesize` as requested, when it is a positive integer.
    pub(crate) max_page_size: Option<u32>,
    /// `odata.include-annotations`, when present.
    pub(crate) include_annotations: Option<IncludeAnnotations>,
}

/// The `odata.include-annotations` patterns: `*`, `Namespace.*`, exact terms, and `-pattern`
/// exclusions (which win over inclusions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IncludeAnnotations {
    /// The value as sent, without quotes (echoed in `Preference-Applied`).
    pub(crate) value: String,
    patterns: Vec<String>,
}

impl IncludeAnnotations {
    fn new(value: &str) -> IncludeAnnotations {
        IncludeAnnotations {
            value: value.to_owned(),
            patterns: value
                .split(',')
                .map(str::trim)
                .filter(|pattern| !pattern.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    /// Whether the annotation `term` (`OData.Community.Display.V1.FormattedValue`,
    /// `Microsoft.Dynamics.CRM.totalrecordcount`) is asked for.
    pub(crate) fn includes(&self, term: &str) -> bool {
        let matches = |pattern: &str| {
            pattern == "*"
                || pattern == term
                || pattern
                    .strip_suffix('*')
                    .is_some_and(|prefix| prefix.ends_with('.') && term.starts_with(prefix))
        };
        let excluded = self
            .patterns
            .iter()
            .filter_map(|pattern| pattern.strip_prefix('-'))
            .any(matches);
        !excluded
            && self
                .patterns
                .iter()
                .filter(|pattern| !pattern.starts_with('-'))
                .any(|pattern| matches(pattern))
    }
}

impl Prefer {
    /// Reads every `Prefer` header value of a request.
    pub(crate) fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Prefer {
        let mut prefer = Prefer::default();
        let mut seen: Vec<String> = Vec::new();
        for value in values {
            for preference in split_outside_quotes(value, ',') {
                let token = split_outside_quotes(preference, ';')
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                let (name, value) = match token.split_once('=') {
                    Some((name, value)) => (name.trim(), unquote(value.trim())),
                    None => (token.trim(), String::new()),
                };
                let name = name.to_ascii_lowercase();
                if name.is_empty() || seen.contains(&name) {
                    continue;
                }
                seen.push(name.clone());
                match name.as_str() {
                    "odata.maxpagesize" => {
                        prefer.max_page_size = value.parse::<u32>().ok().filter(|size| *size > 0);
                    }
                    "odata.include-annotations" => {
                        prefer.include_annotations = Some(IncludeAnnotations::new(&value));
                    }
                    _ => {}
                }
            }
        }
        prefer
    }

    /// The page size to serve: the requested `odata.maxpagesize`, at most 5000; 5000 without
    /// one. Requests above 5000 get 5000 rows and a next link (reference §8.2, issue
    /// `MicrosoftDocs/powerapps-docs#1050`).
    pub(crate) fn page_size(&self) -> u32 {
        self.max_page_size
            .map_or(MAX_PAGE_SIZE, |size| size.min(MAX_PAGE_SIZE))
    }

    /// Whether `odata.include-annotations` asks for `term`.
    pub(crate) fn includes_annotation(&self, term: &str) -> bool {
        self.include_annotations
            .as_ref()
            .is_some_and(|annotations| annotations.includes(term))
    }

    /// The `Preference-Applied` value, or `None` when nothing was applied.
    ///
    /// Shape from a captured Dataverse answer: `odata.include-annotations="*",odata.maxpagesize=100`
    /// (annotations first, always quoted, no space). A `odata.maxpagesize` above 5000 is not
    /// echoed: the docs say such requests are ignored ("The service ignores max page size
    /// requests larger than 5,000"), so the default page size applies, not the preference
    /// (UNCONFIRMED whether the real header then names `odata.maxpagesize=5000`).
    pub(crate) fn preference_applied(&self) -> Option<String> {
        let mut applied = Vec::new();
        if let Some(annotations) = &self.include_annotations {
            applied.push(format!(
                "odata.include-annotations=\"{}\"",
                annotations.value
            ));
        }
        if let Some(size) = self.max_page_size.filter(|size| *size <= MAX_PAGE_SIZE) {
            applied.push(format!("odata.maxpagesize={size}"));
        }
        if applied.is_empty() {
            None
        } else {
            Some(applied.join(","))
        }
    }
}

/// Splits on `separator` outside double quotes (a backslash escapes inside quotes).
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (index, character) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match character {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ if character == separator && !quoted => {
                parts.push(&text[start..index]);
                start = index + character.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A quoted-string's content (RFC 7230 §3.2.6), or the token as it is.
fn unquote(value: &str) -> String {
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return value.to_owned();
    };
    let mut unquoted = String::with_capacity(inner.len());
    let mut characters = inner.chars();
    while let Some(character) = characters.next() {
        if character == '\\' {
            if let Some(escaped) = characters.next() {
                unquoted.push(escaped);
            }
        } else {
            unquoted.push(character);
        }
    }
    unquoted
}
