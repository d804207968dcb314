//! `check` in process: every error of broken files, the kind of each file, exit codes.

use std::path::Path;

use crate::Exit;
use crate::tests::run_captured;

fn setup_mistakes() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/worlds/setup-mistakes.toml")
        .display()
        .to_string()
}

/// A scenario with four mistakes in three sections and two steps.
fn broken_scenario() -> String {
    format!(
        r#"version = 1
name = ""
description = "Four mistakes."
world = '{}'

[form]
name = "Contoso CRM"
environment_url = "https://contoso.crm.dynamics.com"
tenant_id = "contoso.onmicrosoft.com"
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
client_secret = {{ app = "importr", secret = "current" }}

[[steps]]
action = "add"
expect = {{ outcome = "invalid", fields = ["tenant"] }}

[[steps]]
action = "test"
expect = {{ outcome = "failed", problem = "expired" }}
"#,
        setup_mistakes()
    )
}

/// A world with three broken entries.
const BROKEN_WORLD: &str = r#"version = 1

[tenants.contoso]
id = "6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10"
domains = ["contoso.onmicrosoft.com"]
display_name = ""
dynamics = true

[apps.importer]
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
display_name = "Importer"
home_tenant = "contosso"

[environments.contoso]
url = "https://contoso.crm.dynamics.com"
tenant = "contoso"
application_users = [{ app = "importer", roles = ["Basic User"] }]

[environments.fabrikam]
url = "https://fabrikam.crm.dynamics.com"
tenant = "fabrikam"
"#;

/// Every problem kind as serde lists them.
fn problem_list() -> String {
    d365_source::ProblemKind::ALL
        .iter()
        .map(|kind| format!("`{}`", kind.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn folder() -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(folder.path().join("scenarios/qa")).expect("mkdir");
    std::fs::create_dir_all(folder.path().join("fixtures/worlds")).expect("mkdir");
    std::fs::write(
        folder.path().join("scenarios/qa/broken.toml"),
        broken_scenario(),
    )
    .expect("write");
    std::fs::write(
        folder.path().join("fixtures/worlds/broken.toml"),
        BROKEN_WORLD,
    )
    .expect("write");
    folder
}

#[test]
fn reports_every_error_of_every_file_with_suggestions() {
    let folder = folder();
    let root = folder.path().display().to_string();
    let (exit, out, err) = run_captured(&["check", &root]);
    assert_eq!((exit, err.as_str()), (Exit::Failures, ""), "{out}");
    let out = out.replace(&root, "ROOT");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "ROOT/fixtures/worlds/broken.toml:6:16: tenants.contoso.display_name: must not be empty",
            "ROOT/fixtures/worlds/broken.toml:12:15: apps.importer.home_tenant: unknown tenant `contosso`; known: contoso; did you mean `contoso`?",
            "ROOT/fixtures/worlds/broken.toml:21:10: environments.fabrikam.tenant: unknown tenant `fabrikam`; known: contoso",
            "ROOT/fixtures/worlds/broken.toml: world file: 3 errors",
            "ROOT/scenarios/qa/broken.toml:2:8: name: must not be empty",
            "ROOT/scenarios/qa/broken.toml:11:25: form.client_secret.app: unknown app `importr`; known: importer, retired; did you mean `importer`?",
            "ROOT/scenarios/qa/broken.toml:15:43: steps[0].expect.fields[0]: unknown form field `tenant`: unknown variant `tenant`, expected one of `name`, `environment_url`, `tenant_id`, `client_id`, `client_secret`; did you mean `tenant_id`?",
            format!("ROOT/scenarios/qa/broken.toml:19:42: steps[1].expect.problem: unknown problem `expired`: unknown variant `expired`, expected one of {}; did you mean `expired_secret`?", problem_list()).as_str(),
            "ROOT/scenarios/qa/broken.toml: scenario file: 4 errors",
            "2 files checked: 0 ok, 2 with errors (7 errors)",
        ],
        "{out}"
    );
}

#[test]
fn good_files_exit_zero_and_name_their_kind() {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let world = repository.join("fixtures/worlds/demo.toml");
    let scenario = repository.join("scenarios/entra/wrong_secret.toml");
    let (exit, out, err) = run_captured(&[
        "check",
        world.to_str().expect("UTF-8"),
        scenario.to_str().expect("UTF-8"),
    ]);
    assert_eq!((exit, err.as_str()), (Exit::Success, ""), "{out}");
    assert!(out.contains("demo.toml: world file: ok\n"), "{out}");
    assert!(
        out.contains("wrong_secret.toml: scenario file: ok\n"),
        "{out}"
    );
    assert!(
        out.ends_with("2 files checked: 2 ok, 0 with errors (0 errors)\n"),
        "{out}"
    );
}

#[test]
fn a_missing_path_or_none_at_all_is_a_usage_error() {
    let (exit, out, err) = run_captured(&["check", "no/such/file.toml"]);
    assert_eq!((exit, out.as_str()), (Exit::Error, ""));
    assert!(
        err.contains("no such file or folder `no/such/file.toml`"),
        "{err}"
    );
    let (exit, _, err) = run_captured(&["check"]);
    assert_eq!(exit, Exit::Error);
    assert!(err.contains("<PATH>"), "{err}");
}
