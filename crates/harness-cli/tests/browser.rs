//! `d365-harness demo` in headless Chromium through chromedriver (WebDriver): the guide's steps,
//! three setup mistakes, an invalid form, Rotate secret, the console's remove-and-restore round,
//! the live traffic view, step progress as it happens, a scenario played, labels and layout,
//! and the Sources page's load time. Screenshots: `target/browser-screenshots/`; numbers:
//! `target/browser-report/`. Not run by `cargo test`: `.ci/run` runs this target.
#![allow(
    clippy::print_stdout,
    reason = "the measurements and screenshot paths are reported on stdout"
)]

#[path = "support/demo_process.rs"]
mod demo_process;
#[path = "support/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;

use anyhow::{Context, ensure};
use serde_json::{Value, json};

use demo_process::DemoProcess;
use webdriver::Browser;

/// The window the tests browse in (a laptop screen).
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;
/// A secret no world has.
const WRONG_SECRET: &str = "Wr0ng~SecretValueTypedByTheUser.0123456789";
/// The page-load budget.
const PAGE_LOAD_BUDGET_MS: f64 = 50.0;

/// The demo and a browser on it.
struct Session {
    demo: DemoProcess,
    browser: Browser,
}

impl Session {
    async fn start() -> anyhow::Result<Session> {
        // The browser first: without it the test fails at once, naming what is missing.
        let browser = Browser::start(WIDTH, HEIGHT).await?;
        let demo = DemoProcess::start()?;
        Ok(Session { demo, browser })
    }

    /// Checks that no page logged an error (a script's, or a refusal by the
    /// Content-Security-Policy), then ends the browser session (Chromium quits); the demo is
    /// killed on drop.
    async fn close(self) -> anyhow::Result<()> {
        // A form's errors come as a 422 page, which Chromium logs as a failed load: expected.
        let errors: Vec<String> = self
            .browser
            .severe_logs()
            .await?
            .into_iter()
            .filter(|error| !error.contains("the server responded with a status of 422"))
            .collect();
        ensure!(errors.is_empty(), "the browser console: {errors:#?}");
        self.browser.close().await
    }

    /// Saves the viewport as `target/browser-screenshots/<name>.png`.
    async fn screenshot(&self, name: &str) -> anyhow::Result<()> {
        let path = target_dir()
            .join("browser-screenshots")
            .join(format!("{name}.png"));
        let bytes = self.browser.screenshot(&path).await?;
        println!("screenshot {} ({} KB)", path.display(), bytes / 1024);
        Ok(())
    }

    /// Saves the element `css` selects as `target/browser-screenshots/<name>.png` (the
    /// README's pictures: a part of the page is smaller than the window).
    async fn element_screenshot(&self, css: &str, name: &str) -> anyhow::Result<()> {
        let path = target_dir()
            .join("browser-screenshots")
            .join(format!("{name}.png"));
        let element = self.browser.find(css).await?;
        // At the top of the window (a screenshot holds only what the window shows), below
        // whatever sticks there (the console's notice), which would cover its top.
        self.browser
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView({block: 'start'});\
                 const covering = [...document.querySelectorAll('body *')]\
                   .filter(node => ['sticky', 'fixed'].includes(getComputedStyle(node).position))\
                   .map(node => node.getBoundingClientRect())\
                   .filter(rect => rect.top <= 0 && rect.height > 0)\
                   .reduce((low, rect) => Math.max(low, rect.bottom), 0);\
                 window.scrollBy(0, -covering);",
                json!([css]),
            )
            .await?;
        let bytes = element.screenshot(&path).await?;
        println!("screenshot {} ({} KB)", path.display(), bytes / 1024);
        Ok(())
    }

    /// The Dynamics 365 form: from the Sources page through the tile.
    async fn open_form(&self) -> anyhow::Result<()> {
        self.browser.goto(&self.demo.sources_url).await?;
        self.browser
            .find("a.tile[href='/sources/dynamics365']")
            .await?
            .click()
            .await?;
        self.browser.find("form.source-form #name").await?;
        Ok(())
    }

    /// Types the world's valid credentials (with `secret`, and `changes` over the fields by
    /// input id) into the form and presses Add Source.
    async fn add_source(&self, secret: &str, changes: &[(&str, &str)]) -> anyhow::Result<()> {
        self.fill_form(secret, changes).await?;
        self.browser
            .find("form.source-form button[type=submit]")
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Opens the form and types the world's valid credentials (with `secret`, and `changes`
    /// over the fields by input id), without pressing Add Source.
    async fn fill_form(&self, secret: &str, changes: &[(&str, &str)]) -> anyhow::Result<()> {
        self.open_form().await?;
        let fields = [
            ("name", "Contoso sales"),
            ("environment_url", self.demo.value("D365_ENVIRONMENT_URL")?),
            ("tenant_id", self.demo.value("D365_TENANT_ID")?),
            ("client_id", self.demo.value("D365_CLIENT_ID")?),
            ("client_secret", secret),
        ];
        for (id, value) in fields {
            let value = changes
                .iter()
                .find(|(changed, _)| *changed == id)
                .map_or(value, |(_, value)| *value);
            let input = self
                .browser
                .find(&format!("form.source-form #{id}"))
                .await?;
            input.clear().await?;
            if !value.is_empty() {
                input.type_text(value).await?;
            }
        }
        Ok(())
    }

    /// Adds the world's source and waits until it is listed.
    async fn add_valid_source(&self) -> anyhow::Result<()> {
        let secret = self.demo.value("D365_CLIENT_SECRET")?.to_owned();
        self.add_source(&secret, &[]).await?;
        self.browser
            .find("[data-test=source-row][data-source='Contoso sales']")
            .await?;
        Ok(())
    }

    /// On the Sources page, presses Test on the listed source and waits for the page that
    /// follows; returns the last check's status as shown (`Passed` or `Failed`).
    async fn test_source(&self) -> anyhow::Result<String> {
        let browser = &self.browser;
        browser.goto(&self.demo.sources_url).await?;
        browser.mark_page().await?;
        browser
            .find("[data-source='Contoso sales'] [data-test=test-source]")
            .await?
            .click()
            .await?;
        browser.wait_for_new_page().await?;
        browser
            .text("[data-source='Contoso sales'] [data-test=last-check-status]")
            .await
    }

    /// Waits for the form page to show a failed check and returns (message, fix, evidence
    /// summary); checks the secret typed is nowhere in the page.
    async fn problem(&self, secret: &str) -> anyhow::Result<(String, String, String)> {
        let message = self.browser.text("[role=alert] .problem-message").await?;
        let fix = self.browser.text("[role=alert] .problem-fix").await?;
        let evidence = self.browser.text("[role=alert] details summary").await?;
        self.assert_page_hides(secret).await?;
        Ok((message, fix, evidence))
    }

    /// Fails if `secret` is anywhere in the page's HTML (fields included).
    async fn assert_page_hides(&self, secret: &str) -> anyhow::Result<()> {
        let html = self
            .browser
            .execute(
                "const inputs = [...document.querySelectorAll('input')].map(i => i.value);\
                 return document.documentElement.outerHTML + inputs.join('\\n');",
                json!([]),
            )
            .await?;
        ensure!(
            !html.as_str().context("HTML")?.contains(secret),
            "the page shows the secret"
        );
        Ok(())
    }
}

/// The build's `target/` folder (cargo gives integration tests `target/tmp`).
fn target_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map(PathBuf::from).unwrap_or(tmp)
}

/// Writes `text` to `target/browser-report/<name>.txt` and prints it.
fn report(name: &str, text: &str) -> anyhow::Result<()> {
    let dir = target_dir().join("browser-report");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("{name}.txt")), text)?;
    println!("{text}");
    Ok(())
}

#[tokio::test]
async fn adding_a_source_on_the_happy_path_lists_it_with_its_masked_secret() -> anyhow::Result<()> {
    let session = Session::start().await?;
    let browser = &session.browser;
    browser.goto(&session.demo.sources_url).await?;
    ensure!(
        browser.body_text().await?.contains("No sources yet."),
        "the list is not empty at start"
    );
    session.screenshot("01-sources-empty").await?;

    session.open_form().await?;
    let secret_type = browser
        .execute(
            "return document.getElementById('client_secret').type",
            json!([]),
        )
        .await?;
    ensure!(
        secret_type == "password",
        "the secret field is {secret_type}"
    );
    // The form may say where the demo tenant's secret is, never what it is.
    let secret = session.demo.value("D365_CLIENT_SECRET")?.to_owned();
    session.assert_page_hides(&secret).await?;
    session.screenshot("02-form").await?;

    session.add_source(&secret, &[]).await?;
    let row = browser.text("table.sources tbody tr").await?;
    // Post, redirect, get: reloading the list does not add again.
    let url = browser.url().await?;
    ensure!(
        url.starts_with(&format!(
            "{}/sources?added=Contoso+sales",
            session.demo.origin
        )),
        "{url}"
    );
    let notice = browser.text(".notice").await?;
    ensure!(
        notice == "Source 'Contoso sales' was checked and added.",
        "{notice}"
    );
    for shown in [
        "Contoso sales",
        session.demo.value("D365_ENVIRONMENT_URL")?,
        session.demo.value("D365_TENANT_ID")?,
        "Passed",
    ] {
        ensure!(row.contains(shown), "`{shown}` missing from the row: {row}");
    }
    // The hint: the secret's first three characters and a mask.
    let hint = browser.text("table.sources tbody tr td code").await?;
    let expected: String = secret.chars().take(3).chain("*****".chars()).collect();
    ensure!(hint == expected, "the masked hint: {hint:?}");
    session.assert_page_hides(&secret).await?;
    // The list fits the laptop's window: no column pushed past the page's edge.
    let overflow = browser
        .execute(
            "const table = document.querySelector('table.sources').getBoundingClientRect();\
             const main = document.querySelector('main');\
             const style = getComputedStyle(main);\
             const right = main.getBoundingClientRect().right - parseFloat(style.paddingRight);\
             return table.right - right;",
            json!([]),
        )
        .await?;
    ensure!(
        overflow.as_f64().is_some_and(|overflow| overflow <= 0.5),
        "the list sticks out of the page by {overflow} px at {WIDTH} px wide"
    );
    session.screenshot("03-source-added").await?;
    session.close().await
}

#[tokio::test]
async fn a_wrong_secret_shows_its_message_and_fix() -> anyhow::Result<()> {
    let session = Session::start().await?;
    session.add_source(WRONG_SECRET, &[]).await?;
    let (message, fix, evidence) = session.problem(WRONG_SECRET).await?;
    ensure!(evidence.contains("wrong_secret"), "{evidence}");
    ensure!(message.contains("secret"), "{message}");
    ensure!(!fix.is_empty(), "no fix");
    session.screenshot("04-wrong-secret").await?;
    session.close().await
}

#[tokio::test]
async fn no_application_user_shows_its_message_and_fix() -> anyhow::Result<()> {
    let session = Session::start().await?;
    session
        .demo
        .change(json!([{"change": "remove_application_user", "environment": "contoso", "app": "importer"}]))
        .await?;
    let secret = session.demo.value("D365_CLIENT_SECRET")?.to_owned();
    session.add_source(&secret, &[]).await?;
    let (message, fix, evidence) = session.problem(&secret).await?;
    ensure!(evidence.contains("no_application_user"), "{evidence}");
    ensure!(message.contains("application user"), "{message}");
    ensure!(fix.contains("+ New app user"), "{fix}");
    session.screenshot("05-no-application-user").await?;
    session.close().await
}

#[tokio::test]
async fn a_missing_table_privilege_shows_its_message_and_fix() -> anyhow::Result<()> {
    let session = Session::start().await?;
    session
        .demo
        .change(json!([{"change": "set_privilege", "environment": "contoso",
            "role": "Importer Reader", "privilege": "prvReadContact", "depth": "None"}]))
        .await?;
    let secret = session.demo.value("D365_CLIENT_SECRET")?.to_owned();
    session.add_source(&secret, &[]).await?;
    let (message, fix, evidence) = session.problem(&secret).await?;
    ensure!(evidence.contains("missing_table_privilege"), "{evidence}");
    ensure!(message.contains("contact"), "{message}");
    ensure!(
        fix.contains("Read (Organization) on the table contact"),
        "{fix}"
    );
    session.screenshot("06-missing-table-privilege").await?;
    session.close().await
}

#[tokio::test]
async fn an_invalid_form_shows_field_errors_with_focus_on_the_first() -> anyhow::Result<()> {
    let session = Session::start().await?;
    // The name is valid; the tenant and client IDs are not and the secret is empty: the first
    // field in error is the tenant.
    session
        .add_source("", &[("tenant_id", "not a tenant!"), ("client_id", "xyz")])
        .await?;
    let browser = &session.browser;
    browser.find(".error-summary[role=alert]").await?;
    let errored: Value = browser
        .execute(
            "return [...document.querySelectorAll('.field.invalid')].map(field => ({\
                 input: field.querySelector('input').id,\
                 error: (field.querySelector('.field-error') || {}).id || null,\
                 described: field.querySelector('input').getAttribute('aria-describedby'),\
                 invalid: field.querySelector('input').getAttribute('aria-invalid')}))",
            json!([]),
        )
        .await?;
    let errored = errored.as_array().context("a list")?;
    let inputs: Vec<&str> = errored
        .iter()
        .filter_map(|field| field["input"].as_str())
        .collect();
    ensure!(
        inputs == ["tenant_id", "client_id", "client_secret"],
        "fields in error: {inputs:?}"
    );
    for field in errored {
        let input = field["input"].as_str().context("an id")?;
        let error_id = format!("{input}-error");
        ensure!(field["error"] == error_id.as_str(), "{field}");
        ensure!(
            field["described"]
                .as_str()
                .is_some_and(|described| described.split(' ').any(|id| id == error_id)),
            "{field}"
        );
        ensure!(field["invalid"] == "true", "{field}");
    }
    // Autofocus lands after the page loads: wait for it, then check where it is.
    let focused = browser
        .wait_for(
            "focus on an input",
            "const active = document.activeElement;\
             return active && active.tagName === 'INPUT' ? active.id : '';",
        )
        .await?;
    ensure!(focused == "tenant_id", "focus is on {focused}");
    // What was typed stays, so the user fixes rather than retypes.
    let name = browser
        .execute("return document.getElementById('name').value", json!([]))
        .await?;
    ensure!(name == "Contoso sales", "{name}");
    session.screenshot("07-invalid-form").await?;
    session.close().await
}

/// The Sources page's load, from the browser's Navigation Timing, in ms from the navigation's
/// start: `responseEnd` (the page's last byte: what the demo's server controls),
/// `domContentLoadedEventEnd` and `loadEventEnd` (with its stylesheet, parsed and run: what
/// Chromium's share of the CPU decides). The median of several loads is asserted (one slow
/// load on a busy machine is not the page being slow): the server's share within the issue's
/// 50 ms, the whole load within five times that, a bound that catches a blocking script or a
/// slow asset without failing on a busy two-core CI machine. Every number goes to the report.
#[tokio::test]
async fn the_sources_page_loads_within_50_ms() -> anyhow::Result<()> {
    const LOADS: usize = 15;
    let session = Session::start().await?;
    let browser = &session.browser;
    // With a source listed, the page has its table (the first load also warms the browser).
    let secret = session.demo.value("D365_CLIENT_SECRET")?.to_owned();
    session.add_source(&secret, &[]).await?;
    browser.find("table.sources").await?;
    let mut samples = Vec::new();
    for _ in 0..LOADS {
        browser.goto(&session.demo.sources_url).await?;
        let timing = browser
            .wait_for(
                "the navigation's load event has ended",
                "const nav = performance.getEntriesByType('navigation')[0];\
                 return nav && nav.loadEventEnd > 0 ? nav.toJSON() : null;",
            )
            .await?;
        let number = |key: &str| {
            timing[key]
                .as_f64()
                .with_context(|| format!("{key}: {timing}"))
        };
        samples.push([
            number("responseEnd")?,
            number("domContentLoadedEventEnd")?,
            number("loadEventEnd")?,
        ]);
    }
    let median = |index: usize| -> Vec<f64> {
        let mut values: Vec<f64> = samples.iter().map(|sample| sample[index]).collect();
        values.sort_by(f64::total_cmp);
        values
    };
    let mut text = format!(
        "Sources page load (Navigation Timing, {LOADS} loads, headless Chromium, {} build), ms:\n",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    let mut medians = [0.0; 3];
    for (index, name) in ["responseEnd", "domContentLoadedEventEnd", "loadEventEnd"]
        .into_iter()
        .enumerate()
    {
        let values = median(index);
        medians[index] = values[values.len() / 2];
        text.push_str(&format!(
            "  {name:<25} median {:6.1}  min {:6.1}  max {:6.1}\n",
            medians[index],
            values[0],
            values[values.len() - 1]
        ));
    }
    report("page-load", &text)?;
    ensure!(
        medians[0] < PAGE_LOAD_BUDGET_MS,
        "the Sources page's last byte came after {:.1} ms (median; budget {PAGE_LOAD_BUDGET_MS} ms):\n{text}",
        medians[0]
    );
    ensure!(
        medians[2] < 5.0 * PAGE_LOAD_BUDGET_MS,
        "the Sources page's load ended after {:.1} ms (median; bound {} ms):\n{text}",
        medians[2],
        5.0 * PAGE_LOAD_BUDGET_MS
    );
    session.screenshot("08-sources-listed").await?;
    session.close().await
}

/// The presenter's round: in the tenant console remove the application user's role, Test the
/// source and see it fail with its fix; assign the role again and Test passes; the traffic
/// view lists the requests those checks made (token, Dataverse, the refusal among them), and
/// shows one's details without the secret.
#[tokio::test]
async fn a_role_removed_in_the_console_fails_the_test_and_restoring_it_passes() -> anyhow::Result<()>
{
    const USER: &str = "[data-test=application-user][data-app=importer]";
    const ROLE: &str = "Importer Reader";
    let session = Session::start().await?;
    let browser = &session.browser;
    let secret = session.demo.value("D365_CLIENT_SECRET")?.to_owned();
    session.add_valid_source().await?;

    let console = format!("{}/console", session.demo.origin);
    browser.goto(&console).await?;
    browser
        .find(&format!("{USER} [data-test=held-role][data-role='{ROLE}']"))
        .await?;
    browser
        .find(&format!(
            "{USER} form[data-change=remove_role][data-role='{ROLE}'] button"
        ))
        .await?
        .click()
        .await?;
    // The console swaps its fragment in place (no reload) and says what changed.
    browser
        .wait_for(
            "the role is gone from the application user",
            &format!(
                "const user = document.querySelector(\"{USER}\");\
                 return user && !user.querySelector(\"[data-test=held-role][data-role='{ROLE}']\")\
                   && !!user.querySelector('[data-test=no-roles]');"
            ),
        )
        .await?;
    let notice = browser
        .wait_for(
            "the console's notice",
            "const notice = document.querySelector('[data-test=console-notice]');\
             return notice ? notice.textContent.trim() : '';",
        )
        .await?;
    ensure!(
        notice.as_str().is_some_and(|text| text.contains(ROLE)),
        "the notice: {notice}"
    );
    session.screenshot("10-console-role-removed").await?;
    session
        .element_screenshot(
            "[data-test=environment][data-environment=contoso]",
            "readme-console",
        )
        .await?;

    let status = session.test_source().await?;
    ensure!(status == "Failed", "Test without the role: {status}");
    let problem = browser
        .find("[data-source='Contoso sales'] + .problem-row [data-test=problem]")
        .await?;
    let shown = problem.text().await?;
    let fix = browser
        .text("[data-source='Contoso sales'] + .problem-row [data-test=problem-fix]")
        .await?;
    ensure!(fix.contains("Edit security roles"), "{fix}");
    session.assert_page_hides(&secret).await?;
    session.screenshot("11-test-failed-without-role").await?;
    session
        .element_screenshot("section[aria-labelledby=list-heading]", "readme-sources")
        .await?;

    browser.goto(&console).await?;
    let assign = format!("{USER} form[data-change=assign_role]");
    browser
        .find(&format!("{assign} option[value='{ROLE}']"))
        .await?
        .click()
        .await?;
    browser
        .find(&format!("{assign} button[type=submit]"))
        .await?
        .click()
        .await?;
    browser
        .find(&format!("{USER} [data-test=held-role][data-role='{ROLE}']"))
        .await?;
    let status = session.test_source().await?;
    ensure!(status == "Passed", "Test with the role again: {status}");
    ensure!(
        !browser.body_text().await?.contains(&shown),
        "the old problem is still listed"
    );
    session.screenshot("12-test-passed-again").await?;

    // The traffic view: every request of the three checks, newest first.
    browser
        .goto(&format!("{}/traffic", session.demo.origin))
        .await?;
    browser.find("[data-test=traffic-row]").await?;
    let rows = browser
        .execute(
            "return [...document.querySelectorAll('[data-test=traffic-row]')].map(row => ({\
                 status: Number(row.dataset.status),\
                 host: row.querySelector('[data-test=traffic-host]').textContent.trim(),\
                 url: row.querySelector('[data-test=traffic-detail-link]').title}));",
            json!([]),
        )
        .await?;
    let rows = rows.as_array().context("a list")?;
    let count = |what: &dyn Fn(&Value) -> bool| rows.iter().filter(|row| what(row)).count();
    let tokens = count(&|row| {
        row["url"]
            .as_str()
            .is_some_and(|url| url.contains("/oauth2/v2.0/token"))
            && row["status"] == 200
    });
    let who_am_i = count(&|row| {
        row["url"]
            .as_str()
            .is_some_and(|url| url.contains("/WhoAmI"))
    });
    let refused = count(&|row| row["status"] == 403);
    ensure!(tokens >= 3, "{tokens} token requests in {rows:?}");
    ensure!(who_am_i >= 3, "{who_am_i} WhoAmI requests in {rows:?}");
    ensure!(refused >= 1, "no refusal in {rows:?}");
    // A token request's details: the form's secret is redacted.
    let token_row = browser
        .execute(
            "const link = [...document.querySelectorAll('[data-test=traffic-detail-link]')]\
                 .find(link => link.title.includes('/oauth2/v2.0/token'));\
             return link ? link.closest('[data-test=traffic-row]').dataset.sequence : null;",
            json!([]),
        )
        .await?;
    let sequence = token_row.as_str().context("a token row")?;
    browser
        .find(&format!(
            "[data-test=traffic-row][data-sequence='{sequence}'] [data-test=traffic-detail-link]"
        ))
        .await?
        .click()
        .await?;
    let request = browser
        .text("[data-test=traffic-detail] [data-test=traffic-request]")
        .await?;
    ensure!(
        request.contains("client_credentials") && request.contains("client_secret [redacted]"),
        "{request}"
    );
    session.assert_page_hides(&secret).await?;
    session.screenshot("13-traffic-token-request").await?;
    session.close().await
}

/// Add Source's steps appear while the check runs, not with its outcome. The admin API slows
/// the token and WhoAmI answers (a delay fault each); a MutationObserver installed before
/// Add Source records, in `sessionStorage` (kept across the navigation to the outcome), when
/// each step appeared and changed status, and when the page left for the outcome.
#[tokio::test]
async fn add_source_shows_each_step_as_it_happens() -> anyhow::Result<()> {
    const DELAY_MS: u64 = 400;
    let session = Session::start().await?;
    let browser = &session.browser;
    session
        .demo
        .admin(
            reqwest::Method::POST,
            "/faults",
            Some(json!([
                {"name": "slow token", "service": "entra", "path": "*/oauth2/v2.0/token",
                 "action": {"kind": "delay", "millis": DELAY_MS}},
                {"name": "slow WhoAmI", "service": "dataverse", "path": "*/WhoAmI",
                 "action": {"kind": "delay", "millis": DELAY_MS}},
            ])),
        )
        .await?;
    let secret = session.demo.value("D365_CLIENT_SECRET")?.to_owned();
    session.fill_form(&secret, &[]).await?;
    browser
        .execute(
            "const now = () => performance.timeOrigin + performance.now();\
             const log = [];\
             const seen = new Set();\
             const save = () => sessionStorage.setItem('progress', JSON.stringify(log));\
             const list = document.getElementById('check-steps');\
             new MutationObserver(() => {\
               for (const item of list.querySelectorAll('[data-test=check-step]')) {\
                 const key = item.dataset.label + ' ' + item.dataset.status;\
                 if (!seen.has(key)) {\
                   seen.add(key);\
                   log.push({label: item.dataset.label, step: item.dataset.step,\
                             status: item.dataset.status, at: now()});\
                 }\
               }\
               save();\
             }).observe(list, {childList: true, subtree: true, attributes: true,\
                               attributeFilter: ['data-status']});\
             document.getElementById('source-form').addEventListener('submit',\
               () => { log.push({event: 'submit', at: now()}); save(); });\
             window.addEventListener('pagehide',\
               () => { log.push({event: 'outcome', at: now()}); save(); });\
             save();",
            json!([]),
        )
        .await?;
    browser.mark_page().await?;
    browser
        .find("form.source-form button[type=submit]")
        .await?
        .click()
        .await?;
    browser.wait_for_new_page().await?;
    browser
        .find("[data-test=source-row][data-source='Contoso sales']")
        .await?;
    let log = browser
        .execute(
            "return JSON.parse(sessionStorage.getItem('progress'));",
            json!([]),
        )
        .await?;
    let log = log.as_array().context("the recorded log")?;
    let at = |what: &dyn Fn(&Value) -> bool| {
        log.iter()
            .find(|entry| what(entry))
            .and_then(|entry| entry["at"].as_f64())
    };
    let submit = at(&|entry| entry["event"] == "submit").context("no submit recorded")?;
    let outcome = at(&|entry| entry["event"] == "outcome").context("no outcome recorded")?;
    let mut text = format!(
        "Add Source step progress (token and WhoAmI answers delayed {DELAY_MS} ms each), ms after \
         pressing Add Source:\n"
    );
    for entry in log.iter().filter(|entry| entry["label"].is_string()) {
        text.push_str(&format!(
            "  {:>7.1}  {:<8} {}\n",
            entry["at"].as_f64().unwrap_or_default() - submit,
            entry["status"].as_str().unwrap_or_default(),
            entry["label"].as_str().unwrap_or_default(),
        ));
    }
    text.push_str(&format!("  {:>7.1}  outcome page\n", outcome - submit));
    report("step-progress", &text)?;
    let step = |name: &str, status: &str| {
        at(&|entry| entry["step"] == name && entry["status"] == status)
            .with_context(|| format!("step `{name}` never showed `{status}`:\n{text}"))
    };
    for name in [
        "token",
        "who_am_i",
        "organization",
        "privileges",
        "table_read",
    ] {
        let passed = step(name, "passed")?;
        ensure!(
            passed < outcome,
            "step `{name}` passed only with the outcome:\n{text}"
        );
    }
    // Each slow step was on screen as running while its answer was held back.
    let delay = DELAY_MS as f64;
    for name in ["token", "who_am_i"] {
        let started = step(name, "started")?;
        let passed = step(name, "passed")?;
        ensure!(
            passed - started >= delay / 2.0,
            "`{name}` showed running for {:.1} ms only:\n{text}",
            passed - started
        );
    }
    // The first step was on screen for both delays before the outcome.
    let token = step("token", "started")?;
    ensure!(
        outcome - token >= delay,
        "the token step appeared only {:.1} ms before the outcome:\n{text}",
        outcome - token
    );
    // The outcome lists the steps, each on one line: its label, status and time side by side.
    let misaligned = browser
        .execute(
            "const steps = [...document.querySelectorAll('[data-test=check-step]')];\
             return steps.length === 0 ? 'no steps listed' : steps.filter(step => {\
               const tops = [...step.children].map(part => part.getBoundingClientRect().top);\
               return Math.max(...tops) - Math.min(...tops) > 2;\
             }).map(step => step.textContent.trim());",
            json!([]),
        )
        .await?;
    ensure!(
        misaligned == json!([]),
        "steps not on one line: {misaligned}"
    );
    session.screenshot("09-added-with-steps").await?;
    session.close().await
}

/// The traffic view is live: open in one tab, it lists the requests a Test pressed in another
/// tab makes, as they happen, without reloading (server-sent events).
#[tokio::test]
async fn the_traffic_view_lists_new_requests_as_they_happen() -> anyhow::Result<()> {
    let session = Session::start().await?;
    let browser = &session.browser;
    session.add_valid_source().await?;
    let sources_tab = browser.tab().await?;
    let traffic_tab = browser.new_tab().await?;
    browser
        .goto(&format!("{}/traffic", session.demo.origin))
        .await?;
    browser
        .wait_for(
            "the traffic view's event stream is open",
            "const state = document.querySelector('[data-test=traffic-stream]');\
             return state && state.dataset.state === 'live';",
        )
        .await?;
    browser.mark_page().await?;
    let before = browser
        .execute(
            "return Math.max(0, ...[...document.querySelectorAll('[data-test=traffic-row]')]\
                 .map(row => Number(row.dataset.sequence)));",
            json!([]),
        )
        .await?
        .as_f64()
        .context("a sequence")?;

    browser.switch_to(&sources_tab).await?;
    let status = session.test_source().await?;
    ensure!(status == "Passed", "Test: {status}");

    browser.switch_to(&traffic_tab).await?;
    browser
        .wait_for(
            "the Test's WhoAmI is listed",
            &format!(
                "return [...document.querySelectorAll('[data-test=traffic-row]')]\
                     .some(row => Number(row.dataset.sequence) > {before}\
                         && row.querySelector('[data-test=traffic-detail-link]').title\
                             .includes('/WhoAmI'));"
            ),
        )
        .await?;
    let reloaded = browser
        .execute("return !window.__browserTestMark;", json!([]))
        .await?;
    ensure!(reloaded == false, "the traffic view reloaded to show them");
    session.screenshot("14-traffic-live").await?;
    session.close().await
}

/// The scenario player: load a scenario from the list, the world it names is served (the
/// console shows its environment) and its form is shown; play its step and its report, with
/// the problem it expects, appears beside it.
#[tokio::test]
async fn a_scenario_loads_its_world_and_plays_its_step_with_the_report_beside_it()
-> anyhow::Result<()> {
    const STEP: &str = "[data-test=step][data-step='1']";
    let session = Session::start().await?;
    let browser = &session.browser;
    browser
        .goto(&format!("{}/scenarios", session.demo.origin))
        .await?;
    browser.mark_page().await?;
    browser
        .find("[data-test=scenario-item][data-file$='no_security_role.toml'] [data-test=scenario-load]")
        .await?
        .click()
        .await?;
    browser.wait_for_new_page().await?;
    let environment = browser
        .text("[data-test=form-field][data-field=environment_url] dd")
        .await?;
    ensure!(
        environment == "https://contoso-noroles.crm.dynamics.com",
        "the form's environment: {environment}"
    );
    browser.find(STEP).await?;
    ensure!(
        browser
            .execute(
                &format!("return !document.querySelector(\"{STEP} [data-test=step-report]\");"),
                json!([])
            )
            .await?
            == true,
        "a report before playing"
    );
    session.screenshot("15-scenario-loaded").await?;

    browser.mark_page().await?;
    browser.find("[data-test=play-next]").await?.click().await?;
    browser.wait_for_new_page().await?;
    let verdict = browser
        .text(&format!("{STEP} [data-test=step-verdict]"))
        .await?;
    ensure!(verdict == "✓ As expected", "the verdict: {verdict}");
    let problem = browser
        .find(&format!(
            "{STEP} [data-test=step-problem][data-kind=no_security_role]"
        ))
        .await?
        .text()
        .await?;
    ensure!(problem.contains("no security role"), "{problem}");
    session.screenshot("16-scenario-played").await?;

    // The console shows the world the scenario loaded.
    browser
        .goto(&format!("{}/console", session.demo.origin))
        .await?;
    let console = browser.text("[data-test=console]").await?;
    ensure!(
        console.contains("https://contoso-noroles.crm.dynamics.com"),
        "the console does not show the scenario's world"
    );
    session.close().await
}

/// Every page, with a source listed and a scenario loaded: each form control has a name a
/// screen reader reads (a label, `aria-label` or its text), and nothing is wider than the
/// laptop's window.
#[tokio::test]
async fn every_page_names_its_controls_and_fits_the_window() -> anyhow::Result<()> {
    let session = Session::start().await?;
    let browser = &session.browser;
    session.add_valid_source().await?;
    let origin = &session.demo.origin;
    let mut problems = Vec::new();
    for path in [
        "/sources",
        "/sources/dynamics365",
        "/sources/rotate?name=Contoso+sales",
        "/console",
        "/traffic",
        "/scenarios",
    ] {
        browser.goto(&format!("{origin}{path}")).await?;
        let found = browser
            .execute(
                "const name = control => {\
                   if (control.getAttribute('aria-label')) return true;\
                   const by = control.getAttribute('aria-labelledby');\
                   if (by && by.split(' ').some(id => document.getElementById(id))) return true;\
                   if (control.labels && control.labels.length) return true;\
                   return control.tagName === 'BUTTON' && control.textContent.trim() !== '';\
                 };\
                 const controls = [...document.querySelectorAll(\
                     'input:not([type=hidden]), select, textarea, button')];\
                 const unnamed = controls.filter(control => !name(control))\
                   .map(control => control.outerHTML.slice(0, 120));\
                 const wide = document.documentElement.scrollWidth > window.innerWidth\
                   ? [`the page is ${document.documentElement.scrollWidth} px wide`] : [];\
                 return {checked: controls.length, problems: unnamed.concat(wide)};",
                json!([]),
            )
            .await?;
        ensure!(
            found["checked"].as_u64().is_some_and(|checked| checked > 0),
            "{path}: no control found: {found}"
        );
        for problem in found["problems"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            problems.push(format!("{path}: {}", problem.as_str().unwrap_or_default()));
        }
    }
    ensure!(problems.is_empty(), "{problems:#?}");
    session.close().await
}

/// Rotate secret: a wrong Value fails the check and keeps the saved secret; the app's new
/// secret passes it and replaces the saved one (the list's hint changes, and Test still
/// passes once the old secret is deleted in Entra).
#[tokio::test]
async fn rotating_the_secret_keeps_the_old_one_until_the_new_one_passes() -> anyhow::Result<()> {
    const NEW_SECRET: &str = "Rt38Q~demo.importer.secret.rotated.0003";
    let session = Session::start().await?;
    let browser = &session.browser;
    session.add_valid_source().await?;
    session
        .demo
        .change(
            json!([{"change": "add_secret", "app": "importer", "secret": "rotated",
            "value": NEW_SECRET}]),
        )
        .await?;
    let sources_url = session.demo.sources_url.as_str();
    let rotate = |secret: &'static str| async move {
        browser.goto(sources_url).await?;
        browser
            .find("[data-source='Contoso sales'] [data-test=rotate-source]")
            .await?
            .click()
            .await?;
        browser
            .find("#rotate-form #client_secret")
            .await?
            .type_text(secret)
            .await?;
        browser.mark_page().await?;
        browser.find("#rotate-secret").await?.click().await?;
        browser.wait_for_new_page().await
    };

    rotate(WRONG_SECRET).await?;
    let (_, fix, evidence) = session.problem(WRONG_SECRET).await?;
    ensure!(evidence.contains("wrong_secret"), "{evidence}");
    ensure!(!fix.is_empty(), "no fix");
    browser.find("[data-test=old-secret-kept]").await?;
    session.screenshot("17-rotate-wrong-secret").await?;

    rotate(NEW_SECRET).await?;
    let hint = browser
        .text("[data-source='Contoso sales'] [data-test=secret-hint]")
        .await?;
    ensure!(hint == "Rt3*****", "the hint after rotating: {hint}");
    session.assert_page_hides(NEW_SECRET).await?;
    session
        .demo
        .change(json!([{"change": "remove_secret", "app": "importer", "secret": "current"}]))
        .await?;
    let status = session.test_source().await?;
    ensure!(status == "Passed", "Test with the rotated secret: {status}");
    session.screenshot("18-rotated").await?;
    session.close().await
}
