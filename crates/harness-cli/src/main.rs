//! The `d365-harness` binary: everything lives in the library's `run`.
fn main() -> std::process::ExitCode {
    harness_cli::run(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
    .into()
}
