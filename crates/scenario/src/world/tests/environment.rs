//! Dataverse environments in world files: the demo world's, the defaults, every field on its
//! way into `fake_dataverse::Config` (which the fake must accept), and the exact text of every
//! error (path, line, column, dotted key).

use fake_dataverse::{Depth, ServiceProtectionLimits, Switches, TableData};
use serde_json::json;

use super::*;

// `custom_tables`: definitions, privileges, errors.
mod custom_tables;
// `forced_throttles`: fields, defaults, errors, the fake's `forced_throttles`.
mod forced_throttles;

// `teams`: owner and group teams, their roles and members, and their errors.
mod teams;

const ORGANIZATION: Uuid = uuid!("f2c9290b-0806-4d48-bf9c-3814d4286755");
const SYSTEM_ADMINISTRATOR_TEMPLATE: Uuid = uuid!("627090ff-40a3-4053-8790-584edc5be201");

/// The tenants and the app (lines 1 to 19), then `[environments.contoso]` on line 20, its
/// `url` on 21, `tenant` on 22, and `body` from line 23.
/// Loads each `(world text, expected error)` case as `worlds/test.toml` and reports every case
/// whose error (or "no error") differs, with its input from line 20 on.
#[track_caller]
fn check_errors(cases: &[(String, String)]) {
    let mismatches: Vec<String> = cases
        .iter()
        .filter_map(|(text, expected)| {
            let actual = match World::parse(text, "worlds/test.toml") {
                Ok(_) => "no error".to_owned(),
                Err(error) => chain(&error),
            };
            (&actual != expected).then(|| {
                let input = text.lines().skip(19).collect::<Vec<_>>().join("\n");
                format!("--- input from line 20 ---\n{input}\n  expected: {expected}\n  actual:   {actual}")
            })
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

fn with_environment(body: &str) -> String {
    with_environment_in("contoso", body)
}

/// [`with_environment`] with `tenant = "{tenant}"`.
fn with_environment_in(tenant: &str, body: &str) -> String {
    format!(
        "{TENANTS}{APP}[environments.contoso]\nurl = \"https://contoso.crm.dynamics.com\"\n\
         tenant = \"{tenant}\"\n{body}"
    )
}

#[track_caller]
fn parse(text: &str) -> World {
    World::parse(text, "worlds/test.toml")
        .unwrap_or_else(|error| panic!("{}\n--- input ---\n{text}", chain(&error)))
}

/// The Dataverse config of `text`, after checking the fake accepts it.
#[track_caller]
fn dataverse_config(text: &str) -> fake_dataverse::Config {
    let world = parse(text);
    let accepted = world
        .dataverse_config(Clock::system(), IdGenerator::seeded(1))
        .expect("config");
    if let Err(error) = fake_dataverse::service(accepted) {
        panic!("the fake refuses the config: {error}\n--- input ---\n{text}");
    }
    world
        .dataverse_config(Clock::system(), IdGenerator::seeded(1))
        .expect("config")
}

fn table_data(environment: &Environment) -> Vec<(&str, String)> {
    environment
        .tables
        .iter()
        .map(|table| {
            let data = match &table.data {
                TableData::Generated { count } => format!("generate {count}"),
                TableData::Rows(rows) => format!("{} rows", rows.len()),
            };
            (table.logical_name.as_str(), data)
        })
        .collect()
}

/// UUID v5 of `name` in the URL namespace: fake-entra's derivation of service principal ids,
/// written out independently.
fn v5_url(name: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes())
}

#[test]
fn loads_the_demo_worlds_environment() {
    let world = demo_world();
    let [environment] = world.environments() else {
        panic!("one environment: {:#?}", world.environments());
    };
    assert_eq!(environment.key, "contoso");
    assert_eq!(environment.url, "https://contoso.crm.dynamics.com");
    assert_eq!(environment.host, "contoso.crm.dynamics.com");
    assert_eq!(environment.api_host(), "contoso.api.crm.dynamics.com");
    assert_eq!(
        (environment.tenant.as_str(), environment.tenant_id),
        ("contoso", CONTOSO)
    );
    assert_eq!(environment.organization_id, ORGANIZATION);
    assert_eq!(environment.environment_id, format!("Default-{CONTOSO}"));
    assert_eq!(environment.friendly_name, "Contoso");
    assert_eq!(environment.unique_name, "org0335df44");
    assert_eq!(environment.version, "9.2.25093.00168");
    assert_eq!(environment.geo, "NA");
    assert!(!environment.admin_mode);
    assert_eq!(environment.data_seed, 1);
    assert_eq!(environment.limits, ServiceProtectionLimits::default());

    let root = environment.root_business_unit();
    assert_eq!(environment.business_units, std::slice::from_ref(root));
    assert_eq!(root.name, "contoso");

    let [reader] = environment.roles.as_slice() else {
        panic!("one role: {:#?}", environment.roles);
    };
    assert_eq!(reader.name, "Importer Reader");
    assert_eq!((reader.business_unit, reader.template_id), (root.id, None));
    let privileges: Vec<(&str, Depth)> = reader
        .privileges
        .iter()
        .map(|(name, depth)| (name.as_str(), *depth))
        .collect();
    assert_eq!(
        privileges,
        [
            ("prvReadAccount", Depth::Global),
            ("prvReadContact", Depth::Global),
            ("prvReadLead", Depth::Global),
            ("prvReadOpportunity", Depth::Global),
        ],
        "no prvReadIncident, so reading cases fails"
    );

    let user = environment
        .application_user(IMPORTER)
        .expect("the importer's application user");
    assert_eq!(environment.application_users, std::slice::from_ref(user));
    assert_eq!(user.full_name, "# MultiSource Importer");
    assert_eq!(user.business_unit, root.id);
    assert_eq!(user.roles, [reader.id]);
    assert!(user.enabled);
    assert_eq!(
        user.object_id,
        Some(v5_url(&format!(
            "d365-harness:service-principal:{CONTOSO}:{IMPORTER}"
        ))),
        "the `oid` the fake Entra ID puts in the importer's tokens"
    );

    assert_eq!(
        table_data(environment),
        [
            ("account", "generate 120".to_owned()),
            ("contact", "generate 250".to_owned()),
            ("lead", "generate 40".to_owned()),
            ("opportunity", "generate 60".to_owned()),
            ("incident", "generate 25".to_owned()),
            ("systemuser", "0 rows".to_owned()),
            ("role", "0 rows".to_owned()),
            ("businessunit", "0 rows".to_owned()),
        ]
    );
    assert_eq!(
        world
            .first_environment_of("contoso")
            .map(|environment| environment.key.as_str()),
        Some("contoso")
    );
    assert!(world.first_environment_of("fabrikam").is_none());
    assert_eq!(
        world.environment("contoso").map(|found| found.url.as_str()),
        Some("https://contoso.crm.dynamics.com")
    );
}

#[test]
fn translates_the_demo_world_into_the_dataverse_config() {
    let world = demo_world();
    let clock = Clock::manual(datetime!(2026-11-26 00:00:00 UTC));
    let config = world
        .dataverse_config(clock, IdGenerator::seeded(7))
        .expect("config");
    assert!(config.clock.is_manual());
    assert_eq!(config.authority_host, "login.microsoftonline.com");
    assert_eq!(config.issuer_host, "sts.windows.net");
    assert_eq!(config.switches, Switches::default());
    assert!(config.forced_throttles.is_empty());

    let signing_key = world
        .entra_config(Clock::system(), IdGenerator::seeded(7))
        .expect("entra config")
        .signing_key;
    let [key] = config.trusted_keys.keys.as_slice() else {
        panic!("one trusted key: {:?}", config.trusted_keys);
    };
    assert_eq!(
        serde_json::to_value(key).expect("JWK serializes"),
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": signing_key.kid(),
            "n": signing_key.modulus(),
            "e": signing_key.exponent(),
        }),
        "the key the fake Entra ID signs with"
    );

    let [environment] = config.environments.as_slice() else {
        panic!("one environment");
    };
    let expected = &world.environments()[0];
    assert_eq!(environment.host, "contoso.crm.dynamics.com");
    assert_eq!(environment.tenant_id, CONTOSO);
    assert_eq!(environment.organization_id, ORGANIZATION);
    assert_eq!(environment.environment_id, expected.environment_id);
    assert_eq!(environment.unique_name, "org0335df44");
    assert_eq!(environment.roles, expected.roles);
    assert_eq!(environment.application_users, expected.application_users);
    let tables: Vec<(&str, &str)> = environment
        .tables
        .iter()
        .map(|table| {
            (
                table.definition.logical_name.as_str(),
                table.definition.entity_set_name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        tables,
        [
            ("account", "accounts"),
            ("contact", "contacts"),
            ("lead", "leads"),
            ("opportunity", "opportunities"),
            ("incident", "incidents"),
            ("systemuser", "systemusers"),
            ("role", "roles"),
            ("businessunit", "businessunits"),
        ]
    );

    let mount = fake_dataverse::mount(config).expect("the fake accepts the demo world");
    let hosts: Vec<String> = mount.hosts.iter().map(ToString::to_string).collect();
    assert_eq!(
        hosts,
        ["contoso.api.crm.dynamics.com", "contoso.crm.dynamics.com"],
        "both host forms (the fake sorts them)"
    );
}

#[test]
fn environment_fields_have_defaults() {
    let world = parse(&with_environment(""));
    let environment = &world.environments()[0];
    let organization = v5_url("d365-harness:organization:contoso.crm.dynamics.com");
    assert_eq!(environment.organization_id, organization);
    assert_eq!(environment.environment_id, format!("Default-{CONTOSO}"));
    assert_eq!(environment.friendly_name, "Contoso", "the tenant's name");
    assert_eq!(
        environment.unique_name,
        format!("org{}", &organization.simple().to_string()[..8])
    );
    assert_eq!(
        (environment.version.as_str(), environment.geo.as_str()),
        ("9.2.25093.00168", "NA")
    );
    assert!(!environment.admin_mode);
    assert_eq!(environment.data_seed, 1);
    assert_eq!(environment.limits, ServiceProtectionLimits::default());
    let units: Vec<(&str, Uuid, Option<Uuid>)> = environment
        .business_units
        .iter()
        .map(|unit| (unit.name.as_str(), unit.id, unit.parent))
        .collect();
    assert_eq!(
        units,
        [(
            "contoso",
            Uuid::new_v5(&organization, b"d365-harness:businessunit:contoso"),
            None
        )],
        "one root named after the URL"
    );
    assert!(environment.roles.is_empty() && environment.application_users.is_empty());
    assert_eq!(
        table_data(environment),
        [
            ("systemuser", "0 rows".to_owned()),
            ("role", "0 rows".to_owned()),
            ("businessunit", "0 rows".to_owned()),
        ]
    );
    let again = parse(&with_environment(""));
    assert_eq!(
        again.environments()[0].business_units,
        environment.business_units,
        "derived ids are stable"
    );
    let config = dataverse_config(&with_environment(""));
    assert_eq!(config.switches, Switches::default());
}

#[test]
fn environment_fields_reach_the_config() {
    let text = with_environment(
        r#"organization_id = "11111111-2222-4333-8444-555555555555"
environment_id = "0f1e2d3c-4b5a-4968-8776-655443322110"
friendly_name = "Contoso (test)"
unique_name = "contosotest"
version = "9.2.24101.00200"
geo = "EMEA"
admin_mode = true
data_seed = 42
business_units = [
  { name = "Contoso Ltd", id = "aaaaaaaa-0000-4000-8000-000000000001" },
  { name = "Sales", parent = "Contoso Ltd" },
  { name = "Sales EMEA", parent = "Sales" },
]
limits = { requests = 10, window_seconds = 60, execution_milliseconds = 5000, execution_milliseconds_per_request = 100, concurrent = 2 }

[environments.contoso.roles."Importer Reader"]
privileges = { prvReadAccount = "Global", prvReadContact = "business unit" }

[environments.contoso.roles."Sales Reader"]
business_unit = "Sales"
id = "bbbbbbbb-0000-4000-8000-000000000001"
privileges = { prvReadLead = "Deep" }

[[environments.contoso.application_users]]
app = "importer"
business_unit = "Sales EMEA"
roles = ["Importer Reader", "Sales Reader", "System Administrator"]
enabled = false
id = "cccccccc-0000-4000-8000-000000000001"

[environments.contoso.tables]
account = { rows = [
  { accountid = "DDDDDDDD-0000-4000-8000-000000000001", name = "Fourth Coffee", revenue = 1250000.5, numberofemployees = 40, creditonhold = false, createdon = 2026-01-15T09:30:00+01:00 },
  { name = "Litware", modifiedon = "2026-02-01T00:00:00Z", _primarycontactid_value = "eeeeeeee-0000-4000-8000-000000000001" },
] }
contact = { generate = 0 }
systemuser = { generate = 3 }

[dataverse]
disabled_user_code = "0x80072560"
zero_roles_code = "0X80042F09"
whoami_without_roles = false
property_not_found_code = "0x0"
segment_not_found_code = "0x80060888"
throttle_code_decimal = true
access_mode_text = "4 Non-interactive user"
"#,
    );
    let world = parse(&text);
    let environment = &world.environments()[0];
    let organization = uuid!("11111111-2222-4333-8444-555555555555");
    let unit = |name: &str| {
        environment
            .business_units
            .iter()
            .find(|unit| unit.name == name)
            .unwrap_or_else(|| panic!("business unit {name}"))
            .id
    };
    let root = uuid!("aaaaaaaa-0000-4000-8000-000000000001");
    assert_eq!(unit("Contoso Ltd"), root);
    assert_eq!(
        unit("Sales"),
        Uuid::new_v5(&organization, b"d365-harness:businessunit:Sales")
    );
    let parents: Vec<Option<Uuid>> = environment
        .business_units
        .iter()
        .map(|unit| unit.parent)
        .collect();
    assert_eq!(parents, [None, Some(root), Some(unit("Sales"))]);

    // The defined roles in their own units, then what the user needs in Sales EMEA: inherited
    // copies of both and the predefined System Administrator with its template id.
    let emea = unit("Sales EMEA");
    let role_id = |name: &str, unit: Uuid| {
        Uuid::new_v5(
            &organization,
            format!("d365-harness:role:{name}:{unit}").as_bytes(),
        )
    };
    let roles: Vec<(&str, Uuid, Uuid, Option<Uuid>, usize)> = environment
        .roles
        .iter()
        .map(|role| {
            (
                role.name.as_str(),
                role.id,
                role.business_unit,
                role.template_id,
                role.privileges.len(),
            )
        })
        .collect();
    let administrator_privileges = fake_dataverse::predefined_role("System Administrator")
        .expect("predefined")
        .privileges
        .len();
    assert_eq!(
        roles,
        [
            (
                "Importer Reader",
                role_id("Importer Reader", root),
                root,
                None,
                2
            ),
            (
                "Sales Reader",
                uuid!("bbbbbbbb-0000-4000-8000-000000000001"),
                unit("Sales"),
                None,
                1
            ),
            (
                "Importer Reader",
                role_id("Importer Reader", emea),
                emea,
                None,
                2
            ),
            ("Sales Reader", role_id("Sales Reader", emea), emea, None, 1),
            (
                "System Administrator",
                role_id("System Administrator", emea),
                emea,
                Some(SYSTEM_ADMINISTRATOR_TEMPLATE),
                administrator_privileges
            ),
        ]
    );
    assert_eq!(
        environment.roles[0].privileges.get("prvReadContact"),
        Some(&Depth::Local),
        "UI depth names are accepted"
    );
    let [user] = environment.application_users.as_slice() else {
        panic!("one user");
    };
    assert_eq!(user.id, uuid!("cccccccc-0000-4000-8000-000000000001"));
    assert_eq!(user.business_unit, emea);
    assert_eq!(user.roles, [roles[2].1, roles[3].1, roles[4].1]);
    assert!(!user.enabled);

    let TableData::Rows(rows) = &environment.tables[0].data else {
        panic!("account rows");
    };
    assert_eq!(
        serde_json::Value::Array(rows.iter().cloned().map(Into::into).collect()),
        json!([
            {
                "accountid": "dddddddd-0000-4000-8000-000000000001",
                "name": "Fourth Coffee",
                "revenue": 1250000.5,
                "numberofemployees": 40,
                "creditonhold": false,
                "createdon": "2026-01-15T08:30:00Z",
            },
            {
                "accountid": Uuid::new_v5(&organization, b"d365-harness:row:account:1").to_string(),
                "name": "Litware",
                "modifiedon": "2026-02-01T00:00:00Z",
                "_primarycontactid_value": "eeeeeeee-0000-4000-8000-000000000001",
            },
        ]),
        "GUIDs and times normalized; a missing primary key derived"
    );
    assert_eq!(
        table_data(environment),
        [
            ("account", "2 rows".to_owned()),
            ("contact", "generate 0".to_owned()),
            ("systemuser", "generate 3".to_owned()),
            ("role", "0 rows".to_owned()),
            ("businessunit", "0 rows".to_owned()),
        ]
    );

    let config = dataverse_config(&text);
    let [translated] = config.environments.as_slice() else {
        panic!("one environment");
    };
    assert_eq!(
        (
            translated.organization_id,
            translated.environment_id.as_str(),
            translated.friendly_name.as_str(),
            translated.unique_name.as_str(),
            translated.version.as_str(),
            translated.geo.as_str(),
            translated.admin_mode,
            translated.data_seed,
        ),
        (
            organization,
            "0f1e2d3c-4b5a-4968-8776-655443322110",
            "Contoso (test)",
            "contosotest",
            "9.2.24101.00200",
            "EMEA",
            true,
            42,
        )
    );
    assert_eq!(
        translated.limits,
        ServiceProtectionLimits {
            requests: 10,
            window_seconds: 60,
            execution_milliseconds: 5000,
            execution_milliseconds_per_request: 100,
            concurrent: 2,
        }
    );
    assert_eq!(translated.business_units, environment.business_units);
    assert_eq!(translated.roles, environment.roles);
    assert_eq!(translated.application_users, environment.application_users);
    assert_eq!(
        config.switches,
        Switches {
            disabled_user_code: "0x80072560".to_owned(),
            zero_roles_code: "0x80042f09".to_owned(),
            whoami_without_roles: false,
            property_not_found_code: "0x0".to_owned(),
            segment_not_found_code: "0x80060888".to_owned(),
            throttle_code_decimal: true,
            access_mode_text: "4 Non-interactive user".to_owned(),
        }
    );
}

#[test]
fn several_environments_and_tenants() {
    let text = format!(
        "{TENANTS}{}",
        r#"
[apps.importer]
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
display_name = "Importer"
home_tenant = "contoso"
multi_tenant = true
service_principals = [{ tenant = "fabrikam", object_id = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" }]

[environments.sandbox]
url = "https://Contoso-Sandbox.API.crm4.dynamics.com/api/data/v9.2/"
tenant = "contoso"
environment_id = "Default-6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10"

[environments.production]
url = "https://contoso.crm.dynamics.com/main.aspx?appid=1"
tenant = "contoso"

[environments.fabrikam]
url = "https://fabrikam.crm.dynamics.com"
tenant = "fabrikam"
application_users = [{ app = "importer" }]
"#
    );
    let world = parse(&text);
    let summary: Vec<(&str, &str, &str)> = world
        .environments()
        .iter()
        .map(|environment| {
            (
                environment.key.as_str(),
                environment.url.as_str(),
                environment.host.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "sandbox",
                "https://contoso-sandbox.crm4.dynamics.com",
                "contoso-sandbox.crm4.dynamics.com"
            ),
            (
                "production",
                "https://contoso.crm.dynamics.com",
                "contoso.crm.dynamics.com"
            ),
            (
                "fabrikam",
                "https://fabrikam.crm.dynamics.com",
                "fabrikam.crm.dynamics.com"
            ),
        ],
        "the host is what counts: web host, lower case, no path"
    );
    let production = world.environment("production").expect("production");
    assert_eq!(
        Uuid::try_parse(&production.environment_id).ok(),
        Some(Uuid::new_v5(
            &production.organization_id,
            b"d365-harness:environment:"
        )),
        "only a tenant's first environment is its default one"
    );
    assert_eq!(
        world
            .first_environment_of("contoso")
            .map(|found| &found.key),
        Some(&"sandbox".to_owned())
    );
    let fabrikam = world.environment("fabrikam").expect("fabrikam");
    assert_eq!(fabrikam.friendly_name, "Fabrikam");
    let user = fabrikam.application_user(IMPORTER).expect("user");
    assert_eq!(
        user.object_id,
        Some(uuid!("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")),
        "the object id the world gives the principal"
    );
    assert!(user.roles.is_empty(), "no roles unless listed");
    assert_eq!(
        world.apps()[0].principal_object_id(CONTOSO),
        v5_url(&format!(
            "d365-harness:service-principal:{CONTOSO}:{IMPORTER}"
        ))
    );
    let config = dataverse_config(&text);
    assert_eq!(config.environments.len(), 3);
}

#[test]
fn environment_errors_name_the_key_line_and_column() {
    let known_privileges = {
        let mut known: Vec<String> = fake_dataverse::predefined_roles()
            .into_iter()
            .flat_map(|role| role.privileges.into_keys())
            .collect();
        known.sort();
        known.dedup();
        known.join(", ")
    };
    let predefined = fake_dataverse::predefined_roles()
        .into_iter()
        .map(|role| role.name)
        .collect::<Vec<_>>()
        .join(", ");
    let account_columns = fake_dataverse::standard_table("account")
        .expect("account")
        .columns
        .iter()
        .map(|column| column.web_api_name())
        .collect::<Vec<_>>()
        .join(", ");
    let cases: Vec<(String, String)> = vec![
        // Shapes, from the parser.
        (
            with_environment("organisation_id = \"x\"\n"),
            "failed to parse world `worlds/test.toml` at line 23, column 1: unknown field \
             `organisation_id`, expected one of `url`, `tenant`, `organization_id`, \
             `environment_id`, `friendly_name`, `unique_name`, `version`, `geo`, `admin_mode`, \
             `data_seed`, `business_units`, `roles`, `application_users`, `teams`, \
             `custom_tables`, `tables`, `limits`, `forced_throttles`"
                .to_owned(),
        ),
        (
            with_tail("[environments.contoso]\ntenant = \"contoso\"\n"),
            "failed to parse world `worlds/test.toml` at line 20, column 1: missing field `url`"
                .to_owned(),
        ),
        (
            with_environment("tables = { account = { generated = 5 } }\n"),
            "failed to parse world `worlds/test.toml` at line 23, column 24: unknown field \
             `generated`, expected one of `generate`, `rows`, `owners`"
                .to_owned(),
        ),
        (
            with_environment("application_users = [{ app = \"importer\", role = \"x\" }]\n"),
            "failed to parse world `worlds/test.toml` at line 23, column 42: unknown field \
             `role`, expected one of `app`, `roles`, `business_unit`, `enabled`, `id`"
                .to_owned(),
        ),
        (
            with_environment("limits = { requests_per_window = 5 }\n"),
            "failed to parse world `worlds/test.toml` at line 23, column 12: unknown field \
             `requests_per_window`, expected one of `requests`, `window_seconds`, \
             `execution_milliseconds`, `execution_milliseconds_per_request`, `concurrent`"
                .to_owned(),
        ),
        (
            with_tail("[dataverse]\nwhoami_without_roles = \"yes\"\n"),
            "failed to parse world `worlds/test.toml` at line 21, column 24: invalid type: \
             string \"yes\", expected a boolean"
                .to_owned(),
        ),
        (
            with_tail("[dataverse]\ndisabled_code = \"0x80072560\"\n"),
            "failed to parse world `worlds/test.toml` at line 21, column 1: unknown field \
             `disabled_code`, expected one of `disabled_user_code`, `zero_roles_code`, \
             `whoami_without_roles`, `property_not_found_code`, `segment_not_found_code`, \
             `throttle_code_decimal`, `access_mode_text`"
                .to_owned(),
        ),
        // The environment itself.
        (
            with_environment("").replace("https://contoso", "http://contoso"),
            "invalid world `worlds/test.toml` at line 21, column 7: `environments.contoso.url`: \
             `http://contoso.crm.dynamics.com` is not an https URL of a Dataverse host like \
             `https://contoso.crm.dynamics.com`"
                .to_owned(),
        ),
        (
            with_environment("")
                .replace("contoso.crm.dynamics.com", "contoso.crm.dynamics.com:443"),
            "invalid world `worlds/test.toml` at line 21, column 7: `environments.contoso.url`: \
             `https://contoso.crm.dynamics.com:443` is not an https URL of a Dataverse host like \
             `https://contoso.crm.dynamics.com`"
                .to_owned(),
        ),
        (
            with_environment("").replace("contoso.crm.dynamics.com", "graph.microsoft.com"),
            "invalid world `worlds/test.toml` at line 21, column 7: `environments.contoso.url`: \
             `https://graph.microsoft.com` is not an https URL of a Dataverse host like \
             `https://contoso.crm.dynamics.com`"
                .to_owned(),
        ),
        (
            with_environment(
                "\n[environments.copy]\nurl = \"https://CONTOSO.api.crm.dynamics.com/\"\ntenant = \"contoso\"\n",
            ),
            "invalid world `worlds/test.toml` at line 25, column 7: `environments.copy.url`: \
             environment host `contoso.crm.dynamics.com` is already used by \
             `environments.contoso.url`"
                .to_owned(),
        ),
        (
            with_environment("").replace("[environments.contoso]", "[environments.\"con toso\"]"),
            "invalid world `worlds/test.toml` at line 20, column 15: `environments`: `con toso` \
             is not a plain key; use letters, digits, `-` and `_`"
                .to_owned(),
        ),
        (
            with_environment_in("contosso", ""),
            "invalid world `worlds/test.toml` at line 22, column 10: \
             `environments.contoso.tenant`: unknown tenant `contosso`; known: contoso, fabrikam"
                .to_owned(),
        ),
        (
            with_environment("organization_id = \"f2c9290b\"\n"),
            "invalid world `worlds/test.toml` at line 23, column 19: \
             `environments.contoso.organization_id`: `f2c9290b` is not a GUID: invalid length: \
             found 8"
                .to_owned(),
        ),
        (
            with_environment("version = \"9.2\"\n"),
            "invalid world `worlds/test.toml` at line 23, column 11: \
             `environments.contoso.version`: `9.2` is not a version like `9.2.25093.00168`"
                .to_owned(),
        ),
        (
            with_environment("friendly_name = \" \"\n"),
            "invalid world `worlds/test.toml` at line 23, column 17: \
             `environments.contoso.friendly_name`: must not be empty"
                .to_owned(),
        ),
        (
            with_environment("data_seed = -1\n"),
            "invalid world `worlds/test.toml` at line 23, column 13: \
             `environments.contoso.data_seed`: must be at least 0, not `-1`"
                .to_owned(),
        ),
        (
            with_environment(
                "unique_name = \"contoso\"\n\n[environments.other]\nurl = \"https://other.crm.dynamics.com\"\n\
                 tenant = \"contoso\"\nunique_name = \"Contoso\"\n",
            ),
            "invalid world `worlds/test.toml` at line 28, column 15: \
             `environments.other.unique_name`: unique name `contoso` is already used by \
             `environments.contoso.unique_name`"
                .to_owned(),
        ),
        // Business units.
        (
            with_environment("business_units = []\n"),
            "invalid world `worlds/test.toml` at line 23, column 18: \
             `environments.contoso.business_units`: no business unit is the root; leave out \
             `parent` on exactly one"
                .to_owned(),
        ),
        (
            with_environment("business_units = [{ name = \"contoso\" }, { name = \"Sales\" }]\n"),
            "invalid world `worlds/test.toml` at line 23, column 50: \
             `environments.contoso.business_units[1]`: `contoso` is already the root business \
             unit; give this one a `parent`"
                .to_owned(),
        ),
        (
            with_environment(
                "business_units = [{ name = \"contoso\" }, { name = \"Sales\", parent = \"contosso\" }]\n",
            ),
            "invalid world `worlds/test.toml` at line 23, column 68: \
             `environments.contoso.business_units[1].parent`: unknown business unit `contosso`; \
             known: contoso, Sales"
                .to_owned(),
        ),
        (
            with_environment(
                "business_units = [{ name = \"contoso\" }, { name = \"Sales\", parent = \"contoso\" }, \
                 { name = \"Sales\", parent = \"contoso\" }]\n",
            ),
            "invalid world `worlds/test.toml` at line 23, column 90: \
             `environments.contoso.business_units[2].name`: business unit name `Sales` is \
             already used by `environments.contoso.business_units[1].name`"
                .to_owned(),
        ),
        (
            with_environment(
                "business_units = [{ name = \"contoso\" }, { name = \"A\", parent = \"B\" }, \
                 { name = \"B\", parent = \"A\" }]\n",
            ),
            "invalid world `worlds/test.toml` at line 23, column 64: \
             `environments.contoso.business_units[1].parent`: the parents of business unit `A` \
             go round in a cycle and never reach the root"
                .to_owned(),
        ),
        (
            with_environment("business_units = [{ name = \"contoso\", id = \"root\" }]\n"),
            "invalid world `worlds/test.toml` at line 23, column 44: \
             `environments.contoso.business_units[0].id`: `root` is not a GUID: invalid \
             character: found `r` at 0"
                .to_owned(),
        ),
        // Roles.
        (
            with_environment(
                "[environments.contoso.roles.\"Service Reader\"]\nprivileges = { prvReadAccount = \"Global\" }\n",
            ),
            "invalid world `worlds/test.toml` at line 23, column 29: \
             `environments.contoso.roles.Service Reader`: `Service Reader` is a predefined role; \
             assign it to users by name, or define a role with another name"
                .to_owned(),
        ),
        (
            with_environment(
                "[environments.contoso.roles.Reader]\nprivileges = { prvReadAcount = \"Global\" }\n",
            ),
            format!(
                "invalid world `worlds/test.toml` at line 24, column 16: \
                 `environments.contoso.roles.Reader.privileges.prvReadAcount`: unknown privilege \
                 `prvReadAcount`; known: {known_privileges}"
            ),
        ),
        (
            with_environment(
                "[environments.contoso.roles.Reader]\nprivileges = { prvReadAccount = \"Everything\" }\n",
            ),
            "invalid world `worlds/test.toml` at line 24, column 33: \
             `environments.contoso.roles.Reader.privileges.prvReadAccount`: `Everything` is not \
             a depth; use `Basic`, `Local`, `Deep` or `Global`"
                .to_owned(),
        ),
        (
            with_environment("[environments.contoso.roles.Reader]\nbusiness_unit = \"Sales\"\n"),
            "invalid world `worlds/test.toml` at line 24, column 17: \
             `environments.contoso.roles.Reader.business_unit`: unknown business unit `Sales`; \
             known: contoso"
                .to_owned(),
        ),
        // Application users.
        (
            with_environment("application_users = [{ app = \"importr\" }]\n"),
            "invalid world `worlds/test.toml` at line 23, column 30: \
             `environments.contoso.application_users[0].app`: unknown app `importr`; known: \
             importer"
                .to_owned(),
        ),
        (
            with_environment_in("fabrikam", "application_users = [{ app = \"importer\" }]\n"),
            "invalid world `worlds/test.toml` at line 23, column 30: \
             `environments.contoso.application_users[0].app`: app `importer` has no service \
             principal in tenant `fabrikam`; list it in the app's `service_principals` (with \
             `multi_tenant = true`)"
                .to_owned(),
        ),
        (
            with_environment(
                "application_users = [{ app = \"importer\" }, { app = \"importer\" }]\n",
            ),
            "invalid world `worlds/test.toml` at line 23, column 52: \
             `environments.contoso.application_users[1].app`: app `importer` is already used by \
             `environments.contoso.application_users[0].app`"
                .to_owned(),
        ),
        (
            with_environment(
                "application_users = [{ app = \"importer\", roles = [\"Reader\"] }]\n",
            ),
            format!(
                "invalid world `worlds/test.toml` at line 23, column 51: \
                 `environments.contoso.application_users[0].roles[0]`: unknown role `Reader`; \
                 defined: none; predefined: {predefined}"
            ),
        ),
        (
            with_environment(
                "application_users = [{ app = \"importer\", roles = [\"Service Reader\", \"Readr\"] }]\n\
                 [environments.contoso.roles.Reader]\n[environments.contoso.roles.Writer]\n",
            ),
            format!(
                "invalid world `worlds/test.toml` at line 23, column 69: \
                 `environments.contoso.application_users[0].roles[1]`: unknown role `Readr`; \
                 defined: Reader, Writer; predefined: {predefined}"
            ),
        ),
        (
            with_environment(
                "application_users = [{ app = \"importer\", roles = [\"Basic User\", \"Basic User\"] }]\n",
            ),
            "invalid world `worlds/test.toml` at line 23, column 65: \
             `environments.contoso.application_users[0].roles[1]`: role `Basic User` is already \
             used by `environments.contoso.application_users[0].roles[0]`"
                .to_owned(),
        ),
        (
            with_environment(
                "business_units = [{ name = \"contoso\" }, { name = \"Sales\", parent = \"contoso\" }]\n\
                 application_users = [{ app = \"importer\", roles = [\"Sales Reader\"] }]\n\
                 [environments.contoso.roles.\"Sales Reader\"]\nbusiness_unit = \"Sales\"\n",
            ),
            "invalid world `worlds/test.toml` at line 24, column 51: \
             `environments.contoso.application_users[0].roles[0]`: role `Sales Reader` belongs \
             to business unit `Sales`; a user in `contoso` can hold only roles of `contoso` or a \
             business unit above it"
                .to_owned(),
        ),
        (
            with_environment(
                "application_users = [{ app = \"importer\", business_unit = \"Sales\" }]\n",
            ),
            "invalid world `worlds/test.toml` at line 23, column 58: \
             `environments.contoso.application_users[0].business_unit`: unknown business unit \
             `Sales`; known: contoso"
                .to_owned(),
        ),
        // Tables.
        (
            with_environment("tables = { accounts = { generate = 5 } }\n"),
            "invalid world `worlds/test.toml` at line 23, column 12: \
             `environments.contoso.tables.accounts`: unknown table `accounts`; known: account, \
             contact, opportunity, lead, incident, systemuser, businessunit, team, role, \
             transactioncurrency"
                .to_owned(),
        ),
        (
            with_environment("tables = { account = {} }\n"),
            "invalid world `worlds/test.toml` at line 23, column 12: \
             `environments.contoso.tables.account`: give the table either `generate = <count>` \
             or `rows = [...]`"
                .to_owned(),
        ),
        (
            with_environment("tables = { account = { generate = 5, rows = [] } }\n"),
            "invalid world `worlds/test.toml` at line 23, column 45: \
             `environments.contoso.tables.account`: give the table either `generate = <count>` \
             or `rows = [...]`"
                .to_owned(),
        ),
        (
            with_environment("tables = { account = { generate = -5 } }\n"),
            "invalid world `worlds/test.toml` at line 23, column 35: \
             `environments.contoso.tables.account.generate`: must be between 0 and 1000000000, not `-5`"
                .to_owned(),
        ),
        (
            with_environment("tables = { account = { generate = 9223372036854775807 } }\n"),
            "invalid world `worlds/test.toml` at line 23, column 35: \
             `environments.contoso.tables.account.generate`: must be between 0 and 1000000000, not `9223372036854775807`"
                .to_owned(),
        ),
        (
            with_environment(
                "tables = { account = { rows = [{ name = \"A\", primarycontactid = \"x\" }] } }\n",
            ),
            format!(
                "invalid world `worlds/test.toml` at line 23, column 46: \
                 `environments.contoso.tables.account.rows[0].primarycontactid`: `account` has \
                 no property `primarycontactid`; known: {account_columns}"
            ),
        ),
        (
            with_environment("tables = { account = { rows = [{ revenue = \"lots\" }] } }\n"),
            "invalid world `worlds/test.toml` at line 23, column 44: \
             `environments.contoso.tables.account.rows[0].revenue`: must be a number \
             (`revenue` is `Edm.Decimal`)"
                .to_owned(),
        ),
        (
            with_environment("tables = { account = { rows = [{ accountid = \"A-1\" }] } }\n"),
            "invalid world `worlds/test.toml` at line 23, column 46: \
             `environments.contoso.tables.account.rows[0].accountid`: must be a GUID \
             (`accountid` is `Edm.Guid`)"
                .to_owned(),
        ),
        (
            with_environment(
                "tables = { account = { rows = [{ numberofemployees = 3000000000 }] } }\n",
            ),
            "invalid world `worlds/test.toml` at line 23, column 54: \
             `environments.contoso.tables.account.rows[0].numberofemployees`: must be a whole \
             number from -2147483648 to 2147483647 (`numberofemployees` is `Edm.Int32`)"
                .to_owned(),
        ),
        (
            with_environment(
                "tables = { account = { rows = [{ createdon = 2026-01-15T09:30:00 }] } }\n",
            ),
            "invalid world `worlds/test.toml` at line 23, column 46: \
             `environments.contoso.tables.account.rows[0].createdon`: must be a date and time \
             with an offset, like `2026-03-01T12:00:00Z` (`createdon` is `Edm.DateTimeOffset`)"
                .to_owned(),
        ),
        (
            with_environment("tables = { account = { rows = [{ creditonhold = 0 }] } }\n"),
            "invalid world `worlds/test.toml` at line 23, column 49: \
             `environments.contoso.tables.account.rows[0].creditonhold`: must be `true` or \
             `false` (`creditonhold` is `Edm.Boolean`)"
                .to_owned(),
        ),
        (
            with_environment(
                "tables = { account = { rows = [{ accountid = \"dddddddd-0000-4000-8000-000000000001\" }, \
                 { accountid = \"DDDDDDDD-0000-4000-8000-000000000001\" }] } }\n",
            ),
            "invalid world `worlds/test.toml` at line 23, column 102: \
             `environments.contoso.tables.account.rows[1].accountid`: row id \
             `dddddddd-0000-4000-8000-000000000001` is already used by \
             `environments.contoso.tables.account.rows[0].accountid`"
                .to_owned(),
        ),
        // Limits.
        (
            with_environment("limits = { requests = 0 }\n"),
            "invalid world `worlds/test.toml` at line 23, column 23: \
             `environments.contoso.limits.requests`: must be between 1 and 4294967295, not `0`"
                .to_owned(),
        ),
        (
            with_environment("limits = { concurrent = 5000000000 }\n"),
            "invalid world `worlds/test.toml` at line 23, column 25: \
             `environments.contoso.limits.concurrent`: must be between 1 and 4294967295, not \
             `5000000000`"
                .to_owned(),
        ),
        (
            with_environment("limits = { execution_milliseconds_per_request = -1 }\n"),
            "invalid world `worlds/test.toml` at line 23, column 49: \
             `environments.contoso.limits.execution_milliseconds_per_request`: must be at least \
             0, not `-1`"
                .to_owned(),
        ),
        // [dataverse] switches.
        (
            with_tail("[dataverse]\ndisabled_user_code = \"0x80040220\"\n"),
            "invalid world `worlds/test.toml` at line 21, column 22: \
             `dataverse.disabled_user_code`: must be `0x80040225` or `0x80072560`, not \
             `0x80040220`"
                .to_owned(),
        ),
        (
            with_tail("[dataverse]\nzero_roles_code = \"0x80040225\"\n"),
            "invalid world `worlds/test.toml` at line 21, column 19: `dataverse.zero_roles_code`: \
             must be `0x80040220` or `0x80042f09`, not `0x80040225`"
                .to_owned(),
        ),
        (
            with_tail("[dataverse]\nproperty_not_found_code = \"0\"\n"),
            "invalid world `worlds/test.toml` at line 21, column 27: \
             `dataverse.property_not_found_code`: must be `0x80060888` or `0x0`, not `0`"
                .to_owned(),
        ),
        (
            with_tail("[dataverse]\nsegment_not_found_code = \"0x0\"\n"),
            "invalid world `worlds/test.toml` at line 21, column 26: \
             `dataverse.segment_not_found_code`: must be `0x8006088a` or `0x80060888`, not `0x0`"
                .to_owned(),
        ),
        (
            with_tail("[dataverse]\naccess_mode_text = \"\"\n"),
            "invalid world `worlds/test.toml` at line 21, column 20: \
             `dataverse.access_mode_text`: must not be empty"
                .to_owned(),
        ),
    ];
    check_errors(&cases);
}
