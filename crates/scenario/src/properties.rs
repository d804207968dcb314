//! Property tests of the world and scenario loaders: arbitrary TOML-ish text, and mutations of
//! the real `fixtures/worlds/*.toml` and `scenarios/**/*.toml` (a line deleted or duplicated, a
//! value of another type, garbage inserted, the file cut short), written to a copy of the
//! repository's layout in a temp folder and loaded with [`World::load`] and [`Scenario::load`].
//! Each load either succeeds or fails with an error that names the file kind, path and line.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use proptest::prelude::*;
use tempfile::TempDir;

use crate::{Error, FileKind, Reason, Scenario, World};

/// The repository root, whose `fixtures/` and `scenarios/` the mutations start from.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The text of every `*.toml` under `dir`, recursively, in path order.
fn toml_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a fixture folder") {
            let path = entry.expect("read a fixture entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|extension| extension == "toml")
            {
                let text = std::fs::read_to_string(&path).expect("read a fixture file");
                found.push((path, text));
            }
        }
    }
    found.sort();
    assert!(!found.is_empty(), "no TOML file under `{}`", dir.display());
    found
}

static WORLDS: LazyLock<Vec<String>> = LazyLock::new(|| {
    toml_files(&repo_root().join("fixtures/worlds"))
        .into_iter()
        .map(|(_, text)| text)
        .collect()
});

static SCENARIOS: LazyLock<Vec<String>> = LazyLock::new(|| {
    toml_files(&repo_root().join("scenarios"))
        .into_iter()
        .map(|(_, text)| text)
        .collect()
});

/// A copy of `fixtures/` in a temp folder, next to an empty `scenarios/area/`, so that a
/// mutant written there finds its world, and the files a world names, as in the repository.
struct Layout {
    _temp: TempDir,
    root: PathBuf,
}

impl Layout {
    fn new() -> Layout {
        let temp = tempfile::tempdir().expect("create a temp dir");
        let root = temp.path().to_owned();
        copy_dir(&repo_root().join("fixtures"), &root.join("fixtures"));
        std::fs::create_dir_all(root.join("scenarios/area")).expect("create scenarios/area");
        Layout { _temp: temp, root }
    }

    /// Writes `text` as a world file beside the real ones.
    fn world(&self, text: &str) -> PathBuf {
        let path = self.root.join("fixtures/worlds/mutant.toml");
        std::fs::write(&path, text).expect("write the world");
        path
    }

    /// Writes `text` as a scenario file.
    fn scenario(&self, text: &str) -> PathBuf {
        let path = self.root.join("scenarios/area/mutant.toml");
        std::fs::write(&path, text).expect("write the scenario");
        path
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a folder");
    for entry in std::fs::read_dir(from).expect("read a fixture folder") {
        let entry = entry.expect("read a fixture entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a fixture");
        }
    }
}

/// One layout per test thread: copying the fixtures once, not once per case, keeps it fast.
fn with_layout<T>(use_layout: impl FnOnce(&Layout) -> T) -> T {
    thread_local! {
        static LAYOUT: Layout = Layout::new();
    }
    LAYOUT.with(use_layout)
}

/// A change to one file.
#[derive(Clone, Debug)]
enum Mutation {
    /// Line `n` (modulo the line count) removed.
    DeleteLine(usize),
    /// Line `n` written twice (a duplicate key, or a duplicate `[table]`).
    DuplicateLine(usize),
    /// The value of the `n`th `key = value` line replaced by `value` (often of another type).
    ReplaceValue(usize, String),
    /// `garbage` inserted as a line before line `n`.
    InsertLine(usize, String),
    /// Everything after byte `n` (modulo the length, on a character boundary) cut off.
    Truncate(usize),
}

fn replacement_value() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("42".to_owned()),
        1 => Just("-1".to_owned()),
        1 => Just("9223372036854775807".to_owned()),
        1 => Just("3.5".to_owned()),
        1 => Just("true".to_owned()),
        1 => Just("\"\"".to_owned()),
        1 => Just("\"text\"".to_owned()),
        1 => Just("[]".to_owned()),
        1 => Just("[1, \"two\"]".to_owned()),
        1 => Just("{}".to_owned()),
        1 => Just("{ unknown = 1 }".to_owned()),
        1 => Just("1979-05-27T07:32:00Z".to_owned()),
        1 => Just("\"not-a-guid\"".to_owned()),
        1 => Just("\"00000000-0000-0000-0000-000000000000\"".to_owned()),
        1 => Just("\"../../../etc/passwd\"".to_owned()),
        // Strings in place of strings get past the parser to the validator.
        3 => "[a-z_]{1,12}".prop_map(|text| format!("\"{text}\"")),
        1 => "\\PC{0,16}".prop_map(|text| format!("{text:?}")),
        1 => any::<i64>().prop_map(|number| number.to_string()),
    ]
}

fn garbage_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[[".to_owned()),
        Just("= =".to_owned()),
        Just("key = \"unterminated".to_owned()),
        Just("[tenants.extra]".to_owned()),
        Just("[[steps]]".to_owned()),
        Just("version = 2".to_owned()),
        Just("unknown_field = 1".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\"\"\"".to_owned()),
        "[a-z_.]{1,16} = [a-z0-9\"]{0,8}",
        "\\PC{0,24}",
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<usize>().prop_map(Mutation::DeleteLine),
        1 => any::<usize>().prop_map(Mutation::DuplicateLine),
        2 => (any::<usize>(), replacement_value())
            .prop_map(|(line, value)| Mutation::ReplaceValue(line, value)),
        1 => (any::<usize>(), garbage_line()).prop_map(|(line, text)| Mutation::InsertLine(line, text)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut text = text.to_owned();
    for mutation in mutations {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let count = lines.len().max(1);
        match mutation {
            Mutation::DeleteLine(n) if !lines.is_empty() => {
                lines.remove(n % count);
            }
            Mutation::DuplicateLine(n) if !lines.is_empty() => {
                let line = lines[n % count].clone();
                lines.insert(n % count, line);
            }
            Mutation::ReplaceValue(n, value) => {
                let assignments: Vec<usize> = (0..lines.len())
                    .filter(|index| {
                        let line = lines[*index].trim_start();
                        !line.starts_with('#') && line.contains(" = ")
                    })
                    .collect();
                if let Some(index) = assignments.get(n % assignments.len().max(1)) {
                    let (key, _) = lines[*index].split_once(" = ").expect("an assignment line");
                    lines[*index] = format!("{key} = {value}");
                }
            }
            Mutation::InsertLine(n, garbage) => {
                lines.insert(n % (lines.len() + 1), garbage.clone());
            }
            Mutation::Truncate(n) => {
                let mut end = n % (text.len() + 1);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
                continue;
            }
            _ => {}
        }
        text = lines.join("\n");
        text.push('\n');
    }
    text
}

/// Text that looks like a world or scenario file: the schema's own section names and keys
/// with values of any type, plus noise.
fn tomlish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        2 => prop::sample::select(
            &[
                "[tenants.contoso]", "[apps.importer]", "[[apps.importer.secrets]]",
                "[environments.contoso]", "[environments.contoso.tables]", "[form]", "[[steps]]",
                "[[faults]]", "[entra]", "[dataverse]", "[tenants]", "[apps]",
            ][..],
        )
        .prop_map(str::to_owned),
        4 => (
            prop::sample::select(
                &[
                    "version", "name", "description", "world", "id", "domain", "client_id",
                    "tenant", "home", "secret", "value", "expires", "url", "action", "expect",
                    "environment_url", "tenant_id", "client_secret", "tables", "generate",
                    "status", "service", "path", "multi_tenant", "dynamics",
                ][..],
            ),
            replacement_value(),
        )
            .prop_map(|(key, value)| format!("{key} = {value}")),
        1 => garbage_line(),
    ];
    prop::collection::vec(line, 0..20).prop_map(|lines| lines.join("\n"))
}

/// The error of a load of `path` names `kind`, the path and a line (within the text) and,
/// for parse errors, the column the TOML parser gave.
fn assert_located(
    error: &Error,
    kind: FileKind,
    path: &Path,
    text: &str,
) -> Result<(), TestCaseError> {
    let message = error.to_string();
    prop_assert!(
        message.contains(&kind.to_string()),
        "no file kind: {message}"
    );
    prop_assert!(
        message.contains(&format!("`{}`", path.display())),
        "no path: {message}"
    );
    let location = match error {
        Error::Parse { file, location, .. } => {
            prop_assert_eq!(*file, kind);
            match location {
                Some(location) => *location,
                None => {
                    return Err(TestCaseError::fail(format!(
                        "a parse error without a line: {message}"
                    )));
                }
            }
        }
        Error::Invalid { file, location, .. } => {
            prop_assert_eq!(*file, kind);
            *location
        }
        other => return Err(TestCaseError::fail(format!("not a file error: {other:?}"))),
    };
    prop_assert!(
        message.contains(&format!(
            "line {}, column {}",
            location.line, location.column
        )),
        "{message}"
    );
    let lines = text.split('\n').count();
    prop_assert!(
        (1..=lines).contains(&location.line) && location.column >= 1,
        "line {} of {lines}: {message}",
        location.line
    );
    Ok(())
}

/// Every error `parse_all` found is located, and the first is the one loading reports.
fn assert_all_located(
    first: &Error,
    all: Option<Vec<Error>>,
    kind: FileKind,
    path: &Path,
    text: &str,
) -> Result<(), TestCaseError> {
    let Some(all) = all else {
        return Err(TestCaseError::fail(format!(
            "load failed with {first} but parse_all passed"
        )));
    };
    prop_assert!(!all.is_empty());
    prop_assert_eq!(all[0].to_string(), first.to_string());
    for error in &all {
        assert_located(error, kind, path, text)?;
    }
    Ok(())
}

/// A scenario's error about its world also locates the world's own mistake.
fn assert_world_cause_located(error: &Error) -> Result<(), TestCaseError> {
    if let Error::Invalid { reason, .. } = error
        && let Reason::World { source } = reason.as_ref()
        // A world that cannot be read at all (`world` pointed at a missing file) has no line.
        && !matches!(source.as_ref(), Error::Read { .. })
    {
        let world_text = std::fs::read_to_string(world_path(source)).unwrap_or_default();
        return assert_located(source, FileKind::World, &world_path(source), &world_text);
    }
    Ok(())
}

fn world_path(error: &Error) -> PathBuf {
    match error {
        Error::Read { path, .. } | Error::Parse { path, .. } | Error::Invalid { path, .. } => {
            path.clone()
        }
        _ => PathBuf::new(),
    }
}

fn check_world(text: &str) -> Result<(), TestCaseError> {
    with_layout(|layout| {
        let path = layout.world(text);
        let all = World::parse_all(text, &path);
        match World::load(&path) {
            Ok(world) => {
                prop_assert_eq!(world.path(), path.as_path());
                prop_assert!(all.is_ok(), "parse_all disagrees: {:?}", all.err());
                Ok(())
            }
            Err(error) => {
                assert_located(&error, FileKind::World, &path, text)?;
                assert_all_located(&error, all.err(), FileKind::World, &path, text)
            }
        }
    })
}

fn check_scenario(text: &str) -> Result<(), TestCaseError> {
    with_layout(|layout| {
        let path = layout.scenario(text);
        let all = Scenario::parse_all(text, &path);
        match Scenario::load(&path) {
            Ok(scenario) => {
                prop_assert_eq!(scenario.path(), path.as_path());
                prop_assert!(all.is_ok(), "parse_all disagrees: {:?}", all.err());
                Ok(())
            }
            Err(error) => {
                assert_located(&error, FileKind::Scenario, &path, text)?;
                assert_all_located(&error, all.err(), FileKind::Scenario, &path, text)?;
                assert_world_cause_located(&error)
            }
        }
    })
}

#[test]
fn the_real_files_load() {
    for text in WORLDS.iter() {
        check_world(text).expect("a real world loads");
    }
    for text in SCENARIOS.iter() {
        check_scenario(text).expect("a real scenario loads");
    }
}

proptest! {
    #[test]
    fn a_mutated_world_loads_or_names_its_file_and_line(
        index in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let original = index.get(&WORLDS);
        check_world(&mutate(original, &mutations))?;
    }

    #[test]
    fn a_mutated_scenario_loads_or_names_its_file_and_line(
        index in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let original = index.get(&SCENARIOS);
        check_scenario(&mutate(original, &mutations))?;
    }

    #[test]
    fn tomlish_text_never_breaks_the_loaders(text in tomlish()) {
        check_world(&text)?;
        check_scenario(&text)?;
    }

    #[test]
    fn arbitrary_text_never_breaks_the_loaders(text in any::<String>()) {
        check_world(&text)?;
        check_scenario(&text)?;
    }
}
