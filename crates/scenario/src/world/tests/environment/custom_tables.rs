//! `custom_tables` of `[environments.<key>]`: a world's own tables on their way into
//! `fake_dataverse::Config` (names, columns, ownership, privileges of roles), and the exact text
//! of every error (path, line, column, dotted key).

use fake_dataverse::schema::{ColumnKind, Ownership};

use super::*;

/// The base environment with `top` on line 23 (inside `[environments.contoso]`), then the
/// asset table's section from line 24: its header, `schema_name` (25), `entity_set` (26),
/// `display_name` (27), `ownership` (28) and `columns` (29), then `rest`.
fn with_asset(top: &str, ownership: &str, columns: &str, rest: &str) -> String {
    with_environment(&format!(
        "{top}\n[environments.contoso.custom_tables.cr7a1_asset]\nschema_name = \"cr7a1_Asset\"\n\
         entity_set = \"cr7a1_assets\"\ndisplay_name = \"Asset\"\nownership = \"{ownership}\"\n\
         columns = {columns}\n{rest}"
    ))
}

const COLUMNS: &str = "{ cr7a1_serialnumber = \"string\", cr7a1_cost = \"money\", \
    cr7a1_kind = { type = \"picklist\", options = { Laptop = 100000000, Phone = 100000001 } }, \
    cr7a1_account = { type = \"lookup\", target = \"account\" }, \
    cr7a1_notes = { type = \"memo\", max_length = 500 } }";

#[test]
fn a_custom_table_reaches_the_config_with_its_names_and_columns() {
    let text = with_asset(
        "application_users = [{ app = \"importer\", roles = [\"Asset Reader\", \"System Administrator\"] }]\n\
         tables = { account = { generate = 3 }, cr7a1_asset = { generate = 20 } }",
        "user",
        COLUMNS,
        "[environments.contoso.roles.\"Asset Reader\"]\nprivileges = { prvReadcr7a1_Asset = \"Basic\" }\n",
    );
    let config = dataverse_config(&text);
    let environment = &config.environments[0];
    let asset = environment
        .tables
        .iter()
        .find(|table| table.definition.logical_name == "cr7a1_asset")
        .expect("the custom table");
    let definition = &asset.definition;
    assert!(matches!(asset.data, TableData::Generated { count: 20 }));
    assert_eq!(definition.schema_name, "cr7a1_Asset");
    assert_eq!(definition.entity_set_name, "cr7a1_assets");
    assert_eq!(definition.display_collection_name, "Assets");
    assert_eq!(definition.primary_id_attribute, "cr7a1_assetid");
    assert_eq!(definition.primary_name_attribute, "cr7a1_name");
    assert_eq!(definition.object_type_code, 10_000);
    assert_eq!(definition.ownership, Ownership::UserOwned);
    assert_eq!(definition.privilege_stem, "cr7a1_Asset");
    let kind = |name: &str| definition.column(name).map(|column| column.kind.clone());
    assert_eq!(
        kind("cr7a1_serialnumber"),
        Some(ColumnKind::String { max_length: 100 })
    );
    assert_eq!(
        kind("cr7a1_notes"),
        Some(ColumnKind::Memo { max_length: 500 })
    );
    assert_eq!(kind("cr7a1_cost"), Some(ColumnKind::Money));
    assert_eq!(
        kind("_cr7a1_account_value"),
        Some(ColumnKind::Lookup {
            targets: vec!["account".to_owned()]
        })
    );
    let Some(ColumnKind::Picklist { options }) = kind("cr7a1_kind") else {
        panic!("a picklist: {:?}", kind("cr7a1_kind"));
    };
    assert_eq!(
        options
            .iter()
            .map(|option| (option.value, option.label.as_str()))
            .collect::<Vec<_>>(),
        [(100_000_000, "Laptop"), (100_000_001, "Phone")]
    );
    assert!(definition.column("_ownerid_value").is_some());
    let role = |name: &str| {
        environment
            .roles
            .iter()
            .find(|role| role.name == name)
            .expect(name)
    };
    assert_eq!(
        role("Asset Reader").privileges.get("prvReadcr7a1_Asset"),
        Some(&Depth::Basic)
    );
    let administrator = &role("System Administrator").privileges;
    for privilege in [
        "prvReadcr7a1_Asset",
        "prvDeletecr7a1_Asset",
        "prvSharecr7a1_Asset",
    ] {
        assert_eq!(
            administrator.get(privilege),
            Some(&Depth::Global),
            "{privilege}"
        );
    }
}

#[test]
fn organization_owned_tables_take_only_global_and_have_no_owner() {
    let text = with_asset(
        "application_users = [{ app = \"importer\", roles = [\"Asset Reader\", \"Service Reader\"] }]\n\
         tables = { cr7a1_asset = { generate = 5 } }",
        "organization",
        "{}",
        "[environments.contoso.roles.\"Asset Reader\"]\nprivileges = { prvReadcr7a1_Asset = \"Organization\" }\n",
    );
    let config = dataverse_config(&text);
    let environment = &config.environments[0];
    let asset = environment
        .tables
        .iter()
        .find(|table| table.definition.logical_name == "cr7a1_asset")
        .expect("the custom table");
    assert_eq!(asset.definition.ownership, Ownership::OrganizationOwned);
    assert!(asset.definition.column("_ownerid_value").is_none());
    for role in &environment.roles {
        assert_eq!(
            role.privileges.get("prvReadcr7a1_Asset"),
            Some(&Depth::Global),
            "{}",
            role.name
        );
        assert_eq!(role.privileges.get("prvAssigncr7a1_Asset"), None);
    }
}

#[test]
fn custom_table_errors_name_the_key_line_and_column() {
    let cases: Vec<(String, String)> = vec![
        (
            with_asset("", "user", "{ cr7a1_cost = \"currency\" }", ""),
            "invalid world `worlds/test.toml` at line 29, column 26: \
             `environments.contoso.custom_tables.cr7a1_asset.columns.cr7a1_cost`: `currency` is \
             not a column type; known: string, memo, integer, bigint, decimal, double, money, \
             boolean, datetime, uniqueidentifier, picklist, lookup"
                .to_owned(),
        ),
        (
            with_asset("", "user", "{ cr7a1_kind = \"picklist\" }", ""),
            "invalid world `worlds/test.toml` at line 29, column 26: \
             `environments.contoso.custom_tables.cr7a1_asset.columns.cr7a1_kind`: column \
             `cr7a1_kind`: a picklist needs `options = { Label = 100000000, … }`"
                .to_owned(),
        ),
        (
            with_asset(
                "",
                "user",
                "{ cr7a1_owner = { type = \"lookup\", target = \"cr7a1_person\" } }",
                "",
            ),
            "invalid world `worlds/test.toml` at line 29, column 27: \
             `environments.contoso.custom_tables.cr7a1_asset.columns.cr7a1_owner`: column \
             `cr7a1_owner`: `cr7a1_person` is not a table of this environment; known: account, \
             contact, opportunity, lead, incident, systemuser, businessunit, team, role, \
             transactioncurrency, cr7a1_asset"
                .to_owned(),
        ),
        (
            with_asset("", "user", "{ Cost = \"money\" }", ""),
            "invalid world `worlds/test.toml` at line 29, column 13: \
             `environments.contoso.custom_tables.cr7a1_asset.columns.Cost`: `Cost` is not a \
             custom logical name: lower-case letters, digits and `_`, starting with the \
             publisher's prefix and `_` (`cr7a1_asset`)"
                .to_owned(),
        ),
        (
            with_asset(
                "",
                "user",
                "{}",
                "[environments.contoso.custom_tables.cr7a1_gadget]\nschema_name = \"cr7a1_Gadget\"\n\
                 entity_set = \"cr7a1_assets\"\ndisplay_name = \"Gadget\"\nownership = \"user\"\n",
            ),
            "invalid world `worlds/test.toml` at line 32, column 14: \
             `environments.contoso.custom_tables.cr7a1_gadget.entity_set`: entity set name \
             `cr7a1_assets` is already used by \
             `environments.contoso.custom_tables.cr7a1_asset.entity_set`"
                .to_owned(),
        ),
        (
            with_environment(
                "[environments.contoso.custom_tables.account]\nschema_name = \"Account\"\n\
                 entity_set = \"new_accounts\"\ndisplay_name = \"Account\"\nownership = \"user\"\n",
            ),
            "invalid world `worlds/test.toml` at line 23, column 37: \
             `environments.contoso.custom_tables.account`: `account` is a standard table; a \
             custom table needs its own name with its publisher's prefix (`cr7a1_account`)"
                .to_owned(),
        ),
        (
            with_environment(
                "[environments.contoso.custom_tables.cr7a1_account]\nschema_name = \"cr7a1_Account\"\n\
                 entity_set = \"accounts\"\ndisplay_name = \"Account\"\nownership = \"user\"\n",
            ),
            "invalid world `worlds/test.toml` at line 25, column 14: \
             `environments.contoso.custom_tables.cr7a1_account.entity_set`: entity set name \
             `accounts` is already used by `standard_tables.account`"
                .to_owned(),
        ),
        (
            with_environment(
                "[environments.contoso.custom_tables.cr7a1_asset]\nschema_name = \"cr7a1_Assets\"\n\
                 entity_set = \"cr7a1_assets\"\ndisplay_name = \"Asset\"\nownership = \"user\"\n",
            ),
            "invalid world `worlds/test.toml` at line 24, column 15: \
             `environments.contoso.custom_tables.cr7a1_asset.schema_name`: schema name \
             `cr7a1_Assets` must be the logical name `cr7a1_asset` with its own casing"
                .to_owned(),
        ),
        (
            with_asset(
                "",
                "user",
                "{}",
                "[environments.contoso.custom_tables.cr7a1_gadget]\nschema_name = \"cr7a1_Gadget\"\n\
                 entity_set = \"cr7a1_asset\"\ndisplay_name = \"Gadget\"\nownership = \"user\"\n",
            ),
            "invalid world `worlds/test.toml` at line 32, column 14: \
             `environments.contoso.custom_tables.cr7a1_gadget.entity_set`: entity set name \
             `cr7a1_asset` is already used by `environments.contoso.custom_tables.cr7a1_asset`"
                .to_owned(),
        ),
        (
            with_asset("", "team", "{}", ""),
            "invalid world `worlds/test.toml` at line 28, column 13: \
             `environments.contoso.custom_tables.cr7a1_asset.ownership`: `team` is not an \
             ownership; use `user` (user or team owned) or `organization`"
                .to_owned(),
        ),
        (
            with_asset(
                "",
                "organization",
                "{}",
                "[environments.contoso.roles.\"Asset Reader\"]\nprivileges = { prvReadcr7a1_Asset = \"Basic\" }\n",
            ),
            "invalid world `worlds/test.toml` at line 31, column 37: \
             `environments.contoso.roles.Asset Reader.privileges.prvReadcr7a1_Asset`: \
             `prvReadcr7a1_Asset` is a privilege of the organization-owned table `cr7a1_asset`, \
             which only takes `Global` (Organization), not `Basic`"
                .to_owned(),
        ),
    ];
    check_errors(&cases);
}
