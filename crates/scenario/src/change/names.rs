//! Finding things in the world document by their world-file names, and the nearest known name
//! when one is misspelt ("did you mean"). Lookups return the entry to edit or a
//! [`ChangeReason::Unknown`] that lists the known names.

use toml::{Table, Value};

use super::ChangeReason;

/// The known name nearest to `wanted` (case-insensitive edit distance, a swap of neighbours
/// counting as one edit), when it is close enough to be a misspelling: one edit per five
/// characters, at least one.
pub(crate) fn nearest<'a>(wanted: &str, known: &'a [String]) -> Option<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    let limit = (wanted.chars().count() / 5).max(1);
    known
        .iter()
        .map(|name| {
            (
                crate::suggest::edit_distance(&wanted_lower, &name.to_lowercase()),
                name,
            )
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name.as_str())
}

/// The keys of the table `section` of `table` (`apps`, `tenants`, ...), in file order.
pub(crate) fn keys(table: &Table, section: &str) -> Vec<String> {
    table
        .get(section)
        .and_then(Value::as_table)
        .map(|entries| entries.keys().cloned().collect())
        .unwrap_or_default()
}

/// `[<section>.<name>]`, to edit: a tenant, app or environment by its key.
pub(crate) fn entry<'a>(
    table: &'a mut Table,
    section: &str,
    what: &'static str,
    name: &str,
) -> Result<&'a mut Table, ChangeReason> {
    let known = keys(table, section);
    if !known.iter().any(|key| key == name) {
        return Err(ChangeReason::unknown(None, what, name, known));
    }
    Ok(table
        .get_mut(section)
        .and_then(Value::as_table_mut)
        .and_then(|entries| entries.get_mut(name))
        .and_then(Value::as_table_mut)
        .expect("a validated world's entries are tables"))
}

/// The array `key` of `table`, created empty when absent.
pub(crate) fn array<'a>(table: &'a mut Table, key: &str) -> &'a mut Vec<Value> {
    if !matches!(table.get(key), Some(Value::Array(_))) {
        table.insert(key.to_owned(), Value::Array(Vec::new()));
    }
    table
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .expect("just made an array")
}

/// Removes the `index`-th item of the array `key` of `table`, and the array too once it is
/// empty: a list emptied by a change goes, so that adding an item and removing it again gives
/// back the same document.
pub(crate) fn remove_item(table: &mut Table, key: &str, index: usize) {
    let array = array(table, key);
    array.remove(index);
    if array.is_empty() {
        table.remove(key);
    }
}

/// The table `key` of `table`, created empty when absent.
pub(crate) fn subtable<'a>(table: &'a mut Table, key: &str) -> &'a mut Table {
    if !matches!(table.get(key), Some(Value::Table(_))) {
        table.insert(key.to_owned(), Value::Table(Table::new()));
    }
    table
        .get_mut(key)
        .and_then(Value::as_table_mut)
        .expect("just made a table")
}

/// The string `field` of each table in `array` (secret names, application users' apps).
pub(crate) fn names_in(array: &[Value], field: &str) -> Vec<String> {
    array
        .iter()
        .filter_map(|item| item.get(field).and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// The strings of an array of strings (roles, members).
pub(crate) fn strings(array: &[Value]) -> Vec<String> {
    array
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// The position in `array` of the table whose `field` is `name`.
pub(crate) fn position(array: &[Value], field: &str, name: &str) -> Option<usize> {
    array
        .iter()
        .position(|item| item.get(field).and_then(Value::as_str) == Some(name))
}

/// Like [`position`], or [`ChangeReason::Unknown`] naming `owner` and the known names.
pub(crate) fn find(
    array: &[Value],
    field: &str,
    name: &str,
    owner: String,
    what: &'static str,
) -> Result<usize, ChangeReason> {
    position(array, field, name)
        .ok_or_else(|| ChangeReason::unknown(Some(owner), what, name, names_in(array, field)))
}
