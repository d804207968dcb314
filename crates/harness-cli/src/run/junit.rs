//! The JUnit XML file of `run --junit`: one `testsuite` named `d365-harness scenarios`, one
//! `testcase` per scenario file (class name: the area, the file's first folder; name: the rest,
//! which is the file stem for `<area>/<case>.toml`), with a `failure` listing the steps that
//! did not go as expected or an `error` for a file that did not load or run. Written by hand
//! with [`text`] and [`attribute`] escaping everything that is not ours.

use super::{Case, CaseResult, Counts, step_lines};

/// The whole JUnit document for `cases`.
pub(super) fn document(cases: &[Case], counts: Counts) -> String {
    let total: f64 = cases.iter().map(|case| case.elapsed.as_secs_f64()).sum();
    let totals = format!(
        "tests=\"{}\" failures=\"{}\" errors=\"{}\"",
        cases.len(),
        counts.failed,
        counts.errors
    );
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"d365-harness\" {totals} time=\"{total:.3}\">\n"
    ));
    xml.push_str(&format!(
        "  <testsuite name=\"d365-harness scenarios\" {totals} skipped=\"0\" time=\"{total:.3}\">\n"
    ));
    for case in cases {
        xml.push_str(&testcase(case));
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn testcase(case: &Case) -> String {
    let (class, name) = match case.id.split_once('/') {
        Some((area, rest)) => (area, rest),
        // A file given on its own (or a folder of cases): its folder is the area.
        None if !case.folder.is_empty() => (case.folder.as_str(), case.id.as_str()),
        None => ("scenarios", case.id.as_str()),
    };
    let open = format!(
        "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" time=\"{:.3}\"",
        attribute(class),
        attribute(name),
        attribute(&case.path.display().to_string()),
        case.elapsed.as_secs_f64()
    );
    match &case.result {
        CaseResult::Ran { report, .. } if report.passed() => format!("{open}/>\n"),
        CaseResult::Ran { report, .. } => {
            let summary: Vec<String> = report
                .failures()
                .flat_map(|step| {
                    step.mismatches.iter().map(move |mismatch| {
                        format!("step {} ({}): {mismatch}", step.step, step.action)
                    })
                })
                .collect();
            let detail: Vec<String> = report
                .failures()
                .flat_map(|step| step_lines(step, true))
                .collect();
            format!(
                "{open}>\n      <failure message=\"{}\" type=\"mismatch\">{}\n{}\n</failure>\n    </testcase>\n",
                attribute(&summary.join("; ")),
                text(&report.name),
                text(&detail.join("\n")),
            )
        }
        CaseResult::Error { at, message } => format!(
            "{open}>\n      <error message=\"{}\" type=\"load\">{}\n{}\n</error>\n    </testcase>\n",
            attribute(message),
            text(at),
            text(message),
        ),
    }
}

/// `value` as XML character data: `&`, `<` and `>` escaped, and characters XML 1.0 cannot
/// hold at all (most control characters, even as references) replaced by U+FFFD.
pub(super) fn text(value: &str) -> String {
    escape(value, false)
}

/// `value` inside a double-quoted XML attribute: as [`text`], plus both quotes, and tab and
/// line breaks as character references (a parser would turn them into spaces otherwise).
pub(super) fn attribute(value: &str) -> String {
    escape(value, true)
}

fn escape(value: &str, in_attribute: bool) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' if in_attribute => escaped.push_str("&quot;"),
            '\'' if in_attribute => escaped.push_str("&apos;"),
            '\t' if in_attribute => escaped.push_str("&#9;"),
            '\n' if in_attribute => escaped.push_str("&#10;"),
            '\r' => escaped.push_str("&#13;"),
            '\t' | '\n' => escaped.push(character),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => escaped.push('\u{fffd}'),
            other => escaped.push(other),
        }
    }
    escaped
}
