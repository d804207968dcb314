//! `$orderby`: the sort keys ([`SortKey`]), a total order so paging is stable (tests hold
//! them against a plain row comparator, `OrderBy::compare`).
//!
//! Choices: nulls sort first ascending and last descending (SQL Server treats `NULL` as the
//! lowest value); ties are broken by the primary key ascending in `uniqueidentifier` order,
//! which is also the order without `$orderby` ("If you don't add any order elements to your
//! query, Dataverse adds an order based on the primary key of the table", ordering-and-paging
//! include of the Dataverse docs).
//!
//! For large sorts, [`OrderBy::sort_key`] extracts each row's key once (text case-folded,
//! dates and GUIDs parsed), so sorting costs one extraction per row instead of parsing inside
//! every comparison; both orders are the same (tested).

use std::cmp::Ordering;

use super::filter::{column_by_web_api_name, navigation_type};
use super::scalar::{self, ColumnType, Scalar, View};
use super::{QueryError, QueryOptions, Row};
use crate::schema::TableDefinition;

/// One `$orderby` item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OrderKey {
    /// The Web API property name.
    pub(crate) name: String,
    /// How values compare.
    pub(crate) column_type: ColumnType,
    /// `desc`.
    pub(crate) descending: bool,
}

/// A parsed `$orderby` plus the primary-key tiebreak.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OrderBy {
    /// The keys in request order (empty without `$orderby`).
    pub(crate) keys: Vec<OrderKey>,
    /// The table's primary key attribute, the final tiebreak.
    pub(crate) primary_key: String,
}

impl OrderBy {
    /// The primary-key order used without `$orderby`.
    pub(crate) fn primary_key(table: &TableDefinition) -> OrderBy {
        OrderBy {
            keys: Vec::new(),
            primary_key: table.primary_id_attribute.clone(),
        }
    }

    /// Parses `$orderby` (already URL-decoded) against `table`.
    pub(crate) fn parse(
        text: &str,
        table: &TableDefinition,
        options: &QueryOptions,
    ) -> Result<OrderBy, QueryError> {
        let items = super::filter::parse_order_by(text)
            .map_err(|message| QueryError::bad_request(options, message))?;
        let mut keys = Vec::with_capacity(items.len());
        for (item, descending) in items {
            let Some(name) = item else {
                return Err(QueryError::not_implemented(
                    options,
                    "$orderby on anything but a column is not supported by this fake Dataverse (d365-harness).",
                ));
            };
            let Some(column) = column_by_web_api_name(table, &name) else {
                if navigation_type(table, &name).is_some()
                    || table
                        .collection_navigation
                        .iter()
                        .any(|navigation| navigation.name == name)
                {
                    return Err(QueryError::bad_request(
                        options,
                        "The $orderby expression must evaluate to a single value of primitive type.",
                    ));
                }
                return Err(QueryError::property_not_found(options, &name, table));
            };
            keys.push(OrderKey {
                name,
                column_type: ColumnType::of(column),
                descending,
            });
        }
        Ok(OrderBy {
            keys,
            primary_key: table.primary_id_attribute.clone(),
        })
    }

    /// Whether the order is the primary key alone (ascending), the order `$skiptoken` paging
    /// can resume from a key.
    pub(crate) fn is_primary_key_order(&self) -> bool {
        match self.keys.as_slice() {
            [] => true,
            [key] => key.name == self.primary_key && !key.descending,
            _ => false,
        }
    }

    /// Orders two rows: each key in turn, then the primary key. Only tests use it, as the
    /// oracle [`SortKey`] is held against.
    #[cfg(test)]
    pub(crate) fn compare(&self, left: &Row, right: &Row) -> Ordering {
        for key in &self.keys {
            let ordering = compare_nullable(
                scalar::view(left.get(key.name.as_str()), key.column_type),
                scalar::view(right.get(key.name.as_str()), key.column_type),
            );
            let ordering = if key.descending {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering.is_ne() {
                return ordering;
            }
        }
        compare_nullable(
            scalar::view(left.get(self.primary_key.as_str()), ColumnType::Guid),
            scalar::view(right.get(self.primary_key.as_str()), ColumnType::Guid),
        )
    }
}

/// One row's sort key: ordered exactly like `OrderBy::compare` (the tests' oracle) orders
/// the row.
#[derive(Clone, Debug)]
pub(crate) struct SortKey {
    parts: Vec<(KeyValue, bool)>,
    primary_key: KeyValue,
}

/// A key part: `None` sorts first, text is pre-folded for a byte comparison.
#[derive(Clone, Debug, PartialEq)]
enum KeyValue {
    Null,
    Text(String),
    Other(Scalar),
}

impl OrderBy {
    /// The sort key of `row` (see [`SortKey`]).
    pub(crate) fn sort_key(&self, row: &Row) -> SortKey {
        SortKey {
            parts: self
                .keys
                .iter()
                .map(|key| {
                    let value =
                        key_value(scalar::view(row.get(key.name.as_str()), key.column_type));
                    (value, key.descending)
                })
                .collect(),
            primary_key: key_value(scalar::view(
                row.get(self.primary_key.as_str()),
                ColumnType::Guid,
            )),
        }
    }
}

fn key_value(view: Option<View<'_>>) -> KeyValue {
    match view {
        None => KeyValue::Null,
        Some(View::Text(text)) => KeyValue::Text(scalar::fold_text(text)),
        Some(View::Integer(integer)) => KeyValue::Other(Scalar::Integer(integer)),
        Some(View::Number(number)) => KeyValue::Other(Scalar::Number(number)),
        Some(View::Boolean(flag)) => KeyValue::Other(Scalar::Boolean(flag)),
        Some(View::DateTime(instant)) => KeyValue::Other(Scalar::DateTime(instant)),
        Some(View::Guid(guid)) => KeyValue::Other(Scalar::Guid(guid)),
    }
}

impl KeyValue {
    fn compare(&self, other: &KeyValue) -> Ordering {
        match (self, other) {
            (KeyValue::Null, KeyValue::Null) => Ordering::Equal,
            (KeyValue::Null, _) => Ordering::Less,
            (_, KeyValue::Null) => Ordering::Greater,
            (KeyValue::Text(left), KeyValue::Text(right)) => left.cmp(right),
            (KeyValue::Other(left), KeyValue::Other(right)) => {
                scalar::compare(left.as_view(), right.as_view()).unwrap_or(Ordering::Equal)
            }
            _ => Ordering::Equal,
        }
    }
}

impl PartialEq for SortKey {
    fn eq(&self, other: &SortKey) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for SortKey {}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &SortKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SortKey {
    fn cmp(&self, other: &SortKey) -> Ordering {
        for ((left, descending), (right, _)) in self.parts.iter().zip(&other.parts) {
            let ordering = left.compare(right);
            let ordering = if *descending {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering.is_ne() {
                return ordering;
            }
        }
        self.primary_key.compare(&other.primary_key)
    }
}

#[cfg(test)]
fn compare_nullable(left: Option<View<'_>>, right: Option<View<'_>>) -> Ordering {
    match (left, right) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(left), Some(right)) => scalar::compare(left, right).unwrap_or(Ordering::Equal),
    }
}

/// The first `capacity` entries in key order among everything offered, holding at most
/// `capacity` entries at any time: a max-heap whose top is the worst entry kept, replaced when
/// a better one arrives. A page of an ordered query is its first `page size + 1` rows (the one
/// extra says whether there is a next page), so one pass over a table costs O(n log k) time
/// and O(k) memory, however large the table.
#[derive(Debug)]
pub(crate) struct TopPage<T> {
    capacity: usize,
    heap: std::collections::BinaryHeap<Ranked<T>>,
    peak: usize,
}

/// A heap entry ordered by its key alone.
#[derive(Debug)]
struct Ranked<T> {
    key: SortKey,
    value: T,
}

impl<T> PartialEq for Ranked<T> {
    fn eq(&self, other: &Ranked<T>) -> bool {
        self.key == other.key
    }
}

impl<T> Eq for Ranked<T> {}

impl<T> PartialOrd for Ranked<T> {
    fn partial_cmp(&self, other: &Ranked<T>) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Ranked<T> {
    fn cmp(&self, other: &Ranked<T>) -> Ordering {
        self.key.cmp(&other.key)
    }
}

impl<T> TopPage<T> {
    /// An empty page keeping the first `capacity` entries.
    pub(crate) fn new(capacity: usize) -> TopPage<T> {
        TopPage {
            capacity,
            heap: std::collections::BinaryHeap::with_capacity(capacity.saturating_add(1)),
            peak: 0,
        }
    }

    /// Keeps `value` if `key` is among the first `capacity` keys offered so far.
    pub(crate) fn offer(&mut self, key: SortKey, value: T) {
        if self.capacity == 0 {
            return;
        }
        if self.heap.len() < self.capacity {
            self.heap.push(Ranked { key, value });
        } else if let Some(mut worst) = self.heap.peek_mut()
            && key < worst.key
        {
            // Replacing the top in place keeps the heap at `capacity` entries, never above.
            *worst = Ranked { key, value };
        }
        self.peak = self.peak.max(self.heap.len());
    }

    /// The most entries held at once (never more than the capacity).
    pub(crate) fn peak(&self) -> usize {
        self.peak
    }

    /// The entries kept, first key first.
    pub(crate) fn into_sorted(self) -> Vec<(SortKey, T)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|ranked| (ranked.key, ranked.value))
            .collect()
    }
}

#[cfg(test)]
mod tests;
