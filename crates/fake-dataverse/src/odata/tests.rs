//! Query-level behaviour: option parsing and rejection, `$select`/`$expand`, `$orderby`,
//! projection, `Prefer`, the paging cookie and next links. Also the shared fixtures: the
//! `account`, `contact` and `task` tables and seven account rows coded `A`–`G`.

use serde_json::{Value, json};
use uuid::Uuid;

use super::paging::{PagingCookie, next_link, percent_decode};
use super::prefer::Prefer;
use super::scalar::{compare_guid, parse_date, parse_date_time};
use super::select::ExpandKind;
use super::{Query, QueryError, QueryOptions, Row, parse_query};
use crate::schema::{
    CollectionNavigation, ColumnDefinition, ColumnKind, Ownership, TableDefinition,
};

fn column(logical_name: &str, kind: ColumnKind) -> ColumnDefinition {
    ColumnDefinition {
        logical_name: logical_name.to_owned(),
        display_name: logical_name.to_owned(),
        kind,
        metadata_id: Uuid::nil(),
    }
}

fn text(logical_name: &str) -> ColumnDefinition {
    column(logical_name, ColumnKind::String { max_length: 100 })
}

fn lookup(logical_name: &str, targets: &[&str]) -> ColumnDefinition {
    column(
        logical_name,
        ColumnKind::Lookup {
            targets: targets.iter().map(|target| (*target).to_owned()).collect(),
        },
    )
}

fn table(
    logical_name: &str,
    columns: Vec<ColumnDefinition>,
    collection_navigation: Vec<CollectionNavigation>,
) -> TableDefinition {
    TableDefinition {
        logical_name: logical_name.to_owned(),
        entity_set_name: format!("{logical_name}s"),
        display_name: logical_name.to_owned(),
        display_collection_name: format!("{logical_name}s"),
        schema_name: logical_name.to_owned(),
        primary_id_attribute: format!("{logical_name}id"),
        primary_name_attribute: "name".to_owned(),
        object_type_code: 1,
        ownership: Ownership::UserOwned,
        privilege_stem: logical_name.to_owned(),
        metadata_id: Uuid::nil(),
        columns,
        collection_navigation,
    }
}

/// `account` with one column of every kind the engine distinguishes.
pub(crate) fn account_table() -> TableDefinition {
    table(
        "account",
        vec![
            column("accountid", ColumnKind::PrimaryKey),
            text("code"),
            text("name"),
            text("accountnumber"),
            text("address1_city"),
            text("address2_city"),
            column("description", ColumnKind::Memo { max_length: 2000 }),
            column("revenue", ColumnKind::Money),
            column("numberofemployees", ColumnKind::Integer),
            column("versionnumber", ColumnKind::BigInt),
            column("exchangerate", ColumnKind::Decimal),
            column("address1_latitude", ColumnKind::Double),
            column("donotemail", ColumnKind::Boolean),
            column("createdon", ColumnKind::DateTime),
            column(
                "statecode",
                ColumnKind::State {
                    options: Vec::new(),
                },
            ),
            lookup("primarycontactid", &["contact"]),
            lookup("transactioncurrencyid", &["transactioncurrency"]),
            lookup("parentcustomerid", &["account", "contact"]),
            column("ownerid", ColumnKind::Owner),
        ],
        vec![
            CollectionNavigation {
                name: "Account_Tasks".to_owned(),
                target: "task".to_owned(),
            },
            CollectionNavigation {
                name: "contact_customer_accounts".to_owned(),
                target: "contact".to_owned(),
            },
        ],
    )
}

pub(crate) fn contact_table() -> TableDefinition {
    table(
        "contact",
        vec![
            column("contactid", ColumnKind::PrimaryKey),
            text("fullname"),
            text("lastname"),
            text("emailaddress1"),
            lookup("parentcustomerid", &["account", "contact"]),
            lookup("createdby", &["systemuser"]),
        ],
        Vec::new(),
    )
}

pub(crate) fn task_table() -> TableDefinition {
    table(
        "task",
        vec![
            column("taskid", ColumnKind::PrimaryKey),
            text("subject"),
            column("scheduledend", ColumnKind::DateTime),
        ],
        Vec::new(),
    )
}

const CONTACT_1: &str = "11111111-1111-1111-1111-111111111111";
const CONTACT_2: &str = "22222222-2222-2222-2222-222222222222";

fn id(number: u8) -> String {
    format!("00000000-0000-0000-0000-00000000000{number}")
}

fn row(value: Value) -> Row {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Seven accounts; `code` names them. F has nothing but its key and code.
pub(crate) fn rows() -> Vec<Row> {
    vec![
        row(
            json!({"accountid": id(1), "code": "A", "name": "Contoso Ltd", "revenue": 100000.0,
            "numberofemployees": 50, "statecode": 0, "createdon": "2024-01-15T10:00:00Z",
            "donotemail": false, "_primarycontactid_value": CONTACT_1, "accountnumber": "ACC-001",
            "address1_city": "Seattle", "address2_city": "seattle"}),
        ),
        row(
            json!({"accountid": id(2), "code": "B", "name": "Fabrikam, Inc.", "revenue": 250000.5,
            "numberofemployees": 200, "statecode": 0, "createdon": "2024-05-01T10:00:00Z",
            "donotemail": true, "_primarycontactid_value": CONTACT_2, "accountnumber": "ACC-002",
            "address1_city": "Redmond", "address2_city": "Seattle"}),
        ),
        row(
            json!({"accountid": id(3), "code": "C", "name": "O'Brian & Sons", "revenue": null,
            "numberofemployees": null, "statecode": 1, "createdon": "2023-12-31T23:59:59Z",
            "donotemail": false, "_primarycontactid_value": null, "accountnumber": "50%_off"}),
        ),
        row(
            json!({"accountid": id(4), "code": "D", "name": "contoso pharmaceuticals", "revenue": 5000,
            "numberofemployees": 10, "statecode": 0, "createdon": "2024-01-01T00:00:00Z",
            "_primarycontactid_value": CONTACT_1, "accountnumber": "[brackets]",
            "address1_city": "Seattle", "address2_city": null}),
        ),
        row(
            json!({"accountid": id(5), "code": "E", "name": "Adventure Works  ", "revenue": 0,
            "numberofemployees": 0, "statecode": 1, "createdon": "2025-06-30T12:00:00+02:00",
            "donotemail": true, "_primarycontactid_value": CONTACT_2, "accountnumber": null}),
        ),
        row(json!({"accountid": id(6), "code": "F"})),
        row(
            json!({"accountid": id(7), "code": "G", "name": "Ünïcode Straße", "revenue": -10.5,
            "numberofemployees": 7, "statecode": 0, "createdon": "2024-01-01T00:00:00.5Z",
            "donotemail": false, "accountnumber": "acc-003"}),
        ),
    ]
}

fn query(raw: &str) -> Result<Query, QueryError> {
    query_with(raw, &QueryOptions::default())
}

fn query_with(raw: &str, options: &QueryOptions) -> Result<Query, QueryError> {
    let (contact, task) = (contact_table(), task_table());
    let lookup = |name: &str| match name {
        "contact" => Some(&contact),
        "task" => Some(&task),
        _ => None,
    };
    parse_query(raw, &account_table(), &lookup, options)
}

#[track_caller]
fn check_error(raw: &str, status: u16, message: &str) {
    match query(raw) {
        Ok(parsed) => panic!("{raw}: accepted as {parsed:?}"),
        Err(error) => assert_eq!(
            (error.status, error.code.as_str(), error.message.as_str()),
            (status, "0x80060888", message),
            "{raw}"
        ),
    }
}

fn not_found(name: &str, table: &str) -> String {
    format!("Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{table}'.")
}

fn unsupported_option(name: &str) -> String {
    format!(
        "The query option '{name}' is not supported by this fake Dataverse (d365-harness); supported: $select, $filter, $orderby, $top, $count, $expand, $skiptoken."
    )
}

/// The codes of the fixture rows that pass the query, in `$orderby` order.
fn codes(parsed: &Query) -> String {
    let mut matching: Vec<Row> = rows()
        .into_iter()
        .filter(|row| parsed.matches(row))
        .collect();
    matching.sort_by(|left, right| parsed.compare(left, right));
    let mut by_key = matching.clone();
    by_key.reverse();
    by_key.sort_by_cached_key(|row| parsed.order_by.sort_key(row));
    assert_eq!(by_key, matching, "sort keys order like the comparator");
    matching
        .iter()
        .map(|row| row["code"].as_str().expect("code").to_owned())
        .collect()
}

#[track_caller]
fn check_order(raw: &str, expected: &str) {
    let parsed = query(raw).unwrap_or_else(|error| panic!("{raw}: {error}"));
    assert_eq!(codes(&parsed), expected, "{raw}");
}

#[test]
fn decodes_both_client_encodings() {
    for raw in [
        "$select=name,revenue&$filter=name eq 'Contoso Ltd'",
        "%24select=name%2Crevenue&%24filter=name+eq+%27Contoso+Ltd%27",
        "$select=name%2Crevenue&$filter=name%20eq%20%27Contoso%20Ltd%27",
        "?$select=name,revenue&&$filter=name eq 'Contoso Ltd'&unrelated=1",
    ] {
        let parsed = query(raw).unwrap_or_else(|error| panic!("{raw}: {error}"));
        assert_eq!(codes(&parsed), "A", "{raw}");
        assert_eq!(
            parsed.select.requested,
            Some(vec!["name".to_owned(), "revenue".to_owned()]),
            "{raw}"
        );
    }
}

#[test]
fn select_keeps_the_primary_key_and_the_currency_ride_along() {
    let check = |raw: &str, expected: &[&str]| {
        let parsed = query(raw).unwrap_or_else(|error| panic!("{raw}: {error}"));
        assert_eq!(parsed.select.properties, expected, "{raw}");
    };
    check("$select=name", &["name", "accountid"]);
    check(
        "$select=name,revenue",
        &[
            "name",
            "revenue",
            "_transactioncurrencyid_value",
            "accountid",
        ],
    );
    check("$select=accountid,name", &["accountid", "name"]);
    check("$select=name,name", &["name", "accountid"]);
    check(
        "$select=_primarycontactid_value, createdon",
        &["_primarycontactid_value", "createdon", "accountid"],
    );
    let everything = query("").expect("no options");
    assert_eq!(everything.select.requested, None);
    assert_eq!(everything.select.properties.len(), 19);
    assert_eq!(
        query("$select=*").expect("star").select.properties.len(),
        19
    );
    assert_eq!(query("$select=").expect("empty").select.requested, None);
}

#[test]
fn projection() {
    let parsed = query("$select=name,revenue").expect("valid");
    let projected = parsed.project(&rows()[0]);
    assert_eq!(
        Value::Object(projected),
        json!({"name": "Contoso Ltd", "revenue": 100000.0,
            "_transactioncurrencyid_value": null, "accountid": id(1)})
    );
    let projected = query("").expect("valid").project(&rows()[5]);
    assert_eq!(projected.len(), 19);
    assert_eq!(projected["accountid"], json!(id(6)));
    assert_eq!(projected["code"], json!("F"));
    assert_eq!(projected["name"], Value::Null);
    assert_eq!(projected["_ownerid_value"], Value::Null);
    assert!(!projected.contains_key("ownerid"));
}

#[test]
fn unknown_properties_in_every_position() {
    check_error("$select=Name", 400, &not_found("Name", "account"));
    check_error(
        "$select=name,revenue,nope",
        400,
        &not_found("nope", "account"),
    );
    check_error(
        "$select=primarycontactid",
        400,
        &not_found("primarycontactid", "account"),
    );
    check_error("$filter=Name eq 'x'", 400, &not_found("Name", "account"));
    check_error("$orderby=Name", 400, &not_found("Name", "account"));
    check_error(
        "$orderby=name,Revenue desc",
        400,
        &not_found("Revenue", "account"),
    );
    check_error("$expand=nope", 400, &not_found("nope", "account"));
    check_error(
        "$expand=primarycontactid($select=Fullname)",
        400,
        &not_found("Fullname", "contact"),
    );
    check_error(
        "$expand=Account_Tasks($filter=Subject eq 'x')",
        400,
        &not_found("Subject", "task"),
    );
    check_error(
        "$expand=Account_Tasks($orderby=nope)",
        400,
        &not_found("nope", "task"),
    );
    let options = QueryOptions {
        error_code: "0x0".to_owned(),
        ..QueryOptions::default()
    };
    let error = query_with("$select=Name", &options).expect_err("unknown");
    assert_eq!((error.status, error.code.as_str()), (400, "0x0"));
}

#[test]
fn select_and_orderby_syntax_errors() {
    check_error(
        "$select=name eq",
        400,
        "Term 'name eq' is not valid in a $select or $expand expression.",
    );
    check_error(
        "$select=name,,revenue",
        400,
        "Term '' is not valid in a $select or $expand expression.",
    );
    check_error(
        "$select=primarycontactid/fullname",
        501,
        "The $select path 'primarycontactid/fullname' is not supported by this fake Dataverse (d365-harness).",
    );
    check_error(
        "$orderby=primarycontactid",
        400,
        "The $orderby expression must evaluate to a single value of primitive type.",
    );
    check_error(
        "$orderby=name asc,",
        400,
        "Expression expected at position 9 in 'name asc,'.",
    );
    check_error(
        "$orderby=name ASC",
        400,
        "Syntax error at position 8 in 'name ASC'.",
    );
    check_error(
        "$orderby=tolower(name)",
        501,
        "$orderby on anything but a column is not supported by this fake Dataverse (d365-harness).",
    );
}

#[test]
fn orderby_sorts_with_nulls_first_and_the_key_last() {
    check_order("", "ABCDEFG");
    check_order("$orderby=name", "FEADBCG");
    check_order("$orderby=name asc", "FEADBCG");
    check_order("$orderby=name desc", "GCBDAEF");
    check_order("$orderby=statecode desc,name", "ECADBGF");
    check_order("$orderby=createdon", "FCDGABE");
    check_order("$orderby=revenue desc", "BADEGCF");
    check_order("$orderby=donotemail,accountid desc", "FDGCAEB");
    check_order("$orderby=_primarycontactid_value", "CFGADBE");
    check_order(
        "$filter=statecode eq 0&$orderby=numberofemployees desc",
        "BADG",
    );
}

#[test]
fn guids_order_like_sql_server() {
    let guid = |text: &str| Uuid::parse_str(text).expect("test GUID");
    // The last six bytes weigh most, then bytes 8-9 as written, then the 16-bit groups and
    // the first 32-bit group low byte first (they are little-endian in .NET's layout).
    let ascending = [
        "ffffffff-ffff-ffff-ffff-000000000000",
        "00000000-0000-0000-0000-000000000001",
        "00000000-0000-0000-0001-000000000001",
        "00000000-0000-0000-0100-000000000001",
        "00000000-0000-0100-0100-000000000001",
        "00000000-0000-0001-0100-000000000001",
        "00000000-0100-0001-0100-000000000001",
        "00000000-0001-0001-0100-000000000001",
        "01000000-0001-0001-0100-000000000001",
        "00000001-0001-0001-0100-000000000001",
        "00000000-0000-0000-0000-010000000001",
    ];
    for pair in ascending.windows(2) {
        assert_eq!(
            compare_guid(&guid(pair[0]), &guid(pair[1])),
            std::cmp::Ordering::Less,
            "{} < {}",
            pair[0],
            pair[1]
        );
    }
    let order_by = query("$orderby=name").expect("valid").order_by;
    let twin = |key: &str| row(json!({"accountid": key, "name": "Same"}));
    assert_eq!(
        order_by.compare(&twin(ascending[1]), &twin(ascending[0])),
        std::cmp::Ordering::Greater
    );
}

#[test]
fn expand() {
    let parsed = query("$select=name&$expand=primarycontactid($select=fullname,emailaddress1)")
        .expect("valid");
    let expand = &parsed.expand[0];
    assert_eq!(expand.navigation, "primarycontactid");
    assert_eq!(expand.target, "contact");
    assert_eq!(
        expand.kind,
        ExpandKind::Lookup {
            property: "_primarycontactid_value".to_owned()
        }
    );
    assert_eq!(
        expand.select.properties,
        ["fullname", "emailaddress1", "contactid"]
    );
    assert_eq!(
        parsed.context_properties().as_deref(),
        Some("(name,primarycontactid(fullname,emailaddress1))")
    );

    let parsed = query(
        "$expand=Account_Tasks($select=subject;$filter=contains(subject,'call;me');$orderby=subject desc;$top=2),primarycontactid",
    )
    .expect("valid");
    let tasks = &parsed.expand[0];
    assert_eq!(
        (tasks.kind.clone(), tasks.target.as_str()),
        (ExpandKind::Collection, "task")
    );
    assert_eq!(tasks.top, Some(2));
    assert!(tasks.order_by.keys[0].descending);
    let filter = tasks.filter.as_ref().expect("nested filter");
    assert!(filter.matches(&row(json!({"taskid": id(1), "subject": "Call;Me back"}))));
    assert!(!filter.matches(&row(json!({"taskid": id(1), "subject": "Email"}))));
    assert_eq!(parsed.expand[1].select.properties.len(), 6);
    assert_eq!(
        parsed.context_properties().as_deref(),
        Some("(Account_Tasks(subject),primarycontactid())")
    );
    assert_eq!(
        query("$select=name")
            .expect("valid")
            .context_properties()
            .as_deref(),
        Some("(name)")
    );
    assert_eq!(query("").expect("valid").context_properties(), None);
}

#[test]
fn expand_errors() {
    let unsupported = |what: &str| {
        format!("The $expand {what} is not supported by this fake Dataverse (d365-harness).")
    };
    check_error(
        "$expand=name",
        400,
        "Property 'name' on type 'Microsoft.Dynamics.CRM.account' is not a navigation property or complex property. Only navigation properties can be expanded.",
    );
    check_error(
        "$expand=_primarycontactid_value",
        400,
        "Property '_primarycontactid_value' on type 'Microsoft.Dynamics.CRM.account' is not a navigation property or complex property. Only navigation properties can be expanded.",
    );
    check_error(
        "$expand=primarycontactid()",
        400,
        "Missing expand option on navigation property 'primarycontactid'. If a parenthesis expression follows an expanded navigation property, then at least one expand option must be provided.",
    );
    check_error(
        "$expand=primarycontactid($expand=createdby($select=fullname))",
        501,
        &unsupported("option '$expand' inside 'primarycontactid' (nested $expand)"),
    );
    check_error(
        "$expand=primarycontactid($filter=fullname eq 'x')",
        501,
        &unsupported(
            "option '$filter' on the single-valued navigation property 'primarycontactid'",
        ),
    );
    check_error(
        "$expand=primarycontactid($top=1)",
        501,
        &unsupported("option '$top' on the single-valued navigation property 'primarycontactid'"),
    );
    check_error(
        "$expand=parentcustomerid",
        501,
        &unsupported("of the polymorphic lookup 'parentcustomerid'"),
    );
    check_error(
        "$expand=ownerid",
        501,
        &unsupported("of the polymorphic lookup 'ownerid'"),
    );
    check_error(
        "$expand=transactioncurrencyid",
        501,
        &unsupported(
            "of 'transactioncurrencyid' (the table 'transactioncurrency' is not in this fake environment)",
        ),
    );
    check_error("$expand=*", 501, &unsupported("path '*'"));
    check_error(
        "$expand=primarycontactid/createdby",
        501,
        &unsupported("path 'primarycontactid/createdby'"),
    );
    check_error(
        "$expand=primarycontactid($levels=2)",
        501,
        &unsupported_option("$levels"),
    );
    check_error(
        "$expand=Account_Tasks($count=true)",
        400,
        &unsupported_option("$count"),
    );
    check_error(
        "$expand=Account_Tasks($skip=1)",
        400,
        &unsupported_option("$skip"),
    );
    check_error(
        "$expand=primarycontactid($select=fullname;$select=lastname)",
        400,
        "Query option '$select' was specified more than once, but it must be specified at most once.",
    );
    check_error(
        "$expand=Account_Tasks($top=0)",
        501,
        "$top=0 is not supported by this fake Dataverse (d365-harness): the real answer for $top of 0 or above 5000 is unconfirmed; use 1 to 5000.",
    );
}

#[test]
fn rejected_query_options_name_themselves() {
    for name in ["$skip", "$foo", "$Select", "$Top", "$count "] {
        check_error(&format!("{name}=1"), 400, &unsupported_option(name));
    }
    for name in [
        "$apply",
        "$search",
        "$compute",
        "$levels",
        "$format",
        "$index",
        "$deltatoken",
        "fetchXml",
        "savedQuery",
        "userQuery",
    ] {
        check_error(&format!("{name}=x"), 501, &unsupported_option(name));
    }
    check_error("%24skip=10&$top=5", 400, &unsupported_option("$skip"));
    check_error(
        "fetchXml=%3Cfetch%3E%3Centity%20name%3D%22account%22%2F%3E%3C%2Ffetch%3E",
        501,
        &unsupported_option("fetchXml"),
    );
}

#[test]
fn top_count_and_duplicates() {
    assert_eq!(query("$top=3").expect("valid").top, Some(3));
    assert_eq!(query("$top=5000").expect("valid").top, Some(5000));
    assert!(query("$count=true").expect("valid").count);
    assert!(!query("$count=false").expect("valid").count);
    assert!(!query("").expect("valid").count);
    for bad in ["abc", "-1", "1.5", "", "+3", " 3"] {
        let raw = format!("$top={}", bad.replace('+', "%2B").replace(' ', "%20"));
        check_error(
            &raw,
            400,
            &format!(
                "Invalid value '{bad}' for $top query option found. The $top query option requires a non-negative integer value."
            ),
        );
    }
    for big in ["0", "5001", "99999999999"] {
        check_error(
            &format!("$top={big}"),
            501,
            &format!(
                "$top={big} is not supported by this fake Dataverse (d365-harness): the real answer for $top of 0 or above 5000 is unconfirmed; use 1 to 5000."
            ),
        );
    }
    check_error(
        "$count=TRUE",
        400,
        "Invalid value 'TRUE' for $count query option found. Valid values are 'true, false'.",
    );
    check_error(
        "$top=1&%24top=2",
        400,
        "Query option '$top' was specified more than once, but it must be specified at most once.",
    );
    check_error(
        "$filter=name eq 'a'&$filter=name eq 'b'",
        400,
        "Query option '$filter' was specified more than once, but it must be specified at most once.",
    );
}

const DOC_SKIPTOKEN: &str = "%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522%253e%253ccontactid%2520last%253d%2522%257bD5026A4D-D01C-ED11-B83E-000D3A572421%257d%2522%2520first%253d%2522%257b49B0BE2E-D01C-ED11-B83E-000D3A572421%257d%2522%2520%252f%253e%253c%252fcookie%253e%22%20istracking=%22False%22%20/%3E";

fn doc_cookie() -> PagingCookie {
    PagingCookie {
        page_number: 2,
        last: Uuid::parse_str("d5026a4d-d01c-ed11-b83e-000d3a572421").expect("doc GUID"),
        first: Uuid::parse_str("49b0be2e-d01c-ed11-b83e-000d3a572421").expect("doc GUID"),
    }
}

#[test]
fn paging_cookie_matches_the_documented_example() {
    assert_eq!(doc_cookie().to_skiptoken("contactid"), DOC_SKIPTOKEN);
    let third_page = PagingCookie {
        page_number: 3,
        last: Uuid::parse_str("F2318099-171F-ED11-B83E-000D3A572421").expect("doc GUID"),
        first: Uuid::parse_str("BB55F942-161F-ED11-B83E-000D3A572421").expect("doc GUID"),
    };
    assert_eq!(
        third_page.to_skiptoken("contactid"),
        "%3Ccookie%20pagenumber=%223%22%20pagingcookie=%22%253ccookie%2520page%253d%25222%2522%253e%253ccontactid%2520last%253d%2522%257bF2318099-171F-ED11-B83E-000D3A572421%257d%2522%2520first%253d%2522%257bBB55F942-161F-ED11-B83E-000D3A572421%257d%2522%2520%252f%253e%253c%252fcookie%253e%22%20istracking=%22False%22%20/%3E"
    );
}

#[test]
fn paging_cookie_round_trips_through_the_query_string() {
    let cookie = doc_cookie();
    let decoded = percent_decode(&cookie.to_skiptoken("contactid")).expect("encoded once");
    assert_eq!(
        PagingCookie::from_skiptoken(&decoded, "contactid"),
        Ok(cookie)
    );
    let (contact, lookup) = (contact_table(), |_: &str| None);
    let parsed = parse_query(
        &format!("$select=fullname&$skiptoken={DOC_SKIPTOKEN}"),
        &contact,
        &lookup,
        &QueryOptions::default(),
    )
    .expect("documented next link");
    assert_eq!(parsed.skip_token, Some(cookie));
    // The v9.1 example of the same doc, without istracking.
    let older = "%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522%253e%253caccountid%2520last%253d%2522%257b8151925C-CDE2-E411-80DB-00155D2A68CB%257d%2522%2520first%253d%2522%257b7D51925C-CDE2-E411-80DB-00155D2A68CB%257d%2522%2520%252f%253e%253c%252fcookie%253e%22%20/%3E";
    let older = percent_decode(older).expect("encoded once");
    let cookie = PagingCookie::from_skiptoken(&older, "accountid").expect("no istracking");
    assert_eq!(cookie.page_number, 2);
    assert_eq!(
        cookie.last.to_string(),
        "8151925c-cde2-e411-80db-00155d2a68cb"
    );
}

#[test]
fn paging_cookie_errors() {
    let check = |value: &str, reason: &str| {
        assert_eq!(
            PagingCookie::from_skiptoken(value, "accountid"),
            Err(reason.to_owned()),
            "{value}"
        );
    };
    let inner = "%3ccookie%20page%3d%221%22%3e%3caccountid%20last%3d%22%7bD5026A4D-D01C-ED11-B83E-000D3A572421%7d%22%20first%3d%22%7b49B0BE2E-D01C-ED11-B83E-000D3A572421%7d%22%20%2f%3e%3c%2fcookie%3e";
    check("2", "it is not a <cookie … /> element");
    check(
        "<cookie pagingcookie=\"x\" />",
        "the pagenumber attribute is missing",
    );
    check(
        &format!("<cookie pagenumber=\"1\" pagingcookie=\"{inner}\" />"),
        "pagenumber is not a page number of 2 or more",
    );
    check(
        "<cookie pagenumber=\"2\" />",
        "the pagingcookie attribute is missing",
    );
    check(
        "<cookie pagenumber=\"2\" pagingcookie=\"%zz\" />",
        "pagingcookie is not percent-encoded text",
    );
    check(
        &format!(
            "<cookie pagenumber=\"2\" pagingcookie=\"{}\" />",
            inner.replace("accountid", "contactid")
        ),
        "the inner cookie has no <accountid> element",
    );
    check(
        &format!(
            "<cookie pagenumber=\"2\" pagingcookie=\"{}\" />",
            inner.replace("D5026A4D", "XYZ")
        ),
        "the last key is not a GUID",
    );
    check_error(
        "$skiptoken=abc",
        400,
        "The $skiptoken 'abc' is not a paging cookie this fake Dataverse (d365-harness) can read: it is not a <cookie … /> element.",
    );
}

#[test]
fn next_links() {
    let check = |resource: &str, raw: &str, expected: &str| {
        let cookie = doc_cookie();
        assert_eq!(
            next_link(resource, raw, &cookie, "contactid"),
            expected,
            "{raw}"
        );
    };
    let contacts = "[Organization URI]/api/data/v9.2/contacts";
    check(
        contacts,
        "$select=fullname",
        &format!("{contacts}?$select=fullname&$skiptoken={DOC_SKIPTOKEN}"),
    );
    check(
        contacts,
        "",
        &format!("{contacts}?$skiptoken={DOC_SKIPTOKEN}"),
    );
    check(
        contacts,
        "$select=fullname&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E",
        &format!("{contacts}?$select=fullname&$skiptoken={DOC_SKIPTOKEN}"),
    );
    check(
        "https://org.crm.dynamics.com/api/data/v9.2/contacts",
        "%24select=fullname&%24filter=statecode+eq+0&%24count=true",
        &format!(
            "https://org.crm.dynamics.com/api/data/v9.2/contacts?$select=fullname&$filter=statecode%20eq%200&$skiptoken={DOC_SKIPTOKEN}"
        ),
    );
    check(
        contacts,
        "$filter=contains(fullname,'50%25')%20or%20contains(fullname,'%2B1%20%26%20co')",
        &format!(
            "{contacts}?$filter=contains(fullname,'50%25')%20or%20contains(fullname,'%2B1%20%26%20co')&$skiptoken={DOC_SKIPTOKEN}"
        ),
    );
    check(
        contacts,
        "$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)&@p1='lastname'&@p2=[\"a\",\"b\"]",
        &format!(
            "{contacts}?$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)&@p1='lastname'&@p2=%5B%22a%22,%22b%22%5D&$skiptoken={DOC_SKIPTOKEN}"
        ),
    );
    check(
        contacts,
        "$filter=fullname eq 'Ünïcode'",
        &format!(
            "{contacts}?$filter=fullname%20eq%20'%C3%9Cn%C3%AFcode'&$skiptoken={DOC_SKIPTOKEN}"
        ),
    );
}

#[test]
fn next_link_matches_the_documented_count_example() {
    let cookie = PagingCookie {
        page_number: 2,
        last: Uuid::parse_str("695EAF89-F083-E511-80D3-00155D2A68D3").expect("doc GUID"),
        first: Uuid::parse_str("655EAF89-F083-E511-80D3-00155D2A68D3").expect("doc GUID"),
    };
    let link = next_link(
        "[Organization URI]/api/data/v9.2/accounts",
        "$select=name&$filter=contains(name,'sample')&$count=true",
        &cookie,
        "accountid",
    );
    assert_eq!(
        link,
        "[Organization URI]/api/data/v9.2/accounts?$select=name&$filter=contains(name,'sample')&$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522%253e%253caccountid%2520last%253d%2522%257b695EAF89-F083-E511-80D3-00155D2A68D3%257d%2522%2520first%253d%2522%257b655EAF89-F083-E511-80D3-00155D2A68D3%257d%2522%2520%252f%253e%253c%252fcookie%253e%22%20istracking=%22False%22%20/%3E"
    );
}

#[test]
fn prefer_header_variants() {
    #[track_caller]
    fn check(values: &[&str], page_size: u32, applied: Option<&str>) {
        let prefer = Prefer::parse(values.iter().copied());
        assert_eq!(prefer.page_size(), page_size, "{values:?}");
        assert_eq!(
            prefer.preference_applied().as_deref(),
            applied,
            "{values:?}"
        );
    }
    check(&[], 5000, None);
    check(&["odata.maxpagesize=10"], 10, Some("odata.maxpagesize=10"));
    check(
        &["odata.include-annotations=\"*\",odata.maxpagesize=10000"],
        5000,
        Some("odata.include-annotations=\"*\""),
    );
    check(
        &["odata.maxpagesize=1,odata.include-annotations=*"],
        1,
        Some("odata.include-annotations=\"*\",odata.maxpagesize=1"),
    );
    check(
        &["odata.maxpagesize=5000"],
        5000,
        Some("odata.maxpagesize=5000"),
    );
    check(&["odata.maxpagesize=abc"], 5000, None);
    check(&["odata.maxpagesize=0"], 5000, None);
    check(&["odata.maxpagesize=-5"], 5000, None);
    check(&["odata.maxpagesize=\"7\""], 7, Some("odata.maxpagesize=7"));
    check(&["Odata.MaxPageSize=3"], 3, Some("odata.maxpagesize=3"));
    check(
        &["odata.maxpagesize = 7; foo=bar"],
        7,
        Some("odata.maxpagesize=7"),
    );
    check(
        &["odata.maxpagesize=2", "odata.maxpagesize=3"],
        2,
        Some("odata.maxpagesize=2"),
    );
    check(&["maxpagesize=3"], 5000, None);
    check(
        &[
            "odata.maxpagesize=3",
            "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\"",
        ],
        3,
        Some(
            "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\",odata.maxpagesize=3",
        ),
    );
    check(&["return=representation"], 5000, None);
}

#[test]
fn prefer_annotations_and_return() {
    #[track_caller]
    fn check(value: &str, term: &str, expected: bool) {
        assert_eq!(
            Prefer::parse([value]).includes_annotation(term),
            expected,
            "{value} {term}"
        );
    }
    let formatted = "OData.Community.Display.V1.FormattedValue";
    let count = "Microsoft.Dynamics.CRM.totalrecordcount";
    check("odata.include-annotations=\"*\"", formatted, true);
    check("odata.include-annotations=*", count, true);
    check(
        "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname\"",
        formatted,
        true,
    );
    check(
        "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname\"",
        count,
        false,
    );
    check(
        "odata.include-annotations=\"Microsoft.Dynamics.CRM.*\"",
        count,
        true,
    );
    check(
        "odata.include-annotations=\"Microsoft.Dynamics.CRM.*\"",
        formatted,
        false,
    );
    check(
        "odata.include-annotations=\"*,-OData.Community.Display.V1.FormattedValue\"",
        formatted,
        false,
    );
    check(
        "odata.include-annotations=\"*,-OData.Community.Display.V1.FormattedValue\"",
        count,
        true,
    );
    check("odata.maxpagesize=3", formatted, false);
}

#[test]
fn date_times_parse_like_odata_literals() {
    #[track_caller]
    fn check(text: &str, same_instant_as: Option<&str>) {
        let parsed = parse_date_time(text);
        match same_instant_as {
            Some(other) => {
                assert!(parsed.is_some(), "{text}");
                assert_eq!(parsed, parse_date_time(other), "{text} = {other}");
            }
            None => assert_eq!(parsed, None, "{text}"),
        }
    }
    check("2024-01-01T00:00:00Z", Some("2024-01-01T00:00:00z"));
    check("2024-01-01T01:30:00+01:30", Some("2024-01-01T00:00:00Z"));
    check("2023-12-31T20:00:00-04:00", Some("2024-01-01T00:00:00Z"));
    check("2024-01-01T00:00", Some("2024-01-01T00:00:00Z"));
    check("2024-01-01T00:00:00", Some("2024-01-01T00:00:00Z"));
    check(
        "2024-01-01T00:00:00.1234567Z",
        Some("2024-01-01T00:00:00.1234567000Z"),
    );
    check("2024-02-29T00:00:00Z", Some("2024-02-28T23:00:00-01:00"));
    for invalid in [
        "2023-02-29T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:60:00Z",
        "2024-01-01 00:00:00Z",
        "2024-01-01T00:00:00+15:00",
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00Zjunk",
        "2024-01-01",
    ] {
        check(invalid, None);
    }
    assert!(parse_date("1753-01-01") < parse_date("2024-01-01"));
    assert!(parse_date("2024-01-01") < parse_date_time("2024-01-01T00:00:00.000000001Z"));
    assert!(parse_date("9999-12-31") > parse_date_time("2024-01-01T00:00:00Z"));
    assert_eq!(parse_date("2024-1-01"), None);
}
