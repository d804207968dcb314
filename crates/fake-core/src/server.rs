//! The one HTTPS listener: TLS (rustls, ALPN h2 and http/1.1, TCP_NODELAY), then per request:
//! health route, host routing, fault rules, the service, the journal. [`spawn`] starts it and
//! returns a [`ServerHandle`]; dropping the handle shuts the server down gracefully, closing
//! connections that are already open too.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use self::host::{HostError, RequestHost, request_host};
use crate::fault::FaultProbe;
use crate::journal::{keep_request_headers, keep_response_headers};
use crate::{
    Clock, Error, FaultAction, Faults, HostPattern, Journal, JournalBody, JournalEntry, Mount,
    RequestContext, TestPki, echo, json_response,
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
/// The first wait after an accept error that is not about one connection (EMFILE...).
const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(10);
/// The longest wait between accept attempts while errors go on.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How long open connections get to finish their requests when the server shuts down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What to serve and how.
#[derive(Debug)]
pub struct ServerConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The services and their hosts, matched in order.
    pub mounts: Vec<Mount>,
    /// The clock used for journal timestamps (services carry their own clone).
    pub clock: Clock,
    /// Fault rules applied before routing.
    pub faults: Faults,
    /// A PKI to reuse; when absent one is generated for the mounts' hosts.
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
        }
    }
}

/// A running server. Dropping it starts a graceful shutdown; [`ServerHandle::shutdown`] waits
/// for it to finish.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    pki: Arc<TestPki>,
    journal: Journal,
    faults: Faults,
    clock: Clock,
    hosts: Vec<HostPattern>,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ServerHandle {
    /// The bound address (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The root CA clients must trust, in PEM.
    pub fn ca_pem(&self) -> &str {
        self.pki.ca_pem()
    }

    /// The PKI behind the listener.
    pub fn pki(&self) -> &Arc<TestPki> {
        &self.pki
    }

    /// Every request answered so far.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The live fault rules; changes apply to the next request.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The server's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Every host pattern served, in mount order.
    pub fn hosts(&self) -> &[HostPattern] {
        &self.hosts
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
    mounts: Vec<Mount>,
    clock: Clock,
    faults: Faults,
    journal: Journal,
    journal_capacity: usize,
    sequence: AtomicU64,
    served_hosts: String,
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
    let hosts: Vec<HostPattern> = config
        .mounts
        .iter()
        .flat_map(|mount| mount.hosts.iter().cloned())
        .collect();
    let pki = match config.pki {
        Some(pki) => pki,
        None => {
            let names: Vec<String> = hosts.iter().map(HostPattern::as_san).collect();
            Arc::new(TestPki::generate(&names)?)
        }
    };
    let acceptor = TlsAcceptor::from(pki.server_config()?);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: config.listen,
        source,
    })?;
    let journal = Journal::new();
    let served_hosts = hosts
        .iter()
        .map(|host| format!("\"{host}\""))
        .collect::<Vec<_>>()
        .join(",");
    let shared = Arc::new(Shared {
        mounts: config.mounts,
        clock: config.clock.clone(),
        faults: config.faults.clone(),
        journal: journal.clone(),
        journal_capacity: config.journal_capacity.max(1),
        sequence: AtomicU64::new(0),
        served_hosts,
        handshake_timeout: config.handshake_timeout,
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.idle_timeout,
        body_read_timeout: config.body_read_timeout,
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, acceptor, shared, shutdown_rx));
    Ok(ServerHandle {
        addr,
        pki,
        journal,
        faults: config.faults,
        clock: config.clock,
        hosts,
        shutdown,
        task: Some(task),
    })
}

/// Where connections come from: the TCP listener, or a scripted source in tests (so that the
/// backoff on accept errors is testable without running out of file descriptors).
trait Listener {
    /// What one successful accept yields.
    type Connection;

    /// Waits for the next connection.
    fn accept(&mut self) -> impl Future<Output = io::Result<Self::Connection>> + Send;
}

impl Listener for TcpListener {
    type Connection = (TcpStream, SocketAddr);

    async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        TcpListener::accept(self).await
    }
}

/// Whether an accept error concerns only the one connection being accepted (its peer gave up
/// first), so accepting the next one can be tried at once. Every other error (EMFILE, ENFILE,
/// ENOBUFS, ENOMEM...) says the process or system is out of a resource: retrying at once
/// would spin a core and flood the log, so it backs off.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Resolves once the server is asked to stop (or its handle is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender is dropped, which also means stop.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The next connection, or `None` once the server is asked to stop. After a resource error it
/// waits [`ACCEPT_BACKOFF_FIRST`], doubling on each consecutive error up to
/// [`ACCEPT_BACKOFF_MAX`] (as hyper's and tokio's examples do), and logs once per wait; a
/// success resets the backoff. Shutdown ends the wait early.
async fn next_connection<L: Listener>(
    listener: &mut L,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<L::Connection> {
    let mut backoff: Option<Duration> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(shutdown) => return None,
        };
        let error = match accepted {
            Ok(connection) => {
                if backoff.is_some() {
                    tracing::info!("accepting connections again");
                }
                return Some(connection);
            }
            Err(error) => error,
        };
        if is_connection_error(&error) {
            tracing::debug!(%error, "a connection was lost before it was accepted");
            continue;
        }
        let delay = backoff.map_or(ACCEPT_BACKOFF_FIRST, |delay| {
            (delay * 2).min(ACCEPT_BACKOFF_MAX)
        });
        backoff = Some(delay);
        tracing::warn!(%error, retry_in_ms = delay.as_millis(), "accept failed; backing off");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(shutdown) => return None,
        }
    }
}

async fn accept_loop(
    mut listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    while let Some((tcp, peer)) = next_connection(&mut listener, &mut shutdown).await {
        // Without TCP_NODELAY every new HTTP/2-over-TLS connection stalls ~44 ms.
        let _ = tcp.set_nodelay(true);
        connections.spawn(serve_connection(
            tcp,
            peer,
            acceptor.clone(),
            shared.clone(),
            shutdown.clone(),
        ));
        // Reap finished connection tasks so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    // Each connection closes itself within SHUTDOWN_GRACE of the signal; this bound only
    // guards against a bug there.
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::debug!("grace period over; closing the remaining connections");
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// How many requests a connection has in flight and when the last one ended: what its idle
/// timer looks at.
#[derive(Debug)]
struct Activity {
    state: std::sync::Mutex<(usize, Instant)>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            state: std::sync::Mutex::new((0, Instant::now())),
        }
    }

    /// Counts a request as in flight until the returned guard is dropped.
    fn start(self: &Arc<Activity>) -> InFlight {
        self.lock().0 += 1;
        InFlight(self.clone())
    }

    /// When the connection became idle, or `None` while a request is in flight.
    fn idle_since(&self) -> Option<Instant> {
        let (in_flight, last_end) = *self.lock();
        (in_flight == 0).then_some(last_end)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, Instant)> {
        // The lock is never held across a panic point, but a poisoned one is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A request in flight on a connection; dropping it (also when hyper cancels the request)
/// marks the end of the request.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.0 -= 1;
        state.1 = Instant::now();
    }
}

/// One connection from TLS handshake to close: HTTP/1.1 or HTTP/2 (by ALPN or preface), with
/// hyper's header-read timer, an idle timer, and a graceful close on shutdown that turns into a
/// hard close after [`SHUTDOWN_GRACE`] (a client that never reads cannot hold it open).
async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let handshake = tokio::time::timeout(shared.handshake_timeout, acceptor.accept(tcp));
    let tls = tokio::select! {
        handshake = handshake => match handshake {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        () = stopped(&mut shutdown) => return,
    };
    let activity = Arc::new(Activity::new());
    let idle_timeout = shared.idle_timeout;
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.header_read_timeout);
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request| {
            let shared = shared.clone();
            let in_flight = activity.start();
            async move {
                let response = dispatch(&shared, request).await;
                drop(in_flight);
                response
            }
        })
    };
    let connection = builder.serve_connection(TokioIo::new(tls), service);
    let mut connection = std::pin::pin!(connection);
    let mut idle_check = Instant::now() + idle_timeout;
    let mut close_by: Option<Instant> = None;
    loop {
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(error) = ended {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            () = stopped(&mut shutdown), if close_by.is_none() => {
                connection.as_mut().graceful_shutdown();
                close_by = Some(Instant::now() + SHUTDOWN_GRACE);
            }
            () = tokio::time::sleep_until(idle_check), if close_by.is_none() => {
                match activity.idle_since() {
                    Some(since) if since + idle_timeout <= Instant::now() => {
                        tracing::debug!(%peer, "closing an idle connection");
                        connection.as_mut().graceful_shutdown();
                        close_by = Some(Instant::now() + SHUTDOWN_GRACE);
                    }
                    Some(since) => idle_check = since + idle_timeout,
                    None => idle_check = Instant::now() + idle_timeout,
                }
            }
            () = sleep_until_some(close_by) => {
                tracing::debug!(%peer, "connection did not close in time; dropping it");
                return;
            }
        }
    }
}

/// Sleeps until `deadline`, or for ever when there is none.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The error that makes hyper drop a connection (the `close` fault).
#[derive(Debug)]
struct CloseConnection;

impl std::fmt::Display for CloseConnection {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("connection closed by a fault rule")
    }
}

impl std::error::Error for CloseConnection {}

async fn dispatch(
    shared: &Shared,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, CloseConnection> {
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
) -> Result<(Response<Full<Bytes>>, bool), CloseConnection> {
    let sequence = shared.sequence.fetch_add(1, Ordering::Relaxed) + 1;
    let received_at = shared.clock.now();
    let RequestHost { host, origin } = match request_host(&parts) {
        Ok(request_host) => request_host,
        Err(error) => return Ok((host_rejection(error, &shared.served_hosts), false)),
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
                &shared.served_hosts,
            );
            return Ok((response, drained));
        }
        Ok(Err(BodyError::Malformed)) => {
            let response = harness_error(
                StatusCode::BAD_REQUEST,
                "malformed_body",
                "the request body could not be read (malformed chunked encoding or a broken connection)",
                &shared.served_hosts,
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
                &shared.served_hosts,
            );
            return Ok((response, false));
        }
    };
    let mut request = Request::from_parts(parts, body);
    let mount = find_mount(&shared.mounts, &host);

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
    let mut entry = journal_entry(sequence, received_at, service_name, &host, &request);
    let fault = shared.faults.fire(FaultProbe {
        service: service_name,
        host: &host,
        method: request.method().as_str(),
        path: request.uri().path(),
    });
    let response = match fault {
        Some((name, FaultAction::Close)) => {
            tracing::debug!(fault = %name, "closing the connection");
            entry.fault = Some(name);
            shared.journal.push_bounded(entry, shared.journal_capacity);
            return Err(CloseConnection);
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
        (None, None) => unknown_host(&host, &shared.served_hosts),
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
    entry.response_body = JournalBody::capture(content_type(&parts.headers), &body);
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

fn content_type(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
}

/// The journal entry for a request, before its answer is known (status 0 until then).
fn journal_entry(
    sequence: u64,
    received_at: time::OffsetDateTime,
    service: &str,
    host: &str,
    request: &Request<Bytes>,
) -> JournalEntry {
    JournalEntry {
        sequence,
        received_at: received_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        service: service.to_owned(),
        method: request.method().as_str().to_owned(),
        host: host.to_owned(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        request_headers: keep_request_headers(request.headers()),
        request_body: JournalBody::capture(content_type(request.headers()), request.body()),
        status: 0,
        response_headers: Default::default(),
        response_body: JournalBody::Empty,
        fault: None,
    }
}

mod host;

#[cfg(test)]
mod tests;
