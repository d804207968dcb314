//! Property tests of the query entry point ([`parse_query`], [`Prefer::parse`]): every query
//! option, arbitrary and grammar-shaped, either yields a query whose answers keep their
//! invariants or an OData error of the documented shape (400, or 501 for what the fake lacks;
//! the configured `0x…` code; a non-empty message bounded however long the input).

use proptest::prelude::*;
use uuid::Uuid;

use super::paging::{PagingCookie, percent_decode};
use super::prefer::{MAX_PAGE_SIZE, Prefer};
use super::tests::{account_table, contact_table, rows, task_table};
use super::{Query, QueryError, QueryOptions, parse_query};

/// The longest message any rejection may carry: fixed wording plus echoes of at most
/// `fake_core::MAX_ECHO_CHARS` characters each.
const MAX_MESSAGE_CHARS: usize = 1_000;

fn query(raw: &str) -> Result<Query, QueryError> {
    let (contact, task, account) = (contact_table(), task_table(), account_table());
    let lookup = |name: &str| match name {
        "contact" => Some(&contact),
        "task" => Some(&task),
        "account" => Some(&account),
        _ => None,
    };
    parse_query(raw, &account, &lookup, &QueryOptions::default())
}

/// The shape every rejection has.
fn assert_error_shape(raw: &str, error: &QueryError) -> Result<(), TestCaseError> {
    prop_assert!(
        matches!(error.status, 400 | 501),
        "{raw}: status {}",
        error.status
    );
    let hex = error.code.strip_prefix("0x").unwrap_or_default();
    prop_assert!(
        !hex.is_empty() && hex.bytes().all(|byte| byte.is_ascii_hexdigit()),
        "{raw}: code {}",
        error.code
    );
    prop_assert!(!error.message.trim().is_empty(), "{raw}: empty message");
    prop_assert!(
        error.message.chars().count() <= MAX_MESSAGE_CHARS,
        "{raw}: message of {} characters",
        error.message.chars().count()
    );
    Ok(())
}

/// Parses `raw`; a rejection must have the error shape, an accepted query must evaluate,
/// order and project every fixture row without panicking, with a total order.
fn check(raw: &str) -> Result<Option<Query>, TestCaseError> {
    match query(raw) {
        Err(error) => {
            assert_error_shape(raw, &error)?;
            Ok(None)
        }
        Ok(parsed) => {
            let rows = rows();
            for left in &rows {
                let _ = parsed.matches(left);
                let projected = parsed.project(left);
                prop_assert!(projected.contains_key("accountid"), "{raw}: key projected");
                prop_assert_eq!(parsed.compare(left, left), std::cmp::Ordering::Equal);
                for right in &rows {
                    prop_assert_eq!(
                        parsed.compare(left, right),
                        parsed.compare(right, left).reverse(),
                        "{}: antisymmetric",
                        raw
                    );
                    prop_assert_eq!(
                        parsed.compare(left, right),
                        parsed
                            .order_by
                            .sort_key(left)
                            .cmp(&parsed.order_by.sort_key(right)),
                        "{}: sort keys order like the comparator",
                        raw
                    );
                }
            }
            Ok(Some(parsed))
        }
    }
}

/// Percent-encodes what a query value cannot carry (`&`, `=`, `+`, `%`, `#`, non-ASCII...).
fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

const COLUMNS: &[&str] = &[
    "name",
    "revenue",
    "numberofemployees",
    "statecode",
    "createdon",
    "donotemail",
    "accountid",
    "_primarycontactid_value",
    "primarycontactid",
    "Account_Tasks",
    "address1_latitude",
    "nope",
    "Name",
];

fn column() -> impl Strategy<Value = String> {
    prop::sample::select(COLUMNS).prop_map(str::to_owned)
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        any::<i32>().prop_map(|number| number.to_string()),
        any::<f64>().prop_map(|number| format!("{number:?}")),
        "[a-zA-Z' %]{0,8}".prop_map(|text| format!("'{}'", text.replace('\'', "''"))),
        Just("2024-01-01".to_owned()),
        Just("2024-01-01T10:00:00Z".to_owned()),
        Just("11111111-1111-1111-1111-111111111111".to_owned()),
        Just("@p1".to_owned()),
    ]
}

/// `$filter` expressions shaped by the grammar, valid or not in type.
fn filter_expression() -> impl Strategy<Value = String> {
    let operand = prop_oneof![column(), literal()];
    let comparison = (
        operand.clone(),
        prop::sample::select(&["eq", "ne", "gt", "ge", "lt", "le", "has", "add"][..]),
        operand,
    )
        .prop_map(|(left, op, right)| format!("{left} {op} {right}"));
    let leaf = prop_oneof![
        comparison,
        (
            prop::sample::select(&["contains", "startswith", "endswith", "tolower", "foo"][..]),
            column(),
            literal()
        )
            .prop_map(|(function, column, value)| format!("{function}({column},{value})")),
        (column(), prop::sample::select(&["any", "all"][..]))
            .prop_map(|(column, lambda)| format!("{column}/{lambda}(x:x/name eq 'a')")),
        column().prop_map(|column| format!(
            "Microsoft.Dynamics.CRM.In(PropertyName='{column}',PropertyValues=['1','2'])"
        )),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(&["and", "or"][..]),
                inner.clone()
            )
                .prop_map(|(left, op, right)| format!("{left} {op} {right}")),
            inner.clone().prop_map(|inner| format!("not ({inner})")),
            inner.prop_map(|inner| format!("({inner})")),
        ]
    })
}

/// Text made of OData tokens in any order: reaches far more parser states than random bytes.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(
        &[
            "(",
            ")",
            ",",
            "/",
            ":",
            " ",
            "eq",
            "and",
            "or",
            "not",
            "-",
            "name",
            "any",
            "'x'",
            "'",
            "1",
            "1.5e",
            "null",
            "@p1",
            "$it",
            "x",
            "contains",
            "Account_Tasks",
            "*",
            "[",
            "]",
            "{",
            "}",
            ".",
            "binary'",
            "2024-01-01",
            "=",
            "\u{e9}",
            "-INF",
        ][..],
    );
    prop::collection::vec(token, 0..30).prop_map(|tokens| tokens.concat())
}

fn valid_skiptoken(table_key: &str, first: u128, last: u128, page: u32) -> String {
    PagingCookie {
        page_number: page,
        first: Uuid::from_u128(first),
        last: Uuid::from_u128(last),
    }
    .to_skiptoken(table_key)
}

/// One edit of `text`: a character replaced, removed or inserted, or the text cut.
fn mutate(text: &str, at: usize, edit: u8, character: char) -> String {
    let characters: Vec<char> = text.chars().collect();
    let at = at % (characters.len() + 1);
    let mut mutated: Vec<char> = characters.clone();
    match edit % 4 {
        0 if at < characters.len() => mutated[at] = character,
        1 if at < characters.len() => {
            mutated.remove(at);
        }
        2 => mutated.insert(at, character),
        _ => mutated.truncate(at),
    }
    mutated.into_iter().collect()
}

proptest! {
    #[test]
    fn select_lists_project_or_fail_in_shape(
        names in prop::collection::vec(prop_oneof![column(), "[a-z_*/(), ]{0,12}"], 0..6),
    ) {
        let raw = format!("$select={}", encode(&names.join(",")));
        if let Some(parsed) = check(&raw)? {
            let projected = parsed.project(&rows()[0]);
            let keys: Vec<&String> = projected.keys().collect();
            prop_assert_eq!(keys.len(), parsed.select.properties.len());
        }
    }

    #[test]
    fn grammar_shaped_filters_are_consistent(expression in filter_expression()) {
        let raw = format!("$filter={}&@p1='x'", encode(&expression));
        if let Some(parsed) = check(&raw)? {
            let negated = format!("$filter={}&@p1='x'", encode(&format!("not ({expression})")));
            let twice = format!(
                "$filter={}&@p1='x'",
                encode(&format!("({expression}) and ({expression})"))
            );
            // `not` keeps unknown unknown: no row passes both a filter and its negation.
            if let Some(negation) = check(&negated)? {
                for row in rows() {
                    prop_assert!(!(parsed.matches(&row) && negation.matches(&row)), "{expression}");
                }
            }
            if let Some(doubled) = check(&twice)? {
                for row in rows() {
                    prop_assert_eq!(parsed.matches(&row), doubled.matches(&row), "{}", expression);
                }
            }
        }
    }

    #[test]
    fn arbitrary_filters_never_panic(text in prop_oneof![any::<String>(), token_soup()]) {
        check(&format!("$filter={}", encode(&text)))?;
        check(&format!("$orderby={}", encode(&text)))?;
        check(&format!("$select={}", encode(&text)))?;
        check(&format!("$expand={}", encode(&text)))?;
    }

    #[test]
    fn orderby_lists_are_total_orders(
        items in prop::collection::vec(
            (prop_oneof![column(), token_soup()], prop::sample::select(&["", " asc", " desc", " up"][..])),
            0..4,
        ),
    ) {
        let text: Vec<String> = items.iter().map(|(name, direction)| format!("{name}{direction}")).collect();
        if let Some(parsed) = check(&format!("$orderby={}", encode(&text.join(","))))? {
            prop_assert!(parsed.order_by.keys.len() <= items.len());
        }
    }

    #[test]
    fn top_is_one_to_five_thousand(text in prop_oneof![any::<String>(), "[0-9]{1,12}", "-?[0-9]{1,5}"]) {
        if let Some(parsed) = check(&format!("$top={}", encode(&text)))? {
            let top = parsed.top.expect("$top given");
            prop_assert!((1..=MAX_PAGE_SIZE).contains(&top));
            prop_assert_eq!(Some(u64::from(top)), text.parse::<u64>().ok());
        }
    }

    #[test]
    fn count_is_true_or_false(text in prop_oneof![any::<String>(), Just("true".to_owned()), Just("false".to_owned())]) {
        let accepted = check(&format!("$count={}", encode(&text)))?;
        prop_assert_eq!(accepted.is_some(), text == "true" || text == "false");
        if let Some(parsed) = accepted {
            prop_assert_eq!(parsed.count, text == "true");
        }
    }

    #[test]
    fn expands_with_nested_options(
        navigation in prop::sample::select(&["Account_Tasks", "primarycontactid", "name", "nope", "contact_customer_accounts", "*"][..]),
        options in prop::collection::vec(
            (prop::sample::select(&["$select", "$filter", "$orderby", "$top", "$expand", "$skip", "$select"][..]), token_soup()),
            0..3,
        ),
    ) {
        let nested: Vec<String> = options.iter().map(|(name, value)| format!("{name}={value}")).collect();
        let text = if nested.is_empty() { navigation.to_owned() } else { format!("{navigation}({})", nested.join(";")) };
        if let Some(parsed) = check(&format!("$expand={}", encode(&text)))? {
            prop_assert_eq!(parsed.expand.len(), 1);
            prop_assert_eq!(&parsed.expand[0].navigation, navigation);
        }
    }

    #[test]
    fn skiptokens_resume_or_fail_in_shape(
        first in any::<u128>(),
        last in any::<u128>(),
        page in 0u32..5,
        key in prop::sample::select(&["accountid", "contactid"][..]),
        mutation in prop::option::of((any::<usize>(), any::<u8>(), any::<char>())),
    ) {
        let mut token = valid_skiptoken(key, first, last, page);
        if let Some((at, edit, character)) = mutation {
            token = mutate(&token, at, edit, character);
        }
        if let Some(parsed) = check(&format!("$skiptoken={}", encode(&percent_decode(&token).unwrap_or(token.clone()))))? {
            let cookie = parsed.skip_token.expect("$skiptoken given");
            // Only a cookie of this table is read: a contact cookie never pages accounts.
            prop_assert_eq!(key, "accountid");
            prop_assert!(cookie.page_number >= 2);
            if mutation.is_none() {
                prop_assert_eq!(cookie, PagingCookie { page_number: page, first: Uuid::from_u128(first), last: Uuid::from_u128(last) });
            }
        }
    }

    #[test]
    fn long_input_is_quoted_bounded(
        option in prop::sample::select(&["$select", "$filter", "$orderby", "$top", "$count", "$expand", "$skiptoken", "$unknown"][..]),
        head in "[a-zA-Z_]{1,3}",
        length in 300usize..5_000,
        tail in prop::sample::select(&["", " eq 1", "(", " ^", "'", "/x"][..]),
    ) {
        // One long name (quoted whole by an unbounded message), then what makes it an error.
        let value = format!("{}{tail}", head.repeat(length / head.len()));
        let raw = if option == "$unknown" {
            format!("${value}=1")
        } else {
            format!("{option}={}", encode(&value))
        };
        let error = query(&raw).expect_err("a long unknown name is rejected");
        assert_error_shape(&raw, &error)?;
    }

    #[test]
    fn arbitrary_skiptokens_fail_in_shape(text in prop_oneof![any::<String>(), token_soup()]) {
        check(&format!("$skiptoken={}", encode(&text)))?;
    }

    #[test]
    fn unknown_and_repeated_options_fail_in_shape(
        name in prop_oneof!["\\$[a-zA-Z]{0,10}", prop::sample::select(&["$select", "$filter", "$orderby", "$top", "$count", "$expand", "$skiptoken", "$skip", "$apply", "fetchXml"][..]).prop_map(str::to_owned)],
        value in "[a-z0-9]{0,5}",
        repeated in any::<bool>(),
    ) {
        let once = format!("{}={}", encode(&name), encode(&value));
        let raw = if repeated { format!("{once}&{once}") } else { once };
        if check(&raw)?.is_some() {
            prop_assert!(
                !repeated && ["$select", "$filter", "$orderby", "$top", "$count", "$expand", "$skiptoken"].contains(&name.as_str()),
                "{raw} accepted"
            );
        }
    }

    #[test]
    fn prefer_page_sizes_stay_in_range(
        values in prop::collection::vec(prop_oneof![any::<String>(), "odata\\.maxpagesize=\"?-?[0-9]{0,12}\"?", "[a-z.-]{0,12}=[^,]{0,8}"], 0..4),
    ) {
        let prefer = Prefer::parse(values.iter().map(String::as_str));
        let size = prefer.page_size();
        prop_assert!((1..=MAX_PAGE_SIZE).contains(&size));
        if let Some(requested) = prefer.max_page_size {
            prop_assert_eq!(size, requested.min(MAX_PAGE_SIZE));
        }
    }
}
