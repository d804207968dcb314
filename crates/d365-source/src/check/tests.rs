use super::{EntityDefinition, challenge_tenant};
use crate::problem::denied_entity;

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
