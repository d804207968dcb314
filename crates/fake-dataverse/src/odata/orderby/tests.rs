//! `TopPage`: the first k of a stream in sort-key order, never holding more than k.

use proptest::prelude::*;
use serde_json::json;

use super::*;

/// Orders by `n` (an integer with nulls and many ties), then `id`.
fn order_by(descending: bool) -> OrderBy {
    OrderBy {
        keys: vec![OrderKey {
            name: "n".into(),
            column_type: ColumnType::Integer,
            descending,
        }],
        primary_key: "id".into(),
    }
}

fn row(n: Option<i64>, id: u64) -> Row {
    let id = format!("00000000-0000-4000-8000-{id:012x}");
    match json!({"n": n, "id": id}) {
        serde_json::Value::Object(row) => row,
        _ => unreachable!("an object literal"),
    }
}

proptest! {
    #[test]
    fn top_page_is_the_prefix_of_a_full_sort_and_holds_at_most_its_capacity(
        values in proptest::collection::vec(proptest::option::of(-3i64..3), 0..200),
        capacity in 0usize..40,
        descending in any::<bool>(),
    ) {
        let order = order_by(descending);
        let rows: Vec<Row> = (0u64..)
            .zip(&values)
            .map(|(id, n)| row(*n, id))
            .collect();
        let mut top = TopPage::new(capacity);
        for (index, row) in rows.iter().enumerate() {
            top.offer(order.sort_key(row), index);
            prop_assert!(top.heap.len() <= capacity);
        }
        prop_assert_eq!(top.peak(), capacity.min(rows.len()));
        let kept: Vec<usize> = top.into_sorted().into_iter().map(|(_, index)| index).collect();
        let mut sorted: Vec<usize> = (0..rows.len()).collect();
        sorted.sort_by(|left, right| order.compare(&rows[*left], &rows[*right]));
        sorted.truncate(capacity);
        prop_assert_eq!(kept, sorted);
    }
}
