//! Replaying a field report as QA does it, through the binary from the repository's root: the
//! error pasted on standard input to `scenario from-error -`, the written file checked with
//! `check` and replayed with `run`, and `coverage` holding every problem kind covered.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_d365-harness");

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn harness(args: &[&str], stdin: &str) -> anyhow::Result<Output> {
    let mut child = Command::new(BINARY)
        .args(args)
        .current_dir(repository())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())?;
    Ok(child.wait_with_output()?)
}

fn described(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_pasted_error_becomes_a_scenario_that_checks_and_passes() -> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let file = folder.path().join("field/admin_mode.toml");
    let file = file.to_str().expect("UTF-8 path");
    let pasted = "2026-03-01T09:14:03Z ERROR import failed: 403 Forbidden\n{\"error\":{\"code\":\"0x8004A113\",\"message\":\"User does not have required privileges (or role membership) to access the org when it is in Admin Only mode.\"}}\n";
    let written = harness(&["scenario", "from-error", "--out", file, "-"], pasted)?;
    assert_eq!(written.status.code(), Some(0), "{}", described(&written));
    let checked = harness(&["check", file], "")?;
    assert_eq!(checked.status.code(), Some(0), "{}", described(&checked));
    let ran = harness(&["run", file], "")?;
    assert_eq!(ran.status.code(), Some(0), "{}", described(&ran));
    assert!(
        String::from_utf8_lossy(&ran.stdout)
            .starts_with("PASS  admin_mode  replay of Dataverse 0x8004A113 AdminOnlyMode\n"),
        "{}",
        described(&ran)
    );
    Ok(())
}

#[test]
fn coverage_exits_zero_while_every_problem_kind_is_covered() -> anyhow::Result<()> {
    let output = harness(&["coverage"], "")?;
    assert_eq!(output.status.code(), Some(0), "{}", described(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let total = d365_source::ProblemKind::ALL.len();
    assert!(
        stdout.starts_with(&format!(
            "Flow problems (d365_source::ProblemKind): {total} of {total} covered\n"
        )),
        "{stdout}"
    );
    Ok(())
}
