//! `d365-harness conformance` as a process against `d365-harness serve`: two serves of the demo
//! world, two runs against one serve, and a run through serve's CONNECT proxy all match, and
//! match the committed record; no record holds the client secret or a token; a world with
//! `trailer_separator` and `property_not_found_code` changed differs under the probes that
//! observe them. Serve is ready when it prints its first line; nothing sleeps.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use anyhow::{Context, bail, ensure};

const BINARY: &str = env!("CARGO_BIN_EXE_d365-harness");
/// Every access token (a JWT) starts with the base64 of `{"`.
const TOKEN_PREFIX: &str = "eyJ";

/// A `serve` process that is killed when dropped.
struct Serve {
    child: Child,
    state_dir: PathBuf,
    /// Kept open so that serve can finish writing its instructions.
    _stdout: BufReader<ChildStdout>,
}

impl Serve {
    /// Starts serve (with `world`, else the built-in demo world) and waits until it is ready.
    fn start(folder: &Path, name: &str, world: Option<&Path>) -> anyhow::Result<Serve> {
        Serve::start_with(folder, name, world, &[])
    }

    /// Like [`Serve::start`], with more `serve` arguments.
    fn start_with(
        folder: &Path,
        name: &str,
        world: Option<&Path>,
        more: &[&str],
    ) -> anyhow::Result<Serve> {
        let state_dir = folder.join(name);
        let stderr_path = folder.join(format!("{name}.stderr"));
        let mut command = Command::new(BINARY);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(&state_dir);
        if let Some(world) = world {
            command.arg("--world").arg(world);
        }
        command.args(more);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path)?)
            .spawn()
            .with_context(|| format!("failed to start `{BINARY}`"))?;
        let stdout = child.stdout.take().context("serve's stdout is piped")?;
        let mut serve = Serve {
            child,
            state_dir,
            _stdout: BufReader::new(stdout),
        };
        // The first line is printed after ca.pem and connection.env are written.
        let mut line = String::new();
        serve._stdout.read_line(&mut line)?;
        if !line.starts_with("d365-harness: serving world") {
            bail!(
                "serve is not serving; its first line: {line:?}; stderr:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        Ok(serve)
    }

    /// `connection.env` as (key, value) pairs.
    fn connection(&self) -> anyhow::Result<Vec<(String, String)>> {
        let text = std::fs::read_to_string(self.state_dir.join("connection.env"))?;
        text.lines()
            .map(|line| {
                let (key, value) = line
                    .split_once('=')
                    .with_context(|| format!("not KEY=value: {line:?}"))?;
                Ok((key.to_owned(), value.to_owned()))
            })
            .collect()
    }

    /// Runs the probes against this serve, as its `connection.env` says, into `out`; returns
    /// the client secret it used.
    fn probe(&self, out: &Path) -> anyhow::Result<String> {
        self.probe_via(out, Route::HostMap)
    }

    /// [`Serve::probe`], reaching serve the way `route` says.
    fn probe_via(&self, out: &Path, route: Route) -> anyhow::Result<String> {
        let env = self.connection()?;
        let value = |key: &str| -> anyhow::Result<String> {
            env.iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone())
                .with_context(|| format!("{key} missing from connection.env"))
        };
        let mut command = Command::new(BINARY);
        command
            .arg("conformance")
            .args(["--authority-host", &value("D365_AUTHORITY_HOST")?])
            .args(["--tenant-id", &value("D365_TENANT_ID")?])
            .args(["--client-id", &value("D365_CLIENT_ID")?])
            .args(["--client-secret-env", "CONFORMANCE_SECRET"])
            .args(["--environment-url", &value("D365_ENVIRONMENT_URL")?])
            .args(["--ca-file", &value("D365_CA_FILE")?])
            .arg("--out")
            .arg(out);
        match route {
            Route::HostMap => {
                for entry in value("D365_HOST_MAP")?.split(',') {
                    command.args(["--resolve", entry]);
                }
            }
            Route::Proxy => {
                command.args(["--https-proxy", &value("HTTPS_PROXY")?]);
            }
        }
        let secret = value("D365_CLIENT_SECRET")?;
        let output = command
            .env("CONFORMANCE_SECRET", &secret)
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .output()?;
        ensure!(
            output.status.success(),
            "conformance failed with {}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            ensure!(
                !text.contains(&secret),
                "the secret is in conformance's {stream}"
            );
            ensure!(
                !text.contains(TOKEN_PREFIX),
                "a token is in conformance's {stream}"
            );
        }
        Ok(secret)
    }
}

/// How the probes reach serve.
#[derive(Clone, Copy, Debug)]
enum Route {
    /// `--resolve` for every host of `D365_HOST_MAP`.
    HostMap,
    /// `--https-proxy` to serve's CONNECT proxy, no host mapping.
    Proxy,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn diff(first: &Path, second: &Path) -> anyhow::Result<Output> {
    Ok(Command::new(BINARY)
        .args(["conformance", "diff"])
        .arg(first)
        .arg(second)
        .stdin(Stdio::null())
        .output()?)
}

#[test]
fn two_serves_of_one_world_agree_and_a_changed_knob_shows_in_the_diff() -> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let world = folder.path().join("crlf.toml");
    let export = Command::new(BINARY)
        .args(["world", "export", "demo"])
        .output()?;
    ensure!(export.status.success(), "world export failed");
    let mut text = String::from_utf8(export.stdout)?;
    text.push_str(
        "\n[entra]\ntrailer_separator = \"crlf\"\n\n[dataverse]\nproperty_not_found_code = \"0x0\"\n",
    );
    std::fs::write(&world, text)?;

    let first = Serve::start(folder.path(), "first", None)?;
    let second = Serve::start(folder.path(), "second", None)?;
    let changed = Serve::start(folder.path(), "changed", Some(&world))?;
    let records = ["first.json", "second.json", "changed.json", "again.json"]
        .map(|name| folder.path().join(name));
    let secret = first.probe(&records[0])?;
    second.probe(&records[1])?;
    changed.probe(&records[2])?;
    // A second run against the same serve: nothing a run leaves behind changes the next.
    first.probe(&records[3])?;

    for record in &records {
        let text = std::fs::read_to_string(record)?;
        assert!(
            !text.contains(&secret),
            "the secret is in {}",
            record.display()
        );
        assert!(
            !text.contains(TOKEN_PREFIX),
            "a token is in {}",
            record.display()
        );
        assert!(
            !text.contains("127.0.0.1"),
            "a port is in {}",
            record.display()
        );
    }

    for other in [&records[1], &records[3]] {
        let same = diff(&records[0], other)?;
        assert_eq!(
            (same.status.code(), String::from_utf8(same.stdout)?),
            (Some(0), "No differences.\n".to_owned()),
            "{}",
            String::from_utf8_lossy(&same.stderr)
        );
    }

    let different = diff(&records[0], &records[2])?;
    let report = String::from_utf8(different.stdout)?;
    assert_eq!(different.status.code(), Some(1), "{report}");
    let lines: Vec<&str> = report.lines().collect();
    let changed_line = |probe: &str, field: &str| {
        let start = lines
            .iter()
            .position(|line| *line == format!("probe `{probe}`"))
            .unwrap_or_else(|| panic!("no block for {probe} in:\n{report}"));
        lines[start + 1..]
            .iter()
            .take_while(|line| line.starts_with("  "))
            .find(|line| line.starts_with(&format!("  ~ {field}: ")))
            .map(|line| (*line).to_owned())
            .unwrap_or_else(|| panic!("no change of {field} under {probe} in:\n{report}"))
    };
    let trailer = changed_line("wrong_secret", "body.fields.error_description");
    assert!(
        trailer.contains(r"Trace ID: {guid} Correlation ID: {guid} Timestamp: {timestamp}")
            && trailer.contains(
                r"\r\nTrace ID: {guid}\r\nCorrelation ID: {guid}\r\nTimestamp: {timestamp}"
            ),
        "{trailer}"
    );
    assert_eq!(
        changed_line("unknown_property", r#"body.fields["error.code"]"#),
        r#"  ~ body.fields["error.code"]: "string: 0x80060888" -> "string: 0x0""#
    );
    Ok(())
}

/// The committed record of `serve`'s built-in demo world: what a user with a tenant diffs
/// their record against, and the fakes' answer shapes pinned like a snapshot.
fn committed_record() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/demo.json")
}

#[test]
fn serve_answers_as_the_committed_record_of_the_demo_world_says() -> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let serve = Serve::start_with(
        folder.path(),
        "demo",
        None,
        &["--proxy-listen", "127.0.0.1:0"],
    )?;
    let fresh = folder.path().join("demo.json");
    serve.probe(&fresh)?;
    // Through serve's CONNECT proxy with the real host names only, the answers are the same.
    let proxied = folder.path().join("proxied.json");
    serve.probe_via(&proxied, Route::Proxy)?;
    let same = diff(&fresh, &proxied)?;
    assert_eq!(
        same.status.code(),
        Some(0),
        "through the proxy:\n{}",
        String::from_utf8_lossy(&same.stdout)
    );
    // A deliberate change of the fakes' answers: rerun with this set, review the file's
    // diff, commit it.
    if std::env::var_os("D365_HARNESS_UPDATE_RECORDS").is_some() {
        std::fs::copy(&fresh, committed_record())?;
    }
    let compared = diff(&committed_record(), &fresh)?;
    assert_eq!(
        compared.status.code(),
        Some(0),
        "serve no longer answers as {} says (rerun with D365_HARNESS_UPDATE_RECORDS=1 if that \
         is intended):\n{}{}",
        committed_record().display(),
        String::from_utf8_lossy(&compared.stdout),
        String::from_utf8_lossy(&compared.stderr)
    );
    Ok(())
}
