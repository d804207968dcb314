//! The standard-table fixtures parse and agree with each other and with the reference.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::*;
use crate::schema::ColumnKind;

/// Ids taken from sources (fixtures/dataverse/README.md); every other id is derived.
const SOURCED_PRIVILEGE_IDS: &[&str] = &[
    "prvReadAccount",
    "prvCreateAccount",
    "prvReadLead",
    "prvCreateLead",
    "prvWriteLead",
    "prvDeleteLead",
    "prvAppendLead",
    "prvAppendToLead",
    "prvAssignLead",
    "prvShareLead",
    "prvReadOpportunity",
];
const SOURCED_ENTITY_IDS: &[&str] = &["account", "contact"];
const SOURCED_ATTRIBUTE_IDS: &[&str] = &[
    "account.emailaddress1",
    "account.address1_city",
    "contact.contactid",
];

fn tables() -> Vec<TableDefinition> {
    standard_tables()
}

#[track_caller]
fn check_object_type_code(logical_name: &str, expected: u32) {
    let table = standard_table(logical_name).unwrap_or_else(|| panic!("no `{logical_name}`"));
    assert_eq!(table.object_type_code, expected, "{logical_name}");
}

#[test]
fn every_table_fixture_parses_and_is_named_after_its_table() {
    for (file, text) in TABLE_FIXTURES {
        let table =
            parse_table(text).unwrap_or_else(|error| panic!("`{file}` does not parse: {error}"));
        assert_eq!(format!("{}.json", table.logical_name), *file);
    }
    assert_eq!(tables().len(), 10);
}

#[test]
fn a_misspelt_column_field_is_rejected() {
    let text = r#"{
        "logical_name": "widget", "entity_set_name": "widgets", "display_name": "Widget",
        "display_collection_name": "Widgets", "schema_name": "Widget",
        "primary_id_attribute": "widgetid", "primary_name_attribute": "name",
        "object_type_code": 10001, "ownership": "UserOwned", "privilege_stem": "Widget",
        "metadata_id": "00000000-0000-0000-0000-000000000001",
        "columns": [{ "logical_name": "name", "display_name": "Name", "type": "string",
                      "max_lenght": 100, "metadata_id": "00000000-0000-0000-0000-000000000002" }]
    }"#;
    let error = parse_table(text).expect_err("typo must fail").to_string();
    assert!(error.contains("max_lenght"), "{error}");
    let fixed = text.replace("max_lenght", "max_length");
    let table = parse_table(&fixed).expect("valid");
    assert_eq!(
        table.columns[0].kind,
        ColumnKind::String { max_length: 100 }
    );
}

#[test]
fn object_type_codes_follow_the_reference() {
    check_object_type_code("account", 1);
    check_object_type_code("contact", 2);
    check_object_type_code("opportunity", 3);
    check_object_type_code("lead", 4);
    check_object_type_code("systemuser", 8);
    check_object_type_code("team", 9);
    check_object_type_code("businessunit", 10);
    check_object_type_code("incident", 112);
    check_object_type_code("role", 1036);
    check_object_type_code("transactioncurrency", 9105);
}

#[test]
fn names_codes_and_metadata_ids_are_unique() {
    let tables = tables();
    let mut codes = BTreeSet::new();
    let mut sets = BTreeSet::new();
    let mut logical = BTreeSet::new();
    let mut schema = BTreeSet::new();
    let mut metadata = BTreeSet::new();
    for table in &tables {
        assert!(
            codes.insert(table.object_type_code),
            "OTC {}",
            table.object_type_code
        );
        assert!(
            sets.insert(&table.entity_set_name),
            "{}",
            table.entity_set_name
        );
        assert!(
            logical.insert(&table.logical_name),
            "{}",
            table.logical_name
        );
        assert!(schema.insert(&table.schema_name), "{}", table.schema_name);
        assert!(metadata.insert(table.metadata_id), "{}", table.logical_name);
        let mut columns = BTreeSet::new();
        for column in &table.columns {
            let key = format!("{}.{}", table.logical_name, column.logical_name);
            assert!(
                columns.insert(&column.logical_name),
                "duplicate column {key}"
            );
            assert!(
                metadata.insert(column.metadata_id),
                "duplicate metadata id {key}"
            );
        }
    }
}

#[test]
fn metadata_ids_without_a_source_are_the_documented_derivation() {
    for table in tables() {
        if !SOURCED_ENTITY_IDS.contains(&table.logical_name.as_str()) {
            let derived = Uuid::new_v5(
                &Uuid::NAMESPACE_URL,
                format!("d365-harness:entity:{}", table.logical_name).as_bytes(),
            );
            assert_eq!(table.metadata_id, derived, "{}", table.logical_name);
        }
        for column in &table.columns {
            let key = format!("{}.{}", table.logical_name, column.logical_name);
            if !SOURCED_ATTRIBUTE_IDS.contains(&key.as_str()) {
                let derived = Uuid::new_v5(
                    &Uuid::NAMESPACE_URL,
                    format!("d365-harness:attribute:{key}").as_bytes(),
                );
                assert_eq!(column.metadata_id, derived, "{key}");
            }
        }
    }
}

#[test]
fn primary_key_comes_first_and_primary_name_is_text() {
    for table in tables() {
        let first = &table.columns[0];
        assert_eq!(
            first.logical_name, table.primary_id_attribute,
            "{}",
            table.logical_name
        );
        assert_eq!(first.kind, ColumnKind::PrimaryKey, "{}", table.logical_name);
        let keys = table
            .columns
            .iter()
            .filter(|column| column.kind == ColumnKind::PrimaryKey)
            .count();
        assert_eq!(keys, 1, "{}", table.logical_name);
        let name = table
            .column(&table.primary_name_attribute)
            .unwrap_or_else(|| panic!("{} has no primary name column", table.logical_name));
        assert!(
            matches!(name.kind, ColumnKind::String { .. }),
            "{}",
            table.logical_name
        );
    }
}

#[test]
fn every_lookup_and_navigation_target_exists() {
    let tables = tables();
    let known: BTreeSet<&str> = tables
        .iter()
        .map(|table| table.logical_name.as_str())
        .collect();
    for table in &tables {
        for column in &table.columns {
            if let ColumnKind::Lookup { targets } = &column.kind {
                assert!(
                    !targets.is_empty(),
                    "{}.{}",
                    table.logical_name,
                    column.logical_name
                );
                for target in targets {
                    assert!(
                        known.contains(target.as_str())
                            || UNMODELLED_LOOKUP_TARGETS.contains(&target.as_str()),
                        "{}.{} points to unknown `{target}`",
                        table.logical_name,
                        column.logical_name
                    );
                }
            }
        }
        for navigation in &table.collection_navigation {
            assert!(
                known.contains(navigation.target.as_str()),
                "{}.{} points to unknown `{}`",
                table.logical_name,
                navigation.name,
                navigation.target
            );
        }
    }
}

#[test]
fn many_to_many_navigations_are_declared_on_both_sides() {
    let tables = tables();
    let pairs: BTreeSet<(&str, &str, &str)> = tables
        .iter()
        .flat_map(|table| {
            table.collection_navigation.iter().map(|navigation| {
                (
                    navigation.name.as_str(),
                    table.logical_name.as_str(),
                    navigation.target.as_str(),
                )
            })
        })
        .collect();
    for name in [
        "systemuserroles_association",
        "teammembership_association",
        "teamroles_association",
    ] {
        let sides: Vec<_> = pairs.iter().filter(|(pair, ..)| *pair == name).collect();
        assert_eq!(sides.len(), 2, "{name}: {sides:?}");
        assert_eq!(sides[0].1, sides[1].2, "{name}");
        assert_eq!(sides[0].2, sides[1].1, "{name}");
    }
    assert!(pairs.contains(&("contact_customer_accounts", "account", "contact")));
}

#[test]
fn columns_are_well_formed() {
    for table in tables() {
        for column in &table.columns {
            let key = format!("{}.{}", table.logical_name, column.logical_name);
            assert!(!column.display_name.is_empty(), "{key}");
            assert_eq!(
                column.logical_name,
                column.logical_name.to_lowercase(),
                "{key}"
            );
            match &column.kind {
                ColumnKind::String { max_length } | ColumnKind::Memo { max_length } => {
                    assert!(*max_length > 0, "{key}");
                }
                ColumnKind::Picklist { options }
                | ColumnKind::State { options }
                | ColumnKind::Status { options } => {
                    assert!(!options.is_empty(), "{key}");
                    let values: BTreeSet<i32> = options.iter().map(|option| option.value).collect();
                    assert_eq!(
                        values.len(),
                        options.len(),
                        "{key}: duplicate option values"
                    );
                    assert!(
                        options.iter().all(|option| !option.label.is_empty()),
                        "{key}"
                    );
                }
                _ => {}
            }
        }
    }
}

#[test]
fn user_owned_tables_carry_owner_state_and_version() {
    for table in tables() {
        let has = |name: &str| table.column(name).is_some();
        assert!(
            has("createdon") && has("modifiedon"),
            "{}",
            table.logical_name
        );
        let version = table.column("versionnumber").map(|column| &column.kind);
        assert_eq!(version, Some(&ColumnKind::BigInt), "{}", table.logical_name);
        if table.ownership == Ownership::UserOwned {
            let owner = table.column("_ownerid_value").map(|column| &column.kind);
            assert_eq!(owner, Some(&ColumnKind::Owner), "{}", table.logical_name);
            assert!(has("_owningbusinessunit_value"), "{}", table.logical_name);
            assert!(
                has("statecode") && has("statuscode"),
                "{}",
                table.logical_name
            );
        }
    }
}

#[test]
fn privileges_fixture_has_exactly_the_table_privileges_and_the_miscellaneous_ones() {
    let mut expected: BTreeSet<String> = tables()
        .iter()
        .flat_map(|table| table_privileges(table).into_iter().map(|(_, name)| name))
        .collect();
    expected.extend(MISCELLANEOUS_PRIVILEGES.iter().map(|name| name.to_string()));
    let actual: BTreeSet<String> = privilege_ids().keys().cloned().collect();
    assert_eq!(actual, expected);
    let per_table: BTreeMap<String, usize> = tables()
        .iter()
        .map(|table| (table.logical_name.clone(), table_privileges(table).len()))
        .collect();
    assert_eq!(per_table["account"], 8);
    assert_eq!(per_table["systemuser"], 6);
    assert_eq!(per_table["transactioncurrency"], 6);
}

#[test]
fn privilege_ids_are_unique_and_unsourced_ones_are_derived() {
    let ids: BTreeSet<Uuid> = privilege_ids().values().copied().collect();
    assert_eq!(ids.len(), privilege_ids().len());
    for (name, id) in privilege_ids() {
        if !SOURCED_PRIVILEGE_IDS.contains(&name.as_str()) {
            assert_eq!(*id, derived_privilege_id(name), "{name}");
        }
    }
    for name in SOURCED_PRIVILEGE_IDS {
        assert!(privilege_ids().contains_key(*name), "{name}");
    }
}

#[test]
fn privilege_id_answers_real_ids_and_falls_back_to_the_derivation() {
    let read_account = Uuid::parse_str("886b280c-6396-4d56-a0a3-2c1b0a50ceb0").expect("literal");
    assert_eq!(privilege_id("prvReadAccount"), read_account);
    assert_eq!(
        privilege_id("prvReadcr123_widget"),
        derived_privilege_id("prvReadcr123_widget")
    );
}

#[test]
fn privilege_names_parse_back_to_their_table_and_kind() {
    let tables = tables();
    for table in &tables {
        for (kind, name) in table_privileges(table) {
            let (parsed_table, parsed_kind) =
                parse_privilege(&name, &tables).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(parsed_table.logical_name, table.logical_name, "{name}");
            assert_eq!(parsed_kind, kind, "{name}");
        }
    }
    assert_eq!(
        parse_privilege("prvReadUser", &tables).map(|(table, _)| table.logical_name.as_str()),
        Some("systemuser")
    );
    assert!(parse_privilege("prvAssignTransactionCurrency", &tables).is_none());
    assert!(parse_privilege("prvActOnBehalfOfAnotherUser", &tables).is_none());
}

#[test]
fn every_role_privilege_exists_names_a_table_and_respects_allowed_depths() {
    let tables = tables();
    for role in predefined_roles() {
        for (privilege, depth) in &role.privileges {
            assert!(
                privilege_ids().contains_key(privilege),
                "{}: `{privilege}` is not in privileges.json",
                role.name
            );
            if MISCELLANEOUS_PRIVILEGES.contains(&privilege.as_str()) {
                assert_eq!(*depth, Depth::Global, "{}: {privilege}", role.name);
                continue;
            }
            let (table, kind) = parse_privilege(privilege, &tables)
                .unwrap_or_else(|| panic!("{}: `{privilege}` names no table", role.name));
            assert!(
                kind.allowed_depths(table).contains(depth),
                "{}: {privilege} at {depth:?}",
                role.name
            );
        }
    }
}

#[test]
fn predefined_roles_follow_the_reference() {
    let roles = predefined_roles();
    let names: Vec<&str> = roles.iter().map(|role| role.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "System Administrator",
            "System Customizer",
            "Basic User",
            "Service Reader",
            "Service Writer",
            "Environment Maker",
            "Delegate",
            "Support User",
        ]
    );
    let template = |name: &str| predefined_role(name).and_then(|role| role.template_id);
    let parse = |text: &str| Some(Uuid::parse_str(text).expect("literal"));
    assert_eq!(
        template("System Administrator"),
        parse("627090ff-40a3-4053-8790-584edc5be201")
    );
    assert_eq!(
        template("System Customizer"),
        parse("119f245c-3cc8-4b62-b31c-d1a046ced15d")
    );
    assert_eq!(
        template("Support User"),
        parse("2d101bb3-5ced-4122-83f1-94d5efde4e3b")
    );
    assert_eq!(
        template("Delegate"),
        parse("d892cc0b-28c7-4e88-bd92-72f2c366baed")
    );
    assert_eq!(
        template("Basic User"),
        parse("236750cd-45ae-4939-ab12-b24b920ced93")
    );
    assert_eq!(template("Service Reader"), None);

    let tables = tables();
    let administrator = predefined_role("System Administrator").expect("fixture");
    for table in &tables {
        for (_, privilege) in table_privileges(table) {
            assert_eq!(
                administrator.privileges.get(&privilege),
                Some(&Depth::Global)
            );
        }
    }
    let reader = predefined_role("Service Reader").expect("fixture");
    assert!(
        reader
            .privileges
            .values()
            .all(|depth| *depth == Depth::Global)
    );
    assert_eq!(reader.privileges.len(), tables.len());
    let writer = predefined_role("Service Writer").expect("fixture");
    assert!(!writer.privileges.contains_key("prvDeleteAccount"));
    assert!(
        predefined_role("Environment Maker")
            .expect("fixture")
            .privileges
            .is_empty()
    );
    let delegate = predefined_role("Delegate").expect("fixture");
    assert_eq!(
        delegate.privileges.keys().collect::<Vec<_>>(),
        ["prvActOnBehalfOfAnotherUser"]
    );
    let basic = predefined_role("Basic User").expect("fixture");
    assert_eq!(basic.privileges.get("prvReadAccount"), Some(&Depth::Basic));
    assert_eq!(basic.privileges.get("prvReadUser"), Some(&Depth::Global));
    assert_eq!(basic.privileges.get("prvReadLead"), None);
}

#[test]
fn depth_masks_are_one_two_four_eight() {
    let masks: Vec<u32> = ALL_DEPTHS.into_iter().map(privilege_depth_mask).collect();
    assert_eq!(masks, [1, 2, 4, 8]);
    for depth in ALL_DEPTHS {
        assert_eq!(depth_from_mask(privilege_depth_mask(depth)), Some(depth));
        assert_eq!(parse_depth(depth.as_str()), Some(depth));
    }
    assert_eq!(depth_from_mask(1 | 8), Some(Depth::Global));
    assert_eq!(depth_from_mask(0), None);
    assert_eq!(parse_depth("Organization"), None);
    assert!(Depth::Basic < Depth::Local && Depth::Deep < Depth::Global);
}

#[test]
fn allowed_depths_follow_ownership() {
    let table = |name: &str| standard_table(name).expect("fixture");
    let account = table("account");
    assert_eq!(PrivilegeKind::Read.allowed_depths(&account), ALL_DEPTHS);
    let currency = table("transactioncurrency");
    assert_eq!(
        PrivilegeKind::Read.allowed_depths(&currency),
        [Depth::Global]
    );
    let user = table("systemuser");
    assert!(
        !PrivilegeKind::Read
            .allowed_depths(&user)
            .contains(&Depth::Basic)
    );
    let unit = table("businessunit");
    assert_eq!(
        PrivilegeKind::Create.allowed_depths(&unit),
        [Depth::Deep, Depth::Global]
    );
    assert_eq!(PrivilegeKind::Read.name_for(&user), "prvReadUser");
    assert_eq!(
        PrivilegeKind::AppendTo.name_for(&account),
        "prvAppendToAccount"
    );
    assert_eq!(PrivilegeKind::Write.access_right(), "WriteAccess");
}
