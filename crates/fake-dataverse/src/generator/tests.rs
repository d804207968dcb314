//! The row generator: determinism, invertible sequential ids, typed values, owners, lookups.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use uuid::Uuid;

use super::*;
use crate::standard_tables::{standard_table, standard_tables};

const SEED: u64 = 42;

fn id(text: &str) -> Uuid {
    Uuid::parse_str(text).expect("literal uuid")
}

fn owners() -> Vec<Owner> {
    (1..=5)
        .map(|owner| Owner {
            owner_id: Uuid::from_u128(0x1000 + owner),
            business_unit_id: Uuid::from_u128(0x2000 + owner % 2),
        })
        .collect()
}

/// Every standard table generated, with a root business unit and base currency given by the
/// world, as the lead's environments will have them.
fn spec() -> GeneratorSpec {
    let mut spec = GeneratorSpec::new(SEED);
    for table in standard_tables() {
        spec.row_counts.insert(table.logical_name.clone(), 500);
    }
    spec.row_counts.insert("transactioncurrency".into(), 4);
    spec.given_rows.insert(
        "businessunit".into(),
        vec![id("cca3985e-c618-ea11-a811-000d3a33f066")],
    );
    spec.given_rows.insert(
        "transactioncurrency".into(),
        vec![id("228f42f8-e646-e111-8eb7-78e7d162ced1")],
    );
    spec.owners = owners();
    spec
}

fn table(name: &str) -> TableDefinition {
    standard_table(name).unwrap_or_else(|| panic!("no fixture `{name}`"))
}

#[track_caller]
fn check_round_trip(seed: u64, table: &str, index: u64) {
    let id = row_id(seed, table, index);
    assert_eq!(
        row_index(seed, table, id),
        Some(index),
        "{table} #{index} → {id}"
    );
}

#[test]
fn row_ids_round_trip_to_their_index() {
    for index in [
        0,
        1,
        2,
        999,
        1_000,
        999_999,
        1_000_000,
        123_456_789,
        MAX_ROWS - 1,
    ] {
        check_round_trip(SEED, "account", index);
        check_round_trip(0, "contact", index);
        check_round_trip(u64::MAX, "systemuser", index);
    }
    for index in (0..200_000).step_by(7) {
        check_round_trip(SEED, "lead", index);
    }
    let mut state = 0x1234_5678_u64;
    for _ in 0..10_000 {
        state = splitmix(state);
        check_round_trip(state, "incident", state % MAX_ROWS);
    }
}

#[test]
fn row_ids_are_distinct_and_belong_to_one_table_and_seed() {
    let ids: BTreeSet<Uuid> = (0..100_000)
        .map(|index| row_id(SEED, "account", index))
        .collect();
    assert_eq!(ids.len(), 100_000);
    let account = row_id(SEED, "account", 17);
    assert_eq!(row_index(SEED, "contact", account), None);
    assert_eq!(row_index(SEED + 1, "account", account), None);
    assert_eq!(row_index(SEED, "account", Uuid::nil()), None);
    assert_eq!(
        identify(SEED, &["contact", "account"], account),
        Some(("account", 17))
    );
    assert_ne!(row_id(SEED, "account", 17), row_id(SEED + 1, "account", 17));
}

#[test]
fn row_ids_look_like_dataverse_ids() {
    for table in standard_tables() {
        let id = row_id(SEED, &table.logical_name, 3);
        let text = id.to_string();
        let groups: Vec<&str> = text.split('-').collect();
        assert!(groups[2].ends_with("11"), "{text}");
        assert!(matches!(&groups[3][..1], "8" | "9" | "a" | "b"), "{text}");
        assert!(
            ["000d3a", "002248", "6045bd"].contains(&&groups[4][..6]),
            "{text}"
        );
    }
}

#[test]
fn same_inputs_give_the_same_row_and_other_indices_other_ids() {
    let spec = spec();
    for table in standard_tables() {
        let first = generate_row(&spec, &table, 7);
        assert_eq!(
            first,
            generate_row(&spec, &table, 7),
            "{}",
            table.logical_name
        );
        let key = &table.primary_id_attribute;
        assert_ne!(first[key], generate_row(&spec, &table, 8)[key]);
        assert_eq!(
            first[key],
            Value::String(row_id(SEED, &table.logical_name, 7).to_string())
        );
    }
}

#[test]
fn a_row_generator_makes_the_rows_generate_row_makes() {
    let spec = spec();
    for table in standard_tables() {
        let generator = RowGenerator::new(&spec, &table);
        for index in [0, 1, 99, 499] {
            assert_eq!(generator.row(index), generate_row(&spec, &table, index));
        }
    }
}

#[test]
fn written_properties_are_the_row_as_json() {
    let spec = spec();
    for table in standard_tables() {
        let generator = RowGenerator::new(&spec, &table);
        for index in [0, 5, 321] {
            let mut out = Vec::new();
            generator.write_properties(index, None, &mut out);
            let text = format!("{{{}}}", String::from_utf8(out).expect("utf-8"));
            let parsed: Row = serde_json::from_str(&text)
                .unwrap_or_else(|error| panic!("{}: {error}: {text}", table.logical_name));
            assert_eq!(parsed, generator.row(index), "{}", table.logical_name);
        }
    }
}

#[test]
fn written_properties_follow_the_selection() {
    let spec = spec();
    let account = table("account");
    let generator = RowGenerator::new(&spec, &account);
    let selection: Vec<usize> = ["name", "_ownerid_value", "accountid"]
        .iter()
        .map(|name| generator.position(name).expect("column"))
        .collect();
    let mut out = Vec::new();
    generator.write_properties(9, Some(&selection), &mut out);
    let text = String::from_utf8(out).expect("utf-8");
    let keys: Vec<&str> = text
        .split(',')
        .map(|pair| pair.split(':').next().expect("key"))
        .collect();
    assert_eq!(
        keys,
        ["\"name\"", "\"_ownerid_value\"", "\"accountid\""],
        "{text}"
    );
    assert_eq!(generator.position("nope"), None);

    let mut out = Vec::new();
    generator.write_properties(9, Some(&[usize::MAX, selection[0]]), &mut out);
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        text.starts_with("\"name\":"),
        "unknown positions are skipped: {text}"
    );
}

#[test]
fn owner_and_version_are_available_without_the_row() {
    let spec = spec();
    let account = table("account");
    let generator = RowGenerator::new(&spec, &account);
    for index in 0..50 {
        let row = generator.row(index);
        let owner = generator.owner(index).expect("owners given");
        assert_eq!(row["_ownerid_value"], owner.owner_id.to_string());
        assert_eq!(
            row["_owningbusinessunit_value"],
            owner.business_unit_id.to_string()
        );
        assert_eq!(
            Some(row["versionnumber"].as_i64().expect("version")),
            generator.version_number(index)
        );
    }
}

#[test]
fn json_strings_are_escaped() {
    let mut out = Vec::new();
    write_json_string(&mut out, "Margie's \"Travel\"\n\\ €");
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        r#""Margie's \"Travel\"\n\\ €""#
    );
}

#[test]
fn another_seed_gives_other_rows() {
    let account = table("account");
    let mut other = spec();
    other.seed = SEED + 1;
    let first = generate_row(&spec(), &account, 3);
    let second = generate_row(&other, &account, 3);
    assert_ne!(first["accountid"], second["accountid"]);
    assert_ne!(first, second);
}

/// Checks that `value` has the JSON type (and range) `column` asks for.
#[track_caller]
fn check_type(table: &TableDefinition, column: &crate::schema::ColumnDefinition, value: &Value) {
    let key = format!("{}.{}", table.logical_name, column.logical_name);
    let guid = |value: &Value| {
        value
            .as_str()
            .is_some_and(|text| Uuid::parse_str(text).is_ok())
    };
    match &column.kind {
        ColumnKind::PrimaryKey => assert!(guid(value), "{key}: {value}"),
        ColumnKind::Uniqueidentifier | ColumnKind::Lookup { .. } | ColumnKind::Owner => {
            assert!(value.is_null() || guid(value), "{key}: {value}");
        }
        ColumnKind::String { max_length } | ColumnKind::Memo { max_length } => {
            if let Some(text) = value.as_str() {
                assert!(!text.is_empty(), "{key}");
                assert!(
                    text.chars().count() <= *max_length as usize,
                    "{key}: {text}"
                );
            } else {
                assert!(value.is_null(), "{key}: {value}");
            }
        }
        ColumnKind::Integer | ColumnKind::BigInt => {
            assert!(value.is_i64(), "{key}: {value}");
        }
        ColumnKind::Picklist { options }
        | ColumnKind::State { options }
        | ColumnKind::Status { options } => {
            let number = value.as_i64().unwrap_or_else(|| panic!("{key}: {value}"));
            assert!(
                options
                    .iter()
                    .any(|option| i64::from(option.value) == number),
                "{key}: {number} is not an option"
            );
        }
        ColumnKind::Decimal | ColumnKind::Double | ColumnKind::Money => {
            assert!(value.is_number(), "{key}: {value}");
        }
        ColumnKind::Boolean => assert!(value.is_boolean(), "{key}: {value}"),
        ColumnKind::DateTime => {
            let text = value.as_str().unwrap_or_else(|| panic!("{key}: {value}"));
            let parsed =
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339);
            assert!(parsed.is_ok(), "{key}: {text}");
            assert!(text.ends_with('Z') && text.len() == 20, "{key}: {text}");
        }
    }
}

#[test]
fn every_column_of_every_fixture_table_gets_a_value_of_its_type() {
    let spec = spec();
    for table in standard_tables() {
        let mut seen_non_null: BTreeSet<String> = BTreeSet::new();
        for index in 0..300 {
            let row = generate_row(&spec, &table, index);
            assert_eq!(row.len(), table.columns.len(), "{}", table.logical_name);
            for column in &table.columns {
                let name = column.web_api_name();
                let value = row
                    .get(&name)
                    .unwrap_or_else(|| panic!("{}.{name} missing", table.logical_name));
                check_type(&table, column, value);
                if !value.is_null() {
                    seen_non_null.insert(name);
                }
            }
        }
        // Only columns with nothing to point to may stay empty throughout.
        let always_empty: Vec<String> = table
            .columns
            .iter()
            .map(|column| column.web_api_name())
            .filter(|name| !seen_non_null.contains(name))
            .collect();
        let allowed: &[&str] = match table.logical_name.as_str() {
            "systemuser" => &["applicationid"],
            _ => &[],
        };
        assert!(
            always_empty
                .iter()
                .all(|name| allowed.contains(&name.as_str())),
            "{}: never filled: {always_empty:?}",
            table.logical_name
        );
    }
}

#[test]
fn lookups_point_to_rows_that_exist() {
    let spec = spec();
    for table in standard_tables() {
        for index in 0..400 {
            let row = generate_row(&spec, &table, index);
            for column in &table.columns {
                let ColumnKind::Lookup { targets } = &column.kind else {
                    continue;
                };
                let Some(text) = row[&column.web_api_name()].as_str() else {
                    continue;
                };
                let value = Uuid::parse_str(text).expect("guid");
                if targets
                    .iter()
                    .any(|target| spec.given(target).contains(&value))
                {
                    continue;
                }
                if column.logical_name == "owningbusinessunit" {
                    assert!(owners().iter().any(|owner| owner.business_unit_id == value));
                    continue;
                }
                if column.logical_name == "roletemplateid" {
                    let templates = &spec.role_templates;
                    assert!(
                        templates
                            .iter()
                            .any(|(_, template)| *template == Some(value))
                    );
                    continue;
                }
                let names: Vec<&str> = targets.iter().map(String::as_str).collect();
                let (target, target_index) = identify(SEED, &names, value).unwrap_or_else(|| {
                    panic!(
                        "{}.{} → {value} is no row",
                        table.logical_name, column.logical_name
                    )
                });
                assert!(
                    target_index < spec.row_count(target),
                    "{}.{} → {target} #{target_index}",
                    table.logical_name,
                    column.logical_name
                );
                if target == table.logical_name {
                    assert!(target_index < index, "self lookups point to earlier rows");
                }
            }
        }
    }
}

#[test]
fn lookups_to_tables_without_rows_stay_empty() {
    let mut spec = GeneratorSpec::new(SEED);
    spec.row_counts.insert("contact".into(), 10);
    let contact = table("contact");
    for index in 0..10 {
        let row = generate_row(&spec, &contact, index);
        assert_eq!(row["_transactioncurrencyid_value"], Value::Null);
        assert_eq!(row["_ownerid_value"], Value::Null);
        if let Some(text) = row["_parentcustomerid_value"].as_str() {
            let value = Uuid::parse_str(text).expect("guid");
            assert_eq!(
                identify(SEED, &["contact"], value).map(|(_, i)| i < index),
                Some(true)
            );
        }
    }
}

#[test]
fn customer_lookups_reach_both_targets() {
    let spec = spec();
    let opportunity = table("opportunity");
    let mut targets = BTreeMap::new();
    for index in 0..500 {
        let row = generate_row(&spec, &opportunity, index);
        let value =
            Uuid::parse_str(row["_customerid_value"].as_str().expect("required")).expect("guid");
        let (target, _) = identify(SEED, &["account", "contact"], value).expect("generated");
        *targets.entry(target).or_insert(0) += 1;
    }
    assert!(targets["account"] > targets["contact"], "{targets:?}");
    assert!(targets["contact"] > 50, "{targets:?}");
}

#[test]
fn rows_spread_over_all_owners_with_their_business_units() {
    let spec = spec();
    let account = table("account");
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for index in 0..2_000 {
        let row = generate_row(&spec, &account, index);
        let owner = row["_ownerid_value"].as_str().expect("owned").to_string();
        let unit = row["_owningbusinessunit_value"].as_str().expect("owned");
        let expected = owners()
            .into_iter()
            .find(|candidate| candidate.owner_id.to_string() == owner)
            .expect("one of the owners");
        assert_eq!(unit, expected.business_unit_id.to_string());
        *counts.entry(owner).or_default() += 1;
    }
    assert_eq!(counts.len(), 5);
    assert!(counts.values().all(|count| *count > 300), "{counts:?}");
}

#[test]
fn values_are_realistic_and_agree_with_each_other() {
    let spec = spec();
    let contact = generate_row(&spec, &table("contact"), 12);
    let first = contact["firstname"].as_str().expect("text");
    let last = contact["lastname"].as_str().expect("text");
    assert_eq!(contact["fullname"], format!("{first} {last}"));
    let email = contact["emailaddress1"].as_str().expect("text");
    assert!(email.starts_with(&slug(first)), "{email}");
    assert!(email.contains('@') && email.ends_with(".com"), "{email}");

    let account = generate_row(&spec, &table("account"), 3);
    let website = account["websiteurl"].as_str().expect("text");
    assert!(website.starts_with("https://www."), "{website}");
    let domain = website.trim_start_matches("https://www.");
    assert!(
        account["emailaddress1"]
            .as_str()
            .expect("text")
            .ends_with(domain)
    );
    assert!(account["revenue"].as_f64().expect("money") >= 1_000.0);
    assert!(account["createdon"].as_str() <= account["modifiedon"].as_str());

    let user = generate_row(&spec, &table("systemuser"), 4);
    assert!(
        user["domainname"]
            .as_str()
            .expect("text")
            .ends_with(".onmicrosoft.com")
    );
    assert_eq!(user["domainname"], user["internalemailaddress"]);
    assert_eq!(user["applicationid"], Value::Null);
}

#[test]
fn person_names_do_not_repeat_within_a_table() {
    let spec = spec();
    let contact = table("contact");
    let local_parts: BTreeSet<String> = (0..5_000)
        .map(|index| {
            let row = generate_row(&spec, &contact, index);
            let email = row["emailaddress1"].as_str().expect("text");
            email.split('@').next().expect("local part").to_string()
        })
        .collect();
    assert_eq!(local_parts.len(), 5_000);
}

#[test]
fn status_reasons_belong_to_their_state() {
    let spec = spec();
    for (name, model) in state_models() {
        let definition = table(name);
        let mut states = BTreeSet::new();
        for index in 0..400 {
            let row = generate_row(&spec, &definition, index);
            let state = row["statecode"].as_i64().expect("state") as i32;
            let status = row["statuscode"].as_i64().expect("status") as i32;
            let (_, _, statuses) = model
                .iter()
                .find(|(candidate, ..)| *candidate == state)
                .unwrap_or_else(|| panic!("{name}: state {state}"));
            assert!(statuses.contains(&status), "{name}: {state}/{status}");
            states.insert(state);
        }
        assert_eq!(states.len(), model.len(), "{name}: every state occurs");
    }
}

#[test]
fn state_models_match_the_fixture_options() {
    for (name, model) in state_models() {
        let definition = table(name);
        let options = |column: &str| -> BTreeSet<i32> {
            match &definition.column(column).expect("column").kind {
                ColumnKind::State { options } | ColumnKind::Status { options } => {
                    options.iter().map(|option| option.value).collect()
                }
                other => panic!("{name}.{column} is {other:?}"),
            }
        };
        let states: BTreeSet<i32> = model.iter().map(|(state, ..)| *state).collect();
        let statuses: BTreeSet<i32> = model
            .iter()
            .flat_map(|(_, _, statuses)| statuses.iter().copied())
            .collect();
        assert_eq!(states, options("statecode"), "{name}");
        assert_eq!(statuses, options("statuscode"), "{name}");
        assert_eq!(
            model.iter().map(|(_, weight, _)| weight).sum::<u32>(),
            100,
            "{name}"
        );
    }
}

#[test]
fn created_and_version_rise_with_the_index_inside_the_window() {
    let spec = spec();
    let account = table("account");
    let mut previous: Option<(String, i64)> = None;
    for index in 0..500 {
        let row = generate_row(&spec, &account, index);
        let created = row["createdon"].as_str().expect("date").to_string();
        let version = row["versionnumber"].as_i64().expect("version");
        assert!(
            created.as_str() >= "2019-01-01" && created.as_str() < "2025-01-01",
            "{created}"
        );
        assert!(row["modifiedon"].as_str().expect("date") < "2025-01-01T00:00:01Z");
        if let Some((before, before_version)) = &previous {
            assert!(created >= *before, "{created} < {before}");
            assert!(version > *before_version);
        }
        previous = Some((created, version));
    }
}

#[test]
fn roles_take_the_predefined_names_and_templates_first() {
    let spec = spec();
    let role = table("role");
    let administrator = generate_row(&spec, &role, 0);
    assert_eq!(administrator["name"], "System Administrator");
    assert_eq!(
        administrator["_roletemplateid_value"],
        "627090ff-40a3-4053-8790-584edc5be201"
    );
    let reader = generate_row(&spec, &role, 3);
    assert_eq!(reader["name"], "Service Reader");
    assert_eq!(reader["_roletemplateid_value"], Value::Null);
    let custom = generate_row(&spec, &role, 8);
    assert_eq!(custom["name"], "Salesperson");
    assert_eq!(custom["_roletemplateid_value"], Value::Null);
}

#[test]
fn currencies_are_real_ones() {
    let spec = spec();
    let currency = table("transactioncurrency");
    let euro = generate_row(&spec, &currency, 1);
    assert_eq!(euro["isocurrencycode"], "EUR");
    assert_eq!(euro["currencyname"], "Euro");
    assert_eq!(euro["currencyprecision"], 2);
    assert_eq!(generate_row(&spec, &currency, 0)["exchangerate"], 1.0);
}

#[test]
fn business_units_form_a_tree_under_the_given_root() {
    let spec = spec();
    let unit = table("businessunit");
    let root = spec.given("businessunit")[0];
    for index in 0..100 {
        let row = generate_row(&spec, &unit, index);
        let parent = Uuid::parse_str(row["_parentbusinessunitid_value"].as_str().expect("parent"))
            .expect("guid");
        if parent != root {
            let parent_index = row_index(SEED, "businessunit", parent).expect("generated");
            assert!(parent_index < index);
        }
    }
}

#[test]
fn dates_format_like_the_web_api() {
    assert_eq!(format_date_time(0), "1970-01-01T00:00:00Z");
    assert_eq!(format_date_time(1_714_557_600), "2024-05-01T10:00:00Z");
    assert_eq!(format_date_time(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(format_date_time(-7_305 * 86_400), "1950-01-01T00:00:00Z");
}

#[test]
fn text_is_cut_to_the_column_length() {
    assert_eq!(fit("Müller GmbH".to_string().into(), 3), "Mül");
    assert_eq!(fit(Text::Borrowed("Müller GmbH"), 4), "Müll");
    assert_eq!(fit("short".into(), 50), "short");
    assert_eq!(slug("O'Brien"), "obrien");
    assert_eq!(slug("City Power & Light"), "citypowerlight");
}
