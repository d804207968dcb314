//! `d365-harness run` as QA types it: from inside `scenarios/`, or on one file from its own
//! folder. The world a scenario names must be found wherever the command runs.

use std::path::Path;
use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_d365-harness");

fn scenarios() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

#[test]
fn runs_a_folder_from_inside_it_and_a_file_from_its_own_folder() -> anyhow::Result<()> {
    for (folder, argument) in [("entra", "."), ("entra", "wrong_secret.toml")] {
        let output = Command::new(BINARY)
            .args(["run", argument])
            .current_dir(scenarios().join(folder))
            .output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(0),
            "run {argument} in scenarios/{folder}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    }
    Ok(())
}
