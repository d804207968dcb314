//! Atomic writes into the state directory, with the file mode asked for.

use super::*;

#[test]
fn writes_replace_files_atomically_with_the_asked_mode() {
    let folder = tempfile::tempdir().expect("temp dir");
    let state = StateDir::create(&folder.path().join("a/b")).expect("create");
    let first = state
        .write("connection.env", b"one\n", FileMode::Private)
        .expect("write");
    assert!(first.is_absolute(), "{}", first.display());
    let second = state
        .write("connection.env", b"two\n", FileMode::Private)
        .expect("overwrite");
    assert_eq!(first, second);
    assert_eq!(std::fs::read_to_string(&second).expect("read"), "two\n");
    let names: Vec<String> = std::fs::read_dir(folder.path().join("a/b"))
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["connection.env"], "no temporary files left behind");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| {
            std::fs::metadata(path)
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(&second), 0o600);
        let public = state
            .write("ca.pem", b"pem\n", FileMode::Public)
            .expect("write");
        // The umask may take bits away, never add them.
        assert_eq!(mode(&public) & !0o644, 0);
    }
}
