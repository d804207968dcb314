use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{
    EntityDefinition, challenge_tenant, edit_distance, nearest_names, read_privileges, resolve,
};
use crate::problem::denied_entity;
use crate::report::ReadDepth;

#[track_caller]
fn check_privilege(
    logical_name: &str,
    schema_name: &str,
    is_activity: Option<bool>,
    expected: &str,
) {
    let definition = EntityDefinition {
        logical_name: logical_name.to_owned(),
        schema_name: schema_name.to_owned(),
        entity_set_name: None,
        primary_id_attribute: None,
        is_activity,
    };
    assert_eq!(definition.read_privilege_name(), expected);
}

#[test]
fn names_each_tables_read_privilege() {
    check_privilege("account", "Account", Some(false), "account");
    check_privilege("new_project", "new_Project", None, "new_project");
    check_privilege("systemuser", "SystemUser", Some(false), "user");
    check_privilege("annotation", "Annotation", Some(false), "note");
    check_privilege("email", "Email", Some(true), "activity");
}

#[test]
fn finds_the_denied_table_in_a_privilege_message() {
    assert_eq!(
        denied_entity(
            "Principal user (Id=1, type=8), is missing prvReadIncident privilege (Id=2) on OTC=112 for entity 'incident' (LocalizedName='Case'). context.Caller=1."
        ),
        Some("incident".to_owned())
    );
    assert_eq!(
        denied_entity("The user does not hold the necessary privileges."),
        None
    );
}

#[test]
fn finds_the_tenant_in_a_challenge() {
    assert_eq!(
        challenge_tenant(
            "Bearer authorization_uri=https://login.microsoftonline.com/6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10/oauth2/authorize, resource_id=https://contoso.crm.dynamics.com/"
        ),
        Some("6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10".to_owned())
    );
    assert_eq!(
        challenge_tenant(
            "Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize"
        ),
        None
    );
    assert_eq!(challenge_tenant("Bearer realm=\"\""), None);
}

fn definition(logical: &str, schema: &str, set: &str) -> EntityDefinition {
    EntityDefinition {
        logical_name: logical.to_owned(),
        schema_name: schema.to_owned(),
        entity_set_name: Some(set.to_owned()),
        primary_id_attribute: Some(format!("{logical}id")),
        is_activity: Some(false),
    }
}

fn definitions() -> BTreeMap<String, EntityDefinition> {
    [
        definition("account", "Account", "accounts"),
        definition("contact", "Contact", "contacts"),
        definition("lead", "Lead", "leads"),
        definition("opportunity", "Opportunity", "opportunities"),
        definition("new_project", "new_Project", "new_projects"),
    ]
    .into_iter()
    .map(|definition| (definition.logical_name.clone(), definition))
    .collect()
}

#[test]
fn resolves_logical_schema_and_entity_set_names_in_any_case() {
    let definitions = definitions();
    for (typed, logical) in [
        ("account", "account"),
        ("Account", "account"),
        (" ACCOUNT ", "account"),
        ("accounts", "account"),
        ("Accounts", "account"),
        ("Contacts", "contact"),
        ("Opportunities", "opportunity"),
        ("new_Project", "new_project"),
        ("NEW_PROJECTS", "new_project"),
    ] {
        let resolved = resolve(&definitions, typed).map(|found| found.logical_name.as_str());
        assert_eq!(resolved, Ok(logical), "{typed}");
    }
}

#[test]
fn suggests_the_nearest_logical_names_for_a_misspelt_table() {
    let definitions = definitions();
    assert_eq!(
        resolve(&definitions, "acount").map(|_| ()),
        Err(vec!["account".to_owned()])
    );
    assert_eq!(
        resolve(&definitions, "Contcts").map(|_| ()),
        Err(vec!["contact".to_owned()])
    );
    assert_eq!(
        resolve(&definitions, "oportunitys").map(|_| ()),
        Err(vec!["opportunity".to_owned()])
    );
    assert_eq!(
        resolve(&definitions, "invoice").map(|_| ()),
        Err(Vec::<String>::new())
    );
}

#[test]
fn suggests_at_most_three_names_nearest_first() {
    let definitions: BTreeMap<String, EntityDefinition> = ["tab", "taba", "tabb", "tabc", "tb"]
        .into_iter()
        .map(|name| (name.to_owned(), definition(name, name, &format!("{name}s"))))
        .collect();
    assert_eq!(
        nearest_names(&definitions, "tabd"),
        vec!["tab".to_owned(), "taba".to_owned(), "tabb".to_owned()]
    );
}

#[test]
fn measures_edit_distance() {
    assert_eq!(edit_distance("", ""), 0);
    assert_eq!(edit_distance("account", "account"), 0);
    assert_eq!(edit_distance("acount", "account"), 1);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("", "lead"), 4);
}

#[test]
fn keeps_the_deepest_read_depth_over_all_roles() {
    let privileges = serde_json::json!([
        { "PrivilegeName": "prvReadAccount", "Depth": "Basic" },
        { "PrivilegeName": "prvReadAccount", "Depth": "Global" },
        { "PrivilegeName": "prvReadAccount", "Depth": "Local" },
        { "PrivilegeName": "prvReadContact", "Depth": "Local" },
        { "PrivilegeName": "prvReadContact", "Depth": "Deep" },
        { "PrivilegeName": "prvReadLead", "Depth": "Everywhere" },
        { "PrivilegeName": "prvWriteOpportunity", "Depth": "Basic" },
        { "Depth": "Global" },
    ]);
    let (read, depths) = read_privileges(privileges.as_array().expect("an array"));
    assert_eq!(
        read.into_iter().collect::<Vec<_>>(),
        ["account", "contact", "lead"]
    );
    assert_eq!(
        depths.get("account"),
        Some(&("prvReadAccount".to_owned(), ReadDepth::Global))
    );
    assert_eq!(
        depths.get("contact"),
        Some(&("prvReadContact".to_owned(), ReadDepth::Deep))
    );
    // An unknown depth makes the table readable but says nothing about how much of it.
    assert_eq!(depths.get("lead"), None);
}

proptest! {
    /// Every suggestion is a real logical name, within the distance limit, at most three,
    /// nearest first; and a name that resolves is never one that got suggestions.
    #[test]
    fn suggestions_are_real_near_names(typed in "[a-z_]{0,14}") {
        let definitions = definitions();
        match resolve(&definitions, &typed) {
            Ok(found) => {
                let names = [
                    found.logical_name.to_ascii_lowercase(),
                    found.schema_name.to_ascii_lowercase(),
                    found.entity_set_name.clone().unwrap_or_default(),
                ];
                prop_assert!(names.contains(&typed));
            }
            Err(suggestions) => {
                prop_assert!(suggestions.len() <= 3);
                let limit = if typed.chars().count() <= 6 { 2 } else { 3 };
                let mut last = 0;
                for name in &suggestions {
                    let found = definitions.get(name);
                    prop_assert!(found.is_some(), "{name} is not a table");
                    let found = found.unwrap_or_else(|| unreachable!());
                    let distance = edit_distance(&typed, &found.logical_name)
                        .min(edit_distance(&typed, found.entity_set_name.as_deref().unwrap_or_default()));
                    prop_assert!(distance <= limit && distance >= last, "{name} at {distance}");
                    last = distance;
                }
            }
        }
    }

    /// The distance is symmetric, zero only for equal names, and at most the longer length.
    #[test]
    fn edit_distance_is_a_distance(a in "[a-c]{0,8}", b in "[a-c]{0,8}") {
        let distance = edit_distance(&a, &b);
        prop_assert_eq!(distance, edit_distance(&b, &a));
        prop_assert_eq!(distance == 0, a == b);
        prop_assert!(distance <= a.len().max(b.len()));
        prop_assert!(distance >= a.len().abs_diff(b.len()));
    }
}
