//! The source-configuration flow (`d365-source`) against both fakes on the real host names.
//! Every `Problem` is reached from `fixtures/worlds/setup-mistakes.toml` by typing the form
//! values an admin would get wrong, and each one's exact shape is a reviewed snapshot
//! (`snapshots/it__source__problem_*.snap`). Time is the fakes' manual clock: waiting out a
//! `Retry-After` advances it instead of sleeping.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use d365_source::{
    AddOutcome, ExposeSecret, Flow, FlowOptions, NetworkSettings, ProblemKind, SecretString,
    SourceForm, Store,
};
use fake_core::ServerHandle;
use scenario::ManualTimer;

use crate::support;

pub const CONTOSO: &str = "https://contoso.crm.dynamics.com";
pub const TENANT: &str = "contoso.onmicrosoft.com";
pub const IMPORTER: &str = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01";
const EXPIRED_SECRET: &str = "Qm28Q~mistakes.importer.secret.expired.0002";
pub const CURRENT_SECRET: &str = "Qm28Q~mistakes.importer.secret.current.0001";

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
        warnings: Vec::new(),
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
