//! Checking files: every error of a world or scenario file, and which kind a file is.

use std::path::{Path, PathBuf};

use super::{check_file, file_kind};
use crate::{Error, FileKind};

/// A world with four independent mistakes: a tenant id that is no GUID, an app whose home
/// tenant is misspelt, an environment URL off Dataverse, and a fault for a misspelt service.
const BROKEN_WORLD: &str = r#"version = 1

[tenants.contoso]
id = "not-a-guid"
domains = ["contoso.onmicrosoft.com"]
display_name = "Contoso"
dynamics = true

[tenants.fabrikam]
id = "9b2c4d6e-8f01-4a23-b456-c789d0e1f234"
domains = ["fabrikam.onmicrosoft.com"]
display_name = "Fabrikam"
dynamics = true

[apps.importer]
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
display_name = "Importer"
home_tenant = "fabrikma"
secrets = [{ name = "current", value = "Qm28Q~check.secret.0001", expires = "2028-06-30T00:00:00Z" }]

[apps.other]
client_id = "7d5b3f1e-9a2c-4e6d-8b0f-1a3c5e7d9b2f"
display_name = "Other"
home_tenant = "contoso"

[environments.fabrikam]
url = "https://fabrikam.example.com"
tenant = "fabrikam"

[[faults]]
service = "dataverce"
action = { kind = "respond", status = 503 }
"#;

/// `text` written as `name` in a fresh folder, with the repository's worlds beside it.
fn file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join(name);
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
    std::fs::write(&path, text).expect("write");
    (folder, path)
}

/// Each error as `line:column key: message (did you mean)`.
fn lines(errors: &[Error]) -> Vec<String> {
    errors
        .iter()
        .map(|error| match error {
            Error::Invalid {
                location,
                key,
                reason,
                ..
            } => format!(
                "{}:{} {key}: {reason}{}",
                location.line,
                location.column,
                error
                    .suggestion()
                    .map(|name| format!(" (did you mean `{name}`?)"))
                    .unwrap_or_default()
            ),
            other => other.to_string(),
        })
        .collect()
}

#[test]
fn a_world_file_reports_every_broken_entry() {
    let (_folder, path) = file("worlds/broken.toml", BROKEN_WORLD);
    let check = check_file(&path);
    assert_eq!(check.kind, FileKind::World);
    let lines = lines(&check.errors);
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(
        lines[0].starts_with("4:6 tenants.contoso.id: `not-a-guid` is not a GUID"),
        "{lines:#?}"
    );
    assert_eq!(
        lines[1],
        "18:15 apps.importer.home_tenant: unknown tenant `fabrikma`; known: fabrikam, contoso (did you mean `fabrikam`?)"
    );
    assert!(
        lines[2].starts_with("27:7 environments.fabrikam.url: "),
        "{lines:#?}"
    );
    assert_eq!(
        lines[3],
        "31:11 faults[0].service: unknown service `dataverce`; known: entra, dataverse (did you mean `dataverse`?)"
    );
    // The app whose home tenant is the broken `contoso` is not reported again.
    assert!(
        !lines.iter().any(|line| line.contains("apps.other")),
        "{lines:#?}"
    );
}

#[test]
fn the_first_error_of_a_world_is_still_the_one_loading_reports() {
    let (_folder, path) = file("worlds/broken.toml", BROKEN_WORLD);
    let error = crate::World::load(&path).expect_err("broken");
    assert_eq!(lines(&[error])[0], lines(&check_file(&path).errors)[0],);
}

fn repository_world() -> String {
    let world =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds/setup-mistakes.toml");
    format!("world = '{}'", world.display())
}

#[test]
fn a_scenario_file_reports_every_section_and_step() {
    let text = format!(
        r#"version = 1
name = ""
description = "Several mistakes at once."
{}
tables = []

[form]
name = "Contoso CRM"
environment_url = "https://contoso.crm.dynamics.com"
tenant_id = "contoso.onmicrosoft.com"
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
client_secret = {{ app = "importer", secret = "curent" }}

[[steps]]
action = "add"
expect = {{ outcome = "failed", problem = "wrong_secrte" }}

[[steps]]
action = "remove"
expect = {{ outcome = "passed" }}

[[steps]]
action = "test"
expect = {{ outcome = "invalid", fields = ["tenant"] }}
"#,
        repository_world()
    );
    let (_folder, path) = file("qa/broken.toml", &text);
    let check = check_file(&path);
    assert_eq!(check.kind, FileKind::Scenario);
    let lines = lines(&check.errors);
    assert_eq!(
        lines,
        [
            "2:8 name: must not be empty",
            "5:10 tables: must not be empty",
            "12:46 form.client_secret.secret: app `importer` has no secret named `curent`; known: current, expired (did you mean `current`?)",
            "16:42 steps[0].expect.problem: unknown problem `wrong_secrte` (did you mean `wrong_secret`?)",
            "20:22 steps[1].expect.outcome: `remove` never ends `passed`; expect `removed`, `not_found`",
            "24:22 steps[2].expect.outcome: `test` never ends `invalid`; expect `passed`, `failed`, `not_found`",
        ],
    );
}

#[test]
fn a_misspelt_action_is_a_parse_error_with_a_suggestion() {
    let text = format!(
        "version = 1\nname = \"n\"\ndescription = \"d\"\n{}\n\n[form]\nname = \"x\"\nenvironment_url = \"https://contoso.crm.dynamics.com\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01\"\nclient_secret = \"s\"\n\n[[steps]]\naction = \"tset\"\nexpect = {{ outcome = \"passed\" }}\n",
        repository_world()
    );
    let (_folder, path) = file("qa/action.toml", &text);
    let check = check_file(&path);
    assert_eq!(check.errors.len(), 1);
    assert_eq!(check.errors[0].suggestion().as_deref(), Some("test"));
}

#[test]
fn tells_worlds_from_scenarios_by_their_keys_then_their_folder() {
    let check = |text: &str, path: &str| file_kind(text, Path::new(path));
    assert_eq!(
        check("[tenants.a]\nid = \"x\"", "scenarios/a.toml"),
        FileKind::World
    );
    assert_eq!(
        check("world = \"demo\"", "fixtures/worlds/a.toml"),
        FileKind::Scenario
    );
    assert_eq!(
        check("version = 1", "fixtures/worlds/a.toml"),
        FileKind::World
    );
    assert_eq!(check("not toml [", "scenarios/a.toml"), FileKind::Scenario);
    assert_eq!(check("not toml [", "x/worlds/a.toml"), FileKind::World);
}
