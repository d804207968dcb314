//! World loading: the demo world, translation into the Entra config, and the exact text of every
//! kind of error (path, line, column, dotted key). Error texts are the whole `source()` chain,
//! joined as `{:#}` in anyhow would print them.

use crate::test_support::{chain, repo_root};

use fake_core::{Clock, IdGenerator};
use rustls_pki_types::pem::PemObject;
use time::macros::datetime;
use uuid::uuid;

use super::*;

// `[environments.<key>]` and `[dataverse]`: fields, defaults, errors, the Dataverse config.
mod environment;

const CONTOSO: Uuid = uuid!("6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10");
const FABRIKAM: Uuid = uuid!("9b2c4d6e-8f01-4a23-b456-c789d0e1f234");
const IMPORTER: Uuid = uuid!("3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01");

/// Lines 1 to 13 of every inline world below.
const TENANTS: &str = r#"version = 1

[tenants.contoso]
id = "6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10"
domains = ["contoso.onmicrosoft.com", "contoso.com"]
display_name = "Contoso"
dynamics = true

[tenants.fabrikam]
id = "9b2c4d6e-8f01-4a23-b456-c789d0e1f234"
domains = ["fabrikam.onmicrosoft.com"]
display_name = "Fabrikam"
dynamics = false
"#;

/// Lines 14 to 19.
const APP: &str = r#"
[apps.importer]
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
display_name = "Importer"
home_tenant = "contoso"
secrets = [{ name = "current", value = "inline~secret~value", expires = "2028-06-30T00:00:00Z" }]
"#;

fn demo_world() -> World {
    World::load(repo_root().join("fixtures/worlds/demo.toml")).expect("the demo world loads")
}

/// Parses `text` as `worlds/test.toml` (a path that does not exist, so files it names are
/// missing) and expects exactly `expected`.
#[track_caller]
fn check(text: &str, expected: &str) {
    match World::parse(text, "worlds/test.toml") {
        Ok(world) => panic!("expected an error, got {world:#?}"),
        Err(error) => assert_eq!(chain(&error), expected, "\n--- input ---\n{text}"),
    }
}

/// The tenants and the app, with one replacement that must apply.
fn world_with(from: &str, to: &str) -> String {
    let text = format!("{TENANTS}{APP}");
    assert!(text.contains(from), "`{from}` is not in the base world");
    text.replacen(from, to, 1)
}

#[test]
fn loads_the_demo_world() {
    let world = demo_world();
    let tenants: Vec<(&str, Uuid)> = world
        .tenants()
        .iter()
        .map(|tenant| (tenant.key.as_str(), tenant.id))
        .collect();
    assert_eq!(tenants, [("contoso", CONTOSO), ("fabrikam", FABRIKAM)]);
    let contoso = world.tenant("contoso").expect("contoso");
    assert_eq!(contoso.domains, ["contoso.onmicrosoft.com", "contoso.com"]);
    assert_eq!(contoso.region_scope, "NA");
    assert!(contoso.dynamics);
    assert!(!world.tenant("fabrikam").expect("fabrikam").dynamics);

    let importer = world.app("importer").expect("importer");
    assert_eq!(importer.client_id, IMPORTER);
    assert_eq!(importer.display_name, "MultiSource Importer");
    assert_eq!(
        (importer.home_tenant.as_str(), importer.home_tenant_id),
        ("contoso", CONTOSO)
    );
    assert!(!importer.multi_tenant && importer.enabled);
    let secrets: Vec<&str> = importer.secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(secrets, ["current", "expired"]);
    assert_eq!(
        importer.secrets[0].expires,
        datetime!(2028-06-30 00:00:00 UTC)
    );
    assert_eq!(importer.certificates.len(), 1);
    assert_eq!(importer.certificates[0].name, "importer-client");
    assert!(
        importer.certificates[0].der.starts_with(&[0x30, 0x82]),
        "DER"
    );
    assert_eq!(
        importer.permissions,
        [Permission {
            api: "Dynamics CRM".to_owned(),
            scope: "user_impersonation".to_owned(),
            kind: PermissionKind::Delegated,
            admin_consent: true,
        }]
    );
    assert_eq!(world.authority_host(), "login.microsoftonline.com");
}

#[test]
fn client_credentials_are_the_first_live_secret_of_the_first_usable_app() {
    let world = demo_world();
    let credentials = world
        .client_credentials(datetime!(2026-11-26 00:00:00 UTC))
        .expect("credentials");
    assert_eq!(credentials.tenant.id, CONTOSO);
    assert_eq!(credentials.app.client_id, IMPORTER);
    assert_eq!(
        credentials.secret.value.expose(),
        "Qm28Q~demo.importer.secret.current.0001"
    );
    // Before the "expired" secret expired, the first one in file order still wins.
    let early = world
        .client_credentials(datetime!(2024-01-01 00:00:00 UTC))
        .expect("credentials");
    assert_eq!(early.secret.name, "current");

    let error = world
        .client_credentials(datetime!(2028-06-30 00:00:00 UTC))
        .expect_err("every secret has expired");
    assert!(
        chain(&error).ends_with("has no app with a client secret that is still valid"),
        "{error}"
    );

    let text = format!(
        "{TENANTS}{}{APP}",
        r#"
[apps.retired]
client_id = "11111111-2222-4333-8444-555555555555"
display_name = "Retired"
home_tenant = "fabrikam"
enabled = false
secrets = [{ name = "old", value = "retired~value", expires = "2099-01-01T00:00:00Z" }]
"#
    );
    let world = World::parse(&text, "worlds/test.toml").expect("valid");
    assert_eq!(world.apps()[0].key, "retired");
    let credentials = world
        .client_credentials(datetime!(2026-11-26 00:00:00 UTC))
        .expect("credentials");
    assert_eq!(credentials.app.key, "importer", "disabled apps are skipped");
}

#[test]
fn translates_the_demo_world_into_the_entra_config() {
    let world = demo_world();
    let clock = Clock::manual(datetime!(2026-11-26 00:00:00 UTC));
    let config = world
        .entra_config(clock, IdGenerator::seeded(7))
        .expect("config");
    assert_eq!(config.cloud, fake_entra::Cloud::Public);
    assert!(config.clock.is_manual());
    let tenants: Vec<(Uuid, &str, bool)> = config
        .tenants
        .iter()
        .map(|tenant| (tenant.id, tenant.display_name.as_str(), tenant.dynamics))
        .collect();
    assert_eq!(
        tenants,
        [(CONTOSO, "Contoso", true), (FABRIKAM, "Fabrikam", false)]
    );
    let app = &config.apps[0];
    assert_eq!(
        (app.client_id, app.home_tenant, app.multi_tenant),
        (IMPORTER, CONTOSO, false)
    );
    assert!(app.service_principals.is_empty(), "home principal implied");
    assert_eq!(app.secrets.len(), 2);
    assert_eq!(
        app.secrets[1].value,
        "Qm28Q~demo.importer.secret.expired.0002"
    );
    assert_eq!(
        app.secrets[1].id,
        Some(uuid!("5e0f9b3a-1c2d-4e8f-a7b6-9d0c1e2f3a4b"))
    );
    assert_eq!(app.certificates[0].der, world.apps()[0].certificates[0].der);
    assert_eq!(
        app.permissions[0].kind,
        fake_entra::PermissionKind::Delegated
    );

    let committed = std::fs::read(repo_root().join("fixtures/keys/entra-signing.crt.pem"))
        .expect("committed certificate");
    let committed = rustls_pki_types::CertificateDer::from_pem_slice(&committed)
        .expect("committed certificate PEM");
    assert_eq!(
        config.signing_key.kid(),
        fake_entra::sha1_thumbprint(committed.as_ref()),
        "the built-in signing key is the committed one"
    );
    fake_entra::mount(config).expect("fake Entra accepts the translated config");
}

#[test]
fn disabled_apps_get_disabled_service_principals() {
    let text = world_with(
        "home_tenant = \"contoso\"\n",
        "home_tenant = \"contoso\"\nmulti_tenant = true\nenabled = false\n\
         service_principals = [{ tenant = \"fabrikam\", object_id = \"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\" }]\n",
    );
    let world = World::parse(&text, "worlds/test.toml").expect("valid");
    let config = world
        .entra_config(Clock::system(), IdGenerator::seeded(1))
        .expect("config");
    let principals: Vec<(Uuid, Option<Uuid>, bool)> = config.apps[0]
        .service_principals
        .iter()
        .map(|principal| (principal.tenant, principal.object_id, principal.enabled))
        .collect();
    assert_eq!(
        principals,
        [
            (CONTOSO, None, false),
            (
                FABRIKAM,
                Some(uuid!("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")),
                false
            ),
        ]
    );
}

#[test]
fn debug_never_shows_secret_values_or_keys() {
    let world = demo_world();
    for debug in [format!("{world:?}"), format!("{world:#?}")] {
        for secret in &world.apps()[0].secrets {
            assert!(!debug.contains(secret.value.expose()), "{debug}");
        }
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        assert!(!debug.contains("MII"), "no PEM or DER bodies: {debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
    }
    let credentials = world
        .client_credentials(datetime!(2026-11-26 00:00:00 UTC))
        .expect("credentials");
    assert!(!format!("{credentials:?}").contains("Qm28Q~"));
}

#[test]
fn parse_errors_name_the_file_line_and_column() {
    check(
        &world_with("secrets = [", "secrts = ["),
        "failed to parse world `worlds/test.toml` at line 19, column 1: unknown field `secrts`, \
         expected one of `client_id`, `display_name`, `home_tenant`, `multi_tenant`, `enabled`, \
         `service_principals`, `secrets`, `certificates`, `permissions`",
    );
    check(
        &world_with("home_tenant = \"contoso\"", "home_tenant = \"contoso"),
        "failed to parse world `worlds/test.toml` at line 18, column 23: invalid basic string, \
         expected `\"`",
    );
    check(
        &world_with("dynamics = false", "dynamics = \"no\""),
        "failed to parse world `worlds/test.toml` at line 13, column 12: invalid type: string \
         \"no\", expected a boolean",
    );
    check(
        &world_with("display_name = \"Importer\"\n", ""),
        "failed to parse world `worlds/test.toml` at line 15, column 1: missing field \
         `display_name`",
    );
    check(
        &world_with("expires = ", "type = \"app\", expires = "),
        "failed to parse world `worlds/test.toml` at line 19, column 63: unknown field `type`, \
         expected one of `name`, `id`, `value`, `expires`",
    );
    check(
        &format!(
            "{TENANTS}{APP}permissions = [{{ api = \"Dynamics CRM\", scope = \"user_impersonation\", \
             type = \"app\", admin_consent = true }}]\n"
        ),
        "failed to parse world `worlds/test.toml` at line 20, column 77: unknown variant `app`, \
         expected `delegated` or `application`",
    );
    check(
        &format!("{TENANTS}\n[environment.contoso]\nurl = \"https://contoso.crm.dynamics.com\"\n"),
        "failed to parse world `worlds/test.toml` at line 15, column 2: unknown field \
         `environment`, expected one of `version`, `signing_key`, `tenants`, `apps`, \
         `environments`, `entra`, `dataverse`, `faults`",
    );
}

#[test]
fn validation_errors_name_the_key_line_and_column() {
    check(
        &world_with("version = 1", "version = 2"),
        "invalid world `worlds/test.toml` at line 1, column 11: `version`: unsupported version \
         `2`; this harness reads version 1",
    );
    check(
        &world_with("home_tenant = \"contoso\"", "home_tenant = \"contosso\""),
        "invalid world `worlds/test.toml` at line 18, column 15: `apps.importer.home_tenant`: \
         unknown tenant `contosso`; known: contoso, fabrikam",
    );
    check(
        &world_with(
            "id = \"6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10\"",
            "id = \"6f1f3b7e-2b51\"",
        ),
        "invalid world `worlds/test.toml` at line 4, column 6: `tenants.contoso.id`: \
         `6f1f3b7e-2b51` is not a GUID: invalid group count: expected 5, found 2",
    );
    check(
        &world_with(
            "id = \"9b2c4d6e-8f01-4a23-b456-c789d0e1f234\"",
            "id = \"6F1F3B7E-2B51-4F0E-9D5E-0C8C3A7D1A10\"",
        ),
        "invalid world `worlds/test.toml` at line 10, column 6: `tenants.fabrikam.id`: tenant id \
         `6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10` is already used by `tenants.contoso.id`",
    );
    check(
        &world_with(
            "domains = [\"fabrikam.onmicrosoft.com\"]",
            "domains = [\"fabrikam.onmicrosoft.com\", \"Contoso.COM\"]",
        ),
        "invalid world `worlds/test.toml` at line 11, column 40: `tenants.fabrikam.domains[1]`: \
         domain `contoso.com` is already used by `tenants.contoso.domains[1]`",
    );
    check(
        &world_with("\"contoso.com\"", "\"contoso com\""),
        "invalid world `worlds/test.toml` at line 5, column 39: `tenants.contoso.domains[1]`: \
         `contoso com` is not a domain name",
    );
    check(
        &format!(
            "{TENANTS}{APP}{}",
            APP.replace("[apps.importer]", "[apps.copy]")
                .replace("home_tenant = \"contoso\"", "home_tenant = \"fabrikam\"")
        ),
        "invalid world `worlds/test.toml` at line 22, column 13: `apps.copy.client_id`: client id \
         `3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01` is already used by `apps.importer.client_id`",
    );
    check(
        &world_with("2028-06-30T00:00:00Z", "2028-06-30"),
        "invalid world `worlds/test.toml` at line 19, column 73: \
         `apps.importer.secrets[0].expires`: `2028-06-30` is not an RFC 3339 timestamp like \
         `2028-06-30T00:00:00Z` (the 'separator' component could not be parsed)",
    );
    check(
        &world_with("value = \"inline~secret~value\"", "value = \"  \""),
        "invalid world `worlds/test.toml` at line 19, column 40: `apps.importer.secrets[0].value`: \
         must not be empty",
    );
    check(
        &world_with("[tenants.fabrikam]", "[tenants.\"fab rikam\"]"),
        "invalid world `worlds/test.toml` at line 9, column 10: `tenants`: `fab rikam` is not a \
         plain key; use letters, digits, `-` and `_`",
    );
    check(
        &world_with(
            "home_tenant = \"contoso\"\n",
            "home_tenant = \"contoso\"\nservice_principals = [{ tenant = \"fabrikam\" }]\n",
        ),
        "invalid world `worlds/test.toml` at line 19, column 34: \
         `apps.importer.service_principals[0].tenant`: app is single-tenant, so it has no \
         service principal outside its home tenant `contoso`; set `multi_tenant = true`",
    );
    check(
        &world_with(
            "home_tenant = \"contoso\"\n",
            "home_tenant = \"contoso\"\ncertificates = [{ name = \"client\", file = \"../keys/missing.crt.pem\" }]\n",
        ),
        "invalid world `worlds/test.toml` at line 19, column 43: \
         `apps.importer.certificates[0].file`: failed to read \
         `worlds/../keys/missing.crt.pem`: No such file or directory (os error 2)",
    );
}

#[test]
fn files_are_read_relative_to_the_world_file() {
    let folder = tempfile::tempdir().expect("temp dir");
    let keys = repo_root().join("fixtures/keys");
    for name in [
        "importer-client.crt.pem",
        "entra-signing.key.pem",
        "entra-signing.crt.pem",
    ] {
        std::fs::copy(keys.join(name), folder.path().join(name)).expect("copy fixture");
    }
    std::fs::write(folder.path().join("empty.pem"), "not pem at all\n").expect("write");
    let text = world_with(
        "home_tenant = \"contoso\"\n",
        "home_tenant = \"contoso\"\ncertificates = [{ name = \"client\", file = \"importer-client.crt.pem\", \
         start = \"2026-01-01T00:00:00Z\", end = \"2027-01-01T00:00:00+01:00\" }]\n",
    );
    let signing_key = "\n[signing_key]\nkey = \"entra-signing.key.pem\"\ncertificate = \"entra-signing.crt.pem\"\n";
    let path = folder.path().join("world.toml");
    std::fs::write(&path, format!("{text}{signing_key}")).expect("write world");
    let world = World::load(&path).expect("valid world");
    assert_eq!(world.path(), path);
    let certificate = &world.apps()[0].certificates[0];
    assert_eq!(
        certificate.file,
        Some(folder.path().join("importer-client.crt.pem"))
    );
    assert_eq!(certificate.end, Some(datetime!(2026-12-31 23:00:00 UTC)));
    assert_eq!(
        certificate.der,
        demo_world().apps()[0].certificates[0].der,
        "same certificate as the demo world's"
    );
    world
        .entra_config(Clock::system(), IdGenerator::seeded(1))
        .expect("config");

    // A certificate file with no certificate in it, and a signing key that is not one.
    std::fs::write(&path, text.replace("importer-client.crt.pem", "empty.pem"))
        .expect("write world");
    let error = World::load(&path).expect_err("no certificate");
    let shown = chain(&error).replace(&folder.path().display().to_string(), "TMP");
    assert_eq!(
        shown,
        "invalid world `TMP/world.toml` at line 19, column 43: \
         `apps.importer.certificates[0].file`: `TMP/empty.pem` holds no PEM `CERTIFICATE` block"
    );
    std::fs::write(
        &path,
        format!(
            "{text}{}",
            signing_key.replace("entra-signing.key.pem", "entra-signing.crt.pem")
        ),
    )
    .expect("write world");
    let error = World::load(&path).expect_err("a certificate is not a key");
    let shown = chain(&error).replace(&folder.path().display().to_string(), "TMP");
    assert!(
        shown.starts_with(
            "invalid world `TMP/world.toml` at line 23, column 7: `signing_key`: the signing key \
             is unusable: "
        ),
        "{shown}"
    );
    std::fs::write(&path, text.replace("end = \"2027", "end = \"2025")).expect("write world");
    let error = World::load(&path).expect_err("end before start");
    assert!(
        chain(&error).ends_with(
            "`apps.importer.certificates[0].end`: the certificate ends before it starts"
        ),
        "{error}"
    );
}

#[test]
fn missing_and_unparsable_files_name_their_path() {
    let folder = tempfile::tempdir().expect("temp dir");
    let missing = folder.path().join("nope.toml");
    let error = World::load(&missing).expect_err("missing");
    assert_eq!(
        chain(&error),
        format!(
            "failed to read world `{}`: No such file or directory (os error 2)",
            missing.display()
        )
    );
    let broken = folder.path().join("broken.toml");
    std::fs::write(&broken, "version = 1\n[tenants.x\n").expect("write");
    let error = World::load(&broken).expect_err("broken");
    let shown = chain(&error);
    assert!(
        shown.starts_with(&format!(
            "failed to parse world `{}` at line 2, column ",
            broken.display()
        )),
        "{shown}"
    );
}

#[test]
fn an_empty_world_is_valid_but_has_no_credentials() {
    let world = World::parse("version = 1\n", "worlds/empty.toml").expect("valid");
    assert!(world.tenants().is_empty() && world.apps().is_empty());
    let error = world
        .client_credentials(datetime!(2026-11-26 00:00:00 UTC))
        .expect_err("no apps");
    assert_eq!(
        chain(&error),
        "world `worlds/empty.toml` has no app with a client secret that is still valid"
    );
    check(
        "",
        "failed to parse world `worlds/test.toml` at line 1, column 1: missing field `version`",
    );
}

/// The tenants and the app (lines 1 to 19), then `[entra]` on line 20 and `body` from line 21.
fn with_entra(body: &str) -> String {
    format!("{TENANTS}{APP}[entra]\n{body}")
}

/// The tenants and the app (lines 1 to 19), then `body` from line 20.
fn with_tail(body: &str) -> String {
    format!("{TENANTS}{APP}{body}")
}

/// The `[entra]` knobs of a `fake_entra::Config`, comparable as a whole.
#[derive(Debug, PartialEq)]
struct Knobs {
    aliases: Vec<String>,
    token_lifetime_seconds: i64,
    trailer_separator: fake_entra::TrailerSeparator,
    common_tenant: fake_entra::CommonTenantPolicy,
    resources: fake_entra::ResourcePolicy,
    rate_limit: Option<fake_entra::RateLimit>,
    forced_errors: Vec<fake_entra::ForcedError>,
    message_overrides: Vec<(String, String)>,
    require_form_content_type: bool,
    assertion_replay: fake_entra::AssertionReplayPolicy,
}

impl Knobs {
    fn of(config: &fake_entra::Config) -> Knobs {
        Knobs {
            aliases: config.aliases.clone(),
            token_lifetime_seconds: config.token_lifetime_seconds,
            trailer_separator: config.trailer_separator,
            common_tenant: config.common_tenant,
            resources: config.resources.clone(),
            rate_limit: config.rate_limit,
            forced_errors: config.forced_errors.clone(),
            message_overrides: config
                .message_overrides
                .iter()
                .map(|(name, template)| (name.clone(), template.clone()))
                .collect(),
            require_form_content_type: config.require_form_content_type,
            assertion_replay: config.assertion_replay,
        }
    }

    /// `fake_entra::Config::new`'s knobs, taken from the fake itself.
    fn defaults() -> Knobs {
        let signing_key = demo_world()
            .entra_config(Clock::system(), IdGenerator::seeded(1))
            .expect("config")
            .signing_key;
        Knobs::of(&fake_entra::Config::new(
            fake_entra::Cloud::Public,
            signing_key,
        ))
    }
}

/// The Entra config of `text`, after checking the fake accepts it.
#[track_caller]
fn entra_config(text: &str) -> fake_entra::Config {
    let world = World::parse(text, "worlds/test.toml")
        .unwrap_or_else(|error| panic!("{}\n--- input ---\n{text}", chain(&error)));
    let config = world
        .entra_config(Clock::system(), IdGenerator::seeded(1))
        .expect("config");
    let check = world
        .entra_config(Clock::system(), IdGenerator::seeded(1))
        .expect("config");
    fake_entra::mount(check).expect("fake Entra accepts the translated config");
    config
}

/// Loads `[entra]` with `body` and expects exactly these knobs.
#[track_caller]
fn check_knobs(body: &str, expected: Knobs) {
    let config = entra_config(&with_entra(body));
    assert_eq!(Knobs::of(&config), expected, "\n--- [entra] ---\n{body}");
}

fn forced(error: &str) -> fake_entra::ForcedError {
    fake_entra::ForcedError {
        error: error.to_owned(),
        client_id: None,
        tenant: None,
        nth: None,
        times: None,
    }
}

#[test]
fn entra_knobs_reach_the_config() {
    use fake_entra::{
        CommonTenantPolicy, ForcedError, RateLimit, ResourcePolicy, TrailerSeparator,
    };

    let defaults = Knobs::defaults;
    assert_eq!(
        Knobs::of(&entra_config(&with_tail(""))),
        defaults(),
        "no [entra] table: every default"
    );
    check_knobs("", defaults());
    check_knobs(
        "aliases = [\"login.windows.net\", \"STS.Windows.net\"]\n",
        Knobs {
            aliases: vec!["login.windows.net".into(), "sts.windows.net".into()],
            ..defaults()
        },
    );
    check_knobs(
        "token_lifetime_seconds = 60\n",
        Knobs {
            token_lifetime_seconds: 60,
            ..defaults()
        },
    );
    check_knobs(
        "trailer_separator = \"crlf\"\n",
        Knobs {
            trailer_separator: TrailerSeparator::CrLf,
            ..defaults()
        },
    );
    check_knobs(
        "trailer_separator = \"space\"\n",
        Knobs {
            trailer_separator: TrailerSeparator::Space,
            ..defaults()
        },
    );
    check_knobs(
        "common_tenant = \"home_tenant\"\n",
        Knobs {
            common_tenant: CommonTenantPolicy::HomeTenant,
            ..defaults()
        },
    );
    check_knobs(
        "common_tenant = \"no_tenant_error\"\n",
        Knobs {
            common_tenant: CommonTenantPolicy::NoTenantError,
            ..defaults()
        },
    );
    check_knobs(
        "resources = \"any_dynamics_host\"\n",
        Knobs {
            resources: ResourcePolicy::AnyDynamicsHost,
            ..defaults()
        },
    );
    check_knobs(
        "resources = [\"https://contoso.crm.dynamics.com\", \"https://contoso.api.crm4.dynamics.com/\"]\n",
        Knobs {
            resources: ResourcePolicy::Listed(vec![
                "https://contoso.crm.dynamics.com".into(),
                "https://contoso.api.crm4.dynamics.com/".into(),
            ]),
            ..defaults()
        },
    );
    check_knobs(
        "resources = []\n",
        Knobs {
            resources: ResourcePolicy::Listed(Vec::new()),
            ..defaults()
        },
    );
    check_knobs(
        "rate_limit = { requests = 100, window_seconds = 60 }\n",
        Knobs {
            rate_limit: Some(RateLimit {
                requests: 100,
                window_seconds: 60,
            }),
            ..defaults()
        },
    );
    check_knobs(
        "[entra.rate_limit]\nrequests = 1\nwindow_seconds = 4294967295\n",
        Knobs {
            rate_limit: Some(RateLimit {
                requests: 1,
                window_seconds: u32::MAX,
            }),
            ..defaults()
        },
    );
    // Codes become names; a GUID is stored in its hyphenated lower-case form.
    check_knobs(
        "forced_errors = [\n  { error = \"AADSTS65001\", client_id = \"3C2F9A51-7D0B-4E1A-8F5E-2A9B6C4D8E01\", \
         tenant = \"contoso.onmicrosoft.com\", nth = 2, times = 1 },\n  \
         { error = \"consent_required\" },\n  { error = \"7000215\", tenant = \"common\" },\n  \
         { error = \"throttled\", tenant = \"6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10\" },\n]\n",
        Knobs {
            forced_errors: vec![
                ForcedError {
                    client_id: Some("3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01".into()),
                    tenant: Some("contoso.onmicrosoft.com".into()),
                    nth: Some(2),
                    times: Some(1),
                    ..forced("consent_required")
                },
                forced("consent_required"),
                ForcedError {
                    tenant: Some("common".into()),
                    ..forced("invalid_client_secret")
                },
                ForcedError {
                    tenant: Some("6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10".into()),
                    ..forced("throttled")
                },
            ],
            ..defaults()
        },
    );
    check_knobs(
        "message_overrides = { invalid_client_secret = \"Old wording for {client_id}.\", \
         resource_disabled = \"Off.\" }\n",
        Knobs {
            message_overrides: vec![
                (
                    "invalid_client_secret".into(),
                    "Old wording for {client_id}.".into(),
                ),
                ("resource_disabled".into(), "Off.".into()),
            ],
            ..defaults()
        },
    );
}

#[test]
fn form_content_type_and_assertion_replay_reach_the_config() {
    use fake_entra::AssertionReplayPolicy;

    let defaults = Knobs::defaults;
    assert!(defaults().require_form_content_type);
    assert_eq!(defaults().assertion_replay, AssertionReplayPolicy::Accept);
    check_knobs(
        "require_form_content_type = false
",
        Knobs {
            require_form_content_type: false,
            ..defaults()
        },
    );
    check_knobs(
        "require_form_content_type = true
",
        defaults(),
    );
    check_knobs("assertion_replay = \"accept\"\n", defaults());
    check_knobs(
        "assertion_replay = { reject = 1 }\n",
        Knobs {
            assertion_replay: AssertionReplayPolicy::Reject { capacity: 1 },
            ..defaults()
        },
    );
    check_knobs(
        "[entra.assertion_replay]\nreject = 1000000\n",
        Knobs {
            assertion_replay: AssertionReplayPolicy::Reject {
                capacity: 1_000_000,
            },
            ..defaults()
        },
    );
}

#[test]
fn form_content_type_and_assertion_replay_errors_name_the_key_line_and_column() {
    check(
        &with_entra("require_form_content_type = \"yes\"\n"),
        "failed to parse world `worlds/test.toml` at line 21, column 29: invalid type: string \
         \"yes\", expected a boolean",
    );
    check(
        &with_entra("assertion_replay = \"reject\"\n"),
        "failed to parse world `worlds/test.toml` at line 21, column 20: invalid value: string \
         \"reject\", expected `\"accept\"` or `{ reject = <capacity> }`",
    );
    check(
        &with_entra("assertion_replay = true\n"),
        "failed to parse world `worlds/test.toml` at line 21, column 20: invalid type: boolean \
         `true`, expected `\"accept\"` or `{ reject = <capacity> }`",
    );
    check(
        &with_entra("assertion_replay = { refuse = 10 }\n"),
        "failed to parse world `worlds/test.toml` at line 21, column 20: unknown field \
         `refuse`, expected `reject`",
    );
    check(
        &with_entra("assertion_replay = {}\n"),
        "failed to parse world `worlds/test.toml` at line 21, column 20: missing field `reject`",
    );
    check(
        &with_entra("assertion_replay = { reject = 0 }\n"),
        "invalid world `worlds/test.toml` at line 21, column 31: \
         `entra.assertion_replay.reject`: must be between 1 and 1000000, not `0`",
    );
    check(
        &with_entra("assertion_replay = { reject = 1000001 }\n"),
        "invalid world `worlds/test.toml` at line 21, column 31: \
         `entra.assertion_replay.reject`: must be between 1 and 1000000, not `1000001`",
    );
}

#[test]
fn dynamics_enabled_reaches_the_config() {
    #[track_caller]
    fn check_dynamics(contoso: &str, expected: (bool, bool)) {
        let text = world_with("dynamics = true\n", contoso);
        let world = World::parse(&text, "worlds/test.toml")
            .unwrap_or_else(|error| panic!("{}", chain(&error)));
        let tenant = world.tenant("contoso").expect("contoso");
        assert_eq!(
            (tenant.dynamics, tenant.dynamics_enabled),
            expected,
            "{contoso}"
        );
        let config = entra_config(&text);
        assert_eq!(
            (
                config.tenants[0].dynamics,
                config.tenants[0].dynamics_enabled
            ),
            expected,
            "{contoso}"
        );
    }
    check_dynamics("dynamics = true\n", (true, true));
    check_dynamics("dynamics = true\ndynamics_enabled = true\n", (true, true));
    check_dynamics("dynamics = true\ndynamics_enabled = false\n", (true, false));
    check_dynamics("dynamics = false\n", (false, true));
    check_dynamics("dynamics = false\ndynamics_enabled = true\n", (false, true));
}

#[test]
fn faults_deserialize_in_fake_cores_shape() {
    use std::collections::BTreeMap;

    use fake_core::{FaultAction, FaultRule};

    #[track_caller]
    fn check_faults(body: &str, expected: &[FaultRule]) {
        let text = with_tail(body);
        let world = World::parse(&text, "worlds/test.toml")
            .unwrap_or_else(|error| panic!("{}\n--- input ---\n{text}", chain(&error)));
        assert_eq!(world.faults(), expected, "\n--- input ---\n{body}");
    }
    let any = FaultRule {
        name: None,
        service: None,
        host: None,
        method: None,
        path: None,
        nth: None,
        from: None,
        times: None,
        action: FaultAction::Close,
    };
    check_faults("", &[]);
    check_faults(
        "\n[[faults]]\naction = { kind = \"close\" }\n",
        std::slice::from_ref(&any),
    );
    check_faults(
        "\n[[faults]]\naction = { kind = \"close_connection\" }\n\
         \n[[faults]]\naction = { kind = \"reset_stream\" }\n",
        &[
            FaultRule {
                action: FaultAction::CloseConnection,
                ..any.clone()
            },
            FaultRule {
                action: FaultAction::ResetStream,
                ..any.clone()
            },
        ],
    );
    check_faults(
        "\n[[faults]]\nname = \"third token call\"\nservice = \"entra\"\nhost = \"login.microsoftonline.com\"\n\
         method = \"POST\"\npath = \"*/oauth2/v2.0/token\"\nnth = 3\ntimes = 1\n\
         action = { kind = \"respond\", status = 503, headers = { \"Retry-After\" = \"5\" }, body = \"down\" }\n\
         \n[[faults]]\npath = \"/common/*\"\n[faults.action]\nkind = \"delay\"\nmillis = 100\n\
         \n[[faults]]\nservice = \"dataverse\"\naction = { kind = \"respond\", status = 429 }\n\
         \n[[faults]]\nfrom = 2\ntimes = 3\naction = { kind = \"close\" }\n",
        &[
            FaultRule {
                name: Some("third token call".into()),
                service: Some("entra".into()),
                host: Some("login.microsoftonline.com".into()),
                method: Some("POST".into()),
                path: Some("*/oauth2/v2.0/token".into()),
                nth: Some(3),
                from: None,
                times: Some(1),
                action: FaultAction::Respond {
                    status: 503,
                    headers: BTreeMap::from([("Retry-After".into(), "5".into())]),
                    body: "down".into(),
                },
            },
            FaultRule {
                path: Some("/common/*".into()),
                action: FaultAction::Delay { millis: 100 },
                ..any.clone()
            },
            FaultRule {
                service: Some("dataverse".into()),
                action: FaultAction::Respond {
                    status: 429,
                    headers: BTreeMap::new(),
                    body: String::new(),
                },
                ..any.clone()
            },
            FaultRule {
                from: Some(2),
                times: Some(3),
                ..any
            },
        ],
    );
}

#[test]
fn loads_the_failures_world() {
    use fake_core::FaultAction;

    let world = World::load(repo_root().join("fixtures/worlds/failures.toml"))
        .unwrap_or_else(|error| panic!("{}", chain(&error)));
    let northwind = world.tenant("northwind").expect("northwind");
    assert!(northwind.dynamics && !northwind.dynamics_enabled);
    let config = world
        .entra_config(Clock::system(), IdGenerator::seeded(1))
        .expect("config");
    assert_eq!(config.aliases, ["login.windows.net"]);
    assert_eq!(
        config.rate_limit,
        Some(fake_entra::RateLimit {
            requests: 20,
            window_seconds: 60
        })
    );
    let unconsented = world.app("unconsented").expect("unconsented");
    assert_eq!(
        config.forced_errors,
        [fake_entra::ForcedError {
            client_id: Some(unconsented.client_id.to_string()),
            ..forced("consent_required")
        }]
    );
    let [fault] = world.faults() else {
        panic!("one fault rule: {:?}", world.faults());
    };
    assert_eq!(fault.nth, Some(3));
    assert!(
        matches!(&fault.action, FaultAction::Respond { status: 503, headers, .. }
            if headers.get("Retry-After").map(String::as_str) == Some("5")),
        "{fault:?}"
    );
    let credentials = world
        .client_credentials(datetime!(2026-11-26 00:00:00 UTC))
        .expect("credentials");
    assert_eq!(credentials.app.key, "importer");
    fake_entra::mount(config).expect("fake Entra accepts the failures world");
}

#[test]
fn knob_errors_name_the_key_line_and_column() {
    // Shape errors, from the parser.
    check(
        &with_entra("token_lifetime = 60\n"),
        "failed to parse world `worlds/test.toml` at line 21, column 1: unknown field \
         `token_lifetime`, expected one of `aliases`, `token_lifetime_seconds`, \
         `trailer_separator`, `common_tenant`, `resources`, `rate_limit`, `forced_errors`, \
         `message_overrides`, `require_form_content_type`, `assertion_replay`",
    );
    check(
        &with_entra("trailer_separator = \"tab\"\n"),
        "failed to parse world `worlds/test.toml` at line 21, column 21: unknown variant `tab`, \
         expected `space` or `crlf`",
    );
    check(
        &with_entra("common_tenant = \"home\"\n"),
        "failed to parse world `worlds/test.toml` at line 21, column 17: unknown variant `home`, \
         expected `no_tenant_error` or `home_tenant`",
    );
    check(
        &with_entra("resources = \"any\"\n"),
        "failed to parse world `worlds/test.toml` at line 21, column 13: invalid value: string \
         \"any\", expected `\"any_dynamics_host\"` or an array of resource URIs",
    );
    check(
        &with_entra("resources = 1\n"),
        "failed to parse world `worlds/test.toml` at line 21, column 13: invalid type: integer \
         `1`, expected `\"any_dynamics_host\"` or an array of resource URIs",
    );
    check(
        &with_entra("rate_limit = { requests = 1 }\n"),
        "failed to parse world `worlds/test.toml` at line 21, column 14: missing field \
         `window_seconds`",
    );
    check(
        &with_entra("forced_errors = [{ error = \"consent_required\", count = 1 }]\n"),
        "failed to parse world `worlds/test.toml` at line 21, column 48: unknown field `count`, \
         expected one of `error`, `client_id`, `tenant`, `nth`, `times`",
    );
    check(
        &with_tail("dynamics_enabled = false\n"),
        "failed to parse world `worlds/test.toml` at line 20, column 1: unknown field \
         `dynamics_enabled`, expected one of `client_id`, `display_name`, `home_tenant`, \
         `multi_tenant`, `enabled`, `service_principals`, `secrets`, `certificates`, \
         `permissions`",
    );

    // Values, from the validator.
    check(
        &world_with(
            "dynamics = false\n",
            "dynamics = false\ndynamics_enabled = false\n",
        ),
        "invalid world `worlds/test.toml` at line 14, column 20: `tenants.fabrikam.dynamics_enabled`: \
         there is no Dynamics CRM service principal to disable (`dynamics = false`); set \
         `dynamics = true` or remove `dynamics_enabled`",
    );
    check(
        &with_entra("aliases = [\"login.windows.net\", \"https://sts.windows.net\"]\n"),
        "invalid world `worlds/test.toml` at line 21, column 33: `entra.aliases[1]`: \
         `https://sts.windows.net` is not a host name like `login.windows.net`",
    );
    check(
        &with_entra("aliases = [\"*.windows.net\"]\n"),
        "invalid world `worlds/test.toml` at line 21, column 12: `entra.aliases[0]`: \
         `*.windows.net` is not a host name like `login.windows.net`",
    );
    check(
        &with_entra("aliases = [\"login.windows.net\", \"Login.Windows.NET\"]\n"),
        "invalid world `worlds/test.toml` at line 21, column 33: `entra.aliases[1]`: alias \
         `login.windows.net` is already used by `entra.aliases[0]`",
    );
    check(
        &with_entra("token_lifetime_seconds = 0\n"),
        "invalid world `worlds/test.toml` at line 21, column 26: `entra.token_lifetime_seconds`: \
         must be between 1 and 86400, not `0`",
    );
    check(
        &with_entra("token_lifetime_seconds = 86401\n"),
        "invalid world `worlds/test.toml` at line 21, column 26: `entra.token_lifetime_seconds`: \
         must be between 1 and 86400, not `86401`",
    );
    check(
        &with_entra(
            "resources = [\"https://contoso.crm.dynamics.com\", \"http://contoso.crm.dynamics.com\"]\n",
        ),
        "invalid world `worlds/test.toml` at line 21, column 50: `entra.resources[1]`: \
         `http://contoso.crm.dynamics.com` is not the URI of a Dataverse host like \
         `https://contoso.crm.dynamics.com`",
    );
    check(
        &with_entra("resources = [\"https://graph.microsoft.com\"]\n"),
        "invalid world `worlds/test.toml` at line 21, column 14: `entra.resources[0]`: \
         `https://graph.microsoft.com` is not the URI of a Dataverse host like \
         `https://contoso.crm.dynamics.com`",
    );
    check(
        &with_entra("resources = [\"https://contoso.crm.dynamics.com/api/data\"]\n"),
        "invalid world `worlds/test.toml` at line 21, column 14: `entra.resources[0]`: \
         `https://contoso.crm.dynamics.com/api/data` is not the URI of a Dataverse host like \
         `https://contoso.crm.dynamics.com`",
    );
    check(
        &with_entra("rate_limit = { requests = 0, window_seconds = 60 }\n"),
        "invalid world `worlds/test.toml` at line 21, column 27: `entra.rate_limit.requests`: \
         must be between 1 and 4294967295, not `0`",
    );
    check(
        &with_entra("rate_limit = { requests = 10, window_seconds = -60 }\n"),
        "invalid world `worlds/test.toml` at line 21, column 48: \
         `entra.rate_limit.window_seconds`: must be between 1 and 4294967295, not `-60`",
    );
    check(
        &with_entra(
            "forced_errors = [{ error = \"consent_required\" }, { error = \"AADSTS12345\" }]\n",
        ),
        &format!(
            "invalid world `worlds/test.toml` at line 21, column 60: \
             `entra.forced_errors[1].error`: `AADSTS12345` is not in the AADSTS catalogue; \
             known: {}",
            fake_entra::CatalogueEntry::known_names()
        ),
    );
    check(
        &with_entra("forced_errors = [{ error = \"Throttled\" }]\n"),
        &format!(
            "invalid world `worlds/test.toml` at line 21, column 28: \
             `entra.forced_errors[0].error`: `Throttled` is not in the AADSTS catalogue; \
             known: {}",
            fake_entra::CatalogueEntry::known_names()
        ),
    );
    check(
        &with_entra(
            "forced_errors = [{ error = \"consent_required\", client_id = \"importer\" }]\n",
        ),
        "invalid world `worlds/test.toml` at line 21, column 60: \
         `entra.forced_errors[0].client_id`: `importer` is not a GUID: invalid character: found `i` at 0",
    );
    check(
        &with_entra("forced_errors = [{ error = \"consent_required\", tenant = \"contoso\" }]\n"),
        "invalid world `worlds/test.toml` at line 21, column 57: \
         `entra.forced_errors[0].tenant`: `contoso` is not a tenant as clients send it: a \
         tenant id, a domain like `contoso.onmicrosoft.com`, or `common`, `organizations` or \
         `consumers`",
    );
    check(
        &with_entra("forced_errors = [{ error = \"consent_required\", nth = 0 }]\n"),
        "invalid world `worlds/test.toml` at line 21, column 54: `entra.forced_errors[0].nth`: \
         must be at least 1, not `0`",
    );
    check(
        &with_entra("forced_errors = [{ error = \"consent_required\", times = -1 }]\n"),
        "invalid world `worlds/test.toml` at line 21, column 56: \
         `entra.forced_errors[0].times`: must be at least 1, not `-1`",
    );
    let names: Vec<&str> = fake_entra::CATALOGUE
        .iter()
        .map(|entry| entry.name)
        .collect();
    check(
        &with_entra(
            "message_overrides = { invalid_client_secret = \"x\", AADSTS7000215 = \"y\" }\n",
        ),
        &format!(
            "invalid world `worlds/test.toml` at line 21, column 52: \
             `entra.message_overrides.AADSTS7000215`: `AADSTS7000215` is not in the AADSTS \
             catalogue; known: {}",
            names.join(", ")
        ),
    );
    check(
        &with_entra("[entra.message_overrides]\ninvalid_client_secret = \"\"\n"),
        "invalid world `worlds/test.toml` at line 22, column 25: \
         `entra.message_overrides.invalid_client_secret`: must not be empty",
    );
}

#[test]
fn fault_errors_name_the_key_line_and_column() {
    const RULE: &str = "\n[[faults]]\n"; // `[[faults]]` on line 21, the rule from line 22
    let fault = |body: &str| with_tail(&format!("{RULE}{body}"));
    // Shape errors come from fake-core's serde.
    check(
        &fault("action = { kind = \"respond\", status = 503 }\nnht = 3\n"),
        "failed to parse world `worlds/test.toml` at line 23, column 1: unknown field `nht`, \
         expected one of `name`, `service`, `host`, `method`, `path`, `nth`, `from`, `times`, \
         `action`",
    );
    check(
        &fault("path = \"/x\"\n"),
        "failed to parse world `worlds/test.toml` at line 21, column 1: missing field `action`",
    );
    check(
        &fault("action = { kind = \"explode\" }\n"),
        "failed to parse world `worlds/test.toml` at line 22, column 19: unknown variant \
         `explode`, expected one of `respond`, `delay`, `close_connection`, `reset_stream`, \
         `close`",
    );
    check(
        &fault("action = { kind = \"delay\" }\n"),
        "failed to parse world `worlds/test.toml` at line 22, column 10: missing field `millis`",
    );
    check(
        &fault("action = { kind = \"respond\", status = 70000 }\n"),
        "failed to parse world `worlds/test.toml` at line 22, column 10: invalid value: integer \
         `70000`, expected u16",
    );
    // Values, from the validator.
    check(
        &fault("action = { kind = \"respond\", status = 600 }\n"),
        "invalid world `worlds/test.toml` at line 22, column 39: `faults[0].action.status`: \
         must be between 100 and 599, not `600`",
    );
    check(
        &format!(
            "{}{RULE}action = {{ kind = \"respond\", status = 99 }}\n",
            fault("action = { kind = \"close\" }\n")
        ),
        "invalid world `worlds/test.toml` at line 25, column 39: `faults[1].action.status`: \
         must be between 100 and 599, not `99`",
    );
    check(
        &fault("service = \"entar\"\naction = { kind = \"close\" }\n"),
        "invalid world `worlds/test.toml` at line 22, column 11: `faults[0].service`: unknown \
         service `entar`; known: entra, dataverse",
    );
    check(
        &fault("host = \"https://login.microsoftonline.com\"\naction = { kind = \"close\" }\n"),
        "invalid world `worlds/test.toml` at line 22, column 8: `faults[0].host`: \
         `https://login.microsoftonline.com` is not a host name like `login.windows.net`",
    );
    check(
        &fault("path = \"oauth2/v2.0/token\"\naction = { kind = \"close\" }\n"),
        "invalid world `worlds/test.toml` at line 22, column 8: `faults[0].path`: \
         `oauth2/v2.0/token` is not a path pattern; start it with `/` or `*`",
    );
    check(
        &fault("nth = 0\naction = { kind = \"close\" }\n"),
        "invalid world `worlds/test.toml` at line 22, column 7: `faults[0].nth`: must be at \
         least 1, not `0`",
    );
    check(
        &fault("from = 0\naction = { kind = \"close\" }\n"),
        "invalid world `worlds/test.toml` at line 22, column 8: `faults[0].from`: must be at \
         least 1, not `0`",
    );
    check(
        &fault("nth = 2\nfrom = 3\naction = { kind = \"close\" }\n"),
        "invalid world `worlds/test.toml` at line 23, column 8: `faults[0].from`: `nth` and \
         `from` cannot be used together: `nth = n` fires on the n-th matching request only, \
         `from = n` on every one from the n-th on (limit it with `times`)",
    );
    check(
        &fault("times = 0\naction = { kind = \"close\" }\n"),
        "invalid world `worlds/test.toml` at line 22, column 9: `faults[0].times`: must be at \
         least 1, not `0`",
    );
    check(
        &fault(
            "[faults.action]\nkind = \"respond\"\nstatus = 429\nheaders = { \"Retry After\" = \"5\" }\n",
        ),
        "invalid world `worlds/test.toml` at line 25, column 13: \
         `faults[0].action.headers.Retry After`: `Retry After` is not an HTTP header name",
    );
    check(
        &fault(
            "[faults.action]\nkind = \"respond\"\nstatus = 429\nheaders = { \"Retry-After\" = \"5\\n\" }\n",
        ),
        "invalid world `worlds/test.toml` at line 25, column 29: \
         `faults[0].action.headers.Retry-After`: the value of header `Retry-After` must be \
         printable ASCII",
    );
}

#[test]
fn a_certificate_may_be_given_inline_so_the_world_file_stands_alone() {
    let pem = std::fs::read_to_string(repo_root().join("fixtures/keys/importer-client.crt.pem"))
        .expect("read the fixture certificate");
    let text = world_with(
        "home_tenant = \"contoso\"\n",
        &format!(
            "home_tenant = \"contoso\"\ncertificates = [{{ name = \"client\", pem = '''\n{pem}''' }}]\n"
        ),
    );
    // No file next to this path: the certificate must come from the text alone.
    let world = World::parse(&text, "nowhere/world.toml").expect("valid world");
    let certificate = &world.apps()[0].certificates[0];
    assert_eq!(certificate.file, None);
    assert_eq!(
        certificate.der,
        demo_world().apps()[0].certificates[0].der,
        "same certificate as the demo world's file"
    );
}

#[test]
fn a_certificate_needs_exactly_one_of_file_and_pem() {
    check(
        &world_with(
            "home_tenant = \"contoso\"\n",
            "home_tenant = \"contoso\"\ncertificates = [{ name = \"client\" }]\n",
        ),
        "invalid world `worlds/test.toml` at line 19, column 26: \
         `apps.importer.certificates[0]`: give the certificate either \
         `file = \"<PEM file>\"` or `pem = '''<PEM text>'''`",
    );
    check(
        &world_with(
            "home_tenant = \"contoso\"\n",
            "home_tenant = \"contoso\"\ncertificates = [{ name = \"client\", file = \"a.pem\", pem = \"x\" }]\n",
        ),
        "invalid world `worlds/test.toml` at line 19, column 58: \
         `apps.importer.certificates[0]`: give the certificate either \
         `file = \"<PEM file>\"` or `pem = '''<PEM text>'''`",
    );
}

#[test]
fn an_inline_certificate_must_hold_a_certificate() {
    check(
        &world_with(
            "home_tenant = \"contoso\"\n",
            "home_tenant = \"contoso\"\ncertificates = [{ name = \"client\", pem = \"not pem at all\" }]\n",
        ),
        "invalid world `worlds/test.toml` at line 19, column 42: \
         `apps.importer.certificates[0].pem`: holds no PEM `CERTIFICATE` block",
    );
    check(
        &world_with(
            "home_tenant = \"contoso\"\n",
            "home_tenant = \"contoso\"\ncertificates = [{ name = \"client\", pem = \"-----BEGIN CERTIFICATE-----\\n!!\\n\" }]\n",
        ),
        "invalid world `worlds/test.toml` at line 19, column 42: \
         `apps.importer.certificates[0].pem`: not valid PEM: missing section end marker: \
         [67, 69, 82, 84, 73, 70, 73, 67, 65, 84, 69]",
    );
}
