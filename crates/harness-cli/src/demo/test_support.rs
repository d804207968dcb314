//! The demo's router tests share this: the app over fresh fakes of any world (the built-in demo
//! world, a world file, a `Demo` the section's test adjusts, such as the player's folder), one
//! request each through tower's `oneshot` (no socket for the app), and the checks that no page,
//! stream or file shows a secret.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use d365_source::Store;
use fake_core::{Clock, IdGenerator, ServerHandle};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::{Demo, app};
use crate::serve::admin::{Access, Admin, AdminClient, AdminToken};
use crate::world::{BuiltinWorld, DEFAULT_WORLD};

/// Where the app under test pretends to listen.
pub(super) const ADDR: &str = "127.0.0.1:8080";

/// A secret no world has: the one the wrong-secret tests type.
pub(super) const WRONG_SECRET: &str = "Wr0ng~SecretValueTypedByTheUser.0123456789";

/// The start of every JWT (base64url of `{"`): no page or event may hold a token.
const TOKEN_START: &str = "eyJ";

/// The app over fresh fakes of a world, its source list in a temporary folder, and (when the
/// world has a live secret and an environment in its app's tenant) its valid credentials as the
/// Add Source form's fields.
pub(super) struct Fixture {
    pub(super) app: Router,
    pub(super) demo: Arc<Demo>,
    pub(super) server: ServerHandle,
    pub(super) live: scenario::LiveWorld,
    pub(super) data_dir: tempfile::TempDir,
    /// The Add Source fields (name, environment, tenant, client) and the secret's value.
    credentials: Option<(Vec<(&'static str, String)>, String)>,
    /// Whether every answer is checked for the typed secret and any token (the traffic view's
    /// tests, whose pages show requests and their bodies).
    checks_every_answer: bool,
}

/// The built-in demo world.
pub(super) fn demo_world() -> scenario::World {
    BuiltinWorld::named(DEFAULT_WORLD)
        .and_then(|world| world.load())
        .expect("the built-in demo world loads")
}

/// A world of `fixtures/worlds/`.
pub(super) fn fixture_world(name: &str) -> scenario::World {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/worlds")
        .join(name);
    scenario::World::load(&path).expect("the fixture world loads")
}

/// The app over fresh fakes of the built-in demo world.
pub(super) async fn fixture() -> Fixture {
    fixture_of(demo_world()).await
}

/// The app over fresh fakes of `world`.
pub(super) async fn fixture_of(world: scenario::World) -> Fixture {
    fixture_with(world, |_| {}).await
}

/// The app over fresh fakes of `world` (a system clock, as `demo` runs them), its `Demo` as
/// `adjust` leaves it.
pub(super) async fn fixture_with(
    world: scenario::World,
    adjust: impl FnOnce(&mut Demo),
) -> Fixture {
    let clock = Clock::system();
    let credentials = world
        .client_credentials(clock.now())
        .ok()
        .and_then(|credentials| {
            let environment = world.first_environment_of(&credentials.tenant.key)?;
            let form = vec![
                ("name", "Contoso sales".to_owned()),
                ("environment_url", environment.url.clone()),
                ("tenant_id", credentials.tenant.id.to_string()),
                ("client_id", credentials.app.client_id.to_string()),
            ];
            Some((form, credentials.secret.value.expose().to_owned()))
        });
    let (server, live) =
        scenario::spawn_live(&world, clock, IdGenerator::seeded(scenario::SEED), &[])
            .await
            .expect("the fakes start");
    let flow =
        super::app::flow_for(&scenario::network_settings(&server)).expect("the flow is set up");
    let data_dir = tempfile::tempdir().expect("a temporary folder");
    let addr: SocketAddr = ADDR.parse().expect("an address");
    // The admin API as `serve` runs it on loopback, called in-process.
    let admin_addr: SocketAddr = "127.0.0.1:8444".parse().expect("an address");
    let admin_token = AdminToken::generate().expect("a token");
    let (_stop, stopping) = tokio::sync::watch::channel(false);
    let admin = AdminClient::new(
        Arc::new(Admin::new(
            Access::for_listener(admin_addr, &admin_token),
            live.clone(),
            stopping,
        )),
        admin_addr,
        admin_token,
    );
    let mut demo = Demo::new(
        flow,
        Store::open(data_dir.path().join("demo-sources")),
        admin,
        addr,
        AdminToken::generate().expect("a token"),
    );
    adjust(&mut demo);
    let demo = Arc::new(demo);
    Fixture {
        app: app::router(demo.clone()),
        demo,
        server,
        live,
        data_dir,
        credentials,
        checks_every_answer: false,
    }
}

/// What the app answered: status, headers, `Location` and the body as text.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) headers: axum::http::HeaderMap,
    pub(super) location: Option<String>,
    pub(super) body: String,
}

/// A GET of `path` from the app's own address.
pub(super) fn get_request(path: &str) -> Request<Body> {
    Request::get(path)
        .header("host", ADDR)
        .body(Body::empty())
        .expect("a request")
}

impl Fixture {
    /// The fixture, checking every answer's body with [`Fixture::assert_no_secret_or_token`].
    pub(super) fn checking_every_answer(mut self) -> Fixture {
        self.checks_every_answer = true;
        self
    }

    /// The world's valid Add Source fields: name, environment, tenant and client id.
    pub(super) fn form(&self) -> &[(&'static str, String)] {
        &self.live_credentials().0
    }

    /// The value of the world's live secret (the one its Add Source form takes).
    pub(super) fn secret(&self) -> String {
        self.live_credentials().1.clone()
    }

    fn live_credentials(&self) -> &(Vec<(&'static str, String)>, String) {
        self.credentials
            .as_ref()
            .expect("the world has a live secret and an environment for it")
    }

    /// The app's response to `request`, its body not read yet (event streams).
    pub(super) async fn response(&self, request: Request<Body>) -> axum::response::Response {
        self.app
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers")
    }

    pub(super) async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.response(request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let location = response
            .headers()
            .get("location")
            .map(|location| location.to_str().expect("ASCII").to_owned());
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a whole body")
            .to_bytes();
        let body = String::from_utf8(body.to_vec()).expect("UTF-8");
        if self.checks_every_answer {
            self.assert_no_secret_or_token(&body);
        }
        Answer {
            status,
            headers,
            location,
            body,
        }
    }

    pub(super) async fn get(&self, path: &str) -> Answer {
        self.send(get_request(path)).await
    }

    pub(super) async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            Request::post(path)
                .header("host", ADDR)
                .header("origin", format!("http://{ADDR}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("a request"),
        )
        .await
    }

    /// The Add Source form with `secret`, the CSRF token and `changes` over the valid fields.
    pub(super) fn add_fields<'a>(
        &'a self,
        secret: &'a str,
        changes: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, &'a str)> {
        let mut fields: Vec<(&str, &str)> = vec![("csrf", self.demo.csrf())];
        for (key, value) in self.form() {
            let value = changes
                .iter()
                .find(|(changed, _)| changed == key)
                .map_or(value.as_str(), |(_, value)| *value);
            fields.push((key, value));
        }
        fields.push(("client_secret", secret));
        fields
    }

    /// Adds the world's source with its live secret, as the form posts it without JavaScript;
    /// the answer must be the redirect to the list.
    pub(super) async fn add_valid_source(&self) -> Answer {
        let secret = self.secret();
        let added = self
            .post("/sources/dynamics365", &self.add_fields(&secret, &[]))
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        added
    }

    /// Every secret value of the world served now (secrets a change made included).
    pub(super) fn secret_values(&self) -> Vec<String> {
        self.live
            .world()
            .apps()
            .iter()
            .flat_map(|app| app.secrets.iter())
            .map(|secret| secret.value.expose().to_owned())
            .collect()
    }

    /// Asserts that `text` shows neither the typed secret nor any token.
    #[track_caller]
    pub(super) fn assert_no_secret_or_token(&self, text: &str) {
        let secret = &self.live_credentials().1;
        assert!(!text.contains(secret), "the secret is shown:\n{text}");
        assert!(!text.contains(TOKEN_START), "a token is shown:\n{text}");
    }

    /// Asserts that `secret` is in no file of the source list (the store encrypts it).
    #[track_caller]
    pub(super) fn assert_secret_not_stored(&self, secret: &str) {
        assert_not_in_folder(self.data_dir.path(), secret.as_bytes());
    }
}

fn assert_not_in_folder(dir: &Path, secret: &[u8]) {
    for entry in std::fs::read_dir(dir).expect("a readable folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            assert_not_in_folder(&path, secret);
        } else {
            let contents = std::fs::read(&path).expect("a readable file");
            assert!(
                !contents
                    .windows(secret.len())
                    .any(|window| window == secret),
                "`{}` holds the typed secret",
                path.display()
            );
        }
    }
}

/// `text` as maud escapes it in element content.
pub(super) fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Asserts that `page` holds `markup` as is.
#[track_caller]
pub(super) fn assert_markup(page: &str, markup: &str) {
    assert!(page.contains(markup), "`{markup}` missing from {page}");
}
