//! The optional CONNECT proxy listener (plain HTTP): `CONNECT host:443` to a served host gets
//! `200 Connection Established` and the tunnel goes to the same TLS-terminating connection
//! handling as the HTTPS listener; anything else is refused. It never opens an outbound
//! connection, so nothing a client sends through it leaves the machine.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::Shared;
use super::connection::{serve_connection, stopped};
use crate::echo;

/// The largest CONNECT request head (request line and headers) read; a longer one gets 431.
const MAX_HEAD: u64 = 8 * 1024;

/// What the proxy makes of a request head.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Tunnel to the HTTPS connection handling.
    Tunnel,
    /// Answer with this status and text body, then close.
    Refuse(u16, &'static str, String),
}

/// One proxy connection: read the head (bounded in size and by the header-read timeout),
/// then tunnel or refuse.
pub(super) async fn serve_proxy_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut reader = BufReader::new(tcp);
    let head = tokio::time::timeout(shared.header_read_timeout, read_head(&mut reader));
    let head = tokio::select! {
        head = head => match head {
            Ok(head) => head,
            Err(_) => {
                tracing::debug!(%peer, "proxy request head timed out");
                return;
            }
        },
        () = stopped(&mut shutdown) => return,
    };
    let verdict = match head {
        // The allow-list as served now (the mounts may have been replaced since start).
        Ok(head) => judge(&head, &shared.mounts.routes().hosts),
        Err(HeadError::TooLarge) => Verdict::Refuse(
            431,
            "Request Header Fields Too Large",
            format!("d365-harness proxy: the request head is over {MAX_HEAD} bytes\n"),
        ),
        Err(HeadError::Io) => return,
    };
    match verdict {
        Verdict::Tunnel => {
            let established = b"HTTP/1.1 200 Connection Established\r\n\r\n";
            if reader.get_mut().write_all(established).await.is_err() {
                return;
            }
            // The reader keeps any bytes the client sent after the head (an early ClientHello).
            serve_connection(reader, peer, acceptor, shared, shutdown).await;
        }
        Verdict::Refuse(status, reason, body) => {
            let allow = if status == 405 {
                "Allow: CONNECT\r\n"
            } else {
                ""
            };
            let answer = format!(
                "HTTP/1.1 {status} {reason}\r\n{allow}Content-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let tcp = reader.get_mut();
            let _ = tcp.write_all(answer.as_bytes()).await;
            let _ = tcp.shutdown().await;
        }
    }
}

/// Why no request head was read.
#[derive(Debug)]
enum HeadError {
    /// It is longer than [`MAX_HEAD`].
    TooLarge,
    /// The connection broke or ended first.
    Io,
}

/// Reads up to and including the empty line that ends a request head.
async fn read_head(reader: &mut BufReader<TcpStream>) -> Result<String, HeadError> {
    let mut head = Vec::new();
    loop {
        let budget = MAX_HEAD.saturating_sub(head.len() as u64);
        if budget == 0 {
            return Err(HeadError::TooLarge);
        }
        let start = head.len();
        let read = (&mut *reader)
            .take(budget)
            .read_until(b'\n', &mut head)
            .await
            .map_err(|_| HeadError::Io)?;
        if read == 0 {
            return Err(HeadError::Io);
        }
        if !head.ends_with(b"\n") {
            // The budget ran out mid-line (or the peer closed mid-line).
            return Err(if head.len() as u64 >= MAX_HEAD {
                HeadError::TooLarge
            } else {
                HeadError::Io
            });
        }
        let line = &head[start..];
        if line == b"\r\n" || line == b"\n" {
            return Ok(String::from_utf8_lossy(&head).into_owned());
        }
    }
}

/// Decides what to do with a request head: only `CONNECT <served host>:443` is tunnelled.
pub(super) fn judge(head: &str, hosts: &[crate::HostPattern]) -> Verdict {
    let served = hosts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Verdict::Refuse(
            400,
            "Bad Request",
            format!(
                "d365-harness proxy: `{}` is not an HTTP/1.1 request line; this is a \
                 CONNECT-only proxy for HTTPS to {served} (port 443)\n",
                echo(request_line)
            ),
        );
    };
    if !version.starts_with("HTTP/1.") {
        return Verdict::Refuse(
            400,
            "Bad Request",
            format!("d365-harness proxy: `{}` is not HTTP/1.x\n", echo(version)),
        );
    }
    if method != "CONNECT" {
        return Verdict::Refuse(
            405,
            "Method Not Allowed",
            format!(
                "d365-harness proxy: this is a CONNECT-only proxy (HTTPS_PROXY) for {served} \
                 (port 443); `{}` is not served here. Send requests to https://<host>/ through \
                 it instead.\n",
                echo(method)
            ),
        );
    }
    // The port must be named, and be 443; the host is checked and normalised (case, trailing
    // dot) as a request's `Host` is.
    let served_host = target
        .rsplit_once(':')
        .filter(|(_, port)| *port == "443")
        .and_then(|_| super::host::parse_authority(target).ok())
        .filter(|authority| hosts.iter().any(|pattern| pattern.matches(&authority.host)));
    if served_host.is_some() {
        return Verdict::Tunnel;
    }
    Verdict::Refuse(
        403,
        "Forbidden",
        format!(
            "d365-harness proxy: `{}` is not served here; it tunnels only to port 443 of: \
             {served}. Nothing is forwarded to the network.\n",
            echo(target)
        ),
    )
}
