//! Accepting connections and serving each: backoff on accept errors, the TLS handshake, then
//! hyper (HTTP/1.1 or HTTP/2) with a header-read timer, an idle timer, a bounded graceful
//! close, and an abrupt close when a `close_connection` fault asks for one. Requests go to
//! [`dispatch`]; nothing here looks inside them.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::proxy::serve_proxy_connection;
use super::{Abort, SHUTDOWN_GRACE, Shared, dispatch};

/// The first wait after an accept error that is not about one connection (EMFILE...).
const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(10);
/// The longest wait between accept attempts while errors go on.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Where connections come from: the TCP listener, or a scripted source in tests (so that the
/// backoff on accept errors is testable without running out of file descriptors).
pub(super) trait Listener {
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
pub(super) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender is dropped, which also means stop.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The next connection, or `None` once the server is asked to stop. After a resource error it
/// waits [`ACCEPT_BACKOFF_FIRST`], doubling on each consecutive error up to
/// [`ACCEPT_BACKOFF_MAX`] (as hyper's and tokio's examples do), and logs once per wait; a
/// success resets the backoff. Shutdown ends the wait early.
pub(super) async fn next_connection<L: Listener>(
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

/// What a listener's connections speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ListenerKind {
    /// TLS, then HTTP/1.1 or HTTP/2.
    Https,
    /// A plain-HTTP CONNECT request first, then a tunnel to the same handling as `Https`.
    Proxy,
}

/// Accepts connections and serves each in its own task until shutdown, then gives them
/// [`SHUTDOWN_GRACE`] to finish.
pub(super) async fn accept_loop(
    mut listener: TcpListener,
    kind: ListenerKind,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    while let Some((tcp, peer)) = next_connection(&mut listener, &mut shutdown).await {
        // Without TCP_NODELAY every new HTTP/2-over-TLS connection stalls ~44 ms.
        let _ = tcp.set_nodelay(true);
        let (acceptor, shared, shutdown) = (acceptor.clone(), shared.clone(), shutdown.clone());
        match kind {
            ListenerKind::Https => {
                connections.spawn(serve_connection(tcp, peer, acceptor, shared, shutdown));
            }
            ListenerKind::Proxy => {
                connections.spawn(serve_proxy_connection(
                    tcp, peer, acceptor, shared, shutdown,
                ));
            }
        }
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
pub(super) async fn serve_connection<S>(
    tcp: S,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
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
    // A `close_connection` fault asks the loop below to drop the connection through this;
    // the loop holds the only receiver, so the sender learns when the connection is gone.
    let (abort, mut aborted) = watch::channel(false);
    let abort = Arc::new(abort);
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
            let abort = abort.clone();
            let in_flight = activity.start();
            async move {
                let response = dispatch(&shared, request).await;
                if matches!(response, Err(Abort::CloseConnection)) {
                    let _ = abort.send(true);
                    // Returning the error now would let hyper reset the stream before the
                    // connection is dropped (over HTTP/2 the request runs in its own task);
                    // wait for the drop instead, bounded in case the connection never ends.
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, abort.closed()).await;
                }
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
            Ok(_) = aborted.wait_for(|abort| *abort) => {
                tracing::debug!(%peer, "closing the connection for a fault rule");
                return;
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

#[cfg(test)]
mod tests;
