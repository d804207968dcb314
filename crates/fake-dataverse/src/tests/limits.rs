//! Hostile queries through the whole handler with a valid token: nesting of any depth answers
//! the OData depth error on a tokio worker's 2 MiB stack, and client input quoted in a message
//! is bounded (`fake_core::echo`) while the status, code and fixed wording stay.

use fake_core::MAX_ECHO_CHARS;

use super::*;
use crate::standard_tables;

const TOO_DEEP: &str = "Recursion depth exceeded allowed limit.";

fn limits_config() -> Config {
    let mut config = config();
    config.environments[0].tables = vec![Table {
        definition: standard_tables::standard_table("account").expect("a standard table"),
        data: TableData::Generated { count: 3 },
    }];
    config
}

/// `GET path` with the importer's token, answered on a thread with the 2 MiB stack of a tokio
/// worker (debug builds have the largest frames), as `serve` answers it.
pub(crate) fn get_on_worker_stack(path: &str, prefer: Option<&str>) -> Answer {
    let dataverse = service(limits_config()).expect("valid config");
    let mut builder =
        Request::get(path).header("authorization", format!("Bearer {}", token(IMPORTER)));
    if let Some(prefer) = prefer {
        builder = builder.header("prefer", prefer);
    }
    let request = builder.body(Bytes::new()).expect("request");
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn_scoped(scope, || {
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("runtime")
                    .block_on(send(&dataverse, request))
            })
            .expect("spawns a thread")
            .join()
            .expect("the handler does not panic")
    })
}

/// `accounts?{option}={value}` with what a URI cannot carry percent-encoded (parentheses and
/// quotes stay, so deep inputs fit the 64 KiB an `http::Uri` holds).
pub(crate) fn accounts(option: &str, value: &str) -> String {
    format!(
        "/api/data/v9.2/accounts?{}={}",
        encode(option),
        encode(value)
    )
}

pub(crate) fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~()!*',;:@/$".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[track_caller]
fn check_too_deep(option: &str, value: &str) {
    let answer = get_on_worker_stack(&accounts(option, value), None);
    assert_error(&answer, 400, "0x80060888", TOO_DEEP);
}

#[test]
fn deep_filters_answer_the_depth_error() {
    check_too_deep(
        "$filter",
        &format!("Account_Tasks{}", "/any()".repeat(2000)),
    );
    let mut nested = String::from("Account_Tasks");
    for index in 0..2000 {
        nested.push_str(&format!("/any(v{index}:v{index}"));
    }
    nested.push_str(" eq null");
    nested.push_str(&")".repeat(2000));
    check_too_deep("$filter", &nested);
    check_too_deep("$filter", &format!("name{} eq 'x'", "/f()".repeat(2500)));
    check_too_deep("$filter", &format!("a{} eq 'x'", "/b".repeat(20_000)));
    check_too_deep(
        "$filter",
        &format!("{}name eq 'a'{}", "(".repeat(25_000), ")".repeat(25_000)),
    );
    check_too_deep(
        "$filter",
        &format!("{}(name eq 'a')", "not ".repeat(10_000)),
    );
    check_too_deep(
        "$filter",
        &format!("{}1{} eq 1", "tolower(".repeat(5_000), ")".repeat(5_000)),
    );
}

#[test]
fn deep_orderby_and_expand_answer_the_depth_error() {
    check_too_deep(
        "$orderby",
        &format!("{}name{}", "(".repeat(25_000), ")".repeat(25_000)),
    );
    check_too_deep("$orderby", &format!("name{}", "/f()".repeat(2500)));
    check_too_deep(
        "$expand",
        &format!(
            "account_parent_account($filter={}name eq 'a'{})",
            "(".repeat(20_000),
            ")".repeat(20_000)
        ),
    );
}

#[test]
fn the_deepest_accepted_filters_are_answered() {
    // 113 parenthesized levels is the most the budget takes (seven steps each), 786 `not`s the
    // longest unary chain: the deepest parser and binder recursions any input reaches.
    let parens = format!("{}name ne 'a'{}", "(".repeat(113), ")".repeat(113));
    let answer = get_on_worker_stack(&accounts("$filter", &parens), None);
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let nots = format!("{}(name ne 'a')", "not ".repeat(786));
    let answer = get_on_worker_stack(&accounts("$filter", &nots), None);
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json()["value"].as_array().map(Vec::len), Some(3));
    // Nested function calls stack the largest frames per step (about 1 MiB of a debug build's
    // stack at the limit): the deepest accepted nesting is answered, one more is the error.
    let calls = |levels: usize| {
        format!(
            "{}name{} eq 'a'",
            "tolower(".repeat(levels),
            ")".repeat(levels)
        )
    };
    let deepest = (100..120)
        .rev()
        .find(|levels| {
            get_on_worker_stack(&accounts("$filter", &calls(*levels)), None).status
                != StatusCode::BAD_REQUEST
        })
        .expect("some nesting is accepted");
    assert!(deepest >= 110, "{deepest}");
    let answer = get_on_worker_stack(&accounts("$filter", &calls(deepest)), None);
    assert_error(
        &answer,
        501,
        "0x80060888",
        "The $filter function 'tolower' is not supported by this fake Dataverse (d365-harness).",
    );
    let answer = get_on_worker_stack(&accounts("$filter", &calls(deepest + 1)), None);
    assert_error(&answer, 400, "0x80060888", TOO_DEEP);
}

/// The message of an error answer, checked to be bounded.
#[track_caller]
fn bounded_message(answer: &Answer, status: u16, code: &str) -> String {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["error"]["code"], code);
    let message = body["error"]["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(
        message.chars().count() < MAX_ECHO_CHARS + 300,
        "unbounded: {} characters",
        message.chars().count()
    );
    message
}

#[test]
fn long_client_input_is_echoed_bounded() {
    let segment = "x".repeat(60_000);
    let answer = get_on_worker_stack(&format!("/api/data/v9.2/{segment}"), None);
    let message = bounded_message(&answer, 404, "0x8006088a");
    assert_eq!(
        message,
        format!(
            "Resource not found for the segment '{}…'.",
            "x".repeat(MAX_ECHO_CHARS)
        )
    );

    let filter = format!("{} ^", "name eq 'a' and ".repeat(2_000) + "name eq 'a'");
    let answer = get_on_worker_stack(&accounts("$filter", &filter), None);
    let message = bounded_message(&answer, 400, "0x80060888");
    let position = filter.len() - 1;
    assert!(
        message.starts_with(&format!(
            "Syntax error: character '^' is not valid at position {position} in 'name eq 'a' and "
        )) && message.ends_with("…'."),
        "{message}"
    );

    let name = "n".repeat(60_000);
    let expected = format!(
        "Could not find a property named '{}…' on type 'Microsoft.Dynamics.CRM.account'.",
        "n".repeat(MAX_ECHO_CHARS)
    );
    for option in ["$select", "$orderby", "$filter"] {
        let value = if option == "$filter" {
            format!("{name} eq 1")
        } else {
            name.clone()
        };
        let answer = get_on_worker_stack(&accounts(option, &value), None);
        assert_eq!(
            bounded_message(&answer, 400, "0x80060888"),
            expected,
            "{option}"
        );
    }
    let answer = get_on_worker_stack(&accounts("$top", &"9".repeat(60_000)), None);
    bounded_message(&answer, 400, "0x80060888");
    let answer = get_on_worker_stack(&accounts("$count", &"t".repeat(60_000)), None);
    bounded_message(&answer, 400, "0x80060888");
    let answer = get_on_worker_stack(&accounts("$skiptoken", &"c".repeat(60_000)), None);
    bounded_message(&answer, 400, "0x80060888");
    let answer = get_on_worker_stack(&accounts(&format!("${name}"), "1"), None);
    bounded_message(&answer, 400, "0x80060888");
    let answer = get_on_worker_stack(&accounts("$expand", &name), None);
    bounded_message(&answer, 400, "0x80060888");
}

/// The error envelope of a rejection through the handler: `{"error":{"code":"0x…","message"}}`.
fn assert_envelope(answer: &Answer) -> Result<(), proptest::test_runner::TestCaseError> {
    use proptest::prelude::*;
    prop_assert!(
        matches!(answer.status.as_u16(), 400 | 501),
        "{} {}",
        answer.status,
        answer.text
    );
    let body = answer.json();
    let keys: Vec<&String> = body["error"].as_object().expect("error").keys().collect();
    prop_assert_eq!(keys, ["code", "message"]);
    let code = body["error"]["code"].as_str().expect("code");
    prop_assert!(
        code.strip_prefix("0x")
            .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|byte| byte.is_ascii_hexdigit())),
        "{code}"
    );
    let message = body["error"]["message"].as_str().expect("message");
    prop_assert!(!message.is_empty() && message.chars().count() < MAX_ECHO_CHARS + 800);
    Ok(())
}

/// One request through the handler on the test's runtime.
fn get_paged(
    runtime: &tokio::runtime::Runtime,
    dataverse: &Dataverse,
    path: &str,
    page_size: Option<&str>,
) -> Answer {
    let mut builder = Request::get(path).header("authorization", format!("Bearer {}", *TOKEN));
    if let Some(page_size) = page_size {
        builder = builder.header("prefer", format!("odata.maxpagesize={page_size}"));
    }
    runtime.block_on(send(
        dataverse,
        builder.body(Bytes::new()).expect("request"),
    ))
}

/// One token for every case (signing is the slow part of a request).
static TOKEN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| token(IMPORTER));

/// One fake for every case of a property (building one signs and parses keys).
static SHARED: std::sync::LazyLock<std::sync::Arc<Dataverse>> =
    std::sync::LazyLock::new(|| service(limits_config()).expect("valid config"));

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn account_ids(answer: &Answer) -> Vec<String> {
    answer.json()["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|row| {
            row["accountid"]
                .as_str()
                .expect("every row is an account")
                .to_owned()
        })
        .collect()
}

proptest::proptest! {
    #[test]
    fn arbitrary_queries_through_the_handler_answer_rows_or_the_envelope(
        option in proptest::sample::select(&["$filter", "$select", "$orderby", "$top", "$count", "$expand", "$skiptoken", "$skip", "$zzz"][..]),
        value in proptest::prelude::any::<String>(),
        page_size in proptest::option::of("-?[0-9]{0,6}|[a-z]{0,3}"),
    ) {
        let (runtime, dataverse) = (runtime(), &*SHARED);
        let answer = get_paged(&runtime, dataverse, &accounts(option, &value), page_size.as_deref());
        if answer.status == StatusCode::OK {
            let rows = answer.json()["value"].as_array().expect("value").len();
            let limit = page_size
                .as_deref()
                .and_then(|size| size.parse::<usize>().ok())
                .filter(|size| *size > 0)
                .unwrap_or(5000);
            proptest::prop_assert!(rows <= limit.min(3));
        } else {
            assert_envelope(&answer)?;
        }
    }

    #[test]
    fn mutated_paging_cookies_resume_accounts_or_fail_in_shape(
        at in proptest::prelude::any::<usize>(),
        edit in proptest::prelude::any::<u8>(),
        character in proptest::prelude::any::<char>(),
        mutated in proptest::prelude::any::<bool>(),
    ) {
        let (runtime, dataverse) = (runtime(), &*SHARED);
        let everything = account_ids(&get_paged(&runtime, dataverse, "/api/data/v9.2/accounts", None));
        let first_page = get_paged(&runtime, dataverse, "/api/data/v9.2/accounts", Some("2"));
        let next = first_page.json()["@odata.nextLink"].as_str().expect("a next link").to_owned();
        let skiptoken = next.split("$skiptoken=").nth(1).expect("skiptoken").to_owned();
        let skiptoken = if mutated {
            let mut characters: Vec<char> = skiptoken.chars().collect();
            let at = at % (characters.len() + 1);
            match edit % 3 {
                0 if at < characters.len() => characters[at] = character,
                1 if at < characters.len() => { characters.remove(at); }
                _ => characters.insert(at, character),
            }
            encode(&characters.into_iter().collect::<String>()).replace("%25", "%")
        } else {
            skiptoken
        };
        let answer = get_paged(
            &runtime,
            dataverse,
            &format!("/api/data/v9.2/accounts?$skiptoken={skiptoken}"),
            Some("2"),
        );
        if answer.status == StatusCode::OK {
            // Whatever page it resumes, it pages this table: account rows in key order.
            let page = account_ids(&answer);
            let positions: Vec<usize> = page
                .iter()
                .map(|id| everything.iter().position(|known| known == id).expect("an account"))
                .collect();
            proptest::prop_assert!(positions.windows(2).all(|pair| pair[0] < pair[1]));
            if !mutated {
                proptest::prop_assert_eq!(&page[..], &everything[2..]);
            }
        } else {
            proptest::prop_assert!(mutated, "the real cookie is refused: {}", answer.text);
            assert_envelope(&answer)?;
        }
    }
}
