//! The change vocabulary on the world document: every kind applies and shows in the validated
//! `World`, every refusal's exact text (index, field, name, "did you mean"), all-or-nothing
//! batches, the document's round trip, reversible toggles (proptest), secrets kept out of
//! errors, and the TOML/JSON shape of changes.

use fake_core::{FaultAction, FaultRule, IdGenerator};
use fake_dataverse::Depth;
use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::test_support::repo_root;

/// The time batches run at.
const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);

/// A world with something for every change: a multi-tenant app installed in a second tenant,
/// a requested permission, two environments, a defined role, a team, generated and inline rows.
pub(crate) const WORLD: &str = r#"version = 1

[tenants.contoso]
id = "6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10"
domains = ["contoso.onmicrosoft.com"]
display_name = "Contoso"
dynamics = true

[tenants.fabrikam]
id = "9b2c4d6e-8f01-4a23-b456-c789d0e1f234"
domains = ["fabrikam.onmicrosoft.com"]
display_name = "Fabrikam"
dynamics = true

[tenants.tailspin]
id = "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
domains = ["tailspin.onmicrosoft.com"]
display_name = "Tailspin"
dynamics = false

[apps.importer]
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
display_name = "MultiSource Importer"
home_tenant = "contoso"
multi_tenant = true
service_principals = [{ tenant = "fabrikam" }]
secrets = [
  { name = "current", value = "Qm28Q~test.importer.secret.current.01", expires = "2028-06-30T00:00:00Z" },
  { name = "expired", value = "Qm28Q~test.importer.secret.expired.02", expires = "2025-01-31T00:00:00Z" },
]
certificates = [{ name = "importer-client", file = "../keys/importer-client.crt.pem" }]
permissions = [{ api = "Dynamics CRM", scope = "user_impersonation", type = "delegated", admin_consent = true }]

[apps.reporter]
client_id = "7d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a"
display_name = "Reporter"
home_tenant = "contoso"
secrets = [{ name = "main", value = "Rp19Q~test.reporter.secret.main.000001", expires = "2028-06-30T00:00:00Z" }]

[environments.contoso]
url = "https://contoso.crm.dynamics.com"
tenant = "contoso"

[environments.contoso.roles."Importer Reader"]
privileges = { prvReadAccount = "Global", prvReadContact = "Global" }

[[environments.contoso.application_users]]
app = "importer"
roles = ["Importer Reader"]

[[environments.contoso.teams]]
name = "Importers"
kind = "owner"
roles = ["Service Reader"]

[environments.contoso.tables]
account = { generate = 10 }
contact = { rows = [{ contactid = "0a1b2c3d-0000-4000-8000-000000000001", fullname = "Yvonne McKay" }, { contactid = "0a1b2c3d-0000-4000-8000-000000000002", fullname = "Ari Tan" }] }

[environments.fabrikam]
url = "https://fabrikam.crm.dynamics.com"
tenant = "fabrikam"
application_users = [{ app = "importer", roles = ["Service Reader"] }]
"#;

/// [`WORLD`] as if read from `fixtures/worlds/`, so its certificate file resolves.
pub(crate) fn world() -> World {
    World::parse(WORLD, repo_root().join("fixtures/worlds/change-test.toml"))
        .expect("the test world loads")
}

/// Applies `changes` to the test world and returns the staged result.
#[track_caller]
fn staged(changes: &[Change]) -> Staged {
    let world = world();
    let document = WorldDocument::of(&world).expect("document");
    stage(
        &document,
        &world,
        &[],
        NOW,
        &IdGenerator::seeded(7),
        changes,
    )
    .unwrap_or_else(|error| panic!("{error}"))
}

/// The world after `changes`.
#[track_caller]
fn after(changes: &[Change]) -> World {
    staged(changes).world
}

/// Applies `changes` to the test world and expects exactly the error `expected`.
#[track_caller]
fn check_error(changes: &[Change], expected: &str) {
    let world = world();
    let document = WorldDocument::of(&world).expect("document");
    match stage(
        &document,
        &world,
        &[],
        NOW,
        &IdGenerator::seeded(7),
        changes,
    ) {
        Ok(_) => panic!("expected an error for {changes:?}"),
        Err(error) => assert_eq!(error.to_string(), expected),
    }
}

/// Parses one change written in TOML.
#[track_caller]
fn change(toml_text: &str) -> Change {
    toml::from_str(toml_text).unwrap_or_else(|error| panic!("{error}"))
}

fn app<'a>(world: &'a World, key: &str) -> &'a crate::App {
    world.app(key).expect("app")
}

fn environment<'a>(world: &'a World, key: &str) -> &'a crate::Environment {
    world.environment(key).expect("environment")
}

/// The names of the roles the importer's application user holds in `contoso`.
fn importer_roles(world: &World) -> Vec<String> {
    let environment = environment(world, "contoso");
    let user = environment
        .application_user(app(world, "importer").client_id)
        .expect("application user");
    user.roles
        .iter()
        .map(|id| {
            environment
                .roles
                .iter()
                .find(|role| role.id == *id)
                .expect("role")
                .name
                .clone()
        })
        .collect()
}

#[test]
fn secrets_are_added_removed_and_expired() {
    let world = after(&[change(
        r#"change = "add_secret"
app = "importer"
secret = "rotated"
value = "Ab3Q~rotated.value"
expires = "2029-01-01T00:00:00Z""#,
    )]);
    let rotated = app(&world, "importer").secrets.last().expect("secret");
    assert_eq!(rotated.name, "rotated");
    assert_eq!(rotated.value.expose(), "Ab3Q~rotated.value");
    assert_eq!(rotated.expires, datetime!(2029-01-01 00:00:00 UTC));
    assert!(rotated.id.is_some());

    let world = after(&[Change::RemoveSecret {
        app: "importer".into(),
        secret: "current".into(),
    }]);
    let names: Vec<&str> = app(&world, "importer")
        .secrets
        .iter()
        .map(|secret| secret.name.as_str())
        .collect();
    assert_eq!(names, ["expired"]);

    let world = after(&[Change::ExpireSecret {
        app: "importer".into(),
        secret: "current".into(),
        at: None,
    }]);
    let current = &app(&world, "importer").secrets[0];
    assert_eq!(current.expires, NOW);
    assert!(!current.is_valid_at(NOW));

    let at = datetime!(2027-05-05 05:05:05 UTC);
    let world = after(&[Change::ExpireSecret {
        app: "importer".into(),
        secret: "current".into(),
        at: Some(at),
    }]);
    assert_eq!(app(&world, "importer").secrets[0].expires, at);
}

#[test]
fn a_secret_added_without_value_gets_one_shaped_like_entras() {
    let staged = staged(&[Change::AddSecret {
        app: "importer".into(),
        secret: "generated".into(),
        value: None,
        expires: None,
    }]);
    let secret = app(&staged.world, "importer")
        .secrets
        .last()
        .expect("secret")
        .clone();
    let value = secret.value.expose();
    assert_eq!(value.chars().count(), 40, "{value}");
    assert_eq!(&value[3..5], "Q~", "{value}");
    assert!(
        value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b".-_~".contains(&byte)),
        "{value}"
    );
    // Lasts 180 days, and is written into the document (so `GET /world` shows it).
    assert_eq!(secret.expires, NOW + Duration::days(180));
    assert!(staged.document.to_toml().contains(value));
}

#[test]
fn certificates_are_added_without_private_keys_and_removed() {
    let certificate =
        std::fs::read_to_string(repo_root().join("fixtures/keys/importer-client.pem"))
            .expect("the client's certificate and key");
    assert!(
        certificate.contains("PRIVATE KEY"),
        "the fixture holds both"
    );
    let staged = staged(&[Change::AddCertificate {
        app: "importer".into(),
        certificate: "second".into(),
        pem: certificate,
    }]);
    let added = app(&staged.world, "importer")
        .certificates
        .last()
        .expect("certificate")
        .clone();
    assert_eq!(added.name, "second");
    assert_eq!(
        added.der,
        app(&world(), "importer").certificates[0].der,
        "the same certificate as the file's"
    );
    assert!(!staged.document.to_toml().contains("PRIVATE KEY"));

    let world = after(&[Change::RemoveCertificate {
        app: "importer".into(),
        certificate: "importer-client".into(),
    }]);
    assert!(app(&world, "importer").certificates.is_empty());
}

#[test]
fn apps_are_disabled_and_enabled() {
    let world = after(&[Change::DisableApp {
        app: "importer".into(),
    }]);
    assert!(!app(&world, "importer").enabled);
    let world = after(&[
        Change::DisableApp {
            app: "importer".into(),
        },
        Change::EnableApp {
            app: "importer".into(),
        },
    ]);
    assert!(app(&world, "importer").enabled);
}

#[test]
fn service_principals_are_removed_and_added() {
    // Removed from fabrikam, where the importer keeps its application user (as in Dataverse).
    let removed = |world: &World| {
        app(world, "importer")
            .service_principals
            .iter()
            .map(|principal| (principal.tenant.clone(), principal.removed))
            .collect::<Vec<_>>()
    };
    let world = after(&[Change::RemoveServicePrincipal {
        app: "importer".into(),
        tenant: "fabrikam".into(),
    }]);
    assert_eq!(removed(&world), [("fabrikam".to_owned(), true)]);
    let importer = app(&world, "importer").client_id;
    assert!(
        environment(&world, "fabrikam")
            .application_user(importer)
            .is_some()
    );
    let entra = world
        .entra_config(fake_core::Clock::manual(NOW), IdGenerator::seeded(1))
        .expect("config");
    let fabrikam = world.tenant("fabrikam").expect("tenant").id;
    assert!(
        entra.apps[0]
            .service_principals
            .iter()
            .all(|principal| principal.tenant != fabrikam),
        "Entra no longer knows the app in fabrikam"
    );

    let world = after(&[
        Change::RemoveServicePrincipal {
            app: "importer".into(),
            tenant: "fabrikam".into(),
        },
        Change::AddServicePrincipal {
            app: "importer".into(),
            tenant: "fabrikam".into(),
        },
        Change::AddServicePrincipal {
            app: "importer".into(),
            tenant: "tailspin".into(),
        },
    ]);
    assert_eq!(
        removed(&world),
        [
            ("fabrikam".to_owned(), false),
            ("tailspin".to_owned(), false)
        ]
    );
    check_error(
        &[
            Change::RemoveServicePrincipal {
                app: "importer".into(),
                tenant: "fabrikam".into(),
            },
            Change::RemoveServicePrincipal {
                app: "importer".into(),
                tenant: "fabrikam".into(),
            },
        ],
        "changes[1] (`remove_service_principal`) `tenant`: app `importer` has no service principal in tenant `fabrikam`; there is none",
    );
}

#[test]
fn a_world_cannot_remove_the_home_tenants_service_principal() {
    let text = WORLD.replace(
        r#"service_principals = [{ tenant = "fabrikam" }]"#,
        r#"service_principals = [{ tenant = "contoso", removed = true }]"#,
    );
    let error = World::parse(&text, repo_root().join("fixtures/worlds/change-test.toml"))
        .expect_err("refused");
    assert_eq!(
        crate::test_support::chain(&error),
        "invalid world `fixtures/worlds/change-test.toml` at line 26, column 55: `apps.importer.service_principals[0].removed`: the service principal in the home tenant `contoso` goes only with the app registration; disable the app with `enabled = false`"
    );
}

#[test]
fn admin_consent_is_revoked_and_granted() {
    let consent = |world: &World| app(world, "importer").permissions[0].admin_consent;
    let revoke = Change::RevokeConsent {
        app: "importer".into(),
        api: "Dynamics CRM".into(),
        scope: "user_impersonation".into(),
    };
    assert!(!consent(&after(std::slice::from_ref(&revoke))));
    let grant = Change::GrantConsent {
        app: "importer".into(),
        api: "Dynamics CRM".into(),
        scope: "user_impersonation".into(),
    };
    assert!(consent(&after(&[revoke, grant])));
}

#[test]
fn dynamics_is_disabled_and_enabled_in_a_tenant() {
    let tenant = |world: &World| world.tenant("contoso").expect("tenant").dynamics_enabled;
    let disable = Change::DisableDynamics {
        tenant: "contoso".into(),
    };
    assert!(!tenant(&after(std::slice::from_ref(&disable))));
    assert!(tenant(&after(&[
        disable,
        Change::EnableDynamics {
            tenant: "contoso".into()
        }
    ])));
}

#[test]
fn application_users_are_added_disabled_enabled_and_removed() {
    let reporter = app(&world(), "reporter").client_id;
    let world = after(&[Change::AddApplicationUser {
        environment: "contoso".into(),
        app: "reporter".into(),
        roles: vec!["Service Reader".into()],
    }]);
    let user = environment(&world, "contoso")
        .application_user(reporter)
        .expect("added");
    assert_eq!(user.roles.len(), 1);
    assert!(user.enabled);

    let importer = app(&world, "importer").client_id;
    let world = after(&[Change::DisableApplicationUser {
        environment: "contoso".into(),
        app: "importer".into(),
    }]);
    let user = environment(&world, "contoso")
        .application_user(importer)
        .expect("user");
    assert!(!user.enabled);
    let world = after(&[
        Change::DisableApplicationUser {
            environment: "contoso".into(),
            app: "importer".into(),
        },
        Change::EnableApplicationUser {
            environment: "contoso".into(),
            app: "importer".into(),
        },
    ]);
    let user = environment(&world, "contoso")
        .application_user(importer)
        .expect("user");
    assert!(user.enabled);

    // Removing the user also takes it out of its teams.
    let world = after(&[
        Change::AddTeamMember {
            environment: "contoso".into(),
            team: "Importers".into(),
            app: "importer".into(),
        },
        Change::RemoveApplicationUser {
            environment: "contoso".into(),
            app: "importer".into(),
        },
    ]);
    let contoso = environment(&world, "contoso");
    assert!(contoso.application_user(importer).is_none());
    assert!(contoso.teams[0].members.is_empty());
}

#[test]
fn roles_are_assigned_and_removed_directly_and_through_teams() {
    let world = after(&[Change::RemoveRole {
        environment: "contoso".into(),
        app: Some("importer".into()),
        team: None,
        role: "Importer Reader".into(),
    }]);
    assert!(importer_roles(&world).is_empty());
    let world = after(&[Change::AssignRole {
        environment: "contoso".into(),
        app: Some("importer".into()),
        team: None,
        role: "System Administrator".into(),
    }]);
    assert_eq!(
        importer_roles(&world),
        ["Importer Reader", "System Administrator"]
    );

    let team_roles = |world: &World| environment(world, "contoso").teams[0].roles.len();
    let world = after(&[Change::AssignRole {
        environment: "contoso".into(),
        app: None,
        team: Some("Importers".into()),
        role: "Importer Reader".into(),
    }]);
    assert_eq!(team_roles(&world), 2);
    let world = after(&[Change::RemoveRole {
        environment: "contoso".into(),
        app: None,
        team: Some("Importers".into()),
        role: "Service Reader".into(),
    }]);
    assert_eq!(team_roles(&world), 0);
}

#[test]
fn team_members_are_added_and_removed() {
    let members = |world: &World| environment(world, "contoso").teams[0].members.len();
    let add = Change::AddTeamMember {
        environment: "contoso".into(),
        team: "Importers".into(),
        app: "importer".into(),
    };
    assert_eq!(members(&after(std::slice::from_ref(&add))), 1);
    let remove = Change::RemoveTeamMember {
        environment: "contoso".into(),
        team: "Importers".into(),
        app: "importer".into(),
    };
    assert_eq!(members(&after(&[add, remove])), 0);
}

#[test]
fn privileges_are_set_lowered_and_removed() {
    let depth = |world: &World, privilege: &str| {
        environment(world, "contoso")
            .roles
            .iter()
            .find(|role| role.name == "Importer Reader")
            .expect("role")
            .privileges
            .get(privilege)
            .copied()
    };
    let set = |privilege: &str, depth: &str| Change::SetPrivilege {
        environment: "contoso".into(),
        role: "Importer Reader".into(),
        privilege: privilege.into(),
        depth: depth.into(),
    };
    let world = after(&[set("prvReadAccount", "Business Unit")]);
    assert_eq!(depth(&world, "prvReadAccount"), Some(Depth::Local));
    let world = after(&[set("prvReadLead", "Global")]);
    assert_eq!(depth(&world, "prvReadLead"), Some(Depth::Global));
    let world = after(&[set("prvReadContact", "None")]);
    assert_eq!(depth(&world, "prvReadContact"), None);
}

#[test]
fn admin_mode_and_limits_change() {
    let world = after(&[Change::AdminMode {
        environment: "contoso".into(),
        on: true,
    }]);
    assert!(environment(&world, "contoso").admin_mode);
    let world = after(&[
        Change::AdminMode {
            environment: "contoso".into(),
            on: true,
        },
        Change::AdminMode {
            environment: "contoso".into(),
            on: false,
        },
    ]);
    assert!(!environment(&world, "contoso").admin_mode);

    let before = environment(&self::world(), "contoso").limits;
    let world = after(&[Change::SetLimits {
        environment: "contoso".into(),
        requests: Some(5),
        window_seconds: Some(60),
        execution_milliseconds: None,
        execution_milliseconds_per_request: None,
        concurrent: None,
    }]);
    let limits = environment(&world, "contoso").limits;
    assert_eq!(limits.requests, 5);
    assert_eq!(limits.window_seconds, 60);
    assert_eq!(limits.concurrent, before.concurrent);
}

#[test]
fn rows_are_added_removed_and_generated() {
    let rows = |world: &World, table: &str| {
        let table = environment(world, "contoso")
            .tables
            .iter()
            .find(|candidate| candidate.logical_name == table)
            .expect("table")
            .clone();
        format!("{:?}", table.data)
    };
    let mut row = toml::Table::new();
    row.insert("fullname".into(), "Hana Sato".into());
    let world = after(&[Change::AddRows {
        environment: "contoso".into(),
        table: "contact".into(),
        rows: vec![row],
    }]);
    assert!(rows(&world, "contact").contains("Hana Sato"));

    let world = after(&[Change::RemoveRows {
        environment: "contoso".into(),
        table: "contact".into(),
        ids: Some(vec!["0A1B2C3D-0000-4000-8000-000000000001".into()]),
    }]);
    let contacts = rows(&world, "contact");
    assert!(!contacts.contains("Yvonne McKay"), "{contacts}");
    assert!(contacts.contains("Ari Tan"), "{contacts}");

    let world = after(&[Change::RemoveRows {
        environment: "contoso".into(),
        table: "contact".into(),
        ids: None,
    }]);
    assert!(!rows(&world, "contact").contains("Ari Tan"));

    let world = after(&[Change::SetGeneratedRows {
        environment: "contoso".into(),
        table: "contact".into(),
        count: 7,
    }]);
    assert_eq!(rows(&world, "contact"), "Generated { count: 7 }");
}

#[test]
fn faults_are_added_to_the_document_and_cleared_with_the_extra_ones() {
    let mut fault = FaultRule::new(FaultAction::Respond {
        status: 503,
        headers: Default::default(),
        body: String::new(),
    });
    fault.service = Some("entra".into());
    fault.nth = Some(2);
    let staged = staged(&[Change::AddFault {
        fault: fault.clone(),
    }]);
    assert_eq!(staged.world.faults(), std::slice::from_ref(&fault));
    assert!(staged.faults_changed);

    let world = world();
    let document = WorldDocument::of(&world).expect("document");
    let staged = stage(
        &document,
        &world,
        std::slice::from_ref(&fault),
        NOW,
        &IdGenerator::seeded(7),
        &[
            Change::AddFault {
                fault: fault.clone(),
            },
            Change::ClearFaults {},
        ],
    )
    .expect("valid");
    assert!(staged.world.faults().is_empty());
    assert!(staged.extra_faults.is_empty());
    assert!(!staged.document.to_toml().contains("faults"));
}

#[test]
fn the_clock_advances_by_seconds_duration_or_until() {
    let advance = |change: &str| staged(&[self::change(change)]).advance;
    assert_eq!(
        advance("change = \"advance_clock\"\nseconds = 90"),
        Duration::seconds(90)
    );
    assert_eq!(
        advance("change = \"advance_clock\"\nduration = \"1h30m\""),
        Duration::minutes(90)
    );
    assert_eq!(
        advance("change = \"advance_clock\"\nuntil = \"2026-03-02T12:00:00Z\""),
        Duration::days(1)
    );
    // A later change of the batch sees the moved clock.
    let staged = staged(&[
        change("change = \"advance_clock\"\nduration = \"2d\""),
        Change::ExpireSecret {
            app: "importer".into(),
            secret: "current".into(),
            at: None,
        },
    ]);
    assert_eq!(
        app(&staged.world, "importer").secrets[0].expires,
        NOW + Duration::days(2)
    );
}

#[test]
fn the_nearest_name_allows_one_edit_per_five_characters_and_counts_swaps_as_one() {
    let known: Vec<String> = ["importer", "reporter", "Importer Reader", "contoso"]
        .map(str::to_owned)
        .to_vec();
    assert_eq!(names::nearest("imprter", &known), Some("importer"));
    assert_eq!(names::nearest("improter", &known), Some("importer"));
    assert_eq!(names::nearest("IMPORTER", &known), Some("importer"));
    assert_eq!(
        names::nearest("importer reeder", &known),
        Some("Importer Reader")
    );
    assert_eq!(names::nearest("repoter", &known), Some("reporter"));
    assert_eq!(names::nearest("exporter", &known), None);
    assert_eq!(names::nearest("fabrikam", &known), None);
}

#[test]
fn durations_parse_in_seconds_minutes_hours_and_days() {
    assert_eq!(parse_duration("90s"), Ok(Duration::seconds(90)));
    assert_eq!(parse_duration("30m"), Ok(Duration::minutes(30)));
    assert_eq!(parse_duration("1h"), Ok(Duration::hours(1)));
    assert_eq!(parse_duration("2d"), Ok(Duration::days(2)));
    assert_eq!(parse_duration("1d2h3m4s"), Ok(Duration::seconds(93_784)));
    for bad in ["", "1", "h", "1x", "-1h", "1.5h", "99999999999999999999s"] {
        assert_eq!(
            parse_duration(bad),
            Err(format!(
                "`{bad}` is not a duration like `90s`, `30m`, `1h`, `2d` or `1h30m`"
            ))
        );
    }
}

#[test]
fn unknown_names_are_refused_with_the_nearest_one() {
    check_error(
        &[Change::DisableApp {
            app: "imprter".into(),
        }],
        "changes[0] (`disable_app`) `app`: unknown app `imprter`; did you mean `importer`? known: `importer`, `reporter`",
    );
    check_error(
        &[
            Change::AdminMode {
                environment: "contoso".into(),
                on: true,
            },
            Change::RemoveRole {
                environment: "contoso".into(),
                app: Some("importer".into()),
                team: None,
                role: "Importer Reeder".into(),
            },
        ],
        "changes[1] (`remove_role`) `role`: the application user of app `importer` has no role `Importer Reeder`; did you mean `Importer Reader`? known: `Importer Reader`",
    );
    check_error(
        &[Change::RemoveSecret {
            app: "importer".into(),
            secret: "curent".into(),
        }],
        "changes[0] (`remove_secret`) `secret`: app `importer` has no secret `curent`; did you mean `current`? known: `current`, `expired`",
    );
    check_error(
        &[Change::AdminMode {
            environment: "contosso".into(),
            on: true,
        }],
        "changes[0] (`admin_mode`) `environment`: unknown environment `contosso`; did you mean `contoso`? known: `contoso`, `fabrikam`",
    );
    check_error(
        &[Change::DisableDynamics {
            tenant: "fabrikan".into(),
        }],
        "changes[0] (`disable_dynamics`) `tenant`: unknown tenant `fabrikan`; did you mean `fabrikam`? known: `contoso`, `fabrikam`, `tailspin`",
    );
    check_error(
        &[Change::AddTeamMember {
            environment: "contoso".into(),
            team: "Importer".into(),
            app: "importer".into(),
        }],
        "changes[0] (`add_team_member`) `team`: environment `contoso` has no team `Importer`; did you mean `Importers`? known: `Importers`",
    );
    check_error(
        &[Change::AddRows {
            environment: "contoso".into(),
            table: "contacts".into(),
            rows: vec![],
        }],
        "changes[0] (`add_rows`) `table`: environment `contoso` has no table `contacts`; did you mean `contact`? known: `account`, `businessunit`, `contact`, `incident`, `lead`, `opportunity`, `role`, `systemuser`, `team`, `transactioncurrency`",
    );
    check_error(
        &[Change::RevokeConsent {
            app: "importer".into(),
            api: "Dynamics CRM".into(),
            scope: "user_impersonaton".into(),
        }],
        "changes[0] (`revoke_consent`) `scope`: app `importer` has no requested permission `Dynamics CRM user_impersonaton`; did you mean `Dynamics CRM user_impersonation`? known: `Dynamics CRM user_impersonation`",
    );
}

#[test]
fn unknown_names_of_every_kind_are_refused_with_the_known_ones() {
    check_error(
        &[Change::RemoveCertificate {
            app: "importer".into(),
            certificate: "importer-clients".into(),
        }],
        "changes[0] (`remove_certificate`) `certificate`: app `importer` has no certificate `importer-clients`; did you mean `importer-client`? known: `importer-client`",
    );
    check_error(
        &[Change::AssignRole {
            environment: "contoso".into(),
            app: Some("importer".into()),
            team: None,
            role: "System Adminstrator".into(),
        }],
        "changes[0] (`assign_role`) `role`: environment `contoso` has no role `System Adminstrator`; did you mean `System Administrator`? known: `Importer Reader`, `System Administrator`, `System Customizer`, `Basic User`, `Service Reader`, `Service Writer`, `Environment Maker`, `Delegate`, `Support User`",
    );
    check_error(
        &[Change::DisableApplicationUser {
            environment: "contoso".into(),
            app: "reporter".into(),
        }],
        "changes[0] (`disable_application_user`) `app`: environment `contoso` has no application user for app `reporter`; known: `importer`",
    );
    check_error(
        &[Change::RemoveTeamMember {
            environment: "contoso".into(),
            team: "Importers".into(),
            app: "importer".into(),
        }],
        "changes[0] (`remove_team_member`) `app`: team `Importers` has no member `importer`; there is none",
    );
    check_error(
        &[Change::RemoveRows {
            environment: "contoso".into(),
            table: "contacts".into(),
            ids: None,
        }],
        "changes[0] (`remove_rows`) `table`: environment `contoso` has no listed table `contacts`; did you mean `contact`? known: `account`, `contact`",
    );
    check_error(
        &[Change::RemoveRows {
            environment: "contoso".into(),
            table: "contact".into(),
            ids: Some(vec!["0a1b2c3d-0000-4000-8000-000000000003".into()]),
        }],
        "changes[0] (`remove_rows`) `ids`: table `contact` has no row with id `0a1b2c3d-0000-4000-8000-000000000003`; did you mean `0a1b2c3d-0000-4000-8000-000000000001`? known: `0a1b2c3d-0000-4000-8000-000000000001`, `0a1b2c3d-0000-4000-8000-000000000002`",
    );
    check_error(
        &[Change::AddServicePrincipal {
            app: "importer".into(),
            tenant: "tailspn".into(),
        }],
        "changes[0] (`add_service_principal`) `tenant`: unknown tenant `tailspn`; did you mean `tailspin`? known: `contoso`, `fabrikam`, `tailspin`",
    );
}

#[test]
fn changes_that_do_not_fit_the_world_are_refused() {
    check_error(
        &[Change::AddSecret {
            app: "importer".into(),
            secret: "current".into(),
            value: None,
            expires: None,
        }],
        "changes[0] (`add_secret`) `secret`: app `importer` already has secret `current`",
    );
    check_error(
        &[Change::AssignRole {
            environment: "contoso".into(),
            app: Some("importer".into()),
            team: Some("Importers".into()),
            role: "Basic User".into(),
        }],
        "changes[0] (`assign_role`): give exactly one of `app` and `team`",
    );
    check_error(
        &[Change::RemoveServicePrincipal {
            app: "importer".into(),
            tenant: "contoso".into(),
        }],
        "changes[0] (`remove_service_principal`) `tenant`: `contoso` is the home tenant of app `importer`, whose service principal goes only with the registration; use `disable_app`",
    );
    check_error(
        &[Change::EnableDynamics {
            tenant: "tailspin".into(),
        }],
        "changes[0] (`enable_dynamics`) `tenant`: tenant `tailspin` has no Dynamics CRM service principal (`dynamics = false`)",
    );
    check_error(
        &[Change::SetPrivilege {
            environment: "contoso".into(),
            role: "Basic User".into(),
            privilege: "prvReadAccount".into(),
            depth: "Global".into(),
        }],
        "changes[0] (`set_privilege`) `role`: `Basic User` is a predefined role, whose privileges are fixed; define a role of your own",
    );
    check_error(
        &[Change::AddRows {
            environment: "contoso".into(),
            table: "account".into(),
            rows: vec![],
        }],
        "changes[0] (`add_rows`) `table`: table `account` is generated; use `set_generated_rows`, or give it inline rows first",
    );
    check_error(
        &[change("change = \"advance_clock\"\nseconds = -5")],
        "changes[0] (`advance_clock`): the clock only moves forward (a reset puts it back)",
    );
    check_error(
        &[change(
            "change = \"advance_clock\"\nseconds = 5\nduration = \"1h\"",
        )],
        "changes[0] (`advance_clock`): give exactly one of `seconds`, `duration` and `until`",
    );
}

#[test]
fn a_change_that_makes_the_world_invalid_names_the_key_and_the_reason() {
    check_error(
        &[Change::SetPrivilege {
            environment: "contoso".into(),
            role: "Importer Reader".into(),
            privilege: "prvReadAccount".into(),
            depth: "Everything".into(),
        }],
        "changes[0] (`set_privilege`): the changed world is invalid at `environments.contoso.roles.Importer Reader.privileges.prvReadAccount`: `Everything` is not a depth; use `Basic`, `Local`, `Deep` or `Global`",
    );
    // A single-tenant app cannot be installed elsewhere: the world validator says so.
    check_error(
        &[Change::AddServicePrincipal {
            app: "reporter".into(),
            tenant: "fabrikam".into(),
        }],
        "changes[0] (`add_service_principal`): the changed world is invalid at `apps.reporter.service_principals[0].tenant`: app is single-tenant, so it has no service principal outside its home tenant `contoso`; set `multi_tenant = true`",
    );
}

#[test]
fn an_invalid_world_in_the_middle_of_a_batch_names_the_change_that_made_it() {
    check_error(
        &[
            Change::DisableApp {
                app: "importer".into(),
            },
            Change::SetPrivilege {
                environment: "contoso".into(),
                role: "Importer Reader".into(),
                privilege: "prvReadAcount".into(),
                depth: "Global".into(),
            },
            Change::AdminMode {
                environment: "contoso".into(),
                on: true,
            },
        ],
        "changes[1] (`set_privilege`) `privilege`: environment `contoso` has no privilege `prvReadAcount`; did you mean `prvReadAccount`? known: `prvReadAccount`",
    );
    check_error(
        &[
            Change::DisableApp {
                app: "importer".into(),
            },
            Change::SetPrivilege {
                environment: "contoso".into(),
                role: "Importer Reader".into(),
                privilege: "prvReadAccount".into(),
                depth: "Everywhere".into(),
            },
            Change::AdminMode {
                environment: "contoso".into(),
                on: true,
            },
        ],
        "changes[1] (`set_privilege`): the changed world is invalid at `environments.contoso.roles.Importer Reader.privileges.prvReadAccount`: `Everywhere` is not a depth; use `Basic`, `Local`, `Deep` or `Global`",
    );
}

#[test]
fn signing_key_paths_become_absolute_and_load_from_anywhere() {
    let text = WORLD.replace(
        "version = 1\n",
        "version = 1\n\n[signing_key]\nkey = \"../keys/entra-signing.key.pem\"\ncertificate = \"../keys/entra-signing.crt.pem\"\n",
    );
    let world =
        World::parse(&text, repo_root().join("fixtures/worlds/change-test.toml")).expect("loads");
    let document = WorldDocument::of(&world).expect("document");
    let written = document.to_toml();
    let keys = std::path::absolute(repo_root().join("fixtures/worlds/../keys")).expect("absolute");
    assert!(
        written.contains(&format!(
            "key = \"{}/entra-signing.key.pem\"",
            keys.display()
        )),
        "{written}"
    );
    assert!(
        !written.contains("PRIVATE KEY"),
        "the key's path, never its text"
    );
    let elsewhere = World::parse(&written, "/nowhere/world.toml").expect("loads from anywhere");
    assert_eq!(apps_of(&elsewhere), apps_of(&world));
}

#[test]
fn a_failing_batch_changes_nothing() {
    let world = world();
    let document = WorldDocument::of(&world).expect("document");
    let before = document.to_toml();
    let error = stage(
        &document,
        &world,
        &[],
        NOW,
        &IdGenerator::seeded(7),
        &[
            Change::DisableApp {
                app: "importer".into(),
            },
            Change::RemoveSecret {
                app: "importer".into(),
                secret: "nope".into(),
            },
        ],
    )
    .err()
    .expect("the second change fails");
    assert_eq!(error.index, 1);
    assert_eq!(document.to_toml(), before);
}

#[test]
fn change_errors_never_show_a_secret_value() {
    let value = "Zz9Q~never.shown.anywhere.0000000000000";
    let batches = [
        // Unknown app, existing name, and a world the validator refuses, each with the value.
        vec![Change::AddSecret {
            app: "imprter".into(),
            secret: "x".into(),
            value: Some(SecretValue::new(value)),
            expires: None,
        }],
        vec![Change::AddSecret {
            app: "importer".into(),
            secret: "current".into(),
            value: Some(SecretValue::new(value)),
            expires: None,
        }],
        vec![
            Change::AddSecret {
                app: "importer".into(),
                secret: "new".into(),
                value: Some(SecretValue::new(value)),
                expires: None,
            },
            Change::AddServicePrincipal {
                app: "reporter".into(),
                tenant: "fabrikam".into(),
            },
        ],
    ];
    let world = world();
    let document = WorldDocument::of(&world).expect("document");
    for changes in batches {
        let error = stage(
            &document,
            &world,
            &[],
            NOW,
            &IdGenerator::seeded(7),
            &changes,
        )
        .err()
        .expect("refused");
        let shown = format!("{error} {error:?} {changes:?}");
        assert!(!shown.contains(value), "{shown}");
        assert!(!shown.contains("test.importer.secret"), "{shown}");
    }
}

#[test]
fn a_worlds_debug_and_its_documents_never_show_a_secret_value() {
    let world = world();
    let document = WorldDocument::of(&world).expect("document");
    let shown = format!("{world:?} {document:?}");
    assert!(!shown.contains("test.importer.secret"), "{shown}");
    // The document itself is a world file, and world files hold their secrets.
    assert!(document.to_toml().contains("test.importer.secret"));
}

#[test]
fn changes_read_the_same_from_toml_and_json_and_refuse_unknown_fields() {
    let from_toml = change(
        r#"change = "remove_role"
environment = "contoso"
app = "importer"
role = "Importer Reader""#,
    );
    let from_json: Change = serde_json::from_str(
        r#"{"change":"remove_role","environment":"contoso","app":"importer","role":"Importer Reader"}"#,
    )
    .expect("json");
    assert_eq!(from_toml, from_json);
    assert_eq!(
        serde_json::to_string(&from_json).expect("serializes"),
        r#"{"change":"remove_role","environment":"contoso","app":"importer","role":"Importer Reader"}"#
    );
    let error = serde_json::from_str::<Change>(
        r#"{"change":"remove_role","environment":"contoso","app":"importer","rol":"x"}"#,
    )
    .expect_err("unknown field");
    assert!(error.to_string().contains("unknown field `rol`"), "{error}");
    let error =
        serde_json::from_str::<Change>(r#"{"change":"remove_rol"}"#).expect_err("unknown kind");
    assert!(
        error.to_string().contains("unknown variant `remove_rol`"),
        "{error}"
    );
    let clear: Change = serde_json::from_str(r#"{"change":"clear_faults"}"#).expect("clear");
    assert_eq!(clear, Change::ClearFaults {});
}

/// One change of every kind.
fn one_of_each() -> Vec<Change> {
    let toml_text = r#"
changes = [
  { change = "add_secret", app = "importer", secret = "s", value = "v", expires = "2029-01-01T00:00:00Z" },
  { change = "remove_secret", app = "importer", secret = "s" },
  { change = "expire_secret", app = "importer", secret = "s", at = "2027-01-01T00:00:00Z" },
  { change = "add_certificate", app = "importer", certificate = "c", pem = "-----BEGIN CERTIFICATE-----" },
  { change = "remove_certificate", app = "importer", certificate = "c" },
  { change = "disable_app", app = "importer" },
  { change = "enable_app", app = "importer" },
  { change = "add_service_principal", app = "importer", tenant = "fabrikam" },
  { change = "remove_service_principal", app = "importer", tenant = "fabrikam" },
  { change = "grant_consent", app = "importer", api = "Dynamics CRM", scope = "user_impersonation" },
  { change = "revoke_consent", app = "importer", api = "Dynamics CRM", scope = "user_impersonation" },
  { change = "disable_dynamics", tenant = "contoso" },
  { change = "enable_dynamics", tenant = "contoso" },
  { change = "add_application_user", environment = "contoso", app = "reporter", roles = ["Basic User"] },
  { change = "remove_application_user", environment = "contoso", app = "reporter" },
  { change = "disable_application_user", environment = "contoso", app = "importer" },
  { change = "enable_application_user", environment = "contoso", app = "importer" },
  { change = "assign_role", environment = "contoso", team = "Importers", role = "Basic User" },
  { change = "remove_role", environment = "contoso", app = "importer", role = "Importer Reader" },
  { change = "add_team_member", environment = "contoso", team = "Importers", app = "importer" },
  { change = "remove_team_member", environment = "contoso", team = "Importers", app = "importer" },
  { change = "set_privilege", environment = "contoso", role = "Importer Reader", privilege = "prvReadLead", depth = "Deep" },
  { change = "admin_mode", environment = "contoso", on = true },
  { change = "set_limits", environment = "contoso", requests = 10, concurrent = 2 },
  { change = "add_rows", environment = "contoso", table = "contact", rows = [{ fullname = "A", numberofchildren = 2 }] },
  { change = "remove_rows", environment = "contoso", table = "contact", ids = ["x"] },
  { change = "set_generated_rows", environment = "contoso", table = "contact", count = 3 },
  { change = "add_fault", fault = { service = "entra", from = 2, action = { kind = "respond", status = 503 } } },
  { change = "clear_faults" },
  { change = "advance_clock", duration = "1h" },
]
"#;
    #[derive(serde::Deserialize)]
    struct Batch {
        changes: Vec<Change>,
    }
    toml::from_str::<Batch>(toml_text)
        .unwrap_or_else(|error| panic!("{error}"))
        .changes
}

#[test]
fn every_kind_of_change_reads_back_from_its_own_json_and_toml() {
    let changes = one_of_each();
    let mut kinds: Vec<&str> = changes.iter().map(Change::kind).collect();
    kinds.dedup();
    assert_eq!(kinds.len(), 30, "one of each kind");
    for change in changes {
        let json = serde_json::to_value(&change).expect("JSON");
        assert_eq!(json["change"], change.kind(), "{json}");
        assert_eq!(
            serde_json::from_value::<Change>(json.clone()).expect("reads back"),
            change,
            "{json}"
        );
        let toml_value = toml::Value::try_from(&change).expect("TOML");
        let text = toml::to_string(&toml_value).expect("TOML text");
        assert_eq!(
            toml::from_str::<Change>(&text).expect("reads back"),
            change,
            "{text}"
        );
    }
}

#[test]
fn times_read_as_toml_datetimes_or_rfc_3339_strings() {
    let quoted = change(
        "change = \"expire_secret\"\napp = \"importer\"\nsecret = \"current\"\nat = \"2027-01-01T00:00:00Z\"",
    );
    let bare = change(
        "change = \"expire_secret\"\napp = \"importer\"\nsecret = \"current\"\nat = 2027-01-01T00:00:00Z",
    );
    assert_eq!(quoted, bare);
    let error = toml::from_str::<Change>(
        "change = \"expire_secret\"\napp = \"importer\"\nsecret = \"current\"\nat = \"tomorrow\"",
    )
    .expect_err("not a time");
    assert!(
        error
            .message()
            .contains("`tomorrow` is not an RFC 3339 time like `2027-01-01T00:00:00Z`"),
        "{error}"
    );
    let error = serde_json::from_str::<Change>(
        r#"{"change":"expire_secret","app":"importer","secret":"current","at":{"x":"2027-01-01T00:00:00Z"}}"#,
    )
    .expect_err("a table is not a time");
    assert!(error.to_string().contains("found a table"), "{error}");
}

#[test]
fn every_fixture_world_round_trips_through_its_document() {
    let folder = repo_root().join("fixtures/worlds");
    let mut checked = 0;
    for entry in std::fs::read_dir(&folder).expect("fixtures/worlds") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|extension| extension.to_str()) != Some("toml") {
            continue;
        }
        let world = World::load(&path).expect("fixture loads");
        let text = WorldDocument::of(&world).expect("document").to_toml();
        // The text loads from anywhere (certificates inline, key paths absolute).
        let elsewhere = World::parse(&text, "/nowhere/world.toml")
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let again = WorldDocument::of(&elsewhere).expect("document").to_toml();
        assert_eq!(again, text, "{}", path.display());
        assert_eq!(apps_of(&elsewhere), apps_of(&world), "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} worlds");
}

/// What the fake Entra ID gets of each app: client id, certificates, secrets, principals.
fn apps_of(world: &World) -> Vec<String> {
    let config = world
        .entra_config(fake_core::Clock::manual(NOW), IdGenerator::seeded(1))
        .expect("config");
    config
        .apps
        .iter()
        .map(|app| {
            let certificates: Vec<&Vec<u8>> = app.certificates.iter().map(|c| &c.der).collect();
            let secrets: Vec<(&str, &str)> = app
                .secrets
                .iter()
                .map(|secret| (secret.name.as_str(), secret.value.as_str()))
                .collect();
            format!(
                "{} {:?} {:?} {:?}",
                app.client_id, certificates, secrets, app.service_principals
            )
        })
        .collect()
}

/// Changes that the test world's original state can take and reverse exactly, each with its
/// reverse.
fn toggles() -> Vec<(Change, Change)> {
    let contoso = || "contoso".to_owned();
    vec![
        (
            Change::DisableApp {
                app: "importer".into(),
            },
            Change::EnableApp {
                app: "importer".into(),
            },
        ),
        (
            Change::RemoveServicePrincipal {
                app: "importer".into(),
                tenant: "fabrikam".into(),
            },
            Change::AddServicePrincipal {
                app: "importer".into(),
                tenant: "fabrikam".into(),
            },
        ),
        (
            Change::DisableApp {
                app: "reporter".into(),
            },
            Change::EnableApp {
                app: "reporter".into(),
            },
        ),
        (
            Change::AdminMode {
                environment: contoso(),
                on: true,
            },
            Change::AdminMode {
                environment: contoso(),
                on: false,
            },
        ),
        (
            Change::DisableApplicationUser {
                environment: contoso(),
                app: "importer".into(),
            },
            Change::EnableApplicationUser {
                environment: contoso(),
                app: "importer".into(),
            },
        ),
        (
            Change::DisableDynamics { tenant: contoso() },
            Change::EnableDynamics { tenant: contoso() },
        ),
        (
            Change::RevokeConsent {
                app: "importer".into(),
                api: "Dynamics CRM".into(),
                scope: "user_impersonation".into(),
            },
            Change::GrantConsent {
                app: "importer".into(),
                api: "Dynamics CRM".into(),
                scope: "user_impersonation".into(),
            },
        ),
        (
            Change::AddTeamMember {
                environment: contoso(),
                team: "Importers".into(),
                app: "importer".into(),
            },
            Change::RemoveTeamMember {
                environment: contoso(),
                team: "Importers".into(),
                app: "importer".into(),
            },
        ),
        (
            Change::AssignRole {
                environment: contoso(),
                app: Some("importer".into()),
                team: None,
                role: "Basic User".into(),
            },
            Change::RemoveRole {
                environment: contoso(),
                app: Some("importer".into()),
                team: None,
                role: "Basic User".into(),
            },
        ),
        (
            Change::AddApplicationUser {
                environment: contoso(),
                app: "reporter".into(),
                roles: vec!["Service Reader".into()],
            },
            Change::RemoveApplicationUser {
                environment: contoso(),
                app: "reporter".into(),
            },
        ),
        (
            Change::AddSecret {
                app: "reporter".into(),
                secret: "second".into(),
                value: None,
                expires: None,
            },
            Change::RemoveSecret {
                app: "reporter".into(),
                secret: "second".into(),
            },
        ),
    ]
}

proptest! {
    /// Any subset of the toggles, applied in any order and then reversed in the opposite
    /// order, gives back the document's text byte for byte; every step validates.
    #[test]
    fn toggles_and_their_reverses_give_back_the_original_text(
        order in Just((0..toggles().len()).collect::<Vec<usize>>()).prop_shuffle(),
        count in 0..=toggles().len(),
    ) {
        let world = world();
        let document = WorldDocument::of(&world).expect("document");
        let toggles = toggles();
        let chosen = &order[..count];
        let mut changes: Vec<Change> = chosen.iter().map(|index| toggles[*index].0.clone()).collect();
        changes.extend(chosen.iter().rev().map(|index| toggles[*index].1.clone()));
        let staged = stage(&document, &world, &[], NOW, &IdGenerator::seeded(7), &changes)
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(staged.document.to_toml(), document.to_toml());
        // Halfway, every chosen toggle shows in the text.
        let half = stage(&document, &world, &[], NOW, &IdGenerator::seeded(7), &changes[..count])
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(half.document.to_toml() == document.to_toml(), count == 0);
    }
}
