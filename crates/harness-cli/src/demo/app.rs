//! The demo's web app: [`router`] (one route table), the [`Demo`] its handlers share, the guard
//! every request passes first (`Host` and `Origin` must be the app's own, against DNS
//! rebinding) and the CSRF check of every POST. Handlers never panic: a store error becomes an
//! error page; the flow's findings (form errors, problems) are pages, not errors.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Query, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, LOCATION, ORIGIN, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use d365_source::{Flow, FlowOptions, Store, SystemTimer};
use serde::Deserialize;

use super::pages;
use crate::serve::admin::{AdminClient, AdminToken};

/// The static files, served from the binary: `(path, content type, text)`. One stylesheet;
/// each section's script is its own small file (no framework, no build step).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "/demo.css",
        "text/css; charset=utf-8",
        include_str!("demo.css"),
    ),
    // Browsers ask for an icon on every page: without one each page load logs a 404.
    ("/favicon.svg", "image/svg+xml", include_str!("favicon.svg")),
    (
        "/js/progress.js",
        "text/javascript; charset=utf-8",
        include_str!("js/progress.js"),
    ),
    (
        "/js/traffic.js",
        "text/javascript; charset=utf-8",
        include_str!("js/traffic.js"),
    ),
    (
        "/js/console.js",
        "text/javascript; charset=utf-8",
        include_str!("js/console.js"),
    ),
    (
        "/js/player.js",
        "text/javascript; charset=utf-8",
        include_str!("js/player.js"),
    ),
];

/// What every handler shares: the flow, the demo's source list, the admin API of the running
/// fakes, the app's own authorities and its CSRF token.
pub(crate) struct Demo {
    /// The flow Add Source and Test use, rebuilt after every load of a world (whose hosts
    /// may differ), whoever loads it: the scenario player, the admin API.
    flow: Arc<fake_core::Snapshot<Flow>>,
    pub(super) store: Store,
    /// The running world and its admin API (changes go through it, as the admin's would).
    admin: AdminClient,
    /// `Host` values the app answers (`127.0.0.1:8080`, `localhost:8080`).
    authorities: Vec<String>,
    /// The token every POST carries (one per process: the guard and the token together keep
    /// other sites' pages out).
    pub(super) csrf: AdminToken,
    /// The connection checks the browser watches (`runs.rs`).
    pub(super) runs: super::runs::Runs,
    /// Turns true when the demo stops: open event streams end, so that the graceful shutdown
    /// does not wait for them.
    stopping: tokio::sync::watch::Sender<bool>,
    /// The state folder's `connection.env` (the demo tenant's secret Value is there), when the
    /// demo wrote one.
    pub(super) connection_env: Option<std::path::PathBuf>,
    /// The scenario player's folder and the scenario it plays (`demo/player.rs`).
    pub(super) player: super::player::PlayerState,
}

impl fmt::Debug for Demo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Demo")
            .field("store", &self.store.dir())
            .field("authorities", &self.authorities)
            .finish_non_exhaustive()
    }
}

impl Demo {
    /// The app for a listener on `addr`.
    pub(crate) fn new(
        flow: Flow,
        store: Store,
        admin: AdminClient,
        addr: SocketAddr,
        csrf: AdminToken,
    ) -> Demo {
        let flow = Arc::new(fake_core::Snapshot::new(Arc::new(flow)));
        follow_loads(admin.live(), &flow);
        Demo {
            flow,
            store,
            admin,
            authorities: authorities(addr),
            csrf,
            runs: super::runs::Runs::default(),
            stopping: tokio::sync::watch::Sender::new(false),
            player: super::player::PlayerState::default(),
            connection_env: None,
        }
    }

    /// Ends the open event streams (before the server's graceful shutdown waits for them).
    pub(crate) fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Turns true when [`Demo::stop`] is called.
    pub(crate) fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// The flow as it is now (a load of another world replaces it).
    pub(crate) fn flow(&self) -> Arc<Flow> {
        self.flow.get()
    }

    /// The CSRF token's text, for the forms' hidden field.
    pub(crate) fn csrf(&self) -> &str {
        self.csrf.expose()
    }

    /// The admin API of the running fakes.
    pub(crate) fn admin(&self) -> &AdminClient {
        &self.admin
    }

    /// The running world (read it; change it through [`Demo::admin`]).
    pub(crate) fn live(&self) -> &scenario::LiveWorld {
        self.admin.live()
    }

    /// The demo's source list (the scenario player empties it and plays on it).
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }
}

/// The demo's flow over `network`: the system clock, the default tables. It reaches the fakes
/// as `d365-harness source --resolve … --ca-file` would: the host map and the harness CA,
/// nothing else.
pub(crate) fn flow_for(network: &d365_source::NetworkSettings) -> Result<Flow, d365_source::Error> {
    Flow::new(network, Arc::new(SystemTimer), FlowOptions::default())
}

/// Rebuilds `flow` for the hosts of each world `live` loads, as `d365-harness source` would be
/// pointed at them (the host map and the harness CA, which stays the same). Requests already
/// running finish with the old flow. The hook holds the flow weakly: it ends with the demo.
fn follow_loads(live: &scenario::LiveWorld, flow: &Arc<fake_core::Snapshot<Flow>>) {
    let flow = Arc::downgrade(flow);
    let (addr, ca_pem) = (live.addr(), live.ca_pem().to_owned());
    live.on_load(move |_, hosts| {
        let Some(flow) = flow.upgrade() else { return };
        let network = scenario::network_settings_for(hosts, addr, &ca_pem);
        match flow_for(&network) {
            Ok(next) => {
                let _ = flow.replace_with(|_| Ok::<Flow, std::convert::Infallible>(next));
            }
            Err(error) => {
                tracing::warn!(%error, "the demo's flow does not follow the loaded world");
            }
        }
    });
}

/// The `Host` values a listener on `addr` answers: its address, and `localhost` on its port
/// when it listens on loopback or every address (browsers send what the user typed); on port
/// 80, each also without the port.
pub(super) fn authorities(addr: SocketAddr) -> Vec<String> {
    let mut authorities = vec![addr.to_string()];
    let ip = addr.ip();
    if ip.is_loopback() || ip.is_unspecified() {
        authorities.push(format!("localhost:{}", addr.port()));
        let loopback = match ip {
            IpAddr::V4(_) => SocketAddr::from(([127, 0, 0, 1], addr.port())),
            IpAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port())),
        };
        if loopback != addr {
            authorities.push(loopback.to_string());
        }
    }
    // Browsers leave the default port out of `Host` and `Origin`.
    if addr.port() == 80 {
        let without_port: Vec<String> = authorities
            .iter()
            .filter_map(|authority| authority.strip_suffix(":80").map(str::to_owned))
            .collect();
        authorities.extend(without_port);
    }
    authorities
}

/// The web app: the Sources page, the Dynamics 365 form, its actions and the stylesheet,
/// behind the guard.
pub(crate) fn router(demo: Arc<Demo>) -> Router {
    Router::new()
        .route("/", get(|| async { see_other("/sources") }))
        .route("/sources", get(sources))
        .route("/sources/dynamics365", get(new_source).post(add_source))
        .route("/sources/test", post(test_source))
        .route("/sources/remove", post(remove_source))
        .route("/reset", post(reset))
        .merge(super::runs::routes())
        .merge(super::traffic::routes())
        .merge(super::console::routes())
        .merge(super::player::routes())
        .merge(assets())
        .fallback(|| async { error_page(StatusCode::NOT_FOUND, "There is no such page.") })
        .layer(middleware::from_fn_with_state(demo.clone(), guard))
        .with_state(demo)
}

/// Refuses (403) a request whose `Host` is not the app's own, or whose `Origin`, when sent, is
/// not `http://` + one of them: a page on another site that rebinds its name to 127.0.0.1 sends
/// its own name in both. Every page it lets through may not be framed by another site.
async fn guard(State(demo): State<Arc<Demo>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host_ok = headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .is_some_and(|host| demo.authorities.iter().any(|own| own == host));
    let origin_ok = match headers.get(ORIGIN) {
        None => true,
        Some(origin) => origin.to_str().ok().is_some_and(|origin| {
            demo.authorities
                .iter()
                .any(|own| origin.strip_prefix("http://") == Some(own.as_str()))
        }),
    };
    if !(host_ok && origin_ok) {
        return error_page(
            StatusCode::FORBIDDEN,
            "This demo answers only requests addressed to itself (its own Host and Origin).",
        );
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // No other site may frame the page (clickjacking the Remove button), and nothing loads
    // from anywhere but the app itself.
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Not `no-referrer`: under it browsers send `Origin: null` with a form's POST, which the
    // Origin check above refuses; `same-origin` sends nothing to other sites either.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// Which action the Sources page reports at its top.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Notice {
    added: Option<String>,
    tested: Option<String>,
    removed: Option<String>,
    reset: Option<String>,
    rotated: Option<String>,
    /// The run whose steps the page shows (after Add Source or Rotate secret).
    run: Option<String>,
}

impl Notice {
    /// The sentence, if any.
    fn text(&self) -> Option<String> {
        if let Some(name) = &self.added {
            Some(format!("Source '{name}' was checked and added."))
        } else if let Some(name) = &self.tested {
            Some(format!(
                "Source '{name}' was tested; its last check is below."
            ))
        } else if let Some(name) = &self.rotated {
            Some(format!(
                "Source '{name}' has a new secret: it passed the check and replaced the old one."
            ))
        } else if let Some(name) = &self.removed {
            Some(format!("Source '{name}' was removed."))
        } else {
            self.reset.as_ref().map(|_| {
                "The demo was reset: the tenant is as it was loaded and the list is empty."
                    .to_owned()
            })
        }
    }
}

async fn sources(State(demo): State<Arc<Demo>>, Query(notice): Query<Notice>) -> Response {
    match demo.store.list() {
        Ok(list) => page(
            StatusCode::OK,
            pages::sources(
                &list,
                notice.text().as_deref(),
                &demo.runs.steps(notice.run.as_deref()),
                demo.csrf(),
            ),
        ),
        Err(error) => store_error(&error),
    }
}

async fn new_source(State(demo): State<Arc<Demo>>) -> Response {
    let mut view = pages::FormView::empty();
    view.values = pages::TenantValues::of(
        &demo.live().world(),
        demo.live().clock().now(),
        demo.connection_env.as_deref(),
    );
    page(StatusCode::OK, pages::dynamics_form(&view, demo.csrf()))
}

/// The Dynamics 365 form as posted. Every field defaults to empty, so that a missing field is
/// a form error next to it rather than a bare 422. `Debug` leaves the secret out.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct AddForm {
    pub(super) csrf: String,
    pub(super) name: String,
    pub(super) environment_url: String,
    pub(super) tenant_id: String,
    pub(super) client_id: String,
    pub(super) client_secret: String,
}

impl fmt::Debug for AddForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddForm")
            .field("name", &self.name)
            .field("environment_url", &self.environment_url)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Add Source without JavaScript: the check runs as a run (`runs.rs`) and the answer waits for
/// its outcome, shown with the finished step list.
async fn add_source(State(demo): State<Arc<Demo>>, Form(form): Form<AddForm>) -> Response {
    super::runs::add_and_wait(demo, form).await
}

/// A POST naming a saved source (Remove).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SourceAction {
    csrf: String,
    name: String,
}

async fn test_source(
    State(demo): State<Arc<Demo>>,
    Form(form): Form<super::runs::TestForm>,
) -> Response {
    // The outcome is recorded in the store; the list shows it, with the run's steps.
    super::runs::test_and_wait(demo, form).await
}

async fn remove_source(State(demo): State<Arc<Demo>>, Form(form): Form<SourceAction>) -> Response {
    if !demo.csrf.matches(form.csrf.as_bytes()) {
        return csrf_refused();
    }
    match demo.store.remove(&form.name) {
        Ok(source) => see_other(&format!("/sources?{}", query("removed", &source.name))),
        Err(error) => store_error(&error),
    }
}

/// A POST that carries only the CSRF token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Plain {
    csrf: String,
}

/// Reset: the world back as loaded through the admin API (`POST /reset`), then every source
/// of the demo's list removed and the scenario being played ended.
async fn reset(State(demo): State<Arc<Demo>>, Form(form): Form<Plain>) -> Response {
    if !demo.csrf.matches(form.csrf.as_bytes()) {
        return csrf_refused();
    }
    let answer = demo
        .admin
        .call(axum::http::Method::POST, "/reset", bytes::Bytes::new())
        .await;
    if !answer.status().is_success() {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "The admin API did not reset the world (HTTP {}).",
                answer.status()
            ),
        );
    }
    let list = match demo.store.list() {
        Ok(list) => list,
        Err(error) => return store_error(&error),
    };
    for source in list {
        if let Err(error) = demo.store.remove(&source.name) {
            return store_error(&error);
        }
    }
    demo.player.stop_playing().await;
    see_other("/sources?reset=1")
}

/// A route for each of [`ASSETS`].
fn assets() -> Router<Arc<Demo>> {
    ASSETS
        .iter()
        .fold(Router::new(), |router, &(path, content_type, text)| {
            router.route(
                path,
                get(move || async move {
                    (
                        [
                            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
                            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                        ],
                        text,
                    )
                        .into_response()
                }),
            )
        })
}

/// `key=value`, form-encoded.
pub(super) fn query(key: &str, value: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair(key, value)
        .finish()
}

/// 303 to `location` (after a POST, so that reloading does not post again).
pub(super) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response(),
        Err(_) => error_page(StatusCode::INTERNAL_SERVER_ERROR, "Bad redirect."),
    }
}

pub(super) fn page(status: StatusCode, markup: maud::Markup) -> Response {
    (status, markup).into_response()
}

pub(super) fn csrf_refused() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "This form is out of date or did not come from this demo. Go back, reload the page and try again.",
    )
}

/// A store or harness error as a page: 404 for an unknown source, 409 for a taken name, 500
/// otherwise. Store errors name files and sources, never secrets.
pub(super) fn store_error(error: &d365_source::Error) -> Response {
    let status = match error {
        d365_source::Error::SourceNotFound { .. } => StatusCode::NOT_FOUND,
        d365_source::Error::NameTaken { .. } => StatusCode::CONFLICT,
        d365_source::Error::InvalidStoredSource { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    error_page(status, &text)
}

pub(super) fn error_page(status: StatusCode, message: &str) -> Response {
    page(status, pages::error(status, message))
}
