//! `d365-harness source` as a process against `d365-harness serve` with the setup-mistakes world,
//! reached on the real host names through `--resolve` and `--ca-file`: add, list, test, a failing
//! add, a failing and a passing rotation, remove. Then the secret scan: neither client secret
//! nor any access token appears in any output (at `RUST_LOG=trace`) or in any stored file.
//! Serve is ready when it prints its first line (it writes its files before); nothing sleeps.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use anyhow::{Context, bail, ensure};

const BINARY: &str = env!("CARGO_BIN_EXE_d365-harness");
const CONTOSO: &str = "https://contoso.crm.dynamics.com";
const NO_USER: &str = "https://contoso-nouser.crm.dynamics.com";
const TENANT: &str = "contoso.onmicrosoft.com";
const IMPORTER: &str = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01";
const CURRENT_SECRET: &str = "Qm28Q~mistakes.importer.secret.current.0001";
const EXPIRED_SECRET: &str = "Qm28Q~mistakes.importer.secret.expired.0002";
/// Every access token (a JWT) starts with the base64 of `{"`.
const TOKEN_PREFIX: &str = "eyJ";

/// A `serve` process that is killed when dropped, whatever the test did.
struct Serve {
    child: Child,
    /// Kept open so that serve can finish writing its instructions.
    _stdout: BufReader<ChildStdout>,
}

impl Serve {
    /// Starts serve with the setup-mistakes world on a free port and waits until it is ready.
    fn start(folder: &Path) -> anyhow::Result<Serve> {
        let world =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds/setup-mistakes.toml");
        let stderr_path = folder.join("serve.stderr");
        let mut child = Command::new(BINARY)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--state-dir",
            ])
            .arg(folder.join("state"))
            .arg("--world")
            .arg(&world)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path)?)
            .spawn()
            .with_context(|| format!("failed to start `{BINARY}`"))?;
        let stdout = child.stdout.take().context("serve's stdout is piped")?;
        let mut serve = Serve {
            child,
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
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `--resolve` and `--ca-file` options from serve's `connection.env`.
fn network_options(state_dir: &Path) -> anyhow::Result<Vec<String>> {
    let env = std::fs::read_to_string(state_dir.join("connection.env"))?;
    let value = |key: &str| {
        env.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .with_context(|| format!("{key} missing from connection.env"))
    };
    let mut options = Vec::new();
    for entry in value("D365_HOST_MAP")?.split(',') {
        options.push("--resolve".to_owned());
        options.push(entry.to_owned());
    }
    ensure!(
        options
            .iter()
            .any(|option| option.starts_with("contoso-nouser.crm.dynamics.com=")),
        "the host map lacks the environments: {options:?}"
    );
    options.push("--resolve-only".to_owned());
    options.push("--ca-file".to_owned());
    options.push(value("D365_CA_FILE")?.to_owned());
    Ok(options)
}

/// One finished `source` invocation.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `source` subcommands against one data directory and keeps everything they printed.
struct SourceCli {
    data_dir: PathBuf,
    network: Vec<String>,
    transcript: Vec<u8>,
}

impl SourceCli {
    /// `source {args} --data-dir …`, plus the network options for the commands that check;
    /// `stdin` is written to standard input (else it is empty).
    fn run(&mut self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<Run> {
        let mut command = Command::new(BINARY);
        command
            .arg("source")
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir);
        if matches!(args.first(), Some(&("add" | "test" | "rotate-secret"))) {
            command.args(&self.network);
        }
        let mut child = command
            .env("RUST_LOG", "trace")
            .env("IMPORTER_SECRET", CURRENT_SECRET)
            .env("EXPIRED_SECRET", EXPIRED_SECRET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("failed to start `{BINARY}`"))?;
        let mut input = child.stdin.take().context("stdin is piped")?;
        input.write_all(stdin.unwrap_or_default().as_bytes())?;
        drop(input);
        let output = child.wait_with_output()?;
        self.transcript.extend_from_slice(&output.stdout);
        self.transcript.extend_from_slice(&output.stderr);
        Ok(Run {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout)?,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Like [`SourceCli::run`], and checks the exit code.
    fn expect(&mut self, code: i32, args: &[&str], stdin: Option<&str>) -> anyhow::Result<Run> {
        let run = self.run(args, stdin)?;
        ensure!(
            run.code == Some(code),
            "`source {}` exited with {:?}, not {code}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            run.code,
            run.stdout,
            // Trace logs are long; the end says what went wrong.
            tail(&run.stderr, 4000),
        );
        Ok(run)
    }

    fn list_json(&mut self) -> anyhow::Result<Vec<serde_json::Value>> {
        let run = self.expect(0, &["list", "--json"], None)?;
        let sources: Vec<serde_json::Value> = serde_json::from_str(&run.stdout)?;
        Ok(sources)
    }
}

fn tail(text: &str, chars: usize) -> &str {
    let start = text.len().saturating_sub(chars);
    let start = (start..text.len())
        .find(|index| text.is_char_boundary(*index))
        .unwrap_or(text.len());
    &text[start..]
}

fn add_args<'a>(name: &'a str, environment: &'a str) -> Vec<&'a str> {
    vec![
        "add",
        "--name",
        name,
        "--environment-url",
        environment,
        "--tenant-id",
        TENANT,
        "--client-id",
        IMPORTER,
        "--client-secret-env",
        "IMPORTER_SECRET",
    ]
}

/// Every file under `dir`, recursively, with its bytes.
fn files(dir: &Path) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(files(&path)?);
        } else {
            let bytes = std::fs::read(&path)?;
            found.push((path, bytes));
        }
    }
    Ok(found)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Neither secret appears in the data directory's files.
fn assert_files_hold_no_secret(data_dir: &Path) -> anyhow::Result<()> {
    let files = files(data_dir)?;
    ensure!(
        files.iter().any(|(path, _)| path.ends_with("sources.json")),
        "nothing to scan in `{}`",
        data_dir.display()
    );
    for (path, bytes) in &files {
        for secret in [CURRENT_SECRET, EXPIRED_SECRET] {
            ensure!(
                !contains(bytes, secret),
                "`{}` holds a secret",
                path.display()
            );
        }
    }
    Ok(())
}

#[test]
fn source_commands_against_serve() -> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let _serve = Serve::start(folder.path())?;
    let mut cli = SourceCli {
        data_dir: folder.path().join("data"),
        network: network_options(&folder.path().join("state"))?,
        transcript: Vec::new(),
    };

    let added = cli.expect(0, &add_args("Contoso CRM", CONTOSO), None)?;
    for expected in [
        "Connection check passed for `Contoso CRM` (https://contoso.crm.dynamics.com).\n",
        "\n  organization:     Contoso (org0335df44), version 9.2.",
        "\n  tables read:      account (accounts), contact (contacts)\n",
        "\n  readable tables:  2\n",
        "\nSaved source `Contoso CRM` (client secret Qm2*****) in `",
    ] {
        assert!(
            added.stdout.contains(expected),
            "{expected:?} in\n{}",
            added.stdout
        );
    }

    let listed = cli.expect(0, &["list"], None)?;
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", listed.stdout);
    assert!(
        lines[0].starts_with("NAME         ENVIRONMENT  "),
        "{}",
        lines[0]
    );
    let row: Vec<&str> = lines[1]
        .split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect();
    assert_eq!(
        row[..6],
        [
            "Contoso CRM",
            CONTOSO,
            TENANT,
            IMPORTER,
            "Qm2*****",
            "passed"
        ],
        "{}",
        lines[1]
    );

    let sources = cli.list_json()?;
    assert_eq!(sources.len(), 1, "{sources:?}");
    let source = &sources[0];
    let keys: Vec<&str> = source
        .as_object()
        .context("an object")?
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "environment",
            "tenant",
            "client_id",
            "tables",
            "secret_hint",
            "created_at",
            "last_check"
        ]
    );
    assert_eq!(source["name"], "Contoso CRM");
    assert_eq!(source["environment"], CONTOSO);
    assert_eq!(source["secret_hint"], "Qm2*****");
    assert_eq!(source["last_check"]["outcome"], "passed");
    assert_eq!(source["last_check"]["organization"]["name"], "Contoso");

    let tested = cli.expect(0, &["test", "contoso crm"], None)?;
    assert!(
        tested
            .stdout
            .ends_with("Recorded the passed check of `Contoso CRM`.\n"),
        "{}",
        tested.stdout
    );

    let failed = cli.expect(1, &add_args("Other", NO_USER), None)?;
    for expected in [
        "Connection check failed for `Other`: no_application_user\n",
        "is not a user of environment https://contoso-nouser.crm.dynamics.com",
        "\nFix: In Power Platform admin center → Environments → ",
        "\n  step:        WhoAmI\n",
        "\n  request:     GET https://contoso-nouser.crm.dynamics.com/api/data/v9.2/WhoAmI\n",
        "\n  HTTP status: 403\n",
        "\n  code:        0x80072560\n",
        "\nSource `Other` was not saved.\n",
    ] {
        assert!(
            failed.stdout.contains(expected),
            "{expected:?} in\n{}",
            failed.stdout
        );
    }
    let names: Vec<String> = cli
        .list_json()?
        .iter()
        .map(|source| source["name"].to_string())
        .collect();
    assert_eq!(names, ["\"Contoso CRM\""], "nothing saved");

    // The expired secret comes from standard input this time.
    let refused = cli.expect(
        1,
        &["rotate-secret", "Contoso CRM"],
        Some(&format!("{EXPIRED_SECRET}\n")),
    )?;
    for expected in [
        "Connection check failed for `Contoso CRM`: expired_secret\n",
        "\n  code:        AADSTS7000222\n",
        "\nThe client secret of `Contoso CRM` was not changed.\n",
    ] {
        assert!(
            refused.stdout.contains(expected),
            "{expected:?} in\n{}",
            refused.stdout
        );
    }
    // The old secret is still the stored one: the check passes with it.
    cli.expect(0, &["test", "Contoso CRM"], None)?;
    let rotated = cli.expect(
        0,
        &[
            "rotate-secret",
            "Contoso CRM",
            "--client-secret-env",
            "IMPORTER_SECRET",
        ],
        None,
    )?;
    assert!(
        rotated
            .stdout
            .ends_with("Replaced the client secret of `Contoso CRM` (now Qm2*****).\n"),
        "{}",
        rotated.stdout
    );
    assert_files_hold_no_secret(&cli.data_dir)?;

    let removed = cli.expect(0, &["remove", "Contoso CRM"], None)?;
    assert!(
        removed
            .stdout
            .starts_with("Removed source `Contoso CRM` (https://contoso.crm.dynamics.com)"),
        "{}",
        removed.stdout
    );
    assert!(cli.list_json()?.is_empty());
    let empty = cli.expect(0, &["list"], None)?;
    assert!(
        empty.stdout.starts_with("No sources saved in `"),
        "{}",
        empty.stdout
    );

    assert_files_hold_no_secret(&cli.data_dir)?;
    for secret in [CURRENT_SECRET, EXPIRED_SECRET, TOKEN_PREFIX] {
        assert!(
            !contains(&cli.transcript, secret),
            "`{secret}` was printed:\n{}",
            String::from_utf8_lossy(&cli.transcript)
        );
    }
    // The scan saw what it should have: trace logs of the checks, not an empty transcript.
    assert!(contains(&cli.transcript, "checking a new source"));
    Ok(())
}

/// The key-file warning goes to the real stderr of the process (main.rs wires it), not stdout.
#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_a_warning_on_the_process_stderr() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let folder = tempfile::tempdir()?;
    let data_dir = folder.path().join("data");
    std::fs::create_dir(&data_dir)?;
    let key = data_dir.join("sources.key");
    std::fs::write(&key, [7_u8; 32])?;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644))?;

    let output = Command::new(BINARY)
        .args(["source", "list", "--data-dir"])
        .arg(&data_dir)
        .stdin(Stdio::null())
        .output()?;

    let stdout = String::from_utf8(output.stdout)?;
    let stderr = String::from_utf8(output.stderr)?;
    ensure!(output.status.success(), "{stderr}");
    ensure!(stdout.starts_with("No sources saved"), "{stdout}");
    let expected = format!(
        "warning: the key file `{}` has mode 0644: other users can read or replace the key",
        key.display()
    );
    ensure!(stderr.starts_with(&expected), "{stderr}");
    ensure!(!stdout.contains("warning"), "{stdout}");
    Ok(())
}
