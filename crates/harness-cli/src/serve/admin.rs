//! `serve`'s admin API: a plain-HTTP listener (loopback by default, so curl needs no CA) that
//! changes the running world (or loads another), its faults and clock, and reads or clears the
//! journal. Start at
//! [`dispatch`]: access check, then the one [`routes::route`] match. Every error is JSON
//! `{"error": {"code", "message"}}`; no answer or log line carries a secret (the journal is
//! redacted before it is stored).

mod access;
mod clock;
mod journal;
mod routes;
mod world;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use fake_core::FaultRule;
use http::header::{ALLOW, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::{TokioExecutor, TokioIo};
use scenario::{Applied, Change, ChangeError, LiveWorld};
use serde::Serialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub(crate) use access::{Access, AdminToken};
pub(crate) use journal::{EventStream, Followed};
use routes::{NoRoute, Route};

/// The body of every admin answer: a whole JSON document or an endless event stream.
pub(crate) type AdminBody = BoxBody<Bytes, Infallible>;

/// The largest request body read (a batch of changes with rows is far smaller).
const MAX_BODY: usize = 1024 * 1024;

/// How long open connections (a followed journal) get to finish when `serve` stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What the admin API acts on.
#[derive(Clone, Debug)]
pub(crate) struct Admin {
    access: Access,
    live: LiveWorld,
    /// Becomes `true` when `serve` stops: followed journals end then.
    stopping: watch::Receiver<bool>,
}

impl Admin {
    /// The admin API over a running world.
    pub(crate) fn new(access: Access, live: LiveWorld, stopping: watch::Receiver<bool>) -> Admin {
        Admin {
            access,
            live,
            stopping,
        }
    }
}

/// The running admin listener; stops (gracefully) on [`AdminServer::shutdown`] or drop.
#[derive(Debug)]
pub(crate) struct AdminServer {
    addr: SocketAddr,
    admin: Arc<Admin>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// Binds the admin listener (port 0 picks a free port).
pub(crate) async fn bind(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(listen)
        .await
        .with_context(|| format!("failed to listen for the admin API on {listen}"))
}

impl AdminServer {
    /// Serves `make(stopping)` on `listener` until shutdown.
    pub(crate) fn spawn(
        listener: TcpListener,
        make: impl FnOnce(watch::Receiver<bool>) -> Admin,
    ) -> anyhow::Result<AdminServer> {
        let addr = listener
            .local_addr()
            .context("failed to read the admin listener's address")?;
        let (stop, stopping) = watch::channel(false);
        let admin = Arc::new(make(stopping.clone()));
        let task = tokio::spawn(accept_loop(listener, admin.clone(), stopping));
        Ok(AdminServer {
            addr,
            admin,
            stop,
            task: Some(task),
        })
    }

    /// Where the listener listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin API this listener serves, to call in-process ([`AdminClient`]).
    pub(crate) fn client(&self, token: &AdminToken) -> AdminClient {
        AdminClient::new(self.admin.clone(), self.addr, token.clone())
    }

    /// Stops accepting, lets open requests finish (a followed journal ends at once), waits.
    pub(crate) async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    admin: Arc<Admin>,
    mut stopping: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping.wait_for(|stop| *stop) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors: back off instead of spinning.
                tracing::warn!(%error, "admin listener failed to accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let admin = admin.clone();
        let service = hyper::service::service_fn(move |request| {
            let admin = admin.clone();
            async move { Ok::<_, Infallible>(handle(&admin, request).await) }
        });
        let connection = builder
            .serve_connection(TokioIo::new(tcp), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "admin connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("admin connections did not close in time");
    }
}

/// The admin API called in-process (the demo's tenant console applies its changes this way):
/// each call goes through [`dispatch`], access check and routes included, as if it had come to
/// the listener with the listener's own `Host` and the token.
#[derive(Clone, Debug)]
pub(crate) struct AdminClient {
    admin: Arc<Admin>,
    authority: String,
    token: AdminToken,
}

impl AdminClient {
    /// A client of `admin`, whose listener is on `addr` and whose token is `token`.
    pub(crate) fn new(admin: Arc<Admin>, addr: SocketAddr, token: AdminToken) -> AdminClient {
        AdminClient {
            admin,
            authority: crate::serve::connect_address(addr).to_string(),
            token,
        }
    }

    /// The running world the admin API changes.
    #[allow(
        dead_code,
        reason = "the demo's console, traffic and scenario views read it"
    )]
    pub(crate) fn live(&self) -> &LiveWorld {
        &self.admin.live
    }

    /// `method path` with `body` (JSON when not empty), answered as the listener would.
    pub(crate) async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Bytes,
    ) -> Response<AdminBody> {
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(http::header::HOST, &self.authority)
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", self.token.expose()),
            );
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        match request.body(body) {
            Ok(request) => dispatch(&self.admin, request).await,
            Err(error) => AdminError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("not a request the admin API could take: {error}"),
            )
            .response(),
        }
    }
}

/// Reads the body (bounded) and dispatches.
async fn handle(admin: &Admin, request: Request<hyper::body::Incoming>) -> Response<AdminBody> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return if error.is::<http_body_util::LengthLimitError>() {
                AdminError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PayloadTooLarge",
                    format!("request bodies are limited to {MAX_BODY} bytes"),
                )
                .response()
            } else {
                AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "failed to read the request body".to_owned(),
                )
                .response()
            };
        }
    };
    dispatch(admin, Request::from_parts(parts, body)).await
}

/// Answers one admin request: access, route, handler.
pub(crate) async fn dispatch(admin: &Admin, request: Request<Bytes>) -> Response<AdminBody> {
    let authority = request
        .uri()
        .authority()
        .map(|authority| authority.as_str());
    if let Err(refusal) = access::check(&admin.access, authority, request.headers()) {
        return refused(refusal);
    }
    let route = match routes::route(request.method(), request.uri().path()) {
        Ok(route) => route,
        Err(no_route) => return unrouted(request.method(), request.uri().path(), no_route),
    };
    let answered = match route {
        Route::Health => Ok(json_response(StatusCode::OK, &json!({"status": "ok"}))),
        Route::World => world::get(&admin.live, request.uri().query()),
        Route::LoadWorld => world::load(&admin.live, request.uri().query(), request.body()).await,
        Route::Changes => world::changes(&admin.live, request.body()).await,
        Route::Reset => {
            let live = admin.live.clone();
            off_runtime(move || live.reset()).await.map(|()| {
                json_response(
                    StatusCode::OK,
                    &json!({"reset": true, "now": clock::rfc3339(admin.live.clock())}),
                )
            })
        }
        Route::AddFaults => add_faults(admin, &request).await,
        Route::ClearFaults => apply(&admin.live, vec![Change::ClearFaults {}])
            .await
            .map(|_| faults_response(admin)),
        Route::Clock => Ok(clock::now(admin.live.clock())),
        Route::AdvanceClock => clock::advance(admin, request.body()).await,
        Route::Journal => journal::get(admin, &request),
        Route::ClearJournal => {
            let journal = admin.live.journal();
            let cleared = journal.len();
            journal.clear();
            Ok(json_response(
                StatusCode::OK,
                &json!({ "cleared": cleared }),
            ))
        }
    };
    answered.unwrap_or_else(|error| error.response())
}

/// `POST /faults`: one fault rule (fake-core's `FaultRule` shape) or an array of them, added
/// after the existing ones as `add_fault` changes (so `GET /world` shows them and a reset
/// removes them).
async fn add_faults(
    admin: &Admin,
    request: &Request<Bytes>,
) -> Result<Response<AdminBody>, AdminError> {
    let changes: Vec<Change> = fault_rules(request.body())?
        .into_iter()
        .map(|fault| Change::AddFault { fault })
        .collect();
    apply(&admin.live, changes).await?;
    Ok(faults_response(admin))
}

/// Applies a batch, or fails with 400 `InvalidChange` naming the change at fault.
pub(crate) async fn apply(live: &LiveWorld, changes: Vec<Change>) -> Result<Applied, AdminError> {
    let live = live.clone();
    off_runtime(move || live.apply(&changes))
        .await?
        .map_err(AdminError::change)
}

/// Runs `work` on the blocking pool: applying a batch re-validates the world and rebuilds both
/// fakes' configs (milliseconds of CPU), which must not hold up a runtime worker that serves
/// the fakes' requests meanwhile.
pub(crate) async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AdminError> {
    tokio::task::spawn_blocking(work).await.map_err(|error| {
        tracing::error!(%error, "an admin operation failed");
        AdminError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal",
            "the operation failed inside serve; its log says why".to_owned(),
        )
    })
}

/// A body holding one fault rule or an array of them.
fn fault_rules(body: &Bytes) -> Result<Vec<FaultRule>, AdminError> {
    let value = parse_json::<serde_json::Value>(body)?;
    let rules = if value.is_array() {
        serde_json::from_value::<Vec<FaultRule>>(value)
    } else {
        serde_json::from_value::<FaultRule>(value).map(|rule| vec![rule])
    };
    let rules = rules.map_err(|error| invalid_json(&error, "a fault rule or an array of them"))?;
    for (index, rule) in rules.iter().enumerate() {
        rule.check().map_err(|error| AdminError {
            index: Some(index),
            ..AdminError::new(
                StatusCode::BAD_REQUEST,
                "InvalidFault",
                format!("fault rule {index}: {error}"),
            )
        })?;
    }
    Ok(rules)
}

fn faults_response(admin: &Admin) -> Response<AdminBody> {
    json_response(
        StatusCode::OK,
        &json!({ "faults": admin.live.faults().rules() }),
    )
}

/// Parses a JSON body, or fails with 400 `InvalidJson`.
fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, AdminError> {
    serde_json::from_slice(body).map_err(|error| invalid_json(&error, "JSON"))
}

/// 400 `InvalidJson` for a body that is not `expected`; serde's message names the field and
/// position, never the value.
fn invalid_json(error: &serde_json::Error, expected: &str) -> AdminError {
    AdminError::new(
        StatusCode::BAD_REQUEST,
        "InvalidJson",
        format!("the body is not {expected}: {error}"),
    )
}

/// A refused admin request: its status and the JSON error body's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AdminError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// The position of the change at fault in a batch.
    index: Option<usize>,
    /// Every error found, when there are several (a world file's), each an object.
    errors: Option<Vec<serde_json::Value>>,
}

impl AdminError {
    /// An error of `status` with `code` and `message` (never a secret).
    pub(crate) fn new(status: StatusCode, code: &'static str, message: String) -> AdminError {
        AdminError {
            status,
            code,
            message,
            index: None,
            errors: None,
        }
    }

    /// 400 `InvalidChange` for a batch that was refused (nothing applied); the message is
    /// the change error's, which never shows a secret value.
    pub(crate) fn change(error: ChangeError) -> AdminError {
        AdminError {
            index: Some(error.index),
            ..AdminError::new(StatusCode::BAD_REQUEST, "InvalidChange", error.to_string())
        }
    }

    /// `{"error": {"code", "message"[, "index"][, "errors"]}}` with its status.
    pub(crate) fn response(&self) -> Response<AdminBody> {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(index) = self.index {
            error["index"] = json!(index);
        }
        if let Some(errors) = &self.errors {
            error["errors"] = json!(errors);
        }
        json_response(self.status, &json!({ "error": error }))
    }
}

fn refused(refusal: access::Refusal) -> Response<AdminBody> {
    match refusal {
        access::Refusal::Unauthorized => {
            let mut response = AdminError::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "this admin API listens beyond loopback and needs `Authorization: Bearer \
                 <token>`, the token in the state folder's `admin.token`"
                    .to_owned(),
            )
            .response();
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"d365-harness admin\""),
            );
            response
        }
        access::Refusal::Forbidden(reason) => {
            AdminError::new(StatusCode::FORBIDDEN, "Forbidden", reason.to_owned()).response()
        }
    }
}

fn unrouted(method: &Method, path: &str, no_route: NoRoute) -> Response<AdminBody> {
    let supported = routes::supported();
    let shown = format!("{method} {}", fake_core::echo(path));
    let (status, code, message, allow) = match no_route {
        NoRoute::NotFound => (
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "no admin route `{shown}`; the admin API serves {}",
                supported.join(", ")
            ),
            None,
        ),
        NoRoute::MethodNotAllowed { allow } => (
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("`{}` takes {allow}, not {method}", fake_core::echo(path)),
            Some(allow),
        ),
    };
    let mut response = json_response(
        status,
        &json!({"error": {"code": code, "message": message, "routes": supported}}),
    );
    if let Some(allow) = allow
        && let Ok(allow) = HeaderValue::from_str(&allow)
    {
        response.headers_mut().insert(ALLOW, allow);
    }
    response
}

/// `value` as compact JSON and a newline (for curl), with `status`.
pub(crate) fn json_response(status: StatusCode, value: &impl Serialize) -> Response<AdminBody> {
    let mut body = serde_json::to_vec(value).unwrap_or_else(|error| {
        format!(r#"{{"error":{{"code":"Internal","message":"{error}"}}}}"#).into_bytes()
    });
    body.push(b'\n');
    body_response(status, "application/json", Bytes::from(body))
}

/// A whole body of `content_type` with `status`.
pub(crate) fn body_response(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<AdminBody> {
    let mut response = Response::new(Full::new(body).boxed());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests;
