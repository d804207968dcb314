//! The one HTTPS listener: TLS (rustls, ALPN h2 and http/1.1, TCP_NODELAY), connections with
//! timeouts (`connection`), then per request: host checks (`host`), body, health route, host
//! routing, fault rules, the service, the journal. [`spawn`] starts it and returns a
//! [`ServerHandle`]; dropping the handle shuts the server down gracefully, closing connections
//! that are already open too. What it serves (mounts, hosts, certificate) is one [`Mounts`]
//! snapshot, replaceable while it runs (`mounts.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Incoming};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use self::connection::{ListenerKind, accept_loop};
use self::host::{HostError, RequestHost, request_host};
pub use self::mounts::Mounts;
use self::mounts::{Routes, certificate_names, hosts_of};
use crate::fault::FaultProbe;
use crate::journal::{Record, StoredBody, keep_request_headers, keep_response_headers};
use crate::{
    Clock, Error, FaultAction, Faults, HostPattern, Journal, JournalBody, Mount, RequestContext,
    ServerCertificate, TestPki, echo, json_response,
};

/// The path every served host answers with 200 once the server is ready.
pub const HEALTH_PATH: &str = "/_harness/health";

/// Request bodies larger than this are refused with 413.
const MAX_REQUEST_BODY: usize = 1 << 20;
/// How much of a refused body is still read (and thrown away) before the 413 is sent, so that
/// the client's upload ends normally. Answering early is allowed (RFC 9113 §8.1: the answer,
/// then RST_STREAM(NO_ERROR)), but some clients report that reset as a failure and lose the
/// answer (curl 7.88 over HTTP/2: error 92). Larger bodies get the early answer.
const MAX_DRAINED_BODY: usize = 16 << 20;
/// How long open connections get to finish their requests when the server shuts down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What to serve and how.
#[derive(Debug)]
pub struct ServerConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The services and their hosts, matched in order (replaceable later:
    /// [`ServerHandle::replace_mounts`]).
    pub mounts: Vec<Mount>,
    /// The clock used for journal timestamps (services carry their own clone).
    pub clock: Clock,
    /// Fault rules applied before routing.
    pub faults: Faults,
    /// A PKI to reuse; when absent one is generated for the mounts' hosts. When its first
    /// certificate is not for exactly the mounts' hosts, its CA issues one that is.
    pub pki: Option<Arc<TestPki>>,
    /// How many journal entries to keep (oldest dropped first).
    pub journal_capacity: usize,
    /// How long a client may take to finish the TLS handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// How long an HTTP/1.1 client may take to send a request line and headers (default 10 s);
    /// a slower client's connection is closed without an answer. Hyper starts this timer again
    /// as soon as an answer is sent, so it also closes an HTTP/1.1 keep-alive connection that
    /// stays idle longer than this. HTTP/2 has no such timer: see `idle_timeout`.
    pub header_read_timeout: Duration,
    /// How long a connection (HTTP/1.1 or HTTP/2) may stay open with no request in flight
    /// (default 60 s); then it is closed gracefully (HTTP/2: GOAWAY).
    pub idle_timeout: Duration,
    /// How long a client may take to send a whole request body (default 30 s, which is
    /// 35 KB/s for the 1 MiB limit); a slower body gets 408 Request Timeout.
    pub body_read_timeout: Duration,
    /// Where to listen, if at all, as a plain-HTTP CONNECT proxy (`HTTPS_PROXY`) that tunnels
    /// `CONNECT <served host>:443` to the HTTPS handling and refuses every other request; port
    /// 0 picks a free port. It never connects anywhere itself.
    pub proxy_listen: Option<SocketAddr>,
}

impl ServerConfig {
    /// A configuration on `127.0.0.1:0` with the system clock, no faults and a fresh PKI.
    pub fn new(mounts: Vec<Mount>) -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            mounts,
            clock: Clock::system(),
            faults: Faults::default(),
            pki: None,
            journal_capacity: 10_000,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(30),
            proxy_listen: None,
        }
    }
}

/// A running server. Dropping it starts a graceful shutdown; [`ServerHandle::shutdown`] waits
/// for it to finish.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    proxy_addr: Option<SocketAddr>,
    pki: Arc<TestPki>,
    journal: Journal,
    faults: Faults,
    clock: Clock,
    mounts: Mounts,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ServerHandle {
    /// The bound address (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound address of the CONNECT proxy listener, when one was asked for.
    pub fn proxy_addr(&self) -> Option<SocketAddr> {
        self.proxy_addr
    }

    /// The root CA clients must trust, in PEM.
    pub fn ca_pem(&self) -> &str {
        self.pki.ca_pem()
    }

    /// The PKI behind the listener: its CA signs every certificate the listener presents.
    pub fn pki(&self) -> &Arc<TestPki> {
        &self.pki
    }

    /// The journal of the requests answered: read it ([`Journal::entries`], [`Journal::query`])
    /// or follow new entries ([`Journal::subscribe`]).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The live fault rules; changes ([`Faults::add`], [`Faults::replace`], [`Faults::clear`])
    /// apply from the next request on.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The server's clock, which stamps the journal (the fakes carry clones of the same clock,
    /// so moving it with [`Clock::advance`] moves theirs too when they were given this one).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Every host pattern served now, in mount order (it follows
    /// [`ServerHandle::replace_mounts`]).
    pub fn hosts(&self) -> Vec<HostPattern> {
        self.mounts.hosts()
    }

    /// The certificate the listener presents now (it follows
    /// [`ServerHandle::replace_mounts`]).
    pub fn certificate(&self) -> ServerCertificate {
        self.mounts.certificate()
    }

    /// The listener's mounts: a handle that replaces them while the server runs, cheap to
    /// clone and usable without the server handle.
    pub fn mounts(&self) -> &Mounts {
        &self.mounts
    }

    /// Serves `mounts` instead, from the next request and TLS handshake on, with a new
    /// certificate from the same CA when the hosts change; see [`Mounts::replace`].
    pub fn replace_mounts(&self, mounts: Vec<Mount>) -> Result<(), Error> {
        self.mounts.replace(mounts)
    }

    /// `https://localhost:<port>`: the server as reached without a host override.
    pub fn local_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Stops accepting, lets open connections finish (up to a grace period), and waits.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

struct Shared {
    mounts: Mounts,
    clock: Clock,
    faults: Faults,
    journal: Journal,
    journal_capacity: usize,
    sequence: AtomicU64,
    handshake_timeout: Duration,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    body_read_timeout: Duration,
}

/// Starts a server on `127.0.0.1:0` that serves only `mount`, with `clock` for its journal.
pub async fn spawn_one(mount: Mount, clock: Clock) -> Result<ServerHandle, Error> {
    let mut config = ServerConfig::new(vec![mount]);
    config.clock = clock;
    spawn(config).await
}

/// Binds the listener and starts serving in the background. Must be called inside a Tokio
/// runtime.
pub async fn spawn(config: ServerConfig) -> Result<ServerHandle, Error> {
    let pki = match config.pki {
        Some(pki) => pki,
        None => Arc::new(TestPki::generate(&certificate_names(&hosts_of(
            &config.mounts,
        )))?),
    };
    let mounts = Mounts::new(config.mounts, Arc::clone(&pki))?;
    let acceptor = TlsAcceptor::from(crate::pki::server_config(mounts.resolver())?);
    let (listener, addr) = bind(config.listen).await?;
    let proxy = match config.proxy_listen {
        Some(listen) => Some(bind(listen).await?),
        None => None,
    };
    let proxy_addr = proxy.as_ref().map(|(_, addr)| *addr);
    let journal = Journal::new();
    let shared = Arc::new(Shared {
        mounts: mounts.clone(),
        clock: config.clock.clone(),
        faults: config.faults.clone(),
        journal: journal.clone(),
        journal_capacity: config.journal_capacity.max(1),
        sequence: AtomicU64::new(0),
        handshake_timeout: config.handshake_timeout,
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.idle_timeout,
        body_read_timeout: config.body_read_timeout,
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let https = accept_loop(
        listener,
        ListenerKind::Https,
        acceptor.clone(),
        shared.clone(),
        shutdown_rx.clone(),
    );
    let task = tokio::spawn(async move {
        match proxy {
            Some((proxy, _)) => {
                let proxy = accept_loop(proxy, ListenerKind::Proxy, acceptor, shared, shutdown_rx);
                tokio::join!(https, proxy);
            }
            None => https.await,
        }
    });
    Ok(ServerHandle {
        addr,
        proxy_addr,
        pki,
        journal,
        faults: config.faults,
        clock: config.clock,
        mounts,
        shutdown,
        task: Some(task),
    })
}

/// Binds `listen` and reports the bound address (the chosen port when it was 0).
async fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr), Error> {
    let bind_error = |source| Error::Bind {
        addr: listen,
        source,
    };
    let listener = TcpListener::bind(listen).await.map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    Ok((listener, addr))
}

/// A fault that ends a request without an answer; the connection driver acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abort {
    /// Fail only this request: the service returns an error, which hyper turns into
    /// RST_STREAM(INTERNAL_ERROR) over HTTP/2 and a closed connection over HTTP/1.1.
    ResetStream,
    /// End the whole connection: the connection driver drops it (an abrupt TCP close).
    CloseConnection,
}

impl std::fmt::Display for Abort {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Abort::ResetStream => "request reset by a fault rule",
            Abort::CloseConnection => "connection closed by a fault rule",
        })
    }
}

impl std::error::Error for Abort {}

async fn dispatch(
    shared: &Shared,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Abort> {
    let (parts, mut request_body) = request.into_parts();
    let version = parts.version;
    let (mut response, body_ended) = answer(shared, parts, &mut request_body).await?;
    // Over HTTP/1.x, the unread rest of a body cannot be told apart from a next request, so
    // the connection ends with the answer. (HTTP/2 has no such header: once the answer is
    // sent, hyper ends the stream with RST_STREAM(NO_ERROR).)
    if version < http::Version::HTTP_2 && !body_ended {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(response)
}

/// Why a request body was not read to its end.
#[derive(Debug, PartialEq, Eq)]
enum BodyError {
    /// It is (or says it is) larger than the limit.
    TooLarge,
    /// It is not valid framing (a bad chunk size...) or the connection broke.
    Malformed,
}

/// Reads a whole request body of at most `limit` bytes.
async fn read_body<B>(body: &mut B, limit: usize) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    // A Content-Length over the limit is refused before reading a byte of it.
    if body.size_hint().lower() > limit_u64 {
        return Err(BodyError::TooLarge);
    }
    let capacity = usize::try_from(body.size_hint().lower()).unwrap_or(limit);
    let mut collected = Vec::with_capacity(capacity.min(limit));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Malformed)?;
        if let Ok(data) = frame.into_data() {
            if collected.len() + data.len() > limit {
                return Err(BodyError::TooLarge);
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(collected))
}

/// Reads and throws away the rest of a body if it is at most `limit` bytes long; whether it
/// reached the end.
async fn drain_body<B>(body: &mut B, limit: usize) -> bool
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    if body.size_hint().lower() > u64::try_from(limit).unwrap_or(u64::MAX) {
        return false;
    }
    let mut drained = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return false;
        };
        if let Some(data) = frame.data_ref() {
            drained = drained.saturating_add(data.len());
            if drained > limit {
                return false;
            }
        }
    }
    true
}

/// Answers one request whose body is still to be read; says whether the body was read to its
/// end.
async fn answer(
    shared: &Shared,
    parts: http::request::Parts,
    request_body: &mut Incoming,
) -> Result<(Response<Full<Bytes>>, bool), Abort> {
    let sequence = shared.sequence.fetch_add(1, Ordering::Relaxed) + 1;
    let received_at = shared.clock.now();
    // The one read of what is served: the whole request uses this version.
    let routes: Arc<Routes> = shared.mounts.routes();
    let RequestHost { host, origin } = match request_host(&parts) {
        Ok(request_host) => request_host,
        Err(error) => return Ok((host_rejection(error, &routes.served_hosts), false)),
    };
    let deadline = Instant::now() + shared.body_read_timeout;
    let read = tokio::time::timeout_at(deadline, read_body(request_body, MAX_REQUEST_BODY));
    let body = match read.await {
        Ok(Ok(body)) => body,
        Ok(Err(BodyError::TooLarge)) => {
            let drain = drain_body(request_body, MAX_DRAINED_BODY);
            let drained = tokio::time::timeout_at(deadline, drain).await == Ok(true);
            let response = harness_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                "the request body is larger than 1 MiB",
                &routes.served_hosts,
            );
            return Ok((response, drained));
        }
        Ok(Err(BodyError::Malformed)) => {
            let response = harness_error(
                StatusCode::BAD_REQUEST,
                "malformed_body",
                "the request body could not be read (malformed chunked encoding or a broken connection)",
                &routes.served_hosts,
            );
            return Ok((response, false));
        }
        Err(_) => {
            let message = format!(
                "the request body did not arrive within {} ms",
                shared.body_read_timeout.as_millis()
            );
            let response = harness_error(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                &message,
                &routes.served_hosts,
            );
            return Ok((response, false));
        }
    };
    let mut request = Request::from_parts(parts, body);
    let mount = find_mount(&routes.mounts, &host);

    if request.uri().path() == HEALTH_PATH
        && let Some(mount) = mount
    {
        let body = serde_json::json!({
            "status": "ok",
            "service": mount.service.name(),
            "host": host,
        });
        return Ok((json_response(StatusCode::OK, body.to_string()), true));
    }

    let service_name = mount.map_or("harness", |mount| mount.service.name());
    let mut entry = journal_record(sequence, received_at, service_name, &host, &request);
    let fault = shared.faults.fire(FaultProbe {
        service: service_name,
        host: &host,
        method: request.method().as_str(),
        path: request.uri().path(),
    });
    let response = match fault {
        Some((name, action @ (FaultAction::Close | FaultAction::ResetStream))) => {
            tracing::debug!(fault = %name, ?action, "resetting the request");
            entry.fault = Some(name);
            shared.journal.push_bounded(entry, shared.journal_capacity);
            return Err(Abort::ResetStream);
        }
        Some((name, FaultAction::CloseConnection)) => {
            tracing::debug!(fault = %name, "closing the connection");
            entry.fault = Some(name);
            shared.journal.push_bounded(entry, shared.journal_capacity);
            return Err(Abort::CloseConnection);
        }
        Some((
            name,
            FaultAction::Respond {
                status,
                headers,
                body,
            },
        )) => {
            entry.fault = Some(name);
            fault_response(status, &headers, body)
        }
        Some((name, FaultAction::Delay { millis })) => {
            entry.fault = Some(name);
            tokio::time::sleep(Duration::from_millis(millis)).await;
            None
        }
        None => None,
    };
    let response = match (response, mount) {
        (Some(response), _) => response,
        (None, None) => unknown_host(&host, &routes.served_hosts),
        (None, Some(mount)) => {
            request.extensions_mut().insert(RequestContext {
                host: host.clone(),
                origin,
                sequence,
            });
            call_service(mount, request).await
        }
    };
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map(|collected| collected.to_bytes());
    let body = match body {
        Ok(body) => body,
        Err(infallible) => match infallible {},
    };
    entry.status = parts.status.as_u16();
    entry.response_headers = keep_response_headers(&parts.headers);
    entry.response_body = StoredBody::capture(parts.headers.get(header::CONTENT_TYPE), &body);
    shared.journal.push_bounded(entry, shared.journal_capacity);
    Ok((Response::from_parts(parts, Full::new(body)), true))
}

/// Calls the service, catching a panic so that a buggy handler costs one 500, not the
/// connection (and without a task spawn per request, which costs throughput).
async fn call_service(mount: &Mount, request: Request<Bytes>) -> Response<Full<Bytes>> {
    match CatchUnwind(mount.service.call(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(service = mount.service.name(), "a handler panicked");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "{\"error\":\"harness_bug\",\"message\":\"a fake service handler panicked; this is a bug in d365-harness\"}",
            )
        }
    }
}

fn fault_response(
    status: u16,
    headers: &std::collections::BTreeMap<String, String>,
    body: String,
) -> Option<Response<Full<Bytes>>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    Some(response)
}

/// The mount that serves `host`: the first with a matching pattern.
fn find_mount<'a>(mounts: &'a [Mount], host: &str) -> Option<&'a Mount> {
    mounts
        .iter()
        .find(|mount| mount.hosts.iter().any(|pattern| pattern.matches(host)))
}

/// The 421 for a host no mount serves; it quotes the host through [`echo`].
fn unknown_host(host: &str, served_hosts: &str) -> Response<Full<Bytes>> {
    harness_error(
        StatusCode::MISDIRECTED_REQUEST,
        "unknown_host",
        &format!("no fake service answers for host `{}`", echo(host)),
        served_hosts,
    )
}

/// The 400 for a request whose host cannot be used.
fn host_rejection(error: HostError, served_hosts: &str) -> Response<Full<Bytes>> {
    harness_error(
        StatusCode::BAD_REQUEST,
        error.code(),
        error.message(),
        served_hosts,
    )
}

fn harness_error(
    status: StatusCode,
    code: &str,
    message: &str,
    served_hosts: &str,
) -> Response<Full<Bytes>> {
    let message = serde_json::Value::String(message.to_owned());
    json_response(
        status,
        format!("{{\"error\":\"{code}\",\"message\":{message},\"served_hosts\":[{served_hosts}]}}"),
    )
}

/// Polls a future inside `catch_unwind`.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::pin::Pin::new(inner).poll(context)
        })) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(output)) => std::task::Poll::Ready(Ok(output)),
            Err(payload) => std::task::Poll::Ready(Err(payload)),
        }
    }
}

/// The journal record for a request, before its answer is known (status 0 until then).
fn journal_record(
    sequence: u64,
    received_at: time::OffsetDateTime,
    service: &str,
    host: &str,
    request: &Request<Bytes>,
) -> Record {
    Record {
        sequence,
        received_at,
        service: service.to_owned(),
        method: request.method().clone(),
        host: host.to_owned(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        request_headers: keep_request_headers(request.headers()),
        request_body: StoredBody::capture(
            request.headers().get(header::CONTENT_TYPE),
            request.body(),
        ),
        status: 0,
        response_headers: Vec::new(),
        response_body: StoredBody::Captured(JournalBody::Empty),
        fault: None,
    }
}

mod connection;
mod host;
mod mounts;
mod proxy;

#[cfg(test)]
mod tests;
