//! The command line in process: argument parsing, defaults, exit codes and where messages go.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use super::*;

/// Runs `args` and returns the exit and what was written to stdout and stderr.
pub(crate) fn run_captured(args: &[&str]) -> (Exit, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let exit = run(
        std::iter::once("d365-harness").chain(args.iter().copied()),
        &mut out,
        &mut err,
    );
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8 output");
    (exit, text(out), text(err))
}

fn serve_args(args: &[&str]) -> ServeArgs {
    let cli = Cli::try_parse_from(std::iter::once("d365-harness").chain(args.iter().copied()))
        .expect("valid arguments");
    match cli.command {
        Command::Serve(args) => args,
        other => panic!("not serve: {other:?}"),
    }
}

#[test]
fn serve_defaults() {
    let args = serve_args(&["serve"]);
    assert_eq!(args.listen, SocketAddr::from(([127, 0, 0, 1], 8443)));
    assert_eq!(args.state_dir, PathBuf::from(".d365-harness"));
    assert_eq!(args.world, None);
    assert_eq!(args.proxy_listen, None);
    assert_eq!(args.admin_listen, None);
    assert_eq!(
        args.admin_listen(),
        SocketAddr::from(([127, 0, 0, 1], 8444))
    );
    let world = args.load_world().expect("the built-in world loads");
    assert_eq!(world.path(), PathBuf::from("built-in:demo"));
}

#[test]
fn serve_options() {
    let args = serve_args(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--state-dir",
        "/tmp/state",
        "--world",
        "elsewhere.toml",
        "--proxy-listen",
        "127.0.0.1:0",
        "--admin-listen",
        "0.0.0.0:9444",
    ]);
    assert_eq!(args.admin_listen(), SocketAddr::from(([0, 0, 0, 0], 9444)));
    assert_eq!(
        args.proxy_listen,
        Some(SocketAddr::from(([127, 0, 0, 1], 0)))
    );
    assert_eq!(args.listen, SocketAddr::from(([0, 0, 0, 0], 0)));
    assert_eq!(args.state_dir, PathBuf::from("/tmp/state"));
    assert_eq!(args.world, Some(PathBuf::from("elsewhere.toml")));
}

#[test]
fn the_admin_api_listens_on_loopback_beside_the_listen_port_by_default() {
    for (listen, admin) in [
        ("0.0.0.0:9443", "127.0.0.1:9444"),
        ("127.0.0.1:0", "127.0.0.1:0"),
        ("[::1]:65535", "127.0.0.1:0"),
    ] {
        let args = serve_args(&["serve", "--listen", listen]);
        assert_eq!(args.admin_listen().to_string(), admin, "{listen}");
    }
}

#[test]
fn serve_takes_a_scenario_and_its_step_but_not_with_a_world() {
    let args = serve_args(&["serve", "--scenario", "case.toml", "--step", "3"]);
    assert_eq!(args.scenario, Some(PathBuf::from("case.toml")));
    assert_eq!(args.step, Some(3));
    let (exit, _, err) = run_captured(&["serve", "--scenario", "a.toml", "--world", "w.toml"]);
    assert_eq!(exit, Exit::Error);
    assert!(err.contains("cannot be used with"), "{err}");
    let (exit, _, err) = run_captured(&["serve", "--step", "2"]);
    assert_eq!(exit, Exit::Error);
    assert!(err.contains("--scenario <FILE>"), "{err}");
}

#[test]
fn help_goes_to_stdout_and_exits_zero() {
    let (exit, out, err) = run_captured(&["--help"]);
    assert_eq!((exit, err.as_str()), (Exit::Success, ""));
    assert!(out.contains("serve"), "{out}");
    let (exit, out, _) = run_captured(&["serve", "--help"]);
    assert_eq!(exit, Exit::Success);
    for flag in ["--listen", "--state-dir", "--world", "127.0.0.1:8443"] {
        assert!(out.contains(flag), "{flag} in {out}");
    }
}

#[test]
fn usage_errors_go_to_stderr_and_exit_two() {
    let (exit, out, err) = run_captured(&["bogus"]);
    assert_eq!((exit, out.as_str()), (Exit::Error, ""));
    assert!(err.contains("unrecognized subcommand 'bogus'"), "{err}");
    let (exit, _, err) = run_captured(&["serve", "--listen", "localhost"]);
    assert_eq!(exit, Exit::Error);
    assert!(
        err.contains("invalid value 'localhost' for '--listen <ADDR>'"),
        "{err}"
    );
}

#[test]
fn a_missing_world_is_a_harness_error_naming_the_file() {
    let folder = tempfile::tempdir().expect("temp dir");
    let world = folder.path().join("missing.toml");
    let state_dir = folder.path().join("state");
    let (exit, out, err) = run_captured(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--world",
        world.to_str().expect("UTF-8 temp path"),
        "--state-dir",
        state_dir.to_str().expect("UTF-8 temp path"),
    ]);
    assert_eq!((exit, out.as_str()), (Exit::Error, ""));
    assert_eq!(
        err,
        format!(
            "error: failed to read world `{}`: No such file or directory (os error 2)\n",
            world.display()
        )
    );
    assert!(
        !state_dir.exists(),
        "nothing is written before the server runs"
    );
}

#[test]
fn exit_codes() {
    let codes: Vec<u8> = [Exit::Success, Exit::Failures, Exit::Error]
        .into_iter()
        .map(Exit::code)
        .collect();
    assert_eq!(codes, [0, 1, 2]);
}

#[test]
fn an_error_chain_is_the_error_and_each_cause_joined_as_anyhow_shows_it() {
    let error = anyhow::anyhow!("No such file or directory")
        .context("failed to read world `w.toml`")
        .context("loading a world failed");
    let text = error_chain(error.as_ref());
    assert_eq!(
        text,
        "loading a world failed: failed to read world `w.toml`: No such file or directory"
    );
    assert_eq!(text, format!("{error:#}"));
}
