//! The tenant console through the app's router (tower's `oneshot`, no socket for the app) in
//! front of real fakes: the views list what the world has (names read from the world), each
//! change goes through the admin API and the Sources page's Test sees it, the admin API's
//! errors come back next to their form, CSRF is required, and no console page shows a secret
//! value of the world.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use d365_source::{LastCheck, ProblemKind};
use serde_json::Value;

use super::view::form_id;
use super::{change_json, describe, in_words};
use crate::demo::test_support::{
    Answer, Fixture, assert_markup, demo_world, escaped, fixture, fixture_of, fixture_world,
    get_request,
};

/// The name of the source the tests add on the Sources page.
const SOURCE: &str = "Contoso sales";

impl Fixture {
    /// Posts a change the way its console form does: the CSRF token, the form's id, the kind
    /// and `fields` (the form's hidden fields and inputs).
    async fn change(&self, kind: &str, fields: &[(&str, &str)]) -> Answer {
        self.change_as(kind, fields, &[], false).await
    }

    /// [`Fixture::change`] from a form whose `hidden` fields name its thing and whose `inputs`
    /// were typed or chosen; as the script posts it (asking for the fragment) when `script`.
    async fn change_as(
        &self,
        kind: &str,
        hidden: &[(&str, &str)],
        inputs: &[(&str, &str)],
        script: bool,
    ) -> Answer {
        let id = form_id(kind, hidden);
        let mut posted: Vec<(&str, &str)> =
            vec![("csrf", self.demo.csrf()), ("form", &id), ("change", kind)];
        posted.extend_from_slice(hidden);
        posted.extend_from_slice(inputs);
        if script {
            posted.push(("fragment", "1"));
        }
        self.post("/console/change", &posted).await
    }

    /// Presses Test on the Sources page: `None` when the check passed, else its problem's kind.
    async fn test_source(&self) -> Option<ProblemKind> {
        let tested = self
            .post(
                "/sources/test",
                &[("csrf", self.demo.csrf()), ("name", SOURCE)],
            )
            .await;
        assert_eq!(tested.status, StatusCode::SEE_OTHER, "{}", tested.body);
        match self.demo.store().get(SOURCE).expect("kept").last_check {
            LastCheck::Passed(_) => None,
            LastCheck::Failed { problem, .. } => Some(problem.kind),
        }
    }

    /// Asserts that no secret value of the world (and none of `typed`) is in `page`.
    #[track_caller]
    fn assert_no_secret(&self, page: &str, typed: &[&str]) {
        let values = self.secret_values();
        assert!(!values.is_empty(), "the world has secrets to look for");
        for value in values
            .iter()
            .map(String::as_str)
            .chain(typed.iter().copied())
        {
            assert!(!page.contains(value), "a page shows a secret value");
        }
    }
}

/// Asserts that `page` shows `text` (escaped as maud escapes it).
#[track_caller]
fn assert_shows(page: &str, text: &str) {
    assert_markup(page, &escaped(text));
}

/// The application user of `app` in `environment`, as the world file has it.
fn user_roles(world_toml: &str, environment: &str, app: &str) -> Option<Vec<String>> {
    let world: toml::Table = toml::from_str(world_toml).expect("a world file");
    let users = world["environments"][environment]
        .get("application_users")?
        .as_array()?;
    let user = users
        .iter()
        .find(|user| user.get("app").and_then(toml::Value::as_str) == Some(app))?;
    Some(
        user.get("roles")
            .and_then(toml::Value::as_array)
            .map(|roles| {
                roles
                    .iter()
                    .filter_map(|role| role.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn the_console_lists_the_tenants_apps_and_environments_of_the_world() {
    let fixture = fixture().await;
    let page = fixture.get("/console").await;
    assert_eq!(page.status, StatusCode::OK);
    let world = fixture.live.world();
    let now = fixture.live.clock().now();
    for tenant in world.tenants() {
        assert_shows(&page.body, &tenant.display_name);
        assert_shows(&page.body, &tenant.id.to_string());
        for domain in &tenant.domains {
            assert_shows(&page.body, domain);
        }
    }
    let mut expired = 0;
    for app in world.apps() {
        assert_shows(&page.body, &app.display_name);
        assert_shows(&page.body, &app.client_id.to_string());
        for secret in &app.secrets {
            assert_markup(
                &page.body,
                &format!("data-test=\"secret\" data-secret=\"{}\"", secret.name),
            );
            if let Some(id) = secret.id {
                assert_shows(&page.body, &id.to_string());
            }
            if !secret.is_valid_at(now) {
                expired += 1;
            }
        }
        for certificate in &app.certificates {
            assert_shows(&page.body, &certificate.name);
        }
        for permission in &app.permissions {
            assert_shows(&page.body, &permission.api);
            assert_shows(&page.body, &permission.scope);
        }
    }
    assert!(expired > 0, "the demo world has an expired secret");
    assert_eq!(
        page.body.matches("data-test=\"expired\"").count(),
        expired,
        "each expired secret is marked"
    );
    for environment in world.environments() {
        assert_shows(&page.body, &environment.url);
        for unit in &environment.business_units {
            assert_shows(&page.body, &unit.name);
        }
        for user in &environment.application_users {
            for role in &user.roles {
                let role = environment
                    .roles
                    .iter()
                    .find(|defined| defined.id == *role)
                    .expect("a role of the environment");
                assert_markup(&page.body, &format!("data-role=\"{}\"", role.name));
                for privilege in role.privileges.keys() {
                    assert_markup(&page.body, &format!("data-privilege=\"{privilege}\""));
                }
            }
        }
        for table in &environment.tables {
            if table.logical_name != "systemuser"
                && table.logical_name != "role"
                && table.logical_name != "businessunit"
            {
                assert_markup(
                    &page.body,
                    &format!("data-table=\"{}\"", table.logical_name),
                );
            }
        }
    }
    // The Remove-role button of the user's role, as the browser tests find it.
    assert_markup(
        &page.body,
        "id=\"remove_role--contoso--importer--importer-reader\" data-change=\"remove_role\"",
    );
    fixture.assert_no_secret(&page.body, &[]);
}

#[tokio::test]
async fn the_console_lists_teams_their_roles_and_members_and_business_units() {
    let fixture = fixture_of(fixture_world("read-depths.toml")).await;
    let page = fixture.get("/console").await;
    assert_eq!(page.status, StatusCode::OK);
    let world = fixture.live.world();
    let mut teams = 0;
    for environment in world.environments() {
        for unit in &environment.business_units {
            assert_shows(&page.body, &unit.name);
        }
        for team in &environment.teams {
            teams += 1;
            assert_markup(&page.body, &format!("data-team=\"{}\"", team.name));
            let remove_member = form_id(
                "remove_team_member",
                &[
                    ("environment", &environment.key),
                    ("team", &team.name),
                    ("app", "importer"),
                ],
            );
            assert_markup(&page.body, &format!("id=\"{remove_member}\""));
        }
    }
    assert!(teams > 0, "the world has teams");
    fixture.assert_no_secret(&page.body, &[]);
}

#[tokio::test]
async fn removing_the_role_fails_the_sources_test_and_assigning_it_back_passes() {
    let fixture = fixture().await;
    fixture.add_valid_source().await;
    assert_eq!(fixture.test_source().await, None);
    let before = fixture.live.world_toml();
    // The source's app, its environment and the one role its application user holds there.
    let world = fixture.live.world();
    let credentials = world
        .client_credentials(fixture.live.clock().now())
        .expect("a live secret");
    let app = credentials.app.key.clone();
    let environment = world
        .first_environment_of(&credentials.tenant.key)
        .expect("an environment")
        .key
        .clone();
    let roles = user_roles(&before, &environment, &app).expect("an application user");
    let [role] = roles.as_slice() else {
        panic!("the demo's application user holds one role: {roles:?}");
    };
    let naming = [
        ("environment", environment.as_str()),
        ("app", app.as_str()),
        ("role", role.as_str()),
    ];
    let page = fixture.get("/console").await;
    assert_markup(
        &page.body,
        &format!("id=\"{}\"", form_id("remove_role", &naming)),
    );

    let removed = fixture.change("remove_role", &naming).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    let location = removed.location.expect("a redirect");
    assert!(location.starts_with("/console?notice="), "{location}");
    assert!(
        location.ends_with(&format!("#environment-{environment}")),
        "{location}"
    );
    assert_eq!(
        user_roles(&fixture.live.world_toml(), &environment, &app),
        Some(Vec::new())
    );
    let page = fixture.get(&location).await;
    assert_shows(
        &page.body,
        &format!("Removed role {role} from the application user of {app} in {environment}."),
    );
    assert_markup(&page.body, "data-test=\"no-roles\"");
    let problem = fixture.test_source().await;
    assert!(
        matches!(
            problem,
            Some(ProblemKind::NoSecurityRole | ProblemKind::MissingTablePrivilege)
        ),
        "{problem:?}"
    );

    // The user's Assign form gives it back: the world file is as before, byte for byte.
    let assigned = fixture
        .change_as(
            "assign_role",
            &naming[..2],
            &[("role", role.as_str())],
            false,
        )
        .await;
    assert_eq!(assigned.status, StatusCode::SEE_OTHER, "{}", assigned.body);
    assert_eq!(fixture.live.world_toml(), before);
    assert_eq!(fixture.test_source().await, None);
}

#[tokio::test]
async fn expiring_the_secret_marks_it_expired_and_the_test_fails_with_the_expired_secret() {
    let fixture = fixture().await;
    fixture.add_valid_source().await;
    let world = fixture.live.world();
    let credentials = world
        .client_credentials(fixture.live.clock().now())
        .expect("a live secret");
    let (app, secret) = (credentials.app.key.clone(), credentials.secret.name.clone());
    let before = fixture.get("/console").await;
    let marked = before.body.matches("data-test=\"expired\"").count();

    let expired = fixture
        .change("expire_secret", &[("app", &app), ("secret", &secret)])
        .await;
    assert_eq!(expired.status, StatusCode::SEE_OTHER, "{}", expired.body);
    let page = fixture.get("/console").await;
    assert_eq!(
        page.body.matches("data-test=\"expired\"").count(),
        marked + 1
    );
    // An expired secret has no Expire button left.
    assert!(!page.body.contains(&format!(
        "id=\"{}\"",
        form_id("expire_secret", &[("app", &app), ("secret", &secret)])
    )));
    assert_eq!(
        fixture.test_source().await,
        Some(ProblemKind::ExpiredSecret)
    );
    fixture.assert_no_secret(&page.body, &[]);
}

#[tokio::test]
async fn administration_mode_turns_on_and_off_from_the_console() {
    let fixture = fixture().await;
    fixture.add_valid_source().await;
    let turn_on = [("environment", "contoso"), ("on", "true")];
    let page = fixture.get("/console").await;
    assert_markup(
        &page.body,
        &format!("id=\"{}\"", form_id("admin_mode", &turn_on)),
    );

    let on = fixture.change("admin_mode", &turn_on).await;
    assert_eq!(on.status, StatusCode::SEE_OTHER, "{}", on.body);
    let world = fixture.live.world();
    assert!(world.environment("contoso").expect("contoso").admin_mode);
    let page = fixture.get("/console").await;
    let turn_off = [("environment", "contoso"), ("on", "false")];
    assert_markup(
        &page.body,
        &format!("id=\"{}\"", form_id("admin_mode", &turn_off)),
    );
    assert_eq!(fixture.test_source().await, Some(ProblemKind::AdminMode));

    let off = fixture.change("admin_mode", &turn_off).await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    assert!(
        !fixture
            .live
            .world()
            .environment("contoso")
            .expect("contoso")
            .admin_mode
    );
    assert_eq!(fixture.test_source().await, None);
}

#[tokio::test]
async fn lowering_a_privilege_depth_changes_the_role() {
    let fixture = fixture().await;
    let naming = [
        ("environment", "contoso"),
        ("role", "Importer Reader"),
        ("privilege", "prvReadAccount"),
    ];
    let mut fields = naming.to_vec();
    fields.push(("depth", "Basic"));
    let lowered = fixture.change("set_privilege", &fields).await;
    assert_eq!(lowered.status, StatusCode::SEE_OTHER, "{}", lowered.body);
    let world = fixture.live.world();
    let role = world.environment("contoso").expect("contoso").roles[0].clone();
    assert_eq!(
        role.privileges.get("prvReadAccount"),
        Some(&fake_dataverse::Depth::Basic)
    );
    let page = fixture.get("/console").await;
    // The select of that privilege now shows User (Basic).
    let form = &page.body[page
        .body
        .find(&format!("id=\"{}\"", form_id("set_privilege", &naming)))
        .expect("the privilege's form")..];
    let form = &form[..form.find("</form>").expect("the form's end")];
    assert!(
        form.contains("<option value=\"Basic\" selected>User</option>"),
        "{form}"
    );
}

#[tokio::test]
async fn a_refused_change_shows_the_admin_api_error_next_to_its_form_and_changes_nothing() {
    let fixture = fixture().await;
    let before = fixture.live.world_toml();
    // The user's Assign form, with a role typed wrong (as a hand-edited request would).
    let hidden = [("environment", "contoso"), ("app", "importer")];
    let inputs = [("role", "Importer Reeder")];
    let refused = fixture
        .change_as("assign_role", &hidden, &inputs, false)
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = "did you mean `Importer Reader`?";
    assert_shows(&refused.body, message);
    // In the page, beside the form that posted (its id names the error), and announced.
    let id = form_id("assign_role", &hidden);
    let error = &refused.body[refused
        .body
        .find(&format!("id=\"{id}-error\""))
        .expect("the error beside its form")..];
    let error = &error[..error.find("</p>").expect("the error's end")];
    assert_shows(error, "`role`: ");
    assert_shows(error, message);
    assert_markup(&refused.body, "<p class=\"console-notice error\"");
    assert_shows(&refused.body, "Not applied: `role`: ");
    assert_eq!(fixture.live.world_toml(), before);

    // The script gets the fragment, with the outcome for the live region.
    let scripted = fixture
        .change_as("assign_role", &hidden, &inputs, true)
        .await;
    assert_eq!(scripted.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!scripted.body.contains("<html"), "{}", scripted.body);
    assert_markup(&scripted.body, "data-outcome=\"refused\"");
    assert_markup(&scripted.body, &format!("id=\"{id}-error\""));

    // A form's own mistake is named too, before the admin API is asked.
    let limits = fixture
        .change(
            "set_limits",
            &[("environment", "contoso"), ("requests", "many")],
        )
        .await;
    assert_eq!(limits.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_shows(
        &limits.body,
        "`requests` must be a whole number, not `many`",
    );
    assert_eq!(fixture.live.world_toml(), before);
}

#[tokio::test]
async fn the_script_gets_the_fresh_fragment_with_the_notice() {
    let fixture = fixture().await;
    let applied = fixture
        .change_as("disable_app", &[("app", "importer")], &[], true)
        .await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    assert!(!applied.body.contains("<html"), "{}", applied.body);
    assert_markup(&applied.body, "data-outcome=\"applied\"");
    assert_shows(&applied.body, "Disabled app importer in every tenant.");
    // The fragment shows the world after the change: the app can be enabled again.
    assert_markup(
        &applied.body,
        &format!("id=\"{}\"", form_id("enable_app", &[("app", "importer")])),
    );
    let fragment = fixture.get("/console/fragment").await;
    assert_eq!(fragment.status, StatusCode::OK);
    assert!(!fragment.body.contains("<html"));
    assert_markup(
        &fragment.body,
        &format!("id=\"{}\"", form_id("enable_app", &[("app", "importer")])),
    );
    fixture.assert_no_secret(&fragment.body, &[]);
}

#[tokio::test]
async fn a_console_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let fixture = fixture().await;
    let before = fixture.live.world_toml();
    let fields = [
        ("change", "remove_role"),
        ("environment", "contoso"),
        ("app", "importer"),
        ("role", "Importer Reader"),
    ];
    let missing = fixture.post("/console/change", &fields).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let mut wrong = fields.to_vec();
    wrong.push(("csrf", "not-the-token"));
    let wrong = fixture.post("/console/change", &wrong).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let preset = fixture
        .post(
            "/console/fault",
            &[("csrf", "not-the-token"), ("preset", "throttle")],
        )
        .await;
    assert_eq!(preset.status, StatusCode::FORBIDDEN);
    // The guard stands in front of the console too (DNS rebinding).
    let mut posted = fields.to_vec();
    posted.push(("csrf", fixture.demo.csrf()));
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&posted)
        .finish();
    let rebound = fixture
        .send(
            Request::post("/console/change")
                .header("host", "attacker.example:8080")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("a request"),
        )
        .await;
    assert_eq!(rebound.status, StatusCode::FORBIDDEN);
    assert_eq!(fixture.live.world_toml(), before);
    assert!(fixture.live.faults().rules().is_empty());
}

#[tokio::test]
async fn a_fault_preset_adds_its_rule_through_the_admin_api_and_clear_removes_it() {
    let fixture = fixture().await;
    fixture.add_valid_source().await;
    let added = fixture
        .post(
            "/console/fault",
            &[
                ("csrf", fixture.demo.csrf()),
                ("form", "throttle"),
                ("preset", "throttle"),
                ("count", "3"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let rules = fixture.live.faults().rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].times, Some(3));
    assert_eq!(rules[0].service.as_deref(), Some("dataverse"));
    assert!(matches!(
        rules[0].action,
        fake_core::FaultAction::Respond { status: 429, .. }
    ));
    let page = fixture.get(&added.location.expect("a redirect")).await;
    assert_shows(
        &page.body,
        "Fault added: Throttle the next 3 Dataverse requests (429, Retry-After 5 s).",
    );
    assert_markup(&page.body, "data-test=\"fault-rules\"");
    assert_shows(&page.body, "at most 3 times → answers HTTP 429");

    let bad = fixture
        .post(
            "/console/fault",
            &[
                ("csrf", fixture.demo.csrf()),
                ("form", "throttle"),
                ("preset", "throttle"),
                ("count", "0"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fixture.live.faults().rules().len(), 1);

    let cleared = fixture.change("clear_faults", &[]).await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER, "{}", cleared.body);
    assert!(fixture.live.faults().rules().is_empty());
    assert_eq!(fixture.test_source().await, None);
}

#[tokio::test]
async fn moving_the_clock_forward_moves_the_world_clock_and_says_to_when() {
    let fixture = fixture().await;
    let before = fixture.live.clock().offset();
    let moved = fixture.change("advance_clock", &[("duration", "1d")]).await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    assert_eq!(
        fixture.live.clock().offset() - before,
        time::Duration::days(1)
    );
    let page = fixture.get(&moved.location.expect("a redirect")).await;
    assert_shows(&page.body, "Moved the world's clock forward: it is now ");
    assert_shows(&page.body, "Moved 1d ahead of real time.");
}

#[tokio::test]
async fn every_kind_of_change_has_a_form_in_the_console() {
    // The demo world, then the same world with everything that has a reverse turned around,
    // then a world with teams and a multi-tenant app.
    let mut shown = String::new();
    let demo = fixture().await;
    shown.push_str(&demo.get("/console").await.body);
    for (kind, fields) in [
        ("disable_app", vec![("app", "importer")]),
        (
            "revoke_consent",
            vec![
                ("app", "importer"),
                ("api", "Dynamics CRM"),
                ("scope", "user_impersonation"),
            ],
        ),
        ("disable_dynamics", vec![("tenant", "contoso")]),
        (
            "disable_application_user",
            vec![("environment", "contoso"), ("app", "importer")],
        ),
    ] {
        let answer = demo.change(kind, &fields).await;
        assert_eq!(
            answer.status,
            StatusCode::SEE_OTHER,
            "{kind}: {}",
            answer.body
        );
    }
    demo.post(
        "/console/fault",
        &[("csrf", demo.demo.csrf()), ("preset", "slow-dataverse")],
    )
    .await;
    shown.push_str(&demo.get("/console").await.body);
    let removed = demo
        .change(
            "remove_application_user",
            &[("environment", "contoso"), ("app", "importer")],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    shown.push_str(&demo.get("/console").await.body);
    let teams = fixture_of(fixture_world("read-depths.toml")).await;
    shown.push_str(&teams.get("/console").await.body);
    let left = teams
        .change(
            "remove_team_member",
            &[
                ("environment", "contoso-team"),
                ("team", "Importers"),
                ("app", "importer"),
            ],
        )
        .await;
    assert_eq!(left.status, StatusCode::SEE_OTHER, "{}", left.body);
    shown.push_str(&teams.get("/console").await.body);
    let tenants = fixture_of(fixture_world("customer-tenant.toml")).await;
    shown.push_str(&tenants.get("/console").await.body);
    let removed = tenants
        .change(
            "remove_service_principal",
            &[("app", "importer"), ("tenant", "fabrikam")],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    shown.push_str(&tenants.get("/console").await.body);

    for kind in [
        "add_secret",
        "remove_secret",
        "expire_secret",
        "add_certificate",
        "remove_certificate",
        "disable_app",
        "enable_app",
        "add_service_principal",
        "remove_service_principal",
        "grant_consent",
        "revoke_consent",
        "disable_dynamics",
        "enable_dynamics",
        "add_application_user",
        "remove_application_user",
        "disable_application_user",
        "enable_application_user",
        "assign_role",
        "remove_role",
        "add_team_member",
        "remove_team_member",
        "set_privilege",
        "admin_mode",
        "set_limits",
        "add_rows",
        "remove_rows",
        "set_generated_rows",
        "add_fault",
        "clear_faults",
        "advance_clock",
    ] {
        assert!(
            shown.contains(&format!("data-change=\"{kind}\"")),
            "no form for `{kind}`"
        );
    }
}

#[tokio::test]
async fn no_console_page_shows_a_secret_value_not_even_one_just_added() {
    let fixture = fixture().await;
    let typed = "Typ~ed.secret.value.in.the.console.0042";
    // A generated value, and a typed one.
    let generated = fixture
        .change_as(
            "add_secret",
            &[("app", "importer")],
            &[("secret", "generated")],
            true,
        )
        .await;
    assert_eq!(generated.status, StatusCode::OK, "{}", generated.body);
    let added = fixture
        .change(
            "add_secret",
            &[("app", "importer"), ("secret", "typed"), ("value", typed)],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let location = added.location.expect("a redirect");
    assert!(!location.contains(typed), "the redirect shows the secret");
    // The same name again is refused: the error page must not show the typed value either.
    let refused = fixture
        .change(
            "add_secret",
            &[("app", "importer"), ("secret", "typed"), ("value", typed)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_shows(&refused.body, "already has");
    let values = fixture.secret_values();
    assert_eq!(values.len(), 4, "two secrets were added");
    assert!(values.iter().any(|value| value == typed));
    for page in [
        generated.body,
        refused.body,
        fixture.get(&location).await.body,
        fixture.get("/console/fragment").await.body,
    ] {
        fixture.assert_no_secret(&page, &[typed]);
    }
}

#[test]
fn form_fields_become_a_change_of_the_right_json_types() {
    let fields = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    };
    let change = change_json(&fields(&[
        ("change", "set_limits"),
        ("environment", " contoso "),
        ("requests", "10"),
        ("window_seconds", ""),
    ]))
    .expect("a change");
    assert_eq!(
        change,
        serde_json::json!({"change": "set_limits", "environment": "contoso", "requests": 10})
    );
    let change = change_json(&fields(&[
        ("change", "add_application_user"),
        ("roles", "Importer Reader, Basic User"),
        ("roles", ""),
        ("on", "true"),
        ("expires", "2026-12-04T16:50"),
        ("rows", r#"[{"name": "A"}]"#),
    ]))
    .expect("a change");
    assert_eq!(
        change["roles"],
        serde_json::json!(["Importer Reader", "Basic User"])
    );
    assert_eq!(change["on"], Value::Bool(true));
    assert_eq!(change["expires"], "2026-12-04T16:50:00Z");
    assert_eq!(change["rows"], serde_json::json!([{"name": "A"}]));
    assert_eq!(
        change_json(&fields(&[("change", "set_limits"), ("requests", "1e3")])),
        Err("`requests` must be a whole number, not `1e3`".to_owned())
    );
    assert_eq!(
        change_json(&fields(&[("environment", "contoso")])),
        Err("the form names no change".to_owned())
    );
    let rows =
        change_json(&fields(&[("change", "add_rows"), ("rows", "[{")])).expect_err("not JSON");
    assert!(rows.starts_with("`rows` is not JSON: "), "{rows}");
}

#[test]
fn the_notice_names_the_change_but_never_a_secret_value() {
    assert_eq!(
        describe(&serde_json::json!({
            "change": "remove_role", "environment": "contoso", "team": "Importers", "role": "R"
        })),
        "Removed role R from team Importers in contoso."
    );
    let notice = describe(&serde_json::json!({
        "change": "add_secret", "app": "importer", "secret": "new", "value": "Qm28Q~never.shown"
    }));
    assert_eq!(notice, "Added client secret new to importer.");
    assert!(!notice.contains("never.shown"));
}

#[test]
fn form_ids_are_the_kind_and_the_names_in_lower_case() {
    assert_eq!(
        form_id(
            "remove_role",
            &[
                ("environment", "contoso"),
                ("app", "importer"),
                ("role", "Importer Reader")
            ]
        ),
        "remove_role--contoso--importer--importer-reader"
    );
    // Inputs typed into the form are not part of its id.
    assert_eq!(
        form_id(
            "set_privilege",
            &[("environment", "contoso"), ("depth", "Basic")]
        ),
        "set_privilege--contoso"
    );
}

#[test]
fn admin_errors_lose_the_batch_bookkeeping() {
    assert_eq!(
        in_words("changes[0] (`remove_role`) `role`: no role `X`; did you mean `Y`?"),
        "`role`: no role `X`; did you mean `Y`?"
    );
    assert_eq!(
        in_words("changes[0]: unknown field `rol`, expected one of `role`"),
        "unknown field `rol`, expected one of `role`"
    );
    assert_eq!(in_words("the body is not JSON"), "the body is not JSON");
}

#[tokio::test]
async fn console_pages_let_the_browser_send_their_origin_with_a_post() {
    // Under `Referrer-Policy: no-referrer` a browser sends `Origin: null` with a form's POST,
    // which the guard refuses: every form of the demo failed without the script.
    let fixture = fixture().await;
    let response = fixture.response(get_request("/console")).await;
    assert_eq!(
        response
            .headers()
            .get("referrer-policy")
            .map(|policy| policy.as_bytes()),
        Some(&b"same-origin"[..])
    );
}

#[tokio::test]
async fn the_version_changes_when_the_world_changes_elsewhere_and_only_then() {
    let fixture = fixture().await;
    let first = fixture.get("/console/version").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(fixture.get("/console/version").await.body, first.body);
    let page = fixture.get("/console").await;
    assert_markup(&page.body, &format!("data-version=\"{}\"", first.body));

    // Another client (a second tab, `d365-harness admin`) changes the world.
    let changes: Vec<scenario::Change> =
        serde_json::from_str(r#"[{"change": "admin_mode", "environment": "contoso", "on": true}]"#)
            .expect("a change");
    fixture.live.apply(&changes).expect("the change applies");
    let second = fixture.get("/console/version").await;
    assert_ne!(second.body, first.body);
    let fragment = fixture.get("/console/fragment").await;
    assert_markup(&fragment.body, &format!("data-version=\"{}\"", second.body));

    // A fault rule and a clock move count too.
    let faults: Vec<scenario::Change> = serde_json::from_str(
        r#"[{"change": "add_fault", "fault": {"times": 1, "action": {"kind": "respond", "status": 503}}}]"#,
    )
    .expect("a change");
    fixture.live.apply(&faults).expect("the fault applies");
    let third = fixture.get("/console/version").await;
    assert_ne!(third.body, second.body);
    let clock: Vec<scenario::Change> =
        serde_json::from_str(r#"[{"change": "advance_clock", "seconds": 60}]"#).expect("a change");
    fixture.live.apply(&clock).expect("the clock moves");
    assert_ne!(fixture.get("/console/version").await.body, third.body);
}

#[tokio::test]
async fn every_id_on_the_console_is_unique() {
    for world in [
        demo_world(),
        fixture_world("read-depths.toml"),
        fixture_world("setup-mistakes.toml"),
        fixture_world("customer-tenant.toml"),
    ] {
        let fixture = fixture_of(world).await;
        let page = fixture.get("/console").await;
        let mut seen = std::collections::BTreeSet::new();
        for piece in page.body.split(" id=\"").skip(1) {
            let id = &piece[..piece.find('"').expect("a closing quote")];
            assert!(seen.insert(id.to_owned()), "id `{id}` twice");
        }
        assert!(seen.len() > 10);
    }
}

#[tokio::test]
async fn each_buttons_accessible_name_holds_what_it_shows() {
    for world in [
        demo_world(),
        fixture_world("read-depths.toml"),
        fixture_world("setup-mistakes.toml"),
    ] {
        let fixture = fixture_of(world).await;
        let page = fixture.get("/console").await;
        let mut named = 0;
        for button in page.body.split("<button").skip(1) {
            let open = &button[..button.find('>').expect("the tag's end")];
            let shown =
                &button[open.len() + 1..button.find("</button>").expect("the button's end")];
            if let Some(start) = open.find("aria-label=\"") {
                let label = &open[start + 12..];
                let label = &label[..label.find('"').expect("a closing quote")];
                assert!(label.contains(shown), "`{label}` does not hold `{shown}`");
                named += 1;
            }
        }
        assert!(named > 3);
    }
}

#[tokio::test]
async fn typed_fields_reach_the_admin_api_with_their_json_types() {
    // Rows, counts and limits, in an environment whose accounts are given inline.
    let owned = fixture_of(fixture_world("read-depths.toml")).await;
    let environment = "contoso-owned";
    let rows_of = |table: &str| {
        let world = owned.live.world();
        let found = world.environment(environment).expect("the environment");
        let table = found
            .tables
            .iter()
            .find(|listed| listed.logical_name == table)
            .expect("the table");
        match &table.data {
            fake_dataverse::TableData::Rows(rows) => rows.len() as u64,
            fake_dataverse::TableData::Generated { count } => *count,
        }
    };
    let before = rows_of("account");
    let hidden = [("environment", environment)];
    let added = owned
        .change_as(
            "add_rows",
            &hidden,
            &[
                ("table", "account"),
                ("rows", r#"[{"name": "Console row"}]"#),
            ],
            false,
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    assert_eq!(rows_of("account"), before + 1);
    let removed = owned
        .change(
            "remove_rows",
            &[("environment", environment), ("table", "account")],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    assert_eq!(rows_of("account"), 0);
    let generated = owned
        .change_as(
            "set_generated_rows",
            &[("environment", environment), ("table", "contact")],
            &[("count", "7")],
            false,
        )
        .await;
    assert_eq!(
        generated.status,
        StatusCode::SEE_OTHER,
        "{}",
        generated.body
    );
    assert_eq!(rows_of("contact"), 7);
    let limits = owned
        .change_as(
            "set_limits",
            &hidden,
            &[
                ("requests", "10"),
                ("window_seconds", ""),
                ("concurrent", "2"),
            ],
            false,
        )
        .await;
    assert_eq!(limits.status, StatusCode::SEE_OTHER, "{}", limits.body);
    let world = owned.live.world();
    let set = world
        .environment(environment)
        .expect("the environment")
        .limits;
    assert_eq!(
        (set.requests, set.concurrent, set.window_seconds),
        (10, 2, 300)
    );

    // A certificate's PEM, a secret's expiry from a date input, a fault rule as JSON and an
    // application user's role, in the demo world.
    let fixture = fixture().await;
    let document = fixture.live.document();
    let pem = document.table()["apps"]["importer"]["certificates"][0]["pem"]
        .as_str()
        .expect("an inline certificate")
        .to_owned();
    let added = fixture
        .change_as(
            "add_certificate",
            &[("app", "importer")],
            &[("certificate", "console-upload"), ("pem", &pem)],
            false,
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let page = fixture.get("/console").await;
    assert_markup(&page.body, "data-certificate=\"console-upload\"");
    let removed = fixture
        .change(
            "remove_certificate",
            &[("app", "importer"), ("certificate", "console-upload")],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    assert!(
        !fixture
            .get("/console")
            .await
            .body
            .contains("console-upload")
    );

    let expired = fixture
        .change_as(
            "expire_secret",
            &[("app", "importer"), ("secret", "current")],
            &[("at", "2030-01-02T03:04")],
            false,
        )
        .await;
    assert_eq!(expired.status, StatusCode::SEE_OTHER, "{}", expired.body);
    let world = fixture.live.world();
    let secret = world.app("importer").expect("the app").secrets[0].clone();
    assert_eq!(
        secret.expires,
        time::macros::datetime!(2030-01-02 03:04 UTC)
    );

    let fault = fixture
        .change_as(
            "add_fault",
            &[],
            &[(
                "fault",
                r#"{"service": "entra", "times": 1, "action": {"kind": "respond", "status": 503}}"#,
            )],
            false,
        )
        .await;
    assert_eq!(fault.status, StatusCode::SEE_OTHER, "{}", fault.body);
    assert_eq!(fixture.live.faults().rules()[0].times, Some(1));

    let user = [("environment", "contoso"), ("app", "importer")];
    let removed = fixture.change("remove_application_user", &user).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    let page = fixture.get("/console").await;
    assert_markup(&page.body, "data-test=\"no-application-users\"");
    let created = fixture
        .change_as(
            "add_application_user",
            &user[..1],
            &[("app", "importer"), ("roles", "Importer Reader")],
            false,
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(
        user_roles(&fixture.live.world_toml(), "contoso", "importer"),
        Some(vec!["Importer Reader".to_owned()])
    );
}

#[tokio::test]
async fn a_notice_shows_only_with_the_tag_this_demo_gave_it() {
    let fixture = fixture().await;
    let world = fixture.live.world();
    let credentials = world
        .client_credentials(fixture.live.clock().now())
        .expect("a live secret");
    let app = credentials.app.key.clone();
    let environment = world
        .first_environment_of(&credentials.tenant.key)
        .expect("an environment")
        .key
        .clone();
    let roles =
        user_roles(&fixture.live.world_toml(), &environment, &app).expect("an application user");
    let naming = [
        ("environment", environment.as_str()),
        ("app", app.as_str()),
        ("role", roles[0].as_str()),
    ];
    let removed = fixture.change("remove_role", &naming).await;
    let location = removed.location.expect("a redirect");
    let (path, _) = location.split_once('#').expect("an anchor");
    let shown = fixture.get(path).await;
    assert!(shown.body.contains("Removed role"), "{}", shown.body);

    // The same words without the tag, or with another notice's tag, show nothing.
    let (notice, tag) = path.split_once("&tag=").expect("the notice and its tag");
    let untagged = fixture.get(notice).await;
    assert!(!untagged.body.contains("Removed role"), "{}", untagged.body);
    let forged = fixture
        .get(&format!("/console?notice=Call+the+help+desk+now&tag={tag}"))
        .await;
    assert_eq!(forged.status, StatusCode::OK);
    assert!(!forged.body.contains("help desk"), "{}", forged.body);
    let bad_tag = fixture
        .get("/console?notice=Call+the+help+desk+now&tag=%25%25")
        .await;
    assert!(!bad_tag.body.contains("help desk"), "{}", bad_tag.body);
}
