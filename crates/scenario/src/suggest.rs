//! "Did you mean `x`?": the known names nearest a misspelt one, by edit distance (optimal string
//! alignment over characters: a swap of neighbours is one edit; case-insensitive). Used by `d365-harness check` for world keys, problem
//! kinds, field and action names, and by `scenario from-error` for the closest entries.

/// The optimal string alignment distance between `a` and `b`, by characters: insertions,
/// deletions, substitutions and swaps of neighbours each cost one.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            table[i * width + j] = if i == 0 || j == 0 {
                i + j
            } else {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut best = (table[(i - 1) * width + j] + 1)
                    .min(table[i * width + j - 1] + 1)
                    .min(table[(i - 1) * width + j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(table[(i - 2) * width + j - 2] + 1);
                }
                best
            };
        }
    }
    table[a.len() * width + b.len()]
}

/// The known name nearest `wanted` when it is close enough to be a misspelling of it (at most
/// a third of the longer name's characters differ, and at least 1 and up to 2 always count),
/// else the first known name that contains it (`expired` → `expired_secret`, from 3
/// characters on); the first in `known` order on a tie. `None` when `wanted` is itself known.
pub fn did_you_mean<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    let mut containing: Option<&'a str> = None;
    for name in known {
        if containing.is_none()
            && wanted.chars().count() >= 3
            && name.to_lowercase().contains(&wanted_lower)
        {
            containing = Some(name);
        }
        if name == wanted {
            return None;
        }
        let distance = edit_distance(&wanted_lower, &name.to_lowercase());
        let limit = (wanted.chars().count().max(name.chars().count()) / 3).max(2);
        if distance <= limit && best.is_none_or(|(nearest, _)| distance < nearest) {
            best = Some((distance, name));
        }
    }
    best.map(|(_, name)| name).or(containing)
}

/// The `count` names of `known` nearest `wanted`, nearest first (ties in `known` order),
/// however far: for "not recognised; the closest are ...".
pub fn closest<'a>(
    wanted: &str,
    known: impl IntoIterator<Item = &'a str>,
    count: usize,
) -> Vec<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    let mut ranked: Vec<(usize, usize, &'a str)> = known
        .into_iter()
        .enumerate()
        .map(|(index, name)| {
            (
                edit_distance(&wanted_lower, &name.to_lowercase()),
                index,
                name,
            )
        })
        .collect();
    ranked.sort();
    ranked
        .into_iter()
        .take(count)
        .map(|(_, _, name)| name)
        .collect()
}

#[cfg(test)]
mod tests;

impl crate::Error {
    /// The known name this error's misspelt one is nearest to, when there is a near one: for
    /// a reference to a world key (tenant, app, role, table, ...), a problem kind, a form field,
    /// an action or a file key the parser did not expect.
    pub fn suggestion(&self) -> Option<String> {
        match self {
            crate::Error::Parse { source, .. } => from_serde_message(source.toml().message()),
            crate::Error::Invalid { reason, .. } => reason.suggestion(),
            _ => None,
        }
    }
}

impl crate::Reason {
    /// See [`crate::Error::suggestion`].
    pub fn suggestion(&self) -> Option<String> {
        use crate::Reason;

        let near = |name: &str, known: &[String]| {
            did_you_mean(name, known.iter().map(String::as_str)).map(str::to_owned)
        };
        let near_listed =
            |name: &str, known: &str| did_you_mean(name, known.split(", ")).map(str::to_owned);
        match self {
            Reason::UnknownTenant { name, known }
            | Reason::UnknownApp { name, known }
            | Reason::UnknownBusinessUnit { name, known }
            | Reason::UnknownTeamMember { name, known }
            | Reason::UnknownOwner { name, known }
            | Reason::UnknownTable { name, known }
            | Reason::UnknownColumn { name, known, .. }
            | Reason::UnknownSecret { name, known, .. }
            | Reason::UnknownWorld { name, known, .. } => near(name, known),
            Reason::UnknownRole {
                name,
                defined,
                predefined,
            } => did_you_mean(name, defined.iter().chain(predefined).map(String::as_str))
                .map(str::to_owned),
            Reason::UnknownService { name, known } => {
                did_you_mean(name, known.iter().copied()).map(str::to_owned)
            }
            Reason::UnknownPrivilege { name, known } => near_listed(name, known),
            Reason::UnknownCatalogueEntry { value, known } => near_listed(value, known),
            Reason::ColumnType { value, known } => {
                did_you_mean(value, known.iter().copied()).map(str::to_owned)
            }
            Reason::UnknownProblem { source, .. }
            | Reason::UnknownCheckWarning { source, .. }
            | Reason::UnknownField { source, .. } => from_serde_message(&source.to_string()),
            Reason::World { source } => source.suggestion(),
            _ => None,
        }
    }
}

/// The suggestion for serde's "unknown variant `x`, expected one of `a`, `b`" and "unknown
/// field `x`, expected one of ..." (actions, outcomes, file keys, problem kinds, fields).
fn from_serde_message(message: &str) -> Option<String> {
    let (_, rest) = message
        .split_once("unknown variant `")
        .or_else(|| message.split_once("unknown field `"))?;
    let (wanted, rest) = rest.split_once('`')?;
    let (_, expected) = rest.split_once("expected")?;
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    did_you_mean(wanted, known).map(str::to_owned)
}
