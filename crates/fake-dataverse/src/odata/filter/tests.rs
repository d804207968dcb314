//! `$filter` parsing, binding and evaluation against the `account` rows of
//! `odata::tests::rows` (each row has a one-letter `code`; results read as `"ABD"`).

use std::collections::BTreeMap;

use super::Filter;
use crate::odata::QueryOptions;
use crate::odata::tests::{account_table, contact_table, rows};

fn parse(
    text: &str,
    aliases: &[(&str, &str)],
    options: &QueryOptions,
) -> Result<Filter, (u16, String)> {
    let aliases: BTreeMap<String, String> = aliases
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    Filter::parse(text, &account_table(), &aliases, options).map_err(|error| {
        assert_eq!(error.code, options.error_code, "{text}");
        (error.status, error.message)
    })
}

fn matching(filter: &Filter) -> String {
    rows()
        .iter()
        .filter(|row| filter.matches(row))
        .map(|row| {
            row["code"]
                .as_str()
                .expect("every row has a code")
                .to_owned()
        })
        .collect()
}

#[track_caller]
fn check(text: &str, expected: &str) {
    check_with(text, &[], expected);
}

#[track_caller]
fn check_with(text: &str, aliases: &[(&str, &str)], expected: &str) {
    let filter = parse(text, aliases, &QueryOptions::default())
        .unwrap_or_else(|(status, message)| panic!("{text}: {status} {message}"));
    assert_eq!(matching(&filter), expected, "{text}");
}

#[track_caller]
fn check_error(text: &str, status: u16, message: &str) {
    check_error_with(text, &[], status, message);
}

#[track_caller]
fn check_error_with(text: &str, aliases: &[(&str, &str)], status: u16, message: &str) {
    match parse(text, aliases, &QueryOptions::default()) {
        Ok(_) => panic!("{text}: accepted, expected {status} {message}"),
        Err(error) => assert_eq!(error, (status, message.to_owned()), "{text}"),
    }
}

/// The 501 message for a `$filter` feature the fake lacks.
fn unsupported(feature: &str) -> String {
    format!("The $filter {feature} is not supported by this fake Dataverse (d365-harness).")
}

#[test]
fn comparison_operators() {
    check("name eq 'Contoso Ltd'", "A");
    check("name ne 'Contoso Ltd'", "BCDEG");
    check("revenue gt 5000", "AB");
    check("revenue ge 5000", "ABD");
    check("revenue lt 5000", "EG");
    check("revenue le 0", "EG");
    check("revenue eq 250000.5", "B");
    check("numberofemployees eq 50", "A");
    check("numberofemployees ne 50", "BDEG");
    check("statecode eq 1", "CE");
    check("statecode ne 1", "ABDG");
}

#[test]
fn literal_types() {
    check("revenue eq -10.5", "G");
    check("revenue lt -5", "G");
    check("revenue eq 5000m", "D");
    check("revenue gt 1.5e3", "ABD");
    check("revenue eq 250000.5d", "B");
    check("numberofemployees gt 7.5", "ABD");
    check("numberofemployees lt 3000000000", "ABDEG");
    check("numberofemployees eq 10L", "D");
    check("donotemail eq true", "BE");
    check("donotemail eq false", "ACG");
    check("name eq 'O''Brian & Sons'", "C");
    check("name eq ''", "");
    check(
        "_primarycontactid_value eq 11111111-1111-1111-1111-111111111111",
        "AD",
    );
    check(
        "_primarycontactid_value eq 2222222A-2222-2222-2222-222222222222",
        "",
    );
    check("accountid eq 00000000-0000-0000-0000-000000000002", "B");
    check("createdon gt 2024-01-01", "ABEG");
    check("createdon ge 2024-01-01T00:00:00Z", "ABDEG");
    check("createdon lt 2024-01-01T00:00:00.1Z", "CD");
    check("createdon eq 2025-06-30T10:00:00Z", "E");
    check("createdon ge 2025-06-30T11:00:00+01:00", "E");
    check("createdon gt 2025-06-30T11:00:00+01:00", "");
    check("createdon lt 2024-01-01T00:00", "C");
}

#[test]
fn strings_compare_case_insensitively_without_trailing_spaces() {
    check("name eq 'CONTOSO LTD'", "A");
    check("name eq 'contoso ltd   '", "A");
    check("name eq 'Adventure Works'", "E");
    check("name eq 'ünïcode strasse'", "");
    check("name eq 'ÜNÏCODE STRASSE'", "");
    check("name eq 'ünïcode straße'", "G");
    check("name gt 'contoso ltd'", "BCDG");
    check("name lt 'B'", "E");
}

#[test]
fn string_functions() {
    check("contains(name,'contoso')", "AD");
    check("contains(name, 'TOSO')", "AD");
    check("startswith(name,'contoso')", "AD");
    check("startswith(name,'ltd')", "");
    check("endswith(name,'ltd')", "A");
    check("endswith(name,'contoso')", "");
    check("contains(name,'straße')", "G");
    check("contains(name,'ÜNÏ')", "G");
    check("contains(name,'')", "ABCDEG");
    check("not contains(name,'contoso')", "BCEG");
    check("not startswith(name,'c')", "BCEG");
}

#[test]
fn wildcards_inside_string_function_values() {
    check("startswith(accountnumber,'ACC-00_')", "ABG");
    check("startswith(accountnumber,'[ab]CC')", "ABG");
    check("startswith(accountnumber,'[^a]')", "CD");
    check("startswith(accountnumber,'[0-9]')", "C");
    check("contains(accountnumber,'[%]')", "C");
    check("contains(accountnumber,'[_]')", "C");
    check("contains(accountnumber,'%')", "ABCDG");
    check("contains(accountnumber,'0_')", "ABCG");
    check("contains(accountnumber,'[0-9]%[0-9]')", "ABCG");
    check("startswith(accountnumber,'[')", "D");
    check("endswith(accountnumber,'s]')", "D");
    check("startswith(accountnumber,'%001')", "A");
    check("endswith(accountnumber,'A%1')", "A");
    check("contains(accountnumber,'%2B')", "");
}

#[test]
fn nulls_are_unknown_except_for_eq_null() {
    check("name eq null", "F");
    check("name ne null", "ABCDEG");
    check("null eq name", "F");
    check("revenue eq null and name eq null", "F");
    check("_primarycontactid_value eq null", "CFG");
    check(
        "_primarycontactid_value ne 11111111-1111-1111-1111-111111111111",
        "BE",
    );
    check("donotemail ne true", "ACG");
    check("not (revenue gt 1000)", "EG");
    check("revenue gt 1000 or revenue eq null", "ABCDF");
    check("not (revenue gt 1000 or revenue eq null)", "EG");
    check("not (revenue gt 1000 and name eq null)", "ABCDEG");
}

#[test]
fn precedence_and_grouping() {
    check(
        "statecode eq 1 or statecode eq 0 and donotemail eq true",
        "BCE",
    );
    check(
        "(statecode eq 1 or statecode eq 0) and donotemail eq true",
        "BE",
    );
    check("not (statecode eq 1) and revenue gt 0", "ABD");
    check("not not (statecode eq 1)", "CE");
    check("((((name eq 'Contoso Ltd'))))", "A");
    check(
        "statecode eq 0 and (revenue lt 0 or revenue gt 200000)",
        "BG",
    );
    check(
        "statecode eq 0 and revenue gt 0 and numberofemployees gt 40",
        "AB",
    );
    check("name eq 'x' or name eq 'y' or statecode eq 1", "CE");
}

#[test]
fn literal_on_the_left_and_column_to_column() {
    check("5000 lt revenue", "AB");
    check("5000 le revenue", "ABD");
    check("'contoso ltd' eq name", "A");
    check("address1_city eq address2_city", "A");
    check("address1_city ne address2_city", "B");
}

#[test]
fn query_functions_in_and_between() {
    let crm = "Microsoft.Dynamics.CRM";
    check(
        &format!("{crm}.In(PropertyName='statecode',PropertyValues=[\"1\"])"),
        "CE",
    );
    check(
        &format!("{crm}.In(PropertyName='statecode',PropertyValues=['1',\"0\"])"),
        "ABCDEG",
    );
    check(
        &format!("{crm}.NotIn(PropertyName='statecode',PropertyValues=['1'])"),
        "ABDG",
    );
    check(
        &format!("{crm}.Between(PropertyName='numberofemployees',PropertyValues=[\"5\",\"60\"])"),
        "ADG",
    );
    check(
        &format!(
            "{crm}.NotBetween(PropertyName='numberofemployees',PropertyValues=[\"5\",\"60\"])"
        ),
        "BE",
    );
    check(
        &format!(
            "{crm}.In(PropertyName='primarycontactid',PropertyValues=[\"22222222-2222-2222-2222-222222222222\"])"
        ),
        "BE",
    );
    check_with(
        &format!("{crm}.In(PropertyName=@p1,PropertyValues=@p2)"),
        &[
            ("@p1", "'name'"),
            ("@p2", "[\"contoso ltd\",\"O'Brian & Sons\"]"),
        ],
        "AC",
    );
    check(
        &format!("{crm}.In(PropertyName='statecode',PropertyValues=['1']) and donotemail eq true"),
        "E",
    );
}

#[test]
fn parameter_aliases_in_comparisons() {
    check_with("name eq @p1", &[("@p1", "'Contoso Ltd'")], "A");
    check_with("name eq @missing", &[], "F");
    check_with("revenue gt @p1", &[("@p1", "5000")], "AB");
}

#[test]
fn quoted_guids_only_with_the_switch() {
    let text = "_primarycontactid_value eq '11111111-1111-1111-1111-111111111111'";
    check_error(
        text,
        400,
        "A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'.",
    );
    let options = QueryOptions {
        quoted_guid_literals: true,
        ..QueryOptions::default()
    };
    let filter = parse(text, &[], &options).expect("accepted with the switch");
    assert_eq!(matching(&filter), "AD");
}

#[test]
fn error_code_is_configurable() {
    let options = QueryOptions {
        error_code: "0x0".to_owned(),
        ..QueryOptions::default()
    };
    let error = parse("Name eq 'x'", &[], &options).expect_err("unknown property");
    assert_eq!(
        error,
        (
            400,
            "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'."
                .to_owned()
        )
    );
}

#[test]
fn documented_unterminated_literal() {
    let aliases = BTreeMap::new();
    let error = Filter::parse(
        "lastname eq 'O'Bryan'",
        &contact_table(),
        &aliases,
        &QueryOptions::default(),
    )
    .expect_err("unterminated");
    assert_eq!(
        (error.status, error.code.as_str(), error.message.as_str()),
        (
            400,
            "0x80060888",
            "There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''."
        )
    );
}

#[test]
fn syntax_errors() {
    check_error(
        "name eq 'abc",
        400,
        "There is an unterminated string literal at position 12 in 'name eq 'abc'.",
    );
    check_error(
        "name eq",
        400,
        "Expression expected at position 7 in 'name eq'.",
    );
    check_error("", 400, "Expression expected at position 0 in ''.");
    check_error(
        "name eq 'a' and",
        400,
        "Expression expected at position 15 in 'name eq 'a' and'.",
    );
    check_error(
        "(name eq 'a'",
        400,
        "')' or operator expected at position 12 in '(name eq 'a''.",
    );
    check_error(
        "name eq 'a' foo",
        400,
        "Syntax error at position 15 in 'name eq 'a' foo'.",
    );
    check_error(
        "name eq 'a')",
        400,
        "Syntax error at position 12 in 'name eq 'a')'.",
    );
    check_error(
        "contains(name,'a'",
        400,
        "')' or ',' expected at position 17 in 'contains(name,'a''.",
    );
    check_error(
        "name ^ 'a'",
        400,
        "Syntax error: character '^' is not valid at position 5 in 'name ^ 'a''.",
    );
    check_error(
        "revenue gt 4.a",
        400,
        "A digit was expected at position 13 in 'revenue gt 4.a'.",
    );
    check_error(
        "revenue gt 4Ea",
        400,
        "A digit was expected at position 13 in 'revenue gt 4Ea'.",
    );
    check_error(
        "name eq 'x' 'y",
        400,
        "There is an unterminated string literal at position 14 in 'name eq 'x' 'y'.",
    );
    let deep = format!("{}name eq 'a'{}", "(".repeat(120), ")".repeat(120));
    check_error(&deep, 400, "Recursion depth exceeded allowed limit.");
    let shallow = format!("{}name eq 'Contoso Ltd'{}", "(".repeat(90), ")".repeat(90));
    check(&shallow, "A");
}

#[test]
fn unknown_properties_anywhere_in_the_expression() {
    let not_found = |name: &str| {
        format!(
            "Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.account'."
        )
    };
    check_error("Name eq 'x'", 400, &not_found("Name"));
    check_error("name eq 'x' or Revenue gt 1", 400, &not_found("Revenue"));
    check_error("contains(fullname,'x')", 400, &not_found("fullname"));
    check_error("'x' eq nope", 400, &not_found("nope"));
    check_error("not (foo eq 1)", 400, &not_found("foo"));
    check_error(
        "address1_city eq address3_city",
        400,
        &not_found("address3_city"),
    );
    check_error(
        "primarycontactid_value eq null",
        400,
        &not_found("primarycontactid_value"),
    );
    check_error("nope/name eq 'x'", 400, &not_found("nope"));
    check_error(
        "parentcustomerid eq null",
        400,
        &not_found("parentcustomerid"),
    );
}

#[test]
fn type_errors() {
    let incompatible = |left: &str, right: &str, kind: &str| {
        format!(
            "A binary operator with incompatible types was detected. Found operand types '{left}' and '{right}' for operator kind '{kind}'."
        )
    };
    check_error(
        "revenue eq 'x'",
        400,
        &incompatible("Edm.Decimal", "Edm.String", "Equal"),
    );
    check_error(
        "name eq 5",
        400,
        &incompatible("Edm.String", "Edm.Int32", "Equal"),
    );
    check_error(
        "name gt 1.5",
        400,
        &incompatible("Edm.String", "Edm.Single", "GreaterThan"),
    );
    check_error(
        "donotemail eq 1",
        400,
        &incompatible("Edm.Boolean", "Edm.Int32", "Equal"),
    );
    check_error(
        "statecode eq true",
        400,
        &incompatible("Edm.Int32", "Edm.Boolean", "Equal"),
    );
    check_error(
        "statecode ne '1'",
        400,
        &incompatible("Edm.Int32", "Edm.String", "NotEqual"),
    );
    check_error(
        "createdon gt '2024-01-01'",
        400,
        &incompatible("Edm.DateTimeOffset", "Edm.String", "GreaterThan"),
    );
    check_error(
        "createdon lt 10:00:00",
        400,
        &incompatible("Edm.DateTimeOffset", "Edm.TimeOfDay", "LessThan"),
    );
    check_error(
        "primarycontactid eq 11111111-1111-1111-1111-111111111111",
        400,
        &incompatible("Microsoft.Dynamics.CRM.contact", "Edm.Guid", "Equal"),
    );
    check_error(
        "ownerid eq 'x'",
        400,
        &incompatible("Microsoft.Dynamics.CRM.principal", "Edm.String", "Equal"),
    );
    check_error(
        "accountid le 5",
        400,
        &incompatible("Edm.Guid", "Edm.Int32", "LessThanOrEqual"),
    );
    check_error(
        "name and statecode eq 1",
        400,
        &incompatible("Edm.String", "Edm.Boolean", "And"),
    );
    check_error(
        "statecode eq 1 or revenue",
        400,
        &incompatible("Edm.Boolean", "Edm.Decimal", "Or"),
    );
    check_error(
        "name add 1 gt 5",
        400,
        &incompatible("Edm.String", "Edm.Int32", "Add"),
    );
    check_error(
        "not statecode eq 1",
        400,
        "A unary operator with an incompatible type was detected. Found operand type 'Edm.Int32' for operator kind 'Not'.",
    );
    check_error(
        "-name eq 'x'",
        400,
        "A unary operator with an incompatible type was detected. Found operand type 'Edm.String' for operator kind 'Negate'.",
    );
    check_error(
        "name",
        400,
        "The $filter expression must evaluate to a single boolean value.",
    );
    check_error(
        "revenue add 1",
        400,
        "The $filter expression must evaluate to a single boolean value.",
    );
    check_error(
        "Account_Tasks eq null",
        400,
        "The operand for a binary operator 'Equal' is not a single value. Binary operators require both operands to be single values.",
    );
    check_error(
        "name/any(x: x eq 'a')",
        400,
        "Any/All may only be used following a collection.",
    );
    let no_signature = |name: &str| {
        format!(
            "No function signature for the function with name '{name}' matches the specified arguments. The function signatures considered are: {name}(Edm.String Nullable=true, Edm.String Nullable=true)."
        )
    };
    check_error("contains(revenue,'1')", 400, &no_signature("contains"));
    check_error("startswith(name,1)", 400, &no_signature("startswith"));
    check_error("endswith(name)", 400, &no_signature("endswith"));
    check_error("contains(name,'a','b')", 400, &no_signature("contains"));
    let unknown = |name: &str| {
        format!(
            "An unknown function with name '{name}' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed."
        )
    };
    check_error("foo(name)", 400, &unknown("foo"));
    check_error("Contains(name,'a')", 400, &unknown("Contains"));
    check_error("substringof('a',name)", 400, &unknown("substringof"));
    check_error(
        "revenue gt null",
        400,
        "Condition for attribute 'account.revenue': null is not a valid value for an attribute. Use 'Null' or 'NotNull' conditions instead.",
    );
    check_error(
        "tolower(name) eq 'x' and revenue eq 'y'",
        400,
        &incompatible("Edm.Decimal", "Edm.String", "Equal"),
    );
}

#[test]
fn query_function_errors() {
    let crm = "Microsoft.Dynamics.CRM";
    check_error(
        &format!("not {crm}.In(PropertyName='statecode',PropertyValues=['1'])"),
        400,
        "Not operator along with the Custom Named Condition operators is not allowed",
    );
    check_error_with(
        &format!("{crm}.In(PropertyName=@p1,PropertyValues=@p2)"),
        &[("@p1", "'lastname'"), ("@p2", "['OBrian','O'Brian']")],
        400,
        "'account' entity doesn't contain attribute with Name = 'lastname' and NameMapping = 'Logical'.",
    );
    check_error_with(
        &format!("{crm}.In(PropertyName=@p1,PropertyValues=@p2)"),
        &[("@p1", "'name'"), ("@p2", "['OBrian','O'Brian']")],
        400,
        "Invalid JSON. A comma character ',' was expected in scope 'Array'. Every two elements in an array and properties of an object must be separated by commas.",
    );
    check_error(
        &format!("{crm}.In(PropertyName='statecode',PropertyValues=['x'])"),
        400,
        "The value 'x' in PropertyValues is not a valid 'Edm.Int32' value for the attribute 'statecode'.",
    );
    check_error(
        &format!("{crm}.Between(PropertyName='statecode',PropertyValues=['1'])"),
        400,
        "The function 'Microsoft.Dynamics.CRM.Between' requires exactly two PropertyValues.",
    );
    check_error(
        &format!("{crm}.LastXDays(PropertyName='createdon',PropertyValue=7)"),
        501,
        &unsupported("query function 'Microsoft.Dynamics.CRM.LastXDays'"),
    );
}

#[test]
fn unsupported_features_are_named() {
    let cases = [
        (
            "primarycontactid/fullname eq 'x'",
            "lookup traversal 'primarycontactid/fullname'",
        ),
        (
            "primarycontactid/createdby/fullname eq 'x'",
            "lookup traversal 'primarycontactid/createdby/fullname'",
        ),
        (
            "Account_Tasks/any(t:t/subject eq 'x')",
            "lambda operator 'any' on 'Account_Tasks'",
        ),
        (
            "Account_Tasks/all(t:t/subject eq 'x')",
            "lambda operator 'all' on 'Account_Tasks'",
        ),
        ("revenue add 1 gt 5", "arithmetic operator 'add'"),
        ("revenue sub 1 gt 5", "arithmetic operator 'sub'"),
        ("revenue mul 2 gt 5", "arithmetic operator 'mul'"),
        ("revenue div 2 gt 5", "arithmetic operator 'div'"),
        ("numberofemployees mod 2 eq 0", "arithmetic operator 'mod'"),
        ("-revenue gt 5", "negation operator '-'"),
        ("tolower(name) eq 'x'", "function 'tolower'"),
        ("year(createdon) eq 2024", "function 'year'"),
        ("statecode has 1", "operator 'has'"),
        ("true", "literal 'true' used as a condition"),
        (
            "donotemail",
            "Boolean column 'donotemail' used as a condition without a comparison (write 'donotemail eq true')",
        ),
        (
            "not donotemail eq true",
            "Boolean column 'donotemail' used as a condition without a comparison (write 'donotemail eq true')",
        ),
        (
            "numberofemployees eq revenue",
            "comparison of columns of different types ('numberofemployees' is 'Edm.Int32', 'revenue' is 'Edm.Decimal')",
        ),
        (
            "1 eq 1",
            "comparison that is not between a column and a literal or two columns",
        ),
        (
            "primarycontactid eq null",
            "comparison of the navigation property 'primarycontactid' (compare '_primarycontactid_value')",
        ),
        (
            "contains('abc',name)",
            "function 'contains' other than contains(column, 'text')",
        ),
        (
            "statecode eq Microsoft.Dynamics.CRM.Foo'Bar'",
            "qualified name 'Microsoft.Dynamics.CRM.Foo'Bar'' (type casts and enumeration literals)",
        ),
    ];
    for (text, feature) in cases {
        check_error(text, 501, &unsupported(feature));
    }
}

/// Runs `work` on a thread with the 2 MiB stack of a tokio worker, where `serve` parses
/// queries: a recursion the depth budget misses overflows it and aborts the test binary.
pub(crate) fn on_worker_stack<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn_scoped(scope, work)
            .expect("spawns a thread")
            .join()
            .expect("the work does not panic")
    })
}

/// Parses and, when accepted, evaluates `text` on a worker-sized stack.
fn outcome_on_worker_stack(text: &str) -> Result<String, (u16, String)> {
    on_worker_stack(|| parse(text, &[], &QueryOptions::default()).map(|filter| matching(&filter)))
}

#[track_caller]
fn check_too_deep(text: &str) {
    let outcome = outcome_on_worker_stack(text);
    let shown: String = text.chars().take(60).collect();
    assert_eq!(
        outcome,
        Err((400, "Recursion depth exceeded allowed limit.".to_owned())),
        "{shown}…"
    );
}

#[test]
fn chained_lambdas_spend_the_depth_budget() {
    check_too_deep(&format!("Account_Tasks{}", "/any()".repeat(2000)));
    let variables: Vec<String> = (0..2000).map(|index| format!("v{index}")).collect();
    let mut nested = String::from("Account_Tasks");
    for variable in &variables {
        nested.push_str(&format!("/any({variable}:{variable}"));
    }
    nested.push_str(" eq null");
    nested.push_str(&")".repeat(variables.len()));
    check_too_deep(&nested);
}

#[test]
fn chained_calls_and_segments_spend_the_depth_budget() {
    check_too_deep(&format!("name{} eq 'x'", "/f()".repeat(2500)));
    check_too_deep(&format!("primarycontactid{} eq 'x'", "/a".repeat(5000)));
    check_too_deep(&format!("a{} eq 'x'", "/a".repeat(100_000)));
}

#[test]
fn deep_nesting_of_every_kind_is_a_depth_error() {
    check_too_deep(&format!(
        "{}name eq 'a'{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    ));
    check_too_deep(&"(".repeat(100_000));
    check_too_deep(&format!("{}(name eq 'a')", "not ".repeat(100_000)));
    check_too_deep(&format!("{}revenue gt 1", "- ".repeat(100_000)));
    check_too_deep(&format!(
        "{}name,'a'{}",
        "contains(".repeat(10_000),
        ")".repeat(10_000)
    ));
    check_too_deep(&format!(
        "{}1{} eq 1",
        "tolower(".repeat(10_000),
        ")".repeat(10_000)
    ));
}

#[test]
fn the_deepest_accepted_filters_fit_a_worker_stack() {
    // Just inside the budget: the parser accepts these, so the binder and the evaluator walk
    // the deepest trees any input can build, on a worker's stack.
    let too_deep = Err((400, "Recursion depth exceeded allowed limit.".to_owned()));
    // A paren and a chain link spend seven steps (113 levels of 800), a unary operator one.
    for (unit, head, tail, expected) in [
        ("not ", "", "(name eq 'Contoso Ltd')", 780),
        ("- ", "", "revenue gt 1", 780),
        ("/f()", "name", " eq 'x'", 110),
        ("/any()", "Account_Tasks", "", 110),
        ("/a", "primarycontactid", " eq 'x'", 110),
        ("(", "", "name eq 'Contoso Ltd'", 110),
    ] {
        let closing = if unit == "(" { ")" } else { "" };
        // The deepest accepted count lies in `expected..expected + 30`: the budget stops it.
        let deepest = (expected..expected + 30)
            .rev()
            .find(|count| {
                let text = format!(
                    "{head}{}{tail}{}",
                    unit.repeat(*count),
                    closing.repeat(*count)
                );
                outcome_on_worker_stack(&text) != too_deep
            })
            .unwrap_or_else(|| panic!("{unit}: {expected} levels are rejected"));
        assert!(deepest < expected + 29, "{unit}: {deepest} levels accepted");
    }
}

#[test]
fn long_and_or_chains_do_not_nest() {
    let terms = 100_000;
    let and_chain = vec!["name eq 'Contoso Ltd'"; terms].join(" and ");
    assert_eq!(outcome_on_worker_stack(&and_chain), Ok("A".to_owned()));
    let or_chain = vec!["name eq 'nobody'"; terms / 5].join(" or ") + " or code eq 'B'";
    assert_eq!(outcome_on_worker_stack(&or_chain), Ok("B".to_owned()));
    let mixed = vec!["statecode eq 0 and revenue gt 5000"; terms / 10].join(" or ");
    assert_eq!(outcome_on_worker_stack(&mixed), Ok("AB".to_owned()));
}
