//! The source-configuration flow (`d365-source`) against both fakes on the real host names.
//! Every `Problem` is reached from `fixtures/worlds/setup-mistakes.toml` by typing the form
//! values an admin would get wrong, and each one's exact shape is a reviewed snapshot
//! (`snapshots/it__source__problem_*.snap`). Time is the fakes' manual clock: waiting out a
//! `Retry-After` advances it instead of sleeping.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use d365_source::{
    AddOutcome, ExposeSecret, Field, Flow, FlowOptions, NetworkSettings, ProblemKind, SecretString,
    SourceForm, Store, TrustRoots,
};
use fake_core::ServerHandle;
use rstest::{Context, rstest};
use scenario::ManualTimer;

use crate::support;

const CONTOSO: &str = "https://contoso.crm.dynamics.com";
const TENANT: &str = "contoso.onmicrosoft.com";
const IMPORTER: &str = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01";
const CURRENT_SECRET: &str = "Qm28Q~mistakes.importer.secret.current.0001";
const CURRENT_SECRET_ID: &str = "a1d4c2e0-5b7f-4c19-9e38-2f6a0b8d1c47";
const EXPIRED_SECRET: &str = "Qm28Q~mistakes.importer.secret.expired.0002";
const RETIRED: &str = "7d5b3f1e-9a2c-4e6d-8b0f-1a3c5e7d9b2f";
const RETIRED_SECRET: &str = "Qm28Q~mistakes.retired.secret.0001";

/// The setup-mistakes world served on one listener, and a flow pointed at it.
pub struct Harness {
    pub server: ServerHandle,
    pub world: scenario::World,
    pub timer: Arc<ManualTimer>,
    pub network: NetworkSettings,
    pub store_dir: tempfile::TempDir,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_world(world_path("setup-mistakes.toml")).await
    }

    pub async fn start_world(path: PathBuf) -> Harness {
        let world = scenario::World::load(path).unwrap_or_else(|error| panic!("{error:#}"));
        let (server, world) = support::fakes(world).await;
        let timer = Arc::new(ManualTimer::new(server.clock().clone()));
        let network = scenario::network_settings(&server);
        Harness {
            server,
            world,
            timer,
            network,
            store_dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn store(&self) -> Store {
        Store::open(self.store_dir.path().join("sources"))
    }

    pub fn flow(&self, tables: &[&str]) -> Flow {
        let options = FlowOptions {
            tables: tables.iter().map(|table| (*table).to_owned()).collect(),
            ..FlowOptions::default()
        };
        Flow::new(&self.network, self.timer.clone(), options).expect("the flow builds")
    }

    /// Adds a source whose check must fail, and returns the problem.
    pub async fn add_failing(&self, form: &SourceForm, tables: &[&str]) -> d365_source::Problem {
        match self.add(form, tables).await {
            AddOutcome::Failed { problem, .. } => problem,
            outcome => panic!("expected a failed check, got {outcome:?}"),
        }
    }

    pub async fn add(&self, form: &SourceForm, tables: &[&str]) -> AddOutcome {
        self.flow(tables)
            .add(form, &self.store())
            .await
            .unwrap_or_else(|error| panic!("{error:#}"))
    }
}

fn world_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/worlds")
        .join(name)
}

pub fn form(environment_url: &str, tenant: &str, client_id: &str, secret: &str) -> SourceForm {
    SourceForm {
        name: "Contoso CRM".to_owned(),
        environment_url: environment_url.to_owned(),
        tenant_id: tenant.to_owned(),
        client_id: client_id.to_owned(),
        client_secret: SecretString::from(secret),
    }
}

#[tokio::test]
async fn adds_a_source_when_the_setup_is_right() {
    let harness = Harness::start().await;
    let outcome = harness
        .add(
            &form(
                "https://contoso.crm.dynamics.com/main.aspx?appid=1",
                TENANT,
                IMPORTER,
                CURRENT_SECRET,
            ),
            &["account", "contact"],
        )
        .await;
    let AddOutcome::Added { source, warnings } = outcome else {
        panic!("expected the source to be added, got {outcome:?}");
    };
    assert_eq!(warnings, []);
    assert_eq!(source.environment.as_str(), CONTOSO);
    let d365_source::LastCheck::Passed(report) = &source.last_check else {
        panic!("expected a passed check, got {:?}", source.last_check);
    };
    let application_user = harness
        .world
        .environment("contoso")
        .and_then(|environment| environment.application_user(IMPORTER.parse().expect("GUID")))
        .expect("the importer has an application user in Contoso");
    assert_eq!(report.user_id, application_user.id);
    assert_eq!(report.organization.name, "Contoso");
    assert_eq!(report.organization.unique_name, "org0335df44");
    assert_eq!(
        report.organization.id.to_string(),
        "f2c9290b-0806-4d48-bf9c-3814d4286755"
    );
    let read: Vec<&str> = report
        .tables
        .iter()
        .map(|table| table.entity_set.as_str())
        .collect();
    assert_eq!(read, ["accounts", "contacts"]);
    assert_eq!(report.readable_tables, ["account", "contact"]);
    assert_eq!(report.checked_at, support::start_time());
    let calls: Vec<String> = harness
        .server
        .journal()
        .entries()
        .iter()
        .map(|entry| {
            let query = entry
                .query
                .as_deref()
                .map(|query| format!("?{query}"))
                .unwrap_or_default();
            format!(
                "{} {} {} {}{query}",
                entry.status, entry.method, entry.host, entry.path
            )
        })
        .collect();
    insta::assert_yaml_snapshot!("add_source_calls", calls);

    let store = harness.store();
    let listed = store.list().expect("the list reads");
    assert_eq!(listed, [source]);
    assert_eq!(
        store
            .secret("contoso crm")
            .expect("the secret decrypts")
            .expose_secret(),
        CURRENT_SECRET
    );
}

/// One mistake: the form values that make it, the tables to import and what the flow finds.
struct Mistake {
    environment_url: &'static str,
    tenant: &'static str,
    client_id: &'static str,
    secret: &'static str,
    tables: &'static [&'static str],
}

const DEFAULT: Mistake = Mistake {
    environment_url: CONTOSO,
    tenant: TENANT,
    client_id: IMPORTER,
    secret: CURRENT_SECRET,
    tables: &["account", "contact"],
};

#[rstest]
#[case::tenant_not_found(ProblemKind::TenantNotFound, Mistake { tenant: "0f0e0d0c-0b0a-4909-8807-060504030201", ..DEFAULT })]
#[case::tenant_domain_not_found(ProblemKind::TenantNotFound, Mistake { tenant: "contoso.onmicrosoft.de", ..DEFAULT })]
#[case::app_not_found(ProblemKind::AppNotFound, Mistake { client_id: "11111111-2222-4333-8444-555555555555", ..DEFAULT })]
#[case::app_not_installed_in_tenant(ProblemKind::AppNotFound, Mistake { tenant: "fabrikam.onmicrosoft.com", client_id: RETIRED, secret: RETIRED_SECRET, ..DEFAULT })]
#[case::wrong_secret(ProblemKind::WrongSecret, Mistake { secret: "Qm28Q~this.is.not.the.secret.value.0000", ..DEFAULT })]
#[case::secret_id_instead_of_value(ProblemKind::WrongSecret, Mistake { secret: CURRENT_SECRET_ID, ..DEFAULT })]
#[case::expired_secret(ProblemKind::ExpiredSecret, Mistake { secret: EXPIRED_SECRET, ..DEFAULT })]
#[case::app_disabled(ProblemKind::AppDisabled, Mistake { client_id: RETIRED, secret: RETIRED_SECRET, ..DEFAULT })]
#[case::dynamics_not_in_tenant(ProblemKind::DynamicsNotInTenant, Mistake { tenant: "fabrikam.onmicrosoft.com", ..DEFAULT })]
#[case::dynamics_disabled_in_tenant(ProblemKind::DynamicsDisabledInTenant, Mistake { tenant: "northwind.onmicrosoft.com", ..DEFAULT })]
#[case::token_rejected(ProblemKind::TokenRejected, Mistake { tenant: "litware.onmicrosoft.com", ..DEFAULT })]
#[case::conditional_access_blocked(ProblemKind::ConditionalAccessBlocked, Mistake { tenant: "woodgrove.onmicrosoft.com", ..DEFAULT })]
#[case::no_application_user(ProblemKind::NoApplicationUser, Mistake { environment_url: "https://contoso-nouser.crm.dynamics.com", ..DEFAULT })]
#[case::application_user_disabled(ProblemKind::ApplicationUserDisabled, Mistake { environment_url: "https://contoso-disabled.crm.dynamics.com", ..DEFAULT })]
#[case::no_security_role(ProblemKind::NoSecurityRole, Mistake { environment_url: "https://contoso-noroles.crm.dynamics.com", ..DEFAULT })]
#[case::missing_table_privilege(ProblemKind::MissingTablePrivilege, Mistake { tables: &["account", "incident"], ..DEFAULT })]
#[case::table_not_found(ProblemKind::TableNotFound, Mistake { tables: &["account", "acount"], ..DEFAULT })]
#[case::admin_mode(ProblemKind::AdminMode, Mistake { environment_url: "https://contoso-maintenance.crm.dynamics.com", ..DEFAULT })]
#[case::environment_not_found(ProblemKind::EnvironmentNotFound, Mistake { environment_url: "https://contoso-typo.crm.dynamics.com", ..DEFAULT })]
#[case::throttled(ProblemKind::Throttled, Mistake { environment_url: "https://contoso-busy.crm.dynamics.com", ..DEFAULT })]
#[case::service_unavailable(ProblemKind::ServiceUnavailable, Mistake { environment_url: "https://contoso-down.crm.dynamics.com", ..DEFAULT })]
#[case::unexpected_response(ProblemKind::UnexpectedResponse, Mistake { environment_url: "https://contoso-portal.crm.dynamics.com", ..DEFAULT })]
#[tokio::test]
async fn a_setup_mistake_becomes_one_problem_and_saves_nothing(
    #[context] context: Context,
    #[case] expected: ProblemKind,
    #[case] mistake: Mistake,
) {
    let harness = Harness::start().await;
    let form = form(
        mistake.environment_url,
        mistake.tenant,
        mistake.client_id,
        mistake.secret,
    );
    let outcome = harness.add(&form, mistake.tables).await;
    let AddOutcome::Failed { problem, warnings } = outcome else {
        panic!("expected {expected}, got {outcome:?}");
    };
    assert_eq!(problem.kind, expected, "{problem:#?}");
    assert!(harness.store().list().expect("the list reads").is_empty());
    assert!(
        !harness.store_dir.path().join("sources").exists(),
        "a failed check must not create the store"
    );
    let case = context.description.expect("every case is named");
    insta::assert_yaml_snapshot!(format!("problem_{case}"), (&problem, &warnings));
}

#[tokio::test]
async fn a_pasted_secret_id_is_flagged_on_the_form_and_in_the_problem() {
    let harness = Harness::start().await;
    let outcome = harness
        .add(
            &form(CONTOSO, TENANT, IMPORTER, CURRENT_SECRET_ID),
            &["account"],
        )
        .await;
    let AddOutcome::Failed { problem, warnings } = outcome else {
        panic!("expected a failed check, got {outcome:?}");
    };
    assert_eq!(problem.kind, ProblemKind::WrongSecret);
    assert!(
        problem.message.contains("secret's ID"),
        "{}",
        problem.message
    );
    assert_eq!(
        warnings
            .iter()
            .map(|warning| warning.field)
            .collect::<Vec<_>>(),
        [Field::ClientSecret]
    );
}

#[tokio::test]
async fn waits_out_a_short_throttle_and_passes() {
    let harness = Harness::start().await;
    let outcome = harness
        .add(
            &form(
                "https://contoso-peak.crm.dynamics.com",
                TENANT,
                IMPORTER,
                CURRENT_SECRET,
            ),
            &["account"],
        )
        .await;
    assert!(
        matches!(outcome, AddOutcome::Added { .. }),
        "expected the source to be added, got {outcome:?}"
    );
    assert_eq!(harness.timer.waits(), [Duration::from_secs(20)]);
}

#[tokio::test]
async fn gives_up_when_the_retry_budget_is_spent() {
    let harness = Harness::start().await;
    let problem = harness
        .add_failing(
            &form(
                "https://contoso-busy.crm.dynamics.com",
                TENANT,
                IMPORTER,
                CURRENT_SECRET,
            ),
            &["account"],
        )
        .await;
    assert_eq!(problem.kind, ProblemKind::Throttled);
    assert_eq!(problem.evidence.retry_after_seconds, Some(30));
    // The default budget is 60 seconds: two waits of 30, then the third 429 ends the check.
    assert_eq!(
        harness.timer.waits(),
        [Duration::from_secs(30), Duration::from_secs(30)]
    );
}

#[tokio::test]
async fn a_malformed_tenant_that_passed_the_form_is_reported_from_entra() {
    // The form refuses `contoso_corp`; an importer that skipped the form would reach Entra's
    // AADSTS900023, which the check maps on its own.
    let harness = Harness::start().await;
    let draft = d365_source::Draft {
        name: "Contoso".to_owned(),
        environment: environment_url(CONTOSO),
        tenant: d365_source::TenantId::Domain("contoso_corp".to_owned()),
        client_id: IMPORTER.parse().expect("GUID"),
        client_secret: SecretString::from(CURRENT_SECRET),
        warnings: Vec::new(),
    };
    let problem = harness
        .flow(&["account"])
        .check(&draft)
        .await
        .expect_err("the tenant is malformed");
    assert_eq!(problem.kind, ProblemKind::TenantMalformed);
    insta::assert_yaml_snapshot!("problem_tenant_malformed", problem);
}

fn environment_url(url: &str) -> d365_source::EnvironmentUrl {
    let form = form(url, TENANT, IMPORTER, CURRENT_SECRET);
    d365_source::form::validate(&form, &d365_source::FormRules::default())
        .expect("a valid form")
        .environment
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_failure() {
    let mut harness = Harness::start().await;
    let other = fake_core::TestPki::generate(&["login.microsoftonline.com".to_owned()])
        .expect("another CA");
    harness.network.roots = TrustRoots::Only(vec![other.ca_pem().to_owned()]);
    let problem = harness
        .add_failing(
            &form(CONTOSO, TENANT, IMPORTER, CURRENT_SECRET),
            &["account"],
        )
        .await;
    assert_eq!(problem.kind, ProblemKind::TlsFailure);
    assert_eq!(problem.evidence.step, d365_source::Step::Token);
    let detail = problem.evidence.detail.as_deref().unwrap_or_default();
    assert!(detail.contains("invalid peer certificate"), "{detail}");
    insta::assert_yaml_snapshot!("problem_tls_failure", problem, {
        ".evidence.detail" => "[transport error]",
    });
}

#[tokio::test]
async fn a_refused_connection_is_a_connection_failure() {
    let mut harness = Harness::start().await;
    // Port 1 on loopback: nothing listens there.
    harness.network.resolve.insert(
        "contoso.crm.dynamics.com".to_owned(),
        "127.0.0.1:1".parse().expect("address"),
    );
    let problem = harness
        .add_failing(
            &form(CONTOSO, TENANT, IMPORTER, CURRENT_SECRET),
            &["account"],
        )
        .await;
    assert_eq!(problem.kind, ProblemKind::ConnectionFailed);
    assert_eq!(problem.evidence.step, d365_source::Step::WhoAmI);
    let detail = problem.evidence.detail.as_deref().unwrap_or_default();
    assert!(detail.contains("Connection refused"), "{detail}");
    insta::assert_yaml_snapshot!("problem_connection_failed", problem, {
        ".evidence.detail" => "[transport error]",
    });
}

#[tokio::test]
async fn a_hung_environment_is_a_timeout() {
    let mut harness = Harness::start().await;
    // The environment holds every request for 30 s; the importer gives up after its request
    // timeout (a real one: reqwest's timer, not the manual clock).
    harness.network.request_timeout = Duration::from_millis(300);
    let problem = harness
        .add_failing(
            &form(
                "https://contoso-slow.crm.dynamics.com",
                TENANT,
                IMPORTER,
                CURRENT_SECRET,
            ),
            &["account"],
        )
        .await;
    assert_eq!(problem.kind, ProblemKind::Timeout);
    let detail = problem.evidence.detail.as_deref().unwrap_or_default();
    assert!(detail.contains("timed out"), "{detail}");
    insta::assert_yaml_snapshot!("problem_timeout", problem, {
        ".evidence.detail" => "[transport error]",
    });
}

#[tokio::test]
async fn an_app_without_consent_is_reported_as_such() {
    // AADSTS65001 does not happen for client credentials in the real service; the failures
    // world forces it for one app, replaying what misconfigured clients reported.
    let harness = Harness::start_world(world_path("failures.toml")).await;
    let problem = harness
        .add_failing(
            &form(
                CONTOSO,
                TENANT,
                "8e4a2c6f-1b3d-4f5e-9a7c-0d2e4f6a8b1c",
                "Qm28Q~failures.unconsented.secret.0001",
            ),
            &["account"],
        )
        .await;
    assert_eq!(problem.kind, ProblemKind::AppNotConsented);
    insta::assert_yaml_snapshot!("problem_app_not_consented", problem);
}

/// Everything logged in this test process (by every test: more to scan is fine), installed
/// once as the global subscriber. A thread-local one would miss events whose callsites other
/// test threads registered first.
fn log_capture() -> Capture {
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Capture::default();
            let writer = capture.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other test installs a global subscriber");
            capture
        })
        .clone()
}

/// Log lines, collected for the secret scan.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_or_token_reaches_logs_outcomes_or_the_store() {
    let capture = log_capture();

    let harness = Harness::start().await;
    let flow = harness.flow(&["account", "contact"]);
    let store = harness.store();
    let mut shown = Vec::new();
    let attempts = [
        form(
            CONTOSO,
            TENANT,
            IMPORTER,
            "Qm28Q~this.is.not.the.secret.value.0000",
        ),
        form(CONTOSO, TENANT, IMPORTER, EXPIRED_SECRET),
        form(
            "https://contoso-nouser.crm.dynamics.com",
            TENANT,
            IMPORTER,
            CURRENT_SECRET,
        ),
        form(
            "https://contoso-portal.crm.dynamics.com",
            TENANT,
            IMPORTER,
            CURRENT_SECRET,
        ),
        form(CONTOSO, TENANT, IMPORTER, CURRENT_SECRET),
    ];
    for attempt in &attempts {
        let outcome = flow.add(attempt, &store).await.expect("no harness error");
        shown.push(format!("{outcome:?}"));
        shown.push(format!("{attempt:?}"));
        if let AddOutcome::Failed { problem, .. } = &outcome {
            shown.push(serde_json::to_string(problem).expect("a problem serialises"));
            shown.push(problem.to_string());
        }
    }
    let tested = flow
        .test(&store, "Contoso CRM")
        .await
        .expect("no harness error");
    shown.push(format!("{tested:?}"));
    let rotated = flow
        .rotate_secret(&store, "Contoso CRM", SecretString::from(EXPIRED_SECRET))
        .await
        .expect("no harness error");
    shown.push(format!("{rotated:?}"));
    assert!(
        matches!(rotated, d365_source::RotateOutcome::Failed { .. }),
        "{rotated:?}"
    );
    assert_eq!(
        store
            .secret("Contoso CRM")
            .expect("decrypts")
            .expose_secret(),
        CURRENT_SECRET,
        "a failed rotation keeps the old secret"
    );

    let mut files = Vec::new();
    for entry in std::fs::read_dir(store.dir()).expect("the store exists") {
        let path = entry.expect("a directory entry").path();
        files.push((path.clone(), std::fs::read(&path).expect("readable")));
    }
    assert!(files.len() >= 2, "the list and its key: {files:?}");
    let logs = capture.0.lock().expect("log lock").clone();
    assert!(!logs.is_empty(), "the flow logs something");
    let mut haystacks: Vec<(String, Vec<u8>)> = vec![("logs".to_owned(), logs)];
    haystacks.extend(
        shown
            .into_iter()
            .map(|text| ("outcome".to_owned(), text.into_bytes())),
    );
    haystacks.extend(
        files
            .into_iter()
            .map(|(path, bytes)| (path.display().to_string(), bytes)),
    );
    let secrets = [
        CURRENT_SECRET,
        EXPIRED_SECRET,
        "Qm28Q~this.is.not.the.secret.value.0000",
        // Every access token is a JWT, and every JWT starts with this.
        "eyJ",
    ];
    for (place, bytes) in &haystacks {
        for secret in secrets {
            assert!(
                !bytes
                    .windows(secret.len())
                    .any(|window| window == secret.as_bytes()),
                "`{secret}` appears in {place}"
            );
        }
    }
}

/// A minimal HTTPS (CONNECT) proxy that sends every tunnel to `target`, and records the
/// `CONNECT` lines it saw.
async fn connect_proxy(target: std::net::SocketAddr) -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the proxy binds");
    let address = listener.local_addr().expect("an address");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut client = BufReader::new(client);
                let mut request_line = String::new();
                client.read_line(&mut request_line).await.ok()?;
                loop {
                    let mut header = String::new();
                    client.read_line(&mut header).await.ok()?;
                    if header.trim().is_empty() {
                        break;
                    }
                }
                log.lock().ok()?.push(request_line.trim().to_owned());
                let mut upstream = tokio::net::TcpStream::connect(target).await.ok()?;
                let mut client = client.into_inner();
                client
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await
                    .ok()?;
                tokio::io::copy_bidirectional(&mut client, &mut upstream)
                    .await
                    .ok()
            });
        }
    });
    (format!("http://{address}"), seen)
}

#[tokio::test]
async fn works_through_an_https_proxy_without_host_overrides() {
    let mut harness = Harness::start().await;
    let (proxy, seen) = connect_proxy(harness.server.addr()).await;
    // No overrides and no DNS: only the proxy knows where the hosts are.
    harness.network.resolve.clear();
    harness.network.https_proxy = Some(proxy);
    let outcome = harness
        .add(
            &form(CONTOSO, TENANT, IMPORTER, CURRENT_SECRET),
            &["account"],
        )
        .await;
    assert!(
        matches!(outcome, AddOutcome::Added { .. }),
        "expected the source to be added, got {outcome:?}"
    );
    let mut tunnels = seen.lock().expect("proxy log").clone();
    tunnels.sort();
    tunnels.dedup();
    assert_eq!(
        tunnels,
        [
            "CONNECT contoso.crm.dynamics.com:443 HTTP/1.1",
            "CONNECT login.microsoftonline.com:443 HTTP/1.1",
        ]
    );
}

#[tokio::test]
async fn waits_out_a_throttled_token_endpoint() {
    // ESTS throttles with a plain-text `Too Many Requests` and `Retry-After` in seconds.
    let harness = Harness::start().await;
    harness.server.faults().add(fake_core::FaultRule {
        name: Some("ests throttles once".into()),
        service: Some("entra".into()),
        host: None,
        method: Some("POST".into()),
        path: Some("*/oauth2/v2.0/token".into()),
        nth: Some(1),
        times: None,
        action: fake_core::FaultAction::Respond {
            status: 429,
            headers: std::collections::BTreeMap::from([
                ("Retry-After".into(), "7".into()),
                ("Content-Type".into(), "text/plain".into()),
            ]),
            body: "Too Many Requests".into(),
        },
    });
    let outcome = harness
        .add(
            &form(CONTOSO, TENANT, IMPORTER, CURRENT_SECRET),
            &["account"],
        )
        .await;
    assert!(
        matches!(outcome, AddOutcome::Added { .. }),
        "expected the source to be added, got {outcome:?}"
    );
    assert_eq!(harness.timer.waits(), [Duration::from_secs(7)]);
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_is_not_waited_for() {
    let harness = Harness::start().await;
    harness.server.faults().add(fake_core::FaultRule {
        name: Some("ests throttles for two minutes".into()),
        service: Some("entra".into()),
        host: None,
        method: Some("POST".into()),
        path: Some("*/oauth2/v2.0/token".into()),
        nth: None,
        times: None,
        action: fake_core::FaultAction::Respond {
            status: 429,
            headers: std::collections::BTreeMap::from([("Retry-After".into(), "120".into())]),
            body: "Too Many Requests".into(),
        },
    });
    let problem = harness
        .add_failing(
            &form(CONTOSO, TENANT, IMPORTER, CURRENT_SECRET),
            &["account"],
        )
        .await;
    assert_eq!(problem.kind, ProblemKind::Throttled);
    assert_eq!(problem.evidence.step, d365_source::Step::Token);
    assert_eq!(problem.evidence.status, Some(429));
    assert_eq!(problem.evidence.retry_after_seconds, Some(120));
    assert_eq!(
        problem.evidence.detail.as_deref(),
        Some("Too Many Requests")
    );
    assert!(
        harness.timer.waits().is_empty(),
        "{:?}",
        harness.timer.waits()
    );
}

#[tokio::test]
async fn a_saved_source_whose_host_left_the_allow_list_is_not_tested() {
    let harness = Harness::start().await;
    let allowed = vec!["crm.contoso.test".to_owned()];
    let draft = d365_source::form::validate(
        &form("https://crm.contoso.test", TENANT, IMPORTER, CURRENT_SECRET),
        &d365_source::FormRules {
            existing_names: &[],
            allowed_hosts: &allowed,
        },
    )
    .expect("the host is on the allow-list");
    let report = d365_source::CheckReport {
        checked_at: support::start_time(),
        user_id: uuid::Uuid::nil(),
        business_unit_id: uuid::Uuid::nil(),
        organization: d365_source::Organization {
            id: uuid::Uuid::nil(),
            name: "Contoso".to_owned(),
            unique_name: "contoso".to_owned(),
            version: "9.2.25093.00168".to_owned(),
        },
        tables: Vec::new(),
        readable_tables: Vec::new(),
    };
    let store = harness.store();
    store
        .insert(
            &draft,
            &["account".to_owned()],
            report,
            support::start_time(),
        )
        .expect("saved");
    // The flow's settings no longer allow the host.
    let error = harness
        .flow(&["account"])
        .test(&store, "Contoso CRM")
        .await
        .expect_err("the saved source is refused");
    assert_eq!(
        error.to_string(),
        "the saved source `Contoso CRM` is not valid any more, add it again: Environment URL: The environment URL must be a Dynamics 365 environment such as https://contoso.crm.dynamics.com (crm*.dynamics.com, crm.microsoftdynamics.us, crm.appsplatform.us or crm.dynamics.cn); other hosts need the allowed-hosts setting."
    );
    assert!(harness.server.journal().is_empty(), "nothing was sent");
}
