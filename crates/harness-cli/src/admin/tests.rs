//! `d365-harness admin` in process against an admin API served in process: finding the API
//! through the state folder, the errors when no serve runs, files in TOML or JSON, the token,
//! and what each subcommand prints.

use std::net::SocketAddr;

use fake_core::{Clock, IdGenerator};
use scenario::LiveWorld;
use time::macros::datetime;

use super::*;
use crate::Exit;
use crate::serve::admin::{Access, Admin, AdminServer, AdminToken};
use crate::tests::run_captured;

/// An admin API on a manual clock, served on a runtime of its own, and a state folder that
/// points at it.
struct Served {
    runtime: tokio::runtime::Runtime,
    server: Option<AdminServer>,
    live: LiveWorld,
    _fakes: fake_core::ServerHandle,
    state: tempfile::TempDir,
}

impl Served {
    fn start(bind: &str, with_token: bool) -> Served {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let token = AdminToken::generate().expect("random bytes");
        let state = tempfile::tempdir().expect("a temporary folder");
        let world = crate::world::BuiltinWorld::named(crate::world::DEFAULT_WORLD)
            .and_then(|world| world.load())
            .expect("the demo world loads");
        let (server, live, fakes) = runtime.block_on(async {
            let (fakes, live) = scenario::spawn_live(
                &world,
                Clock::manual(datetime!(2026-01-05 09:00 UTC)),
                IdGenerator::seeded(7),
                &[],
            )
            .await
            .expect("the demo world serves");
            let listener = crate::serve::admin::bind(bind.parse().expect("an address"))
                .await
                .expect("a free port");
            let addr = listener.local_addr().expect("bound");
            let access = Access::for_listener(addr, &token);
            let admin_live = live.clone();
            let server = AdminServer::spawn(listener, move |stopping| {
                Admin::new(access, admin_live, stopping)
            })
            .expect("serving");
            (server, live, fakes)
        });
        std::fs::write(
            state.path().join("connection.env"),
            format!(
                "D365_TENANT_ID=x\nD365_ADMIN_URL=http://{}\n",
                server.addr()
            ),
        )
        .expect("writable");
        if with_token {
            std::fs::write(state.path().join("admin.token"), token.expose()).expect("writable");
        }
        Served {
            runtime,
            server: Some(server),
            live,
            _fakes: fakes,
            state,
        }
    }

    fn dir(&self) -> &str {
        self.state.path().to_str().expect("a UTF-8 temporary path")
    }

    /// Runs `admin --state-dir <dir> {args}`.
    fn admin(&self, args: &[&str]) -> (Exit, String, String) {
        let mut all = vec!["admin", "--state-dir", self.dir()];
        all.extend_from_slice(args);
        run_captured(&all)
    }

    fn file(&self, name: &str, contents: &str) -> String {
        let path = self.state.path().join(name);
        std::fs::write(&path, contents).expect("writable");
        path.to_str().expect("UTF-8").to_owned()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

#[test]
fn without_connection_env_it_says_no_serve_is_running() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let dir = folder.path().join("nothing-here");
    let dir = dir.to_str().expect("UTF-8");
    let (exit, out, err) = run_captured(&["admin", "--state-dir", dir, "world"]);
    assert_eq!(exit, Exit::Error);
    assert_eq!(out, "");
    assert_eq!(
        err.lines().next(),
        Some(&*format!(
            "error: no serve is running (no {dir}/connection.env); start `d365-harness serve` \
             or pass its --state-dir"
        ))
    );
}

#[test]
fn a_stale_connection_env_says_serve_does_not_answer() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr: SocketAddr = closed.local_addr().expect("bound");
    drop(closed);
    std::fs::write(
        folder.path().join("connection.env"),
        format!("D365_ADMIN_URL=http://{addr}\n"),
    )
    .expect("writable");
    let dir = folder.path().to_str().expect("UTF-8");
    let (exit, _, err) = run_captured(&["admin", "--state-dir", dir, "reset"]);
    assert_eq!(exit, Exit::Error);
    assert!(
        err.starts_with(&format!("error: serve at http://{addr} does not answer")),
        "{err}"
    );

    std::fs::write(folder.path().join("connection.env"), "D365_TENANT_ID=x\n").expect("writable");
    let (exit, _, err) = run_captured(&["admin", "--state-dir", dir, "reset"]);
    assert_eq!(exit, Exit::Error);
    assert!(err.contains("has no D365_ADMIN_URL"), "{err}");
}

#[test]
fn clock_is_shown_and_advanced() {
    let served = Served::start("127.0.0.1:0", true);
    let (exit, out, err) = served.admin(&["clock"]);
    assert_eq!(exit, Exit::Success, "{err}");
    assert_eq!(
        out,
        "clock: 2026-01-05T09:00:00Z (moved 0s from the system time)\n"
    );
    let (exit, out, err) = served.admin(&["clock", "advance", "1h30m"]);
    assert_eq!(exit, Exit::Success, "{err}");
    assert_eq!(
        out,
        "clock: 2026-01-05T10:30:00Z (moved 5400s from the system time)\n"
    );
    let (_, out, _) = served.admin(&["clock", "advance", "30"]);
    assert!(out.starts_with("clock: 2026-01-05T10:30:30Z"), "{out}");
    let (exit, _, err) = served.admin(&["clock", "advance", "a fortnight"]);
    assert_eq!(exit, Exit::Error);
    assert!(
        err.contains("serve refused `POST /clock/advance` (400 Bad Request): `duration`"),
        "{err}"
    );
}

#[test]
fn faults_are_added_from_toml_or_json_and_cleared() {
    let served = Served::start("127.0.0.1:0", true);
    let toml = served.file(
        "faults.toml",
        "[[faults]]\nname = \"throttle\"\nhost = \"contoso.crm.dynamics.com\"\nfrom = 3\n\
         action = { kind = \"respond\", status = 429, headers = { Retry-After = \"5\" } }\n",
    );
    let (exit, out, err) = served.admin(&["fault", "add", &toml]);
    assert_eq!(exit, Exit::Success, "{err}");
    assert_eq!(
        out,
        "1 fault rule active\n  {\"name\":\"throttle\",\"host\":\"contoso.crm.dynamics.com\",\
         \"from\":3,\"action\":{\"kind\":\"respond\",\"status\":429,\
         \"headers\":{\"Retry-After\":\"5\"},\"body\":\"\"}}\n"
    );
    let json = served.file(
        "fault.json",
        r#"{"nth":1,"action":{"kind":"close_connection"}}"#,
    );
    let (exit, out, _) = served.admin(&["fault", "add", &json]);
    assert_eq!(exit, Exit::Success);
    assert!(out.starts_with("2 fault rules active\n"), "{out}");
    let rules = served.live.faults().rules();
    assert_eq!(rules[0].name.as_deref(), Some("throttle"));
    assert_eq!(rules[0].from, Some(3));
    assert_eq!(rules[1].nth, Some(1));

    let (exit, out, _) = served.admin(&["fault", "clear"]);
    assert_eq!(exit, Exit::Success);
    assert_eq!(out, "0 fault rules active\n");
    assert!(served.live.faults().rules().is_empty());
}

#[test]
fn journal_prints_nothing_for_an_empty_journal_and_passes_filters() {
    let served = Served::start("127.0.0.1:0", true);
    let (exit, out, err) = served.admin(&["journal", "--status", "4xx", "--since", "3"]);
    assert_eq!(exit, Exit::Success, "{err}");
    assert_eq!(out, "");
    let (exit, _, err) = served.admin(&["journal", "--status", "4xxx"]);
    assert_eq!(exit, Exit::Error);
    assert!(
        err.contains("`status`: `4xxx` is not a status filter"),
        "{err}"
    );
}

#[test]
fn off_loopback_the_token_file_lets_the_cli_in() {
    // 0.0.0.0 is not loopback: every request needs the token.
    let served = Served::start("0.0.0.0:0", true);
    let (exit, out, err) = served.admin(&["clock"]);
    assert_eq!(exit, Exit::Success, "{err}");
    assert!(out.starts_with("clock: "), "{out}");

    std::fs::remove_file(served.state.path().join("admin.token")).expect("removable");
    let (exit, _, err) = served.admin(&["clock"]);
    assert_eq!(exit, Exit::Error);
    assert!(
        err.contains("(401 Unauthorized): this admin API listens beyond loopback"),
        "{err}"
    );
}

#[track_caller]
fn check_document(name: &str, text: &str, expected: Value) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let path = folder.path().join(name);
    std::fs::write(&path, text).expect("writable");
    let read = read_document(
        path.to_str().expect("UTF-8"),
        &mut std::io::empty(),
        "changes",
    )
    .expect("a document");
    assert_eq!(read, expected, "{name}");
    let from_stdin =
        read_document("-", &mut text.as_bytes(), "changes").expect("a document on stdin");
    assert_eq!(from_stdin, expected, "{name} on standard input");
}

#[test]
fn change_files_are_toml_or_json_one_or_many() {
    let remove = json!({"change": "remove_role", "environment": "contoso", "app": "importer", "role": "Importer Reader"});
    let clear = json!({"change": "clear_faults"});
    check_document(
        "many.toml",
        "[[changes]]\nchange = \"remove_role\"\nenvironment = \"contoso\"\napp = \"importer\"\n\
         role = \"Importer Reader\"\n\n[[changes]]\nchange = \"clear_faults\"\n",
        json!([remove, clear]),
    );
    check_document(
        "inline.toml",
        "changes = [{ change = \"clear_faults\" }]\n",
        json!([clear]),
    );
    check_document("one.toml", "change = \"clear_faults\"\n", json!([clear]));
    check_document(
        "many.json",
        &serde_json::to_string(&json!([remove, clear])).expect("JSON"),
        json!([remove, clear]),
    );
    check_document("one.json", r#" {"change":"clear_faults"}"#, json!([clear]));
    check_document("empty.json", "[ ]", json!([]));
}

#[test]
fn bad_change_files_name_the_source_and_the_problem() {
    let mut stdin = "[[changes]\n".as_bytes();
    let error = read_document("-", &mut stdin, "changes").expect_err("bad TOML");
    assert!(
        format!("{error:#}").starts_with("standard input is not valid TOML: "),
        "{error:#}"
    );
    let mut stdin = "[{\"change\": }]".as_bytes();
    let error = read_document("-", &mut stdin, "changes").expect_err("bad JSON");
    assert!(
        format!("{error:#}").starts_with("standard input is not valid JSON: "),
        "{error:#}"
    );
    let mut stdin = "changes = 3\n".as_bytes();
    let error = read_document("-", &mut stdin, "changes").expect_err("not an array");
    assert_eq!(
        error.to_string(),
        "standard input: `changes` must be the file's only key, holding an array"
    );
    let error = read_document("/no/such/changes.toml", &mut std::io::empty(), "changes")
        .expect_err("no file");
    assert!(
        error.to_string().contains("/no/such/changes.toml"),
        "{error}"
    );
}

#[test]
fn events_are_split_across_chunks_and_only_entries_kept() {
    let mut parser = EventParser::default();
    assert!(parser.push(b"id: 1\nevent: entry\ndata: {\"a\"").is_empty());
    assert_eq!(
        parser.push(b":1}\n\n: keep-alive\n\nevent: lagged\ndata: {\"missed\":2}\n\nid: 2\n"),
        vec!["{\"a\":1}".to_owned()]
    );
    assert_eq!(
        parser.push(b"event: entry\ndata: {}\n\n"),
        vec!["{}".to_owned()]
    );
}

#[test]
fn load_sends_a_world_file_standalone_and_reset_comes_back_to_it() {
    let served = Served::start("127.0.0.1:0", true);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/worlds/setup-mistakes.toml");
    let (exit, out, err) = served.admin(&["load", path.to_str().expect("UTF-8")]);
    assert_eq!(exit, Exit::Success, "{err}");
    let served_hosts = served.live.hosts().len();
    let first = format!(
        "loaded world `setup-mistakes.toml` (clock 2026-01-05T09:00:00Z): serving {served_hosts} \
         hosts"
    );
    assert_eq!(out.lines().next(), Some(first.as_str()));
    assert_eq!(out.lines().count(), 1 + served_hosts + 1, "{out}");
    assert!(
        out.contains("\n  contoso-noroles.crm.dynamics.com\n"),
        "{out}"
    );
    assert!(
        out.ends_with(
            "\nThe hosts changed: clients need the new host map (D365_HOST_MAP in \
             connection.env, rewritten); the CA is the same.\n"
        ),
        "{out}"
    );
    assert!(served.live.world().environment("contoso-noroles").is_some());
    let (exit, _, err) = served.admin(&["reset"]);
    assert_eq!(exit, Exit::Success, "{err}");
    assert!(
        served.live.world().environment("contoso-noroles").is_some(),
        "reset comes back to the loaded world"
    );
}

#[test]
fn load_of_a_broken_world_names_the_file_and_line_and_sends_nothing() {
    let served = Served::start("127.0.0.1:0", true);
    let broken = served.file(
        "broken.toml",
        "version = 1\n[tenants.contoso]\nid = \"nope\"\ndomains = [\"contoso.com\"]\ndisplay_name = \"Contoso\"\ndynamics = true\n",
    );
    let (exit, out, err) = served.admin(&["load", &broken]);
    assert_eq!(exit, Exit::Error);
    assert_eq!(out, "");
    assert!(
        err.contains("broken.toml` does not load (`d365-harness check"),
        "{err}"
    );
    assert!(
        err.contains("at line 3, column 6: `tenants.contoso.id`"),
        "{err}"
    );
    assert!(
        served.live.world().environment("contoso").is_some(),
        "the demo world still runs"
    );
}
