//! The scenario player through the demo's router (tower's `oneshot`, the fixture of `demo/test_support.rs`)
//! in front of real fakes: the list shows the checkout's scenario files by folder; loading a
//! scenario and playing its steps reports what `scenario::run` reports for the same file; a
//! lifecycle scenario with `change` steps plays through and restarts; worlds with other hosts
//! are reached by the player and the Sources page; no page shows a secret of the scenario's
//! world; a POST without the CSRF token, or naming a file the list does not show, changes
//! nothing.

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use scenario::{Report, Scenario, StepReport};

use super::*;
use crate::demo::test_support::{self, Answer, Fixture, assert_markup, demo_world, escaped};

const MISSING_PRIVILEGE: &str = "dataverse/missing_table_privilege.toml";
const ROLE_REMOVED: &str = "lifecycle/role_removed_after_save.toml";
/// On `contoso-nouser.crm.dynamics.com`, which the demo world does not serve.
const NO_APPLICATION_USER: &str = "dataverse/no_application_user.toml";
/// A third world (`read-depths`), with hosts of its own again.
const READ_DEPTH: &str = "dataverse/business_unit_read_depth.toml";

/// The checkout's scenario folder.
fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

async fn fixture() -> Fixture {
    fixture_in(Some(scenarios_dir())).await
}

/// The app over fresh fakes for the built-in demo world, its source list in a temporary
/// folder, the player reading `dir` (`None`: no folder).
async fn fixture_in(dir: Option<PathBuf>) -> Fixture {
    // The demo's own world: every scenario the tests load is another world, most with other
    // hosts.
    test_support::fixture_with(demo_world(), |demo| {
        demo.player = PlayerState::new(None);
        demo.player.dir = dir;
    })
    .await
}

impl Fixture {
    /// Loads `file` through the list's form; the answer must be the redirect to the player.
    async fn load(&self, file: &str) {
        let answer = self
            .post(
                "/scenarios/load",
                &[("csrf", self.demo.csrf()), ("file", file)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(answer.location.as_deref(), Some("/scenarios/play"));
    }

    /// Adds `scenario`'s form on the Sources page, with the secret it types.
    async fn add_scenario_source(&self, scenario: &Scenario) -> Answer {
        let form = scenario.form();
        let secret = form
            .client_secret
            .typed(scenario.world(), &std::collections::BTreeMap::new())
            .expect("the world has the secret");
        self.post(
            "/sources/dynamics365",
            &[
                ("csrf", self.demo.csrf()),
                ("name", &form.name),
                ("environment_url", &form.environment_url),
                ("tenant_id", &form.tenant_id),
                ("client_id", &form.client_id),
                ("client_secret", secret.expose()),
            ],
        )
        .await
    }

    /// Presses "play all" (the rest of the steps); the answer is the redirect to the player.
    async fn play_all(&self) -> Answer {
        self.post("/scenarios/all", &[("csrf", self.demo.csrf())])
            .await
    }

    /// The steps played so far, [`timeless`].
    async fn played_timeless(&self) -> Vec<StepReport> {
        self.played().await.iter().map(timeless).collect()
    }

    /// The reports of the steps played so far.
    async fn played(&self) -> Vec<StepReport> {
        let playing = self.demo.player.playing.lock().await;
        playing
            .as_ref()
            .map(|playing| playing.player.played().to_vec())
            .unwrap_or_default()
    }
}

/// The scenario file and what the runner reports for it on fresh fakes.
async fn run_file(file: &str) -> (Scenario, Report) {
    let scenario =
        Scenario::load(scenarios_dir().join(file)).unwrap_or_else(|error| panic!("{error}"));
    let report = scenario::run(&scenario).await.expect("the runner runs");
    (scenario, report)
}

/// The step's report without what a running clock makes differ from the runner's manual one.
fn timeless(step: &StepReport) -> StepReport {
    let mut step = step.clone();
    step.at = String::new();
    step.clock_to = None;
    if let Some(check) = &mut step.check {
        check.checked_at = String::new();
    }
    step
}

/// The runner's steps, [`timeless`].
fn timeless_steps(report: &Report) -> Vec<StepReport> {
    report.steps.iter().map(timeless).collect()
}

/// Asserts that `body` shows no secret value of `scenario` (its world's, its file's) nor of
/// the world being served now (secrets a change step made).
#[track_caller]
fn assert_no_secret(fixture: &Fixture, scenario: &Scenario, body: &str) {
    let now = fixture.secret_values();
    let known = scenario
        .secret_values()
        .into_iter()
        .map(|value| value.expose().to_owned());
    for secret in known.chain(now).filter(|secret| !secret.is_empty()) {
        assert!(
            !body.contains(&secret),
            "a page shows a secret of the world"
        );
        assert!(
            !body.contains(&escaped(&secret)),
            "a page shows a secret of the world"
        );
    }
}

/// Every `.toml` file under `dir`, relative, with `/`.
fn toml_files(dir: &Path, prefix: &str, files: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("a readable folder") {
        let path = entry.expect("an entry").path();
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            toml_files(&path, &format!("{prefix}{name}/"), files);
        } else if name.ends_with(".toml") {
            files.push(format!("{prefix}{name}"));
        }
    }
}

#[tokio::test]
async fn the_list_shows_every_scenario_file_by_folder_with_its_name() {
    let fixture = fixture().await;
    let answer = fixture.get("/scenarios").await;
    assert_eq!(answer.status, StatusCode::OK);
    let mut files = Vec::new();
    toml_files(&scenarios_dir(), "", &mut files);
    assert!(files.len() > 10, "{files:?}");
    assert_eq!(
        answer.body.matches(r#"data-test="scenario-item""#).count(),
        files.len(),
        "{}",
        answer.body
    );
    for file in &files {
        assert!(
            answer.body.contains(&format!(r#"data-file="{file}""#)),
            "`{file}` missing from {}",
            answer.body
        );
    }
    for folder in ["dataverse", "entra", "lifecycle", "network"] {
        assert_markup(&answer.body, &format!(r#"data-folder="{folder}""#));
    }
    let scenario = Scenario::load(scenarios_dir().join(MISSING_PRIVILEGE)).expect("loads");
    assert!(answer.body.contains(&escaped(scenario.name())));
    assert!(answer.body.contains(&escaped(scenario.description())));
    assert!(answer.body.contains(r#"aria-current="page">Scenarios"#));
    // Nothing is loaded yet: the player page sends back to the list.
    let play = fixture.get("/scenarios/play").await;
    assert_eq!(play.location.as_deref(), Some("/scenarios"));
}

#[tokio::test]
async fn without_a_scenario_folder_the_list_says_how_to_give_one() {
    let fixture = fixture_in(None).await;
    let answer = fixture.get("/scenarios").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_markup(&answer.body, r#"id="scenario-none""#);
    assert_markup(&answer.body, "--scenarios DIR");

    let empty = tempfile::tempdir().expect("a temporary folder");
    let fixture = fixture_in(Some(empty.path().to_owned())).await;
    let answer = fixture.get("/scenarios").await;
    assert_markup(&answer.body, r#"id="scenario-none""#);
    assert_markup(&answer.body, "no scenario files");
    let answer = fixture
        .post(
            "/scenarios/load",
            &[("csrf", fixture.demo.csrf()), ("file", MISSING_PRIVILEGE)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
}

#[tokio::test]
async fn playing_a_failing_scenario_step_by_step_reports_what_the_runner_reports() {
    let fixture = fixture().await;
    let (scenario, expected) = run_file(MISSING_PRIVILEGE).await;
    fixture.load(MISSING_PRIVILEGE).await;

    let loaded = fixture.get("/scenarios/play").await;
    assert_eq!(loaded.status, StatusCode::OK);
    for shown in [
        scenario.name(),
        scenario.form().environment_url.as_str(),
        scenario.form().tenant_id.as_str(),
        scenario.form().client_id.as_str(),
        "from the world: app importer, secret current",
        r#"data-state="next""#,
        r#"id="play-next""#,
    ] {
        assert!(
            loaded.body.contains(&escaped(shown)) || loaded.body.contains(shown),
            "`{shown}` missing from {}",
            loaded.body
        );
    }
    assert_no_secret(&fixture, &scenario, &loaded.body);
    assert_markup(&loaded.body, r#"<script src="/js/player.js" defer>"#);
    let script = fixture.get("/js/player.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert_markup(&script.body, "scenario-status");
    // The clock starts where the runner's does.
    let now = fixture.demo.live().clock().now();
    assert!(now >= scenario::START_TIME && now - scenario::START_TIME < time::Duration::minutes(1));

    for number in 1..=expected.steps.len() {
        let answer = fixture
            .post("/scenarios/next", &[("csrf", fixture.demo.csrf())])
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(
            answer.location,
            Some(format!("/scenarios/play#step-{number}"))
        );
    }
    let played = fixture.played().await;
    assert_eq!(
        played.iter().map(timeless).collect::<Vec<_>>(),
        timeless_steps(&expected)
    );

    let page = fixture.get("/scenarios/play").await;
    assert_no_secret(&fixture, &scenario, &page.body);
    for step in &expected.steps {
        let outcome = step.outcome.expect("an add step has an outcome");
        assert_markup(
            &page.body,
            &format!(r#"data-outcome="{outcome}" data-held="{}""#, step.held),
        );
        let problem = step.problem.as_ref().expect("the scenario fails its check");
        for shown in [&problem.kind, &problem.message, &problem.fix] {
            assert!(
                page.body.contains(&escaped(shown)),
                "`{shown}` missing from {}",
                page.body
            );
        }
    }
    assert_markup(&page.body, "As expected");
    assert!(!page.body.contains(r#"id="play-next""#), "{}", page.body);
    assert_markup(&page.body, "All 1 steps played");
}

#[tokio::test]
async fn a_lifecycle_scenario_with_change_steps_plays_through_and_restarts() {
    let fixture = fixture().await;
    let (scenario, expected) = run_file(ROLE_REMOVED).await;
    fixture.load(ROLE_REMOVED).await;

    let answer = fixture.play_all().await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(
        answer.location,
        Some(format!("/scenarios/play#step-{}", expected.steps.len()))
    );
    let played = fixture.played().await;
    assert_eq!(
        played.iter().map(timeless).collect::<Vec<_>>(),
        timeless_steps(&expected)
    );
    assert!(expected.passed);

    let page = fixture.get("/scenarios/play").await;
    assert_no_secret(&fixture, &scenario, &page.body);
    for change in expected.steps.iter().flat_map(|step| &step.changes) {
        assert_markup(&page.body, &escaped(change));
    }
    assert_eq!(
        page.body.matches(r#"data-held="true""#).count(),
        expected.steps.len(),
        "{}",
        page.body
    );
    // The rest of the demo shows the scenario's world: its source is in the Sources list.
    let sources = fixture.get("/sources").await;
    assert_markup(&sources.body, "Contoso CRM");
    assert_no_secret(&fixture, &scenario, &sources.body);

    let restarted = fixture
        .post("/scenarios/restart", &[("csrf", fixture.demo.csrf())])
        .await;
    assert_eq!(
        restarted.status,
        StatusCode::SEE_OTHER,
        "{}",
        restarted.body
    );
    assert!(fixture.played().await.is_empty());
    assert!(fixture.demo.store().list().expect("a list").is_empty());
    let page = fixture.get("/scenarios/play").await;
    assert_markup(&page.body, r#"data-step="1" data-state="next""#);
    // The role the scenario removed and assigned again is back as loaded, and step 1 plays
    // as the runner's did.
    let answer = fixture
        .post("/scenarios/next", &[("csrf", fixture.demo.csrf())])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(
        fixture.played_timeless().await,
        vec![timeless(&expected.steps[0])]
    );
}

#[tokio::test]
async fn posts_without_the_csrf_token_change_nothing() {
    let fixture = fixture().await;
    for (path, fields) in [
        (
            "/scenarios/load",
            vec![("csrf", "forged"), ("file", MISSING_PRIVILEGE)],
        ),
        ("/scenarios/load", vec![("file", MISSING_PRIVILEGE)]),
        ("/scenarios/next", vec![("csrf", "forged")]),
        ("/scenarios/all", vec![]),
        ("/scenarios/restart", vec![("csrf", "")]),
    ] {
        let answer = fixture.post(path, &fields).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            answer.body
        );
    }
    assert!(fixture.demo.player.playing.lock().await.is_none());

    fixture.load(MISSING_PRIVILEGE).await;
    for path in ["/scenarios/next", "/scenarios/all", "/scenarios/restart"] {
        let answer = fixture.post(path, &[("csrf", "forged")]).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            answer.body
        );
    }
    assert!(fixture.played().await.is_empty());
}

#[tokio::test]
async fn a_file_the_list_does_not_show_is_not_loaded() {
    let fixture = fixture().await;
    for file in [
        "../fixtures/worlds/demo.toml",
        "/etc/passwd",
        "README.md",
        "dataverse/no_such_case.toml",
    ] {
        let answer = fixture
            .post(
                "/scenarios/load",
                &[("csrf", fixture.demo.csrf()), ("file", file)],
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{file}: {}",
            answer.body
        );
    }
    assert!(fixture.demo.player.playing.lock().await.is_none());
}

#[tokio::test]
async fn loading_worlds_with_other_hosts_reaches_them_from_the_player_and_the_sources_page() {
    let fixture = fixture().await;
    let (scenario, expected) = run_file(NO_APPLICATION_USER).await;
    let host = "contoso-nouser.crm.dynamics.com";
    assert!(
        !fixture
            .demo
            .live()
            .network_settings()
            .resolve
            .contains_key(host),
        "the demo world already serves {host}"
    );
    fixture.load(NO_APPLICATION_USER).await;
    assert!(
        fixture
            .demo
            .live()
            .network_settings()
            .resolve
            .contains_key(host)
    );
    let answer = fixture.play_all().await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(fixture.played_timeless().await, timeless_steps(&expected));

    // The Sources page's own flow was rebuilt for the new hosts: the same form finds the
    // same problem there.
    let added = fixture.add_scenario_source(&scenario).await;
    let problem = expected.steps[0].problem.as_ref().expect("a problem");
    assert_markup(&added.body, &escaped(&problem.message));
    assert_no_secret(&fixture, &scenario, &added.body);

    // And on to a third world.
    let (scenario, expected) = run_file(READ_DEPTH).await;
    fixture.load(READ_DEPTH).await;
    let answer = fixture.play_all().await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(fixture.played_timeless().await, timeless_steps(&expected));
    assert_eq!(fixture.demo.live().world().path(), scenario.world().path());
    let page = fixture.get("/scenarios/play").await;
    assert_no_secret(&fixture, &scenario, &page.body);
}

#[tokio::test]
async fn typed_pasted_and_rotated_secrets_are_named_by_origin_never_shown() {
    let fixture = fixture().await;
    for (file, shown) in [
        (
            "entra/wrong_secret.toml",
            "typed by the scenario (a value of its own, not shown)",
        ),
        (
            "entra/secret_id_instead_of_value.toml",
            "from the world: app importer, secret current (its Secret ID pasted instead of its value)",
        ),
        (
            "form/pasted_whitespace.toml",
            "from the world: app importer, secret current, with what a paste dragged along",
        ),
        (
            "source/rotate_secret.toml",
            "the new secret is from the world: app importer, secret expired.",
        ),
    ] {
        let (scenario, expected) = run_file(file).await;
        fixture.load(file).await;
        let answer = fixture.play_all().await;
        assert_eq!(
            answer.status,
            StatusCode::SEE_OTHER,
            "{file}: {}",
            answer.body
        );
        assert_eq!(
            fixture.played_timeless().await,
            timeless_steps(&expected),
            "{file}"
        );
        let page = fixture.get("/scenarios/play").await;
        assert!(
            page.body.contains(&escaped(shown)),
            "{file}: `{shown}` missing from {}",
            page.body
        );
        assert_no_secret(&fixture, &scenario, &page.body);
        let sources = fixture.get("/sources").await;
        assert_no_secret(&fixture, &scenario, &sources.body);
    }
}

#[tokio::test]
async fn a_scenario_file_that_does_not_load_leaves_the_loaded_one_playing() {
    // A folder of its own: a good scenario and a broken one, the checkout's worlds beside.
    let root = tempfile::tempdir().expect("a temporary folder");
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"),
        root.path().join("fixtures"),
    )
    .expect("a link to the fixtures");
    let dir = root.path().join("scenarios");
    std::fs::create_dir(&dir).expect("a folder");
    std::fs::copy(
        scenarios_dir().join(MISSING_PRIVILEGE),
        dir.join("good.toml"),
    )
    .expect("a copy");
    let broken = std::fs::read_to_string(dir.join("good.toml"))
        .expect("the copy")
        .replace(r#"world = "setup-mistakes""#, r#"world = "setup-mistake""#);
    std::fs::write(dir.join("broken.toml"), broken).expect("a broken file");
    let fixture = fixture_in(Some(dir.clone())).await;

    // The list reads a file again when it changed.
    let name = Scenario::load(dir.join("good.toml"))
        .expect("loads")
        .name()
        .to_owned();
    let list = fixture.get("/scenarios").await;
    assert_markup(&list.body, &escaped(&name));
    let renamed = std::fs::read_to_string(dir.join("good.toml"))
        .expect("the copy")
        .replace(&format!("name = \"{name}\""), "name = \"renamed in place\"");
    std::fs::write(dir.join("good.toml"), renamed).expect("the file rewritten");
    std::fs::File::options()
        .write(true)
        .open(dir.join("good.toml"))
        .and_then(|file| {
            file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        })
        .expect("a later modification time");
    let list = fixture.get("/scenarios").await;
    assert_markup(&list.body, "renamed in place");

    fixture.load("good.toml").await;
    let answer = fixture
        .post("/scenarios/next", &[("csrf", fixture.demo.csrf())])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let world = fixture.demo.live().world_toml();

    let answer = fixture
        .post(
            "/scenarios/load",
            &[("csrf", fixture.demo.csrf()), ("file", "broken.toml")],
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    assert_markup(
        &answer.body,
        "The scenario does not load: invalid scenario `broken.toml`",
    );
    assert_markup(&answer.body, "no world `setup-mistake`");
    assert_eq!(fixture.played().await.len(), 1);
    assert_eq!(fixture.demo.live().world_toml(), world);
    let playing = fixture.demo.player.playing.lock().await;
    assert_eq!(
        playing.as_ref().map(|playing| playing.file.as_str()),
        Some("good.toml")
    );
}

#[tokio::test]
async fn the_sources_page_follows_a_world_loaded_by_anyone() {
    let fixture = fixture().await;
    let (scenario, expected) = run_file(NO_APPLICATION_USER).await;
    // Not through the player: as the admin API's PUT /world does.
    fixture
        .demo
        .live()
        .load(scenario.world(), &[])
        .expect("the world loads");
    let added = fixture.add_scenario_source(&scenario).await;
    let problem = expected.steps[0].problem.as_ref().expect("a problem");
    assert_markup(&added.body, &escaped(&problem.message));
}

#[tokio::test]
async fn the_sources_pages_reset_ends_the_scenario_being_played() {
    let fixture = fixture().await;
    fixture.load(ROLE_REMOVED).await;
    let played = fixture
        .post("/scenarios/next", &[("csrf", fixture.demo.csrf())])
        .await;
    assert_eq!(played.status, StatusCode::SEE_OTHER, "{}", played.body);
    assert_eq!(fixture.played().await.len(), 1);

    let reset = fixture
        .post("/reset", &[("csrf", fixture.demo.csrf())])
        .await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER, "{}", reset.body);
    assert!(fixture.played().await.is_empty());
    assert!(fixture.demo.player.playing.lock().await.is_none());
}
