//! The listener end to end: real TLS, real reqwest, host routing, faults, journal, shutdown.

use std::collections::BTreeMap;

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use super::*;
use crate::{BoxFuture, Service};

struct Echo;

impl Service for Echo {
    fn name(&self) -> &str {
        "echo"
    }

    fn call(&self, request: Request<Bytes>) -> BoxFuture<'_, Response<Full<Bytes>>> {
        Box::pin(async move {
            let context = request
                .extensions()
                .get::<RequestContext>()
                .cloned()
                .expect("the server always sets a context");
            let body = serde_json::json!({
                "host": context.host,
                "origin": context.origin,
                "path": request.uri().path(),
                "sequence": context.sequence,
            });
            json_response(StatusCode::OK, body.to_string())
        })
    }
}

struct Panics;

impl Service for Panics {
    fn name(&self) -> &str {
        "panics"
    }

    fn call(&self, _request: Request<Bytes>) -> BoxFuture<'_, Response<Full<Bytes>>> {
        Box::pin(async { panic!("handler bug") })
    }
}

async fn start(faults: Vec<crate::FaultRule>) -> (ServerHandle, reqwest::Client) {
    start_with(faults, |_| {}).await
}

/// Like [`start`], with the configuration adjusted by `configure` (short timeouts...).
async fn start_with(
    faults: Vec<crate::FaultRule>,
    configure: impl FnOnce(&mut ServerConfig),
) -> (ServerHandle, reqwest::Client) {
    let mounts = vec![
        Mount {
            hosts: vec![HostPattern::parse("login.example.test").expect("pattern")],
            service: Arc::new(Echo),
        },
        Mount {
            hosts: vec![HostPattern::parse("*.panic.example.test").expect("pattern")],
            service: Arc::new(Panics),
        },
    ];
    let mut config = ServerConfig::new(mounts);
    config.faults = Faults::new(faults);
    configure(&mut config);
    let server = spawn(config).await.expect("server starts");
    let client = client_for(
        &server,
        &[
            "login.example.test",
            "x.panic.example.test",
            "other.example.test",
        ],
    );
    (server, client)
}

fn client_for(server: &ServerHandle, hosts: &[&str]) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("ca");
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]).no_proxy();
    for host in hosts {
        builder = builder.resolve(host, server.addr());
    }
    builder.build().expect("client")
}

#[tokio::test]
async fn routes_by_host_and_reports_the_origin_without_the_hidden_port() {
    let (server, client) = start(vec![]).await;
    let body: serde_json::Value = client
        .get("https://login.example.test/tenant/path")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(body["host"], "login.example.test");
    assert_eq!(body["origin"], "https://login.example.test");
    assert_eq!(body["path"], "/tenant/path");
    assert_eq!(body["sequence"], 1);

    let by_port = client
        .get(format!("{}/x", server.local_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(by_port.status(), StatusCode::MISDIRECTED_REQUEST);
    let body: serde_json::Value = by_port.json().await.expect("json");
    assert_eq!(body["error"], "unknown_host");
    assert_eq!(
        body["served_hosts"],
        serde_json::json!(["login.example.test", "*.panic.example.test"])
    );
}

#[tokio::test]
async fn health_answers_on_every_served_host_and_is_not_journaled() {
    let (server, client) = start(vec![]).await;
    for host in ["login.example.test", "x.panic.example.test"] {
        let response = client
            .get(format!("https://{host}{HEALTH_PATH}"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
    let unknown = client
        .get(format!("{}{HEALTH_PATH}", server.local_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(unknown.status(), StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(
        server.journal().len(),
        1,
        "only the unknown host is journaled"
    );
}

#[tokio::test]
async fn a_panicking_handler_costs_one_500_not_the_server() {
    let (_server, client) = start(vec![]).await;
    let response = client
        .get("https://x.panic.example.test/")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let ok = client
        .get("https://login.example.test/")
        .send()
        .await
        .expect("request");
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn fault_rules_respond_close_and_are_journaled() {
    let throttle = crate::FaultRule {
        name: Some("throttle".into()),
        service: Some("echo".into()),
        host: None,
        method: Some("GET".into()),
        path: Some("/throttled*".into()),
        nth: None,
        from: None,
        times: Some(1),
        action: FaultAction::Respond {
            status: 429,
            headers: BTreeMap::from([("Retry-After".into(), "7".into())]),
            body: "Too Many Requests".into(),
        },
    };
    let close = crate::FaultRule {
        name: Some("drop".into()),
        path: Some("/drop".into()),
        method: None,
        times: None,
        action: FaultAction::Close,
        ..throttle.clone()
    };
    let (server, client) = start(vec![throttle, close]).await;
    let throttled = client
        .get("https://login.example.test/throttled")
        .send()
        .await
        .expect("request");
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.headers()["retry-after"], "7");
    let second = client
        .get("https://login.example.test/throttled")
        .send()
        .await
        .expect("request");
    assert_eq!(second.status(), StatusCode::OK, "times = 1");

    let dropped = client.get("https://login.example.test/drop").send().await;
    assert!(dropped.is_err(), "the connection is dropped: {dropped:?}");

    let entries = server.journal().entries();
    let summary: Vec<(u16, Option<&str>)> = entries
        .iter()
        .map(|entry| (entry.status, entry.fault.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![(429, Some("throttle")), (200, None), (0, Some("drop"))]
    );
}

#[tokio::test]
async fn journal_subscribers_see_each_answered_request_and_replaced_faults_apply_next() {
    let (server, client) = start(vec![]).await;
    let mut entries = server.journal().subscribe();
    let ok = client
        .get("https://login.example.test/first")
        .send()
        .await
        .expect("request");
    assert_eq!(ok.status(), StatusCode::OK);
    let first = entries.recv().await.expect("an entry");
    assert_eq!((first.path.as_str(), first.status), ("/first", 200));

    server.faults().replace([crate::FaultRule {
        name: Some("from the second".into()),
        from: Some(2),
        ..crate::FaultRule::new(FaultAction::Respond {
            status: 503,
            headers: BTreeMap::new(),
            body: String::new(),
        })
    }]);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = client
            .get("https://login.example.test/again")
            .send()
            .await
            .expect("request");
        statuses.push(response.status().as_u16());
    }
    // The counts start with the replace: the request before it is not counted.
    assert_eq!(statuses, [200, 503, 503]);
    let announced: Vec<(u16, Option<String>)> = (0..3)
        .map(|_| entries.try_recv().expect("announced"))
        .map(|entry| (entry.status, entry.fault))
        .collect();
    assert_eq!(
        announced,
        [
            (200, None),
            (503, Some("from the second".into())),
            (503, Some("from the second".into()))
        ]
    );
    assert_eq!(server.journal().last_sequence(), 4);
}

#[tokio::test(start_paused = true)]
async fn delay_waits_on_the_runtime_timer() {
    let delay = crate::FaultRule {
        name: None,
        service: None,
        host: None,
        method: None,
        path: None,
        nth: Some(1),
        from: None,
        times: None,
        action: FaultAction::Delay { millis: 30_000 },
    };
    let (_server, client) = start(vec![delay]).await;
    let sent = tokio::time::Instant::now();
    let request = client.get("https://login.example.test/slow").send();
    let mut request = std::pin::pin!(request);
    // With the clock paused, Tokio jumps to the next timer as soon as everything is idle: the
    // answer must still be pending when the virtual clock is just short of the delay...
    let early = tokio::time::timeout(Duration::from_millis(29_900), request.as_mut()).await;
    assert!(early.is_err(), "answered before the delay: {early:?}");
    // ...and arrive once it has passed.
    let response = request.await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(sent.elapsed() >= Duration::from_millis(30_000));
}

fn fault_on(path: &str, action: FaultAction) -> crate::FaultRule {
    crate::FaultRule {
        name: Some(path.trim_start_matches('/').to_owned()),
        service: None,
        host: None,
        method: None,
        path: Some(path.to_owned()),
        nth: None,
        from: None,
        times: Some(1),
        action,
    }
}

/// A reqwest client builder that trusts `server`'s CA and reaches `login.example.test` on it,
/// with no proxy from the environment.
fn test_client(server: &ServerHandle) -> reqwest::ClientBuilder {
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("ca");
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve("login.example.test", server.addr())
        .no_proxy()
}

/// An HTTP/2 connection to `server` through hyper's client: a sender for requests and the
/// task driving the connection, which ends when the connection does.
async fn h2_connection<B>(
    server: &ServerHandle,
) -> (
    hyper::client::conn::http2::SendRequest<B>,
    tokio::task::JoinHandle<hyper::Result<()>>,
)
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = raw_tls(server, b"h2").await;
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("HTTP/2 handshake");
    (sender, tokio::spawn(connection))
}

fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(format!("https://login.example.test{path}"))
        .body(Full::new(Bytes::new()))
        .expect("request")
}

#[tokio::test]
async fn reset_stream_over_http2_fails_one_request_and_the_connection_serves_on() {
    let (server, _) = start(vec![
        fault_on("/slow", FaultAction::Delay { millis: 200 }),
        fault_on("/reset", FaultAction::ResetStream),
    ])
    .await;
    let (sender, connection) = h2_connection(&server).await;
    // A request in flight on the same connection while the other stream is reset.
    let slow = tokio::spawn(sender.clone().send_request(get("/slow")));
    let reset = sender.clone().send_request(get("/reset")).await;
    let error = reset.expect_err("the stream is reset");
    assert!(
        format!("{error:?}").contains("INTERNAL_ERROR"),
        "RST_STREAM(INTERNAL_ERROR): {error:?}"
    );
    let slow = tokio::time::timeout(PATIENCE, slow)
        .await
        .expect("the concurrent request is answered")
        .expect("no panic")
        .expect("the concurrent request succeeds");
    assert_eq!(slow.status(), StatusCode::OK);
    let later = sender.clone().send_request(get("/later")).await;
    assert_eq!(later.expect("a later request").status(), StatusCode::OK);
    assert!(!connection.is_finished(), "the connection is still open");
    let faults: Vec<Option<String>> = server
        .journal()
        .entries()
        .into_iter()
        .map(|entry| entry.fault)
        .collect();
    assert!(faults.contains(&Some("reset".to_owned())), "{faults:?}");
}

#[tokio::test]
async fn close_connection_over_http2_ends_the_whole_connection() {
    let (server, _) = start(vec![
        fault_on("/slow", FaultAction::Delay { millis: 30_000 }),
        fault_on("/close", FaultAction::CloseConnection),
    ])
    .await;
    let (sender, connection) = h2_connection(&server).await;
    let slow = tokio::spawn(sender.clone().send_request(get("/slow")));
    let closed = sender.clone().send_request(get("/close")).await;
    assert!(closed.is_err(), "no answer: {closed:?}");
    // The other request in flight fails with it, long before its 30 s delay is over.
    let slow = tokio::time::timeout(PATIENCE, slow)
        .await
        .expect("the concurrent request ends")
        .expect("no panic");
    assert!(slow.is_err(), "the concurrent request fails too: {slow:?}");
    tokio::time::timeout(PATIENCE, connection)
        .await
        .expect("the connection ends")
        .expect("no panic")
        .expect_err("an abrupt close, not a GOAWAY");
    let next = sender.clone().send_request(get("/next")).await;
    assert!(next.is_err(), "the connection is gone: {next:?}");
    // A new connection is served as usual.
    let (sender, _connection) = h2_connection(&server).await;
    let again = sender.clone().send_request(get("/again")).await;
    assert_eq!(again.expect("a new connection").status(), StatusCode::OK);
}

#[tokio::test]
async fn over_http1_every_closing_fault_ends_the_connection() {
    for action in [
        FaultAction::CloseConnection,
        FaultAction::ResetStream,
        FaultAction::Close,
    ] {
        let (server, _) = start(vec![fault_on("/fault", action.clone())]).await;
        let stream = raw_tls(&server, b"http/1.1").await;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP/1.1 handshake");
        let connection = tokio::spawn(connection);
        let ok = sender.send_request(get("/first")).await;
        assert_eq!(ok.expect("answer").status(), StatusCode::OK, "{action:?}");
        let faulted = sender.send_request(get("/fault")).await;
        assert!(faulted.is_err(), "{action:?}: no answer: {faulted:?}");
        let ended = tokio::time::timeout(PATIENCE, connection).await;
        assert!(ended.is_ok(), "{action:?}: the connection ends");
        assert!(sender.is_closed(), "{action:?}");
    }
}

#[tokio::test]
async fn reqwest_over_http2_recovers_from_close_connection_with_a_new_connection() {
    let (server, _) = start(vec![fault_on("/close", FaultAction::CloseConnection)]).await;
    let client = test_client(&server)
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let first = client.get("https://login.example.test/first").send().await;
    assert_eq!(first.expect("answer").version(), http::Version::HTTP_2);
    let closed = client.get("https://login.example.test/close").send().await;
    let error = closed.expect_err("no answer");
    // The connection ended: not a stream reset, which reqwest would report with its reason.
    assert!(
        !format!("{error:?}").contains("INTERNAL_ERROR"),
        "{error:?}"
    );
    let next = client.get("https://login.example.test/next").send().await;
    assert_eq!(next.expect("a new connection").status(), StatusCode::OK);
}

#[tokio::test]
async fn journal_keeps_selected_headers_and_redacts_secrets() {
    let (server, client) = start(vec![]).await;
    client
        .post("https://login.example.test/t/oauth2/v2.0/token")
        .header("client-request-id", "abc")
        .header("user-agent", "dropped")
        .form(&[("client_id", "id"), ("client_secret", "very-secret-value")])
        .send()
        .await
        .expect("request");
    let entry = &server.journal().entries()[0];
    assert_eq!(
        entry
            .request_headers
            .get("client-request-id")
            .map(String::as_str),
        Some("abc")
    );
    assert!(!entry.request_headers.contains_key("user-agent"));
    let text = serde_json::to_string(entry).expect("serializable");
    assert!(!text.contains("very-secret-value"), "{text}");
}

#[tokio::test]
async fn shutdown_closes_already_open_connections() {
    let (server, client) = start(vec![]).await;
    let first = client
        .get("https://login.example.test/")
        .send()
        .await
        .expect("request");
    assert_eq!(first.status(), StatusCode::OK);
    server.shutdown().await;
    let after = client.get("https://login.example.test/").send().await;
    assert!(
        after.is_err(),
        "pooled connection must be closed: {after:?}"
    );
}

#[tokio::test]
async fn http1_clients_route_by_the_host_header() {
    let (server, _) = start(vec![]).await;
    let client = test_client(&server).http1_only().build().expect("client");
    let body: serde_json::Value = client
        .get(format!(
            "https://login.example.test:{}/h1",
            server.addr().port()
        ))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(body["host"], "login.example.test");
    assert_eq!(
        body["origin"],
        format!("https://login.example.test:{}", server.addr().port())
    );
}

/// A TLS connection to `server` for `login.example.test`, offering only `alpn`, so a test can
/// write bytes no HTTP client would send (partial headers, bad chunks, a stalled body).
async fn raw_tls(server: &ServerHandle, alpn: &[u8]) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(server.pki().ca_der().clone())
        .expect("the CA is a valid certificate");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("default versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(server.addr()).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("login.example.test").expect("name");
    connector.connect(name, tcp).await.expect("TLS handshake")
}

/// How long the tests below wait at most for the server to act on a short timeout; far above
/// the timeouts they configure, so a loaded machine does not make them flaky.
const PATIENCE: Duration = Duration::from_secs(2);

/// Reads until the server closes the connection; returns what it sent and when it closed.
/// Fails the test if it stays open for [`PATIENCE`].
async fn read_until_closed(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
) -> (String, tokio::time::Instant) {
    use tokio::io::AsyncReadExt as _;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buffer).await {
                // A close without close_notify is still a close.
                Ok(0) | Err(_) => break,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
    };
    let closed = tokio::time::timeout(PATIENCE, read_all).await;
    let text = String::from_utf8_lossy(&received).into_owned();
    assert!(closed.is_ok(), "the connection is still open; got {text:?}");
    (text, tokio::time::Instant::now())
}

/// Reads one HTTP/1.1 answer (head and a Content-Length body) and returns it whole.
async fn read_http1_answer(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = async {
        loop {
            let text = String::from_utf8_lossy(&received).into_owned();
            if let Some(head_end) = text.find("\r\n\r\n") {
                let length = text[..head_end]
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if received.len() >= head_end + 4 + length {
                    return text;
                }
            }
            let read = stream.read(&mut buffer).await.expect("read");
            assert_ne!(read, 0, "closed before a whole answer: {text:?}");
            received.extend_from_slice(&buffer[..read]);
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("an answer arrives")
}

#[tokio::test]
async fn partial_headers_are_dropped_after_the_header_read_timeout() {
    let timeout = Duration::from_millis(300);
    let (server, _) = start_with(vec![], |config| config.header_read_timeout = timeout).await;
    // Hyper's timer starts when the connection is up, so measure from before that.
    let sent = tokio::time::Instant::now();
    let mut stream = raw_tls(&server, b"http/1.1").await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: login.exa")
        .await
        .expect("write");
    let (answer, closed) = read_until_closed(&mut stream).await;
    assert!(closed - sent >= timeout, "closed early: {answer:?}");
    assert!(!answer.contains("200 OK"), "{answer:?}");
}

#[tokio::test]
async fn idle_http1_keep_alive_connections_are_closed() {
    let idle = Duration::from_millis(300);
    let (server, _) = start_with(vec![], |config| {
        // Longer than the test waits, so only the idle timer can close the connection.
        config.header_read_timeout = Duration::from_secs(30);
        config.idle_timeout = idle;
    })
    .await;
    let mut stream = raw_tls(&server, b"http/1.1").await;
    // The idle timer starts when the request ends, which is after this.
    let sent = tokio::time::Instant::now();
    stream
        .write_all(b"GET /one HTTP/1.1\r\nHost: login.example.test\r\n\r\n")
        .await
        .expect("write");
    let answer = read_http1_answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    let (rest, closed) = read_until_closed(&mut stream).await;
    assert_eq!(rest, "");
    assert!(closed - sent >= idle);
}

#[tokio::test]
async fn idle_http2_connections_are_closed() {
    let idle = Duration::from_millis(300);
    let (server, _) = start_with(vec![], |config| config.idle_timeout = idle).await;
    let (mut sender, connection) = h2_connection(&server).await;
    let request = Request::get("https://login.example.test/one")
        .body(Full::new(Bytes::new()))
        .expect("request");
    // The idle timer starts when the request ends, which is after this.
    let sent = tokio::time::Instant::now();
    let response = sender.send_request(request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    drop(response);
    let ended = tokio::time::timeout(PATIENCE, connection)
        .await
        .expect("the server closes the idle connection")
        .expect("no panic");
    assert!(ended.is_ok(), "a graceful close (GOAWAY): {ended:?}");
    assert!(sent.elapsed() >= idle);
}

#[tokio::test]
async fn a_body_slower_than_the_budget_gets_408() {
    let timeout = Duration::from_millis(300);
    let (server, _) = start_with(vec![], |config| config.body_read_timeout = timeout).await;
    let mut stream = raw_tls(&server, b"http/1.1").await;
    let sent = tokio::time::Instant::now();
    stream
        .write_all(
            b"POST /slow HTTP/1.1\r\nHost: login.example.test\r\nContent-Length: 100\r\n\r\nonly ten b",
        )
        .await
        .expect("write");
    let (answer, closed) = read_until_closed(&mut stream).await;
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a 408 then a close: {answer:?}"
    );
    assert!(
        answer.contains("\"error\":\"request_timeout\""),
        "{answer:?}"
    );
    assert!(closed - sent >= timeout);
}

#[tokio::test]
async fn a_malformed_chunked_body_gets_400_not_413() {
    let (server, _) = start(vec![]).await;
    let mut stream = raw_tls(&server, b"http/1.1").await;
    stream
        .write_all(
            b"POST /chunks HTTP/1.1\r\nHost: login.example.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        )
        .await
        .expect("write");
    let (answer, _) = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
    assert!(
        answer.contains("\"error\":\"malformed_body\""),
        "{answer:?}"
    );
}

#[tokio::test]
async fn an_oversized_chunked_body_gets_413() {
    let (server, _) = start(vec![]).await;
    let mut stream = raw_tls(&server, b"http/1.1").await;
    stream
        .write_all(
            b"POST /big HTTP/1.1\r\nHost: login.example.test\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .await
        .expect("write");
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..(MAX_REQUEST_BODY / chunk.len() + 1) {
        stream.write_all(b"10000\r\n").await.expect("write");
        stream.write_all(&chunk).await.expect("write");
        stream.write_all(b"\r\n").await.expect("write");
    }
    stream.write_all(b"0\r\n\r\n").await.expect("write");
    let answer = read_http1_answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    assert!(
        answer.contains("\"error\":\"request_too_large\""),
        "{answer:?}"
    );
}

#[tokio::test]
async fn an_oversized_http2_body_gets_the_413_answer_not_a_reset() {
    let (server, _) = start(vec![]).await;
    let client = test_client(&server)
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let response = client
        .post("https://login.example.test/big")
        .body(vec![b'x'; 2 * MAX_REQUEST_BODY])
        .send()
        .await
        .expect("the client reads the answer");
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "request_too_large");
}

/// A request body the test feeds chunk by chunk; a failed send means the client stopped
/// uploading (the server reset the stream).
struct FedBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for FedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(context)
            .map(|chunk| chunk.map(|chunk| Ok(hyper::body::Frame::data(chunk))))
    }
}

#[tokio::test]
async fn an_oversized_http2_upload_ends_normally_before_the_413() {
    let (server, _) = start(vec![]).await;
    let (mut sender, _connection) = h2_connection(&server).await;
    let (feed, chunks) = tokio::sync::mpsc::channel(1);
    // No Content-Length: the server only learns the size by reading.
    let request = Request::post("https://login.example.test/big")
        .body(FedBody(chunks))
        .expect("request");
    let response = tokio::spawn(sender.send_request(request));
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    for sent in 0..(2 * MAX_REQUEST_BODY / chunk.len()) {
        let fed = tokio::time::timeout(PATIENCE, feed.send(chunk.clone())).await;
        assert!(
            matches!(fed, Ok(Ok(()))),
            "the upload was cut after {sent} chunks: {fed:?}"
        );
    }
    drop(feed);
    let response = tokio::time::timeout(PATIENCE, response)
        .await
        .expect("an answer")
        .expect("no panic")
        .expect("the answer, not a reset");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["error"], "request_too_large");
}

/// Sends `request` as is over a fresh HTTP/1.1 connection; returns the status and JSON body.
async fn raw_http1(server: &ServerHandle, request: &str) -> (u16, serde_json::Value) {
    let mut stream = raw_tls(server, b"http/1.1").await;
    stream.write_all(request.as_bytes()).await.expect("write");
    let answer = read_http1_answer(&mut stream).await;
    let status = answer
        .get(9..12)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {answer:?}"));
    let (_, body) = answer.split_once("\r\n\r\n").expect("a head");
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("json: {answer:?}"));
    (status, body)
}

#[tokio::test]
async fn a_trailing_dot_host_is_the_same_host() {
    let (server, _) = start(vec![]).await;
    let (status, body) = raw_http1(
        &server,
        "GET /dot HTTP/1.1\r\nHost: Login.Example.Test.\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["host"], "login.example.test");
    assert_eq!(body["origin"], "https://login.example.test");
}

#[tokio::test]
async fn duplicate_host_headers_get_400() {
    let (server, _) = start(vec![]).await;
    let (status, body) = raw_http1(
        &server,
        "GET / HTTP/1.1\r\nHost: login.example.test\r\nHost: other.example.test\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "duplicate_host");
    assert_eq!(
        body["served_hosts"],
        serde_json::json!(["login.example.test", "*.panic.example.test"])
    );
    assert!(server.journal().is_empty());
}

#[tokio::test]
async fn an_invalid_host_gets_400_and_is_not_echoed() {
    let (server, _) = start(vec![]).await;
    let (status, body) = raw_http1(
        &server,
        "GET / HTTP/1.1\r\nHost: login.example.test:https\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_host");
    assert!(!body["message"].to_string().contains("https"), "{body}");
}

#[tokio::test]
async fn the_421_quotes_a_long_host_bounded() {
    let (server, _) = start(vec![]).await;
    // 204 characters: a valid host name, longer than an echo.
    let long_host = format!("{}.example.test", vec!["x".repeat(63); 3].join("."));
    let (status, body) = raw_http1(
        &server,
        &format!("GET / HTTP/1.1\r\nHost: {long_host}\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 421, "{body}");
    assert_eq!(body["error"], "unknown_host");
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains(&*echo(&long_host)), "{message}");
    assert!(!message.contains(&long_host), "{message}");
}

#[tokio::test]
async fn an_http2_host_header_that_contradicts_the_authority_gets_400() {
    let (server, _) = start(vec![]).await;
    let (mut sender, _connection) = h2_connection(&server).await;
    let mut statuses = Vec::new();
    for host in ["other.example.test", "LOGIN.example.test.:443"] {
        let request = Request::get("https://login.example.test/h2")
            .header(header::HOST, host)
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = sender.send_request(request).await.expect("an answer");
        statuses.push(response.status().as_u16());
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        if statuses.last() == Some(&400) {
            assert_eq!(body["error"], "conflicting_host");
        }
    }
    assert_eq!(statuses, [400, 200], "a Host that agrees is fine");
}

#[tokio::test]
async fn a_connection_that_never_sends_a_request_is_closed_when_idle() {
    let idle = Duration::from_millis(300);
    let (server, _) = start_with(vec![], |config| config.idle_timeout = idle).await;
    // The idle timer starts when the connection is up, so measure from before that.
    let connecting = tokio::time::Instant::now();
    let mut stream = raw_tls(&server, b"h2").await;
    // Not even the HTTP/2 preface: hyper is still waiting to learn the protocol.
    let (received, closed) = read_until_closed(&mut stream).await;
    assert_eq!(received, "");
    assert!(closed - connecting >= idle);
}

#[tokio::test]
async fn a_stalled_http2_body_gets_408() {
    let timeout = Duration::from_millis(300);
    let (server, _) = start_with(vec![], |config| config.body_read_timeout = timeout).await;
    let (mut sender, _connection) = h2_connection(&server).await;
    let (feed, chunks) = tokio::sync::mpsc::channel(1);
    let request = Request::post("https://login.example.test/slow")
        .body(FedBody(chunks))
        .expect("request");
    let sent = tokio::time::Instant::now();
    let response = tokio::spawn(sender.send_request(request));
    feed.send(Bytes::from_static(b"only a start"))
        .await
        .expect("the server takes the first chunk");
    let response = tokio::time::timeout(PATIENCE, response)
        .await
        .expect("an answer while the body is still open")
        .expect("no panic")
        .expect("the answer, not a reset");
    assert!(sent.elapsed() >= timeout);
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["error"], "request_timeout");
    drop(feed);
}

/// A client that trusts `server`'s CA and sends every HTTPS request through `proxy` (no
/// resolve override: the proxy finds the host).
fn proxied_client(server: &ServerHandle, proxy: SocketAddr) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("ca");
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .proxy(reqwest::Proxy::https(format!("http://{proxy}")).expect("proxy url"))
        .build()
        .expect("client")
}

/// A server with the test mounts and a CONNECT proxy listener on a free port.
async fn start_with_proxy() -> (ServerHandle, SocketAddr) {
    let (server, _) = start_with(vec![], |config| {
        config.proxy_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    })
    .await;
    let proxy = server.proxy_addr().expect("the proxy listens");
    (server, proxy)
}

/// Sends `head` to the proxy and reads its whole answer (the proxy closes after a refusal).
async fn proxy_answer(proxy: SocketAddr, head: &str) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut tcp = TcpStream::connect(proxy).await.expect("connect");
    tcp.write_all(head.as_bytes()).await.expect("write");
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.expect("read");
    answer
}

#[tokio::test]
async fn the_proxy_tunnels_https_to_a_served_host_without_any_resolve_override() {
    let (server, proxy) = start_with_proxy().await;
    let client = proxied_client(&server, proxy);
    let body: serde_json::Value = client
        .get("https://login.example.test/tenant/path")
        .send()
        .await
        .expect("request through the proxy")
        .json()
        .await
        .expect("json");
    assert_eq!(body["host"], "login.example.test");
    assert_eq!(body["origin"], "https://login.example.test");
    assert_eq!(body["path"], "/tenant/path");
    let health = client
        .get(format!("https://x.panic.example.test{HEALTH_PATH}"))
        .send()
        .await
        .expect("health through the proxy");
    assert_eq!(health.status(), StatusCode::OK);
    // The tunnelled request is journalled like any other (the health route never is).
    assert_eq!(server.journal().len(), 1);
}

#[tokio::test]
async fn the_proxy_refuses_a_connect_to_an_unserved_host_or_port_naming_the_served_hosts() {
    let (_server, proxy) = start_with_proxy().await;
    for target in [
        "example.com:443",
        "login.example.test:80",
        "panic.example.test:443",
    ] {
        let answer = proxy_answer(
            proxy,
            &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");
        let body = answer.split_once("\r\n\r\n").expect("a body").1;
        assert_eq!(
            body,
            format!(
                "d365-harness proxy: `{target}` is not served here; it tunnels only to port \
                 443 of: login.example.test, *.panic.example.test. Nothing is forwarded to the \
                 network.\n"
            )
        );
    }
}

#[tokio::test]
async fn the_proxy_answers_a_plain_request_that_it_is_connect_only() {
    let (_server, proxy) = start_with_proxy().await;
    let answer = proxy_answer(
        proxy,
        "GET http://login.example.test/ HTTP/1.1\r\nHost: login.example.test\r\n\r\n",
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nAllow: CONNECT\r\n"), "{answer}");
    assert!(answer.contains("this is a CONNECT-only proxy"), "{answer}");

    let garbage = proxy_answer(proxy, "hello\r\n\r\n").await;
    assert!(
        garbage.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{garbage}"
    );
    assert!(garbage.contains("CONNECT-only proxy"), "{garbage}");
}

#[tokio::test]
async fn the_proxy_refuses_an_oversized_request_head() {
    let (_server, proxy) = start_with_proxy().await;
    let head = format!(
        "CONNECT login.example.test:443 HTTP/1.1\r\nX-Long: {}\r\n\r\n",
        "a".repeat(9000)
    );
    let answer = proxy_answer(proxy, &head).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
}

#[tokio::test]
async fn the_proxy_drops_a_request_head_slower_than_the_header_read_timeout() {
    use tokio::io::AsyncReadExt as _;
    let timeout = Duration::from_millis(300);
    let (server, _) = start_with(vec![], |config| {
        config.header_read_timeout = timeout;
        config.proxy_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    })
    .await;
    let sent = tokio::time::Instant::now();
    let mut tcp = TcpStream::connect(server.proxy_addr().expect("the proxy listens"))
        .await
        .expect("connect");
    tcp.write_all(b"CONNECT login.example.test:443 HTTP/1.1\r\nHost: login.exa")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), tcp.read_to_end(&mut answer)).await;
    assert!(
        matches!(read, Ok(Ok(0))),
        "closed without an answer: {read:?}"
    );
    assert!(sent.elapsed() >= timeout, "closed early");
}

#[test]
fn the_proxy_tunnels_only_connect_to_port_443_of_a_served_host() {
    let hosts = [
        HostPattern::parse("login.example.test").expect("pattern"),
        HostPattern::parse("*.crm.example.test").expect("pattern"),
    ];
    for target in [
        "login.example.test:443",
        "LOGIN.Example.Test:443",
        "login.example.test.:443",
        "contoso.crm.example.test:443",
    ] {
        let head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
        assert_eq!(
            proxy::judge(&head, &hosts),
            proxy::Verdict::Tunnel,
            "{target}"
        );
    }
    for target in [
        "login.example.test",
        "login.example.test:8443",
        "crm.example.test:443",
        "127.0.0.1:443",
        "[::1]:443",
        ":443",
    ] {
        let head = format!("CONNECT {target} HTTP/1.1\r\n\r\n");
        let verdict = proxy::judge(&head, &hosts);
        assert!(
            matches!(&verdict, proxy::Verdict::Refuse(403, "Forbidden", body)
                if body.contains("login.example.test, *.crm.example.test")),
            "{target}: {verdict:?}"
        );
    }
}

proptest::proptest! {
    #[test]
    fn the_proxy_answers_every_other_method_with_405_naming_it(
        method in proptest::strategy::Strategy::prop_filter(
            "[A-Z]{1,12}",
            "not CONNECT",
            |method| method != "CONNECT",
        ),
    ) {
        let hosts = [HostPattern::parse("login.example.test").expect("pattern")];
        let head = format!("{method} login.example.test:443 HTTP/1.1\r\n\r\n");
        match proxy::judge(&head, &hosts) {
            proxy::Verdict::Refuse(status, reason, body) => {
                proptest::prop_assert_eq!(status, 405);
                proptest::prop_assert_eq!(reason, "Method Not Allowed");
                let named = format!("`{method}` is not served here");
                proptest::prop_assert!(body.contains(&named), "{}", body);
                proptest::prop_assert!(body.contains("CONNECT-only proxy"));
            }
            proxy::Verdict::Tunnel => proptest::prop_assert!(false, "tunnelled {}", method),
        }
    }
}

/// Answers only once the test lets it, saying when it has started.
struct Gate {
    entered: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
}

impl Service for Gate {
    fn name(&self) -> &str {
        "gate"
    }

    fn call(&self, _request: Request<Bytes>) -> BoxFuture<'_, Response<Full<Bytes>>> {
        Box::pin(async move {
            self.entered.notify_one();
            self.release.notified().await;
            json_response(StatusCode::OK, "{\"gate\":\"passed\"}")
        })
    }
}

/// The echo service mounted for exactly `host`.
fn echo_on(host: &str) -> Mount {
    Mount {
        hosts: vec![HostPattern::parse(host).expect("pattern")],
        service: Arc::new(Echo),
    }
}

/// The status and JSON body of `GET https://{host}/x` sent over `sender`'s connection.
async fn h2_get(
    sender: &mut hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    host: &str,
) -> (StatusCode, serde_json::Value) {
    let request = Request::get(format!("https://{host}/x"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = sender.send_request(request).await.expect("an answer");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&body).expect("json"))
}

#[tokio::test]
async fn replaced_mounts_serve_a_new_host_under_the_same_ca() {
    let (server, _) = start(vec![]).await;
    let ca_before = server.ca_pem().to_owned();
    let client = client_for(&server, &["fabrikam.example.test"]);
    let before = client
        .get("https://fabrikam.example.test/x")
        .send()
        .await
        .expect_err("the first certificate does not cover the new host");
    assert!(before.is_connect(), "{before:?}");

    server
        .replace_mounts(vec![echo_on("fabrikam.example.test")])
        .expect("the mounts are replaced");
    assert_eq!(
        server.hosts(),
        [HostPattern::parse("fabrikam.example.test").expect("pattern")]
    );
    assert_eq!(
        server.certificate().names(),
        ["fabrikam.example.test", "localhost", "127.0.0.1"]
    );
    assert_eq!(server.ca_pem(), ca_before, "the CA stays");
    // A client built before the swap, trusting only the CA it had, reaches the new host.
    let body: serde_json::Value = client
        .get("https://fabrikam.example.test/tenant")
        .send()
        .await
        .expect("the new host is served")
        .json()
        .await
        .expect("json");
    assert_eq!(body["host"], "fabrikam.example.test");
    assert_eq!(body["path"], "/tenant");
}

#[tokio::test]
async fn a_host_no_longer_served_is_answered_like_any_unknown_host() {
    let (server, _) = start(vec![]).await;
    // A connection opened before the swap, for the old host.
    let (mut sender, _connection) = h2_connection::<Full<Bytes>>(&server).await;
    let (status, _) = h2_get(&mut sender, "login.example.test").await;
    assert_eq!(status, StatusCode::OK);

    server
        .replace_mounts(vec![echo_on("fabrikam.example.test")])
        .expect("the mounts are replaced");
    let (old_status, old_body) = h2_get(&mut sender, "login.example.test").await;
    let (unknown_status, unknown_body) = h2_get(&mut sender, "other.example.test").await;
    assert_eq!(old_status, StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(old_status, unknown_status);
    assert_eq!(old_body["error"], unknown_body["error"]);
    assert_eq!(old_body["served_hosts"], unknown_body["served_hosts"]);
    assert_eq!(
        old_body["served_hosts"],
        serde_json::json!(["fabrikam.example.test"])
    );
    assert_eq!(
        old_body["message"],
        "no fake service answers for host `login.example.test`"
    );

    // A new connection for the old host fails as one for a host never served does: the
    // certificate no longer names it.
    let client = client_for(&server, &["login.example.test", "other.example.test"]);
    for host in ["login.example.test", "other.example.test"] {
        let error = client
            .get(format!("https://{host}/x"))
            .send()
            .await
            .expect_err("no certificate for the host");
        assert!(error.is_connect(), "{host}: {error:?}");
    }
}

#[tokio::test]
async fn a_request_in_flight_during_the_swap_completes_with_the_old_mounts() {
    let entered = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let gate = Mount {
        hosts: vec![HostPattern::parse("login.example.test").expect("pattern")],
        service: Arc::new(Gate {
            entered: entered.clone(),
            release: release.clone(),
        }),
    };
    let server = spawn(ServerConfig::new(vec![gate]))
        .await
        .expect("server starts");
    let client = client_for(&server, &["login.example.test"]);
    let in_flight = tokio::spawn(client.get("https://login.example.test/slow").send());
    tokio::time::timeout(PATIENCE, entered.notified())
        .await
        .expect("the request reaches the service");

    server
        .replace_mounts(vec![echo_on("fabrikam.example.test")])
        .expect("the mounts are replaced");
    release.notify_one();
    let response = tokio::time::timeout(PATIENCE, in_flight)
        .await
        .expect("the request is answered")
        .expect("no panic")
        .expect("the request succeeds");
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["gate"], "passed");
    let entries = server.journal().entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].service.as_str(), entries[0].status),
        ("gate", 200)
    );
}

#[tokio::test]
async fn the_proxy_allow_list_follows_replaced_mounts() {
    let (server, proxy) = start_with_proxy().await;
    server
        .replace_mounts(vec![echo_on("fabrikam.example.test")])
        .expect("the mounts are replaced");
    let old = proxy_answer(
        proxy,
        "CONNECT login.example.test:443 HTTP/1.1\r\nHost: login.example.test:443\r\n\r\n",
    )
    .await;
    assert!(old.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{old}");
    assert!(old.ends_with("443 of: fabrikam.example.test. Nothing is forwarded to the network.\n"));

    let client = proxied_client(&server, proxy);
    let body: serde_json::Value = client
        .get("https://fabrikam.example.test/through")
        .send()
        .await
        .expect("request through the proxy")
        .json()
        .await
        .expect("json");
    assert_eq!(body["host"], "fabrikam.example.test");
}

#[tokio::test]
async fn replacing_mounts_with_the_same_hosts_keeps_the_certificate() {
    let (server, _) = start(vec![]).await;
    let before = server.certificate();
    server
        .replace_mounts(vec![
            echo_on("login.example.test"),
            Mount {
                hosts: vec![HostPattern::parse("*.panic.example.test").expect("pattern")],
                service: Arc::new(Echo),
            },
        ])
        .expect("the mounts are replaced");
    assert!(Arc::ptr_eq(
        before.certified_key(),
        server.certificate().certified_key()
    ));
    let client = client_for(&server, &["x.panic.example.test"]);
    let body: serde_json::Value = client
        .get("https://x.panic.example.test/now-echo")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(body["path"], "/now-echo", "the new service answers");
}

/// Requests for one host while the mounts flip between serving it and serving another: each
/// answer is the served one or the 421 naming exactly the other mounts' hosts, never a mix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_during_swaps_see_the_old_or_the_new_mounts_whole() {
    let (server, _) = start(vec![]).await;
    let (sender, _connection) = h2_connection::<Full<Bytes>>(&server).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (mut sender, stop) = (sender.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut seen = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, body) = h2_get(&mut sender, "login.example.test").await;
                match status {
                    StatusCode::OK => {
                        assert_eq!(body["host"], "login.example.test", "{body}");
                        seen.0 += 1;
                    }
                    StatusCode::MISDIRECTED_REQUEST => {
                        assert_eq!(
                            body["served_hosts"],
                            serde_json::json!(["fabrikam.example.test"]),
                            "{body}"
                        );
                        seen.1 += 1;
                    }
                    other => panic!("{other}: {body}"),
                }
            }
            seen
        }));
    }
    for _ in 0..50 {
        server
            .replace_mounts(vec![echo_on("fabrikam.example.test")])
            .expect("replaced");
        tokio::task::yield_now().await;
        server
            .replace_mounts(vec![echo_on("login.example.test")])
            .expect("replaced");
        tokio::task::yield_now().await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for reader in readers {
        let (served, unknown) = reader.await.expect("reader");
        total += served + unknown;
    }
    assert!(total > 0);
}

#[tokio::test]
async fn a_given_pki_made_for_other_names_issues_a_leaf_for_the_mounts() {
    let pki = Arc::new(TestPki::generate(&["elsewhere.example.test".into()]).expect("pki"));
    let mut config = ServerConfig::new(vec![echo_on("login.example.test")]);
    config.pki = Some(pki.clone());
    let server = spawn(config).await.expect("server starts");
    assert_eq!(server.ca_pem(), pki.ca_pem());
    assert_eq!(
        server.certificate().names(),
        ["login.example.test", "localhost", "127.0.0.1"]
    );
    let client = client_for(&server, &["login.example.test"]);
    let response = client
        .get("https://login.example.test/x")
        .send()
        .await
        .expect("the leaf covers the mounted host");
    assert_eq!(response.status(), StatusCode::OK);
}
