//! `serve`'s admin API as a process: 8 clients keep calling WhoAmI and reading a table while
//! the importer's role is changed 1,000 times through `POST /changes` (removed and restored
//! 500 times each); every answer is the success or the exact 403 privilege error (WhoAmI
//! needs no privilege, so it always succeeds), and `POST /reset` gives back the world as
//! loaded, byte for byte. Also: `d365-harness admin` against a served process, the token an
//! admin API beyond loopback requires, `serve --scenario --step`, and a world saved from
//! `GET /world` serving the same world again.

#[path = "support/serve_process.rs"]
mod serve_process;

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context, ensure};
use serde_json::{Value, json};
use tokio::sync::watch;

use serve_process::ServeProcess;

/// How many times the role change is applied and reverted: 2,000 batches. Each re-validates
/// the world and rebuilds Dataverse's config (Entra's part of the world is untouched, so its
/// config stays), a few milliseconds in a debug build.
const FLIPS: usize = 1_000;
/// How many clients call the fakes meanwhile.
const CLIENTS: usize = 8;

fn role_change(kind: &str) -> Value {
    json!([{
        "change": kind,
        "environment": "contoso",
        "app": "importer",
        "role": "Importer Reader",
    }])
}

/// The admin API of `serve`, over plain HTTP.
struct AdminApi {
    url: String,
    client: reqwest::Client,
}

impl AdminApi {
    fn of(serve: &ServeProcess) -> anyhow::Result<AdminApi> {
        Ok(AdminApi {
            url: serve.value("D365_ADMIN_URL").to_owned(),
            client: reqwest::Client::builder().no_proxy().build()?,
        })
    }

    async fn world(&self) -> anyhow::Result<String> {
        let response = self
            .client
            .get(format!("{}/world", self.url))
            .send()
            .await?;
        ensure!(
            response.status() == 200,
            "GET /world: {}",
            response.status()
        );
        Ok(response.text().await?)
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        ensure!(status == 200, "POST {path}: {status} {answer}");
        Ok(answer)
    }
}

/// One read a client makes, and the answers it may get.
#[derive(Clone, Debug)]
struct Read {
    path: &'static str,
    success: String,
    /// The privilege error without the role; `None` for a read that needs no privilege.
    forbidden: Option<String>,
}

const WHO_AM_I: &str = "/api/data/v9.2/WhoAmI";
const ACCOUNTS: &str = "/api/data/v9.2/accounts?$select=name,accountnumber&$top=3";

async fn get(
    client: &reqwest::Client,
    environment: &str,
    token: &str,
    path: &str,
) -> anyhow::Result<(u16, String)> {
    let response = client
        .get(format!("{environment}{path}"))
        .bearer_auth(token)
        .send()
        .await?;
    Ok((response.status().as_u16(), response.text().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_get_success_or_the_exact_403_while_a_role_flips_and_reset_restores_the_world()
-> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let serve = ServeProcess::start(&folder.path().join("state"), &[]).await?;
    let admin = AdminApi::of(&serve)?;
    let loaded = admin.world().await?;
    // Thousands of requests from one application user: lift service protection (part of the
    // world, so the reset below takes it back too).
    admin
        .post(
            "/changes",
            &json!([{
                "change": "set_limits",
                "environment": "contoso",
                "requests": 10_000_000,
                "concurrent": 1_000,
                "execution_milliseconds": 1_000_000_000,
            }]),
        )
        .await?;

    // The two answers of each read, learnt with nothing else going on.
    let environment = serve.value("D365_ENVIRONMENT_URL").to_owned();
    let client = serve.https_client()?;
    let token = serve.token(&client).await?;
    let mut reads = Vec::new();
    for path in [WHO_AM_I, ACCOUNTS] {
        let (status, success) = get(&client, &environment, &token, path).await?;
        ensure!(status == 200, "{path} with the role: {status} {success}");
        reads.push(Read {
            path,
            success,
            forbidden: None,
        });
    }
    admin.post("/changes", &role_change("remove_role")).await?;
    for read in &mut reads {
        let (status, answer) = get(&client, &environment, &token, read.path).await?;
        if read.path == WHO_AM_I {
            ensure!(
                status == 200 && answer == read.success,
                "WhoAmI needs no privilege: {status} {answer}"
            );
            continue;
        }
        ensure!(
            status == 403,
            "{} without the role: {status} {answer}",
            read.path
        );
        let error: Value = serde_json::from_str(&answer)?;
        ensure!(
            error["error"]["code"] == "0x80040220",
            "{}: not the privilege error: {answer}",
            read.path
        );
        read.forbidden = Some(answer);
    }
    admin.post("/changes", &role_change("assign_role")).await?;

    // Each client reads once after every change it sees, alternating WhoAmI and the table, so
    // that its reads run while the next change is applied (clients that read flat out would
    // only starve the changes of the two cores a debug build gets).
    let (changed, changes_seen) = watch::channel(0usize);
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (client, reads) = (serve.https_client()?, reads.clone());
        let mut changes_seen = changes_seen.clone();
        let token = serve.token(&client).await?;
        let environment = environment.clone();
        clients.spawn(async move {
            // (path, status) → count.
            let mut seen: BTreeMap<(&'static str, u16), usize> = BTreeMap::new();
            let mut turn = 0usize;
            // Ends when the sender is dropped: the changes are over.
            while changes_seen.changed().await.is_ok() {
                let read = &reads[turn % reads.len()];
                turn += 1;
                let (status, body) = get(&client, &environment, &token, read.path).await?;
                let expected = match (status, &read.forbidden) {
                    (200, _) => &read.success,
                    (403, Some(forbidden)) => forbidden,
                    _ => anyhow::bail!("{}: {status} {body}", read.path),
                };
                ensure!(
                    body == *expected,
                    "{} {status}: a torn answer:\n{body}\nexpected:\n{expected}",
                    read.path
                );
                *seen.entry((read.path, status)).or_default() += 1;
            }
            anyhow::Ok(seen)
        });
    }
    drop(changes_seen);

    let flips = async {
        for flip in 0..FLIPS {
            admin.post("/changes", &role_change("remove_role")).await?;
            changed.send_replace(2 * flip + 1);
            admin.post("/changes", &role_change("assign_role")).await?;
            changed.send_replace(2 * flip + 2);
        }
        anyhow::Ok(())
    };
    let flipped = flips.await;
    drop(changed);
    let mut seen: BTreeMap<(&'static str, u16), usize> = BTreeMap::new();
    while let Some(joined) = clients.join_next().await {
        for (key, count) in joined.context("a client task panicked")?? {
            *seen.entry(key).or_default() += count;
        }
    }
    flipped?;
    for key in [(WHO_AM_I, 200), (ACCOUNTS, 200), (ACCOUNTS, 403)] {
        ensure!(
            seen.get(&key).is_some_and(|count| *count > 0),
            "no {key:?} in {seen:?}"
        );
    }

    let reset = admin.post("/reset", &json!(null)).await?;
    assert_eq!(reset["reset"], true);
    let after = admin.world().await?;
    assert!(
        after == loaded,
        "the world after reset differs:\n{after}\n---\n{loaded}"
    );
    serve.stop().await?;
    Ok(())
}

/// The text of an `admin` run that succeeded.
fn succeeded(output: &std::process::Output) -> anyhow::Result<String> {
    ensure!(
        output.status.success(),
        "{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout.clone())?)
}

#[tokio::test]
async fn the_admin_cli_changes_a_served_world_and_resets_it() -> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let serve = ServeProcess::start(&folder.path().join("state"), &[]).await?;
    let loaded = succeeded(&serve.admin(&["world"], "")?)?;
    assert!(loaded.contains("[environments.contoso]"), "{loaded}");

    // Changes in TOML on standard input.
    let changes = "[[changes]]\nchange = \"remove_role\"\nenvironment = \"contoso\"\n\
                   app = \"importer\"\nrole = \"Importer Reader\"\n\n\
                   [[changes]]\nchange = \"admin_mode\"\nenvironment = \"contoso\"\non = true\n";
    assert_eq!(
        succeeded(&serve.admin(&["apply", "-"], changes)?)?,
        "applied 2 changes\n"
    );
    let changed = succeeded(&serve.admin(&["world", "--json"], "")?)?;
    let changed: Value = serde_json::from_str(&changed)?;
    assert_eq!(
        changed["environments"]["contoso"]["admin_mode"], true,
        "{changed}"
    );

    // A misspelt name: nothing applied, exit 2, the index and the known name in the message.
    let misspelt = r#"[{"change":"admin_mode","environment":"contoso","on":false},
                       {"change":"assign_role","environment":"contoso","app":"importer","role":"Importer Raeder"}]"#;
    let refused = serve.admin(&["apply", "-"], misspelt)?;
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8(refused.stderr)?;
    assert!(
        stderr.starts_with(
            "error: serve refused `POST /changes` (400 Bad Request): changes[1] (`assign_role`)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("Importer Reader"), "{stderr}");
    let unchanged: Value =
        serde_json::from_str(&succeeded(&serve.admin(&["world", "--json"], "")?)?)?;
    assert_eq!(unchanged["environments"]["contoso"]["admin_mode"], true);

    // Faults, the clock and the journal.
    let fault = r#"{"name":"busy","host":"contoso.crm.dynamics.com","action":{"kind":"respond","status":503}}"#;
    let added = succeeded(&serve.admin(&["fault", "add", "-"], fault)?)?;
    assert!(added.starts_with("1 fault rule active\n"), "{added}");
    let client = serve.https_client()?;
    let token = serve.token(&client).await?;
    let (status, _) = get(
        &client,
        serve.value("D365_ENVIRONMENT_URL"),
        &token,
        WHO_AM_I,
    )
    .await?;
    assert_eq!(status, 503);
    let journal = succeeded(&serve.admin(&["journal", "--status", "5xx"], "")?)?;
    assert!(
        journal.trim_end().ends_with(
            "GET https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI -> 503  [fault: busy]"
        ),
        "{journal}"
    );
    assert_eq!(
        succeeded(&serve.admin(&["fault", "clear"], "")?)?,
        "0 fault rules active\n"
    );
    let advanced = succeeded(&serve.admin(&["clock", "advance", "2h"], "")?)?;
    assert!(
        advanced.ends_with("(moved 7200s from the system time)\n"),
        "{advanced}"
    );

    assert_eq!(
        succeeded(&serve.admin(&["reset"], "")?)?,
        "reset: world, faults, clock and journal are back as serve loaded them\n"
    );
    assert_eq!(succeeded(&serve.admin(&["world"], "")?)?, loaded);
    let clock = succeeded(&serve.admin(&["clock"], "")?)?;
    assert!(
        clock.ends_with("(moved 0s from the system time)\n"),
        "{clock}"
    );
    assert_eq!(succeeded(&serve.admin(&["journal"], "")?)?, "");

    let stopped = serve.stop().await?;
    assert!(stopped.status.success());
    let after = Command::new(serve_process::BINARY)
        .args(["admin", "--state-dir"])
        .arg(folder.path().join("state"))
        .arg("world")
        .output()?;
    assert_eq!(after.status.code(), Some(2));
    let stderr = String::from_utf8(after.stderr)?;
    assert!(
        stderr.starts_with("error: no serve is running (no "),
        "{stderr}"
    );
    Ok(())
}

/// The roles of the importer's application user in `contoso`, from `GET /world?format=json`.
async fn importer_roles(admin: &AdminApi) -> anyhow::Result<Value> {
    let world: Value = admin
        .client
        .get(format!("{}/world?format=json", admin.url))
        .send()
        .await?
        .json()
        .await?;
    let users = world["environments"]["contoso"]["application_users"]
        .as_array()
        .context("application users")?;
    let importer = users
        .iter()
        .find(|user| user["app"] == "importer")
        .context("the importer's application user")?;
    Ok(importer["roles"].clone())
}

#[tokio::test]
async fn serve_scenario_applies_the_world_changes_of_its_steps_up_to_n() -> anyhow::Result<()> {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/lifecycle/role_removed_after_save.toml"
    );
    let folder = tempfile::tempdir()?;
    let at_step_two = ServeProcess::start(
        &folder.path().join("two"),
        &["--scenario", scenario, "--step", "2"],
    )
    .await?;
    let admin = AdminApi::of(&at_step_two)?;
    let roles = importer_roles(&admin).await?;
    assert!(
        roles.is_null() || roles == json!([]),
        "step 2 removed the role: {roles}"
    );
    let clock: Value = admin
        .client
        .get(format!("{}/clock", admin.url))
        .send()
        .await?
        .json()
        .await?;
    let now = clock["now"].as_str().context("now")?;
    assert!(
        now.starts_with("2026-03-01T12:0"),
        "the runner's start time: {now}"
    );
    admin.post("/reset", &json!(null)).await?;
    assert_eq!(importer_roles(&admin).await?, json!(["Importer Reader"]));
    at_step_two.stop().await?;

    let every_step =
        ServeProcess::start(&folder.path().join("all"), &["--scenario", scenario]).await?;
    let admin = AdminApi::of(&every_step)?;
    assert_eq!(
        importer_roles(&admin).await?,
        json!(["Importer Reader"]),
        "step 4 assigned it again"
    );
    every_step.stop().await?;

    let beyond = Command::new(serve_process::BINARY)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .arg("--state-dir")
        .arg(folder.path().join("beyond"))
        .args(["--scenario", scenario, "--step", "6"])
        .output()?;
    assert_eq!(beyond.status.code(), Some(2));
    let stderr = String::from_utf8(beyond.stderr)?;
    assert!(
        stderr.contains("`--step 6`: scenario `") && stderr.contains("` has steps 1 to 5"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test]
async fn an_admin_api_beyond_loopback_needs_the_token_serve_wrote() -> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let state_dir = folder.path().join("state");
    let serve = ServeProcess::start_admin_on(&state_dir, "0.0.0.0:0", &[]).await?;
    let admin = AdminApi::of(&serve)?;
    let health = format!("{}/health", admin.url);

    let refused = admin.client.get(&health).send().await?;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Bearer realm=\"d365-harness admin\""
    );
    let body: Value = refused.json().await?;
    assert_eq!(body["error"]["code"], "Unauthorized");

    let token = std::fs::read_to_string(state_dir.join("admin.token"))?;
    assert_eq!(token.len(), 43, "32 random bytes in base64url");
    let wrong = admin
        .client
        .get(&health)
        .bearer_auth(format!("{}x", token.trim()))
        .send()
        .await?;
    assert_eq!(wrong.status(), 401);
    let allowed = admin
        .client
        .get(&health)
        .bearer_auth(token.trim())
        .send()
        .await?;
    assert_eq!(allowed.status(), 200);
    // The CLI reads the token from the state folder.
    let world = succeeded(&serve.admin(&["world"], "")?)?;
    assert!(world.contains("[environments.contoso]"), "{world}");

    serve.stop().await?;
    assert!(
        !state_dir.join("admin.token").exists(),
        "a stopped serve removes its token"
    );
    Ok(())
}

#[tokio::test]
async fn a_changed_world_saved_from_get_world_serves_the_same_world() -> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let first = ServeProcess::start(&folder.path().join("first"), &[]).await?;
    let admin = AdminApi::of(&first)?;
    admin
        .post(
            "/changes",
            &json!([
                {"change": "remove_role", "environment": "contoso", "app": "importer", "role": "Importer Reader"},
                {"change": "add_secret", "app": "importer", "secret": "next", "value": "Qm28Q~demo.next.0002"},
                {"change": "add_fault", "fault": {"name": "slow", "action": {"kind": "delay", "millis": 5}}},
            ]),
        )
        .await?;
    let saved = admin.world().await?;
    let file = folder.path().join("saved.toml");
    std::fs::write(&file, &saved)?;
    first.stop().await?;

    let file = file.to_str().context("a UTF-8 path")?;
    let second = ServeProcess::start(&folder.path().join("second"), &["--world", file]).await?;
    let served = AdminApi::of(&second)?.world().await?;
    assert!(
        served == saved,
        "served again:\n{served}\n---\nsaved:\n{saved}"
    );
    second.stop().await?;
    Ok(())
}

/// `admin load` of a world with other hosts: `connection.env` is rewritten with its host map
/// and credentials, a client built from it reaches a host only the new world has (the CA file
/// is the same), and `admin reset` comes back to the loaded world.
#[tokio::test]
async fn admin_load_serves_another_world_and_rewrites_connection_env() -> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let state = folder.path().join("state");
    let mut serve = ServeProcess::start(&state, &[]).await?;
    let ca_file = serve.value("D365_CA_FILE").to_owned();
    let mistakes = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/worlds/setup-mistakes.toml");
    let loaded = succeeded(&serve.admin(&["load", mistakes.to_str().context("UTF-8")?], "")?)?;
    assert!(
        loaded.starts_with("loaded world `setup-mistakes.toml`"),
        "{loaded}"
    );
    assert!(
        loaded.contains("\n  contoso-noroles.crm.dynamics.com\n"),
        "{loaded}"
    );

    serve.env = std::fs::read_to_string(state.join("connection.env"))?
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    assert_eq!(serve.value("D365_CA_FILE"), ca_file);
    assert_eq!(
        serve.value("D365_CLIENT_SECRET"),
        "Qm28Q~mistakes.importer.secret.current.0001"
    );
    let client = serve.https_client()?;
    let health = client
        .get("https://contoso-noroles.crm.dynamics.com/_harness/health")
        .send()
        .await?;
    assert_eq!(health.status(), 200);
    // The credentials written are the new world's: they get a token.
    serve.token(&client).await?;

    succeeded(&serve.admin(&["reset"], "")?)?;
    let world = succeeded(&serve.admin(&["world"], "")?)?;
    assert!(world.contains("[environments.contoso-noroles]"), "{world}");
    let output = serve.stop().await?;
    ensure!(
        output.status.success(),
        "serve stopped with {}",
        output.status
    );
    assert!(!state.join("connection.env").exists());
    Ok(())
}
