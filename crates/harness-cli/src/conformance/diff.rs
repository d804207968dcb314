//! `conformance diff`: two records compared probe by probe. Each probe's record is flattened
//! into `field → value` (header names and other lists become one field per member), so a
//! difference names the probe and the field: `wrong_secret: ~ body.fields["error_description"]`.

use std::collections::BTreeMap;

use serde_json::Value;

/// One difference between two records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Difference {
    /// The probe is only in the second record.
    ProbeAdded(String),
    /// The probe is only in the first record.
    ProbeRemoved(String),
    /// A field only the second record's probe has.
    Added {
        /// The probe.
        probe: String,
        /// The field path.
        field: String,
        /// Its value.
        value: String,
    },
    /// A field only the first record's probe has.
    Removed {
        /// The probe.
        probe: String,
        /// The field path.
        field: String,
        /// Its value.
        value: String,
    },
    /// A field both have, with different values.
    Changed {
        /// The probe.
        probe: String,
        /// The field path.
        field: String,
        /// The first record's value.
        before: String,
        /// The second record's value.
        after: String,
    },
}

/// Fields that describe the tool rather than the answer: a newer harness rewording a probe's
/// description is not a difference between services.
const IGNORED_FIELDS: &[&str] = &["about"];

/// The differences between records `first` and `second` (parsed JSON), probe by probe in name
/// order, fields in path order.
pub(crate) fn differences(first: &Value, second: &Value) -> Vec<Difference> {
    let first = probes(first);
    let second = probes(second);
    let mut names: Vec<&String> = first.keys().chain(second.keys()).collect();
    names.sort();
    names.dedup();
    let mut found = Vec::new();
    for name in names {
        match (first.get(name), second.get(name)) {
            (Some(_), None) => found.push(Difference::ProbeRemoved(name.clone())),
            (None, Some(_)) => found.push(Difference::ProbeAdded(name.clone())),
            (Some(before), Some(after)) => {
                let before = flatten(before);
                let after = flatten(after);
                let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
                fields.sort();
                fields.dedup();
                for field in fields {
                    let probe = name.clone();
                    let field_name = field.clone();
                    match (before.get(field), after.get(field)) {
                        (Some(value), None) => found.push(Difference::Removed {
                            probe,
                            field: field_name,
                            value: value.clone(),
                        }),
                        (None, Some(value)) => found.push(Difference::Added {
                            probe,
                            field: field_name,
                            value: value.clone(),
                        }),
                        (Some(old), Some(new)) if old != new => found.push(Difference::Changed {
                            probe,
                            field: field_name,
                            before: old.clone(),
                            after: new.clone(),
                        }),
                        _ => {}
                    }
                }
            }
            (None, None) => {}
        }
    }
    found
}

/// The `probes` object of a record (empty when it has none).
fn probes(record: &Value) -> BTreeMap<String, Value> {
    record
        .get("probes")
        .and_then(Value::as_object)
        .map(|probes| {
            probes
                .iter()
                .map(|(name, probe)| (name.clone(), probe.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// `value` as `field path → JSON text of the leaf`.
pub(crate) fn flatten(value: &Value) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    flatten_into(value, String::new(), &mut fields);
    fields
}

fn flatten_into(value: &Value, path: String, fields: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                if path.is_empty() && IGNORED_FIELDS.contains(&key.as_str()) {
                    continue;
                }
                flatten_into(child, join(&path, key), fields);
            }
        }
        // A list of names (the headers) is a set: one field per member.
        Value::Array(items) if items.iter().all(Value::is_string) => {
            for item in items {
                let member = item.as_str().unwrap_or_default();
                fields.insert(format!("{path}[{member}]"), "present".to_owned());
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                flatten_into(item, format!("{path}[{index}]"), fields);
            }
        }
        leaf => {
            fields.insert(path, leaf.to_string());
        }
    }
}

/// `path.key`, or `path["key"]` when the key is not a plain name (`@odata.context`,
/// `error_codes[]`), so that paths stay unambiguous.
fn join(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_');
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.to_owned())),
    }
}

/// The differences as text for a terminal: one block per probe.
pub(crate) fn render(differences: &[Difference]) -> String {
    let mut text = String::new();
    let mut current: Option<&str> = None;
    for difference in differences {
        let (probe, line) = match difference {
            Difference::ProbeAdded(probe) => (probe, "  only in the second record".to_owned()),
            Difference::ProbeRemoved(probe) => (probe, "  only in the first record".to_owned()),
            Difference::Added {
                probe,
                field,
                value,
            } => (probe, format!("  + {field}: {value}")),
            Difference::Removed {
                probe,
                field,
                value,
            } => (probe, format!("  - {field}: {value}")),
            Difference::Changed {
                probe,
                field,
                before,
                after,
            } => (probe, format!("  ~ {field}: {before} -> {after}")),
        };
        if current != Some(probe.as_str()) {
            text.push_str(&format!("probe `{probe}`\n"));
            current = Some(probe.as_str());
        }
        text.push_str(&line);
        text.push('\n');
    }
    text
}
