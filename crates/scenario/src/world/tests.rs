//! World loading: the demo world, translation into the Entra config, and the exact text of every
//! kind of error (path, line, column, dotted key). Error texts are the whole `source()` chain,
//! joined as `{:#}` in anyhow would print them.

use std::path::{Path, PathBuf};

use fake_core::{Clock, IdGenerator};
use rustls_pki_types::pem::PemObject;
use time::macros::datetime;
use uuid::uuid;

use super::*;

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

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo_world() -> World {
    World::load(repo_root().join("fixtures/worlds/demo.toml")).expect("the demo world loads")
}

/// The error and its sources, joined with `: `.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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
    // Dataverse environments are not part of world files yet.
    check(
        &format!("{TENANTS}\n[environments.contoso]\nurl = \"https://contoso.crm.dynamics.com\"\n"),
        "failed to parse world `worlds/test.toml` at line 15, column 2: unknown field \
         `environments`, expected one of `version`, `signing_key`, `tenants`, `apps`",
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
        folder.path().join("importer-client.crt.pem")
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
