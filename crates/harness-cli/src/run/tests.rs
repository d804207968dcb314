//! `run` in process: scenario files in a temporary folder (one that passes, one that expects
//! the wrong problem, one that does not load) against the repository's setup-mistakes world,
//! the printed lines and exit codes, the JSON and JUnit files, usage errors, finding files, XML
//! escaping; and the repository's own `scenarios/`, which must all pass.

use std::path::{Path, PathBuf};

use super::junit;
use super::*;

/// Runs `d365-harness {args}` and returns the exit, stdout and stderr.
fn harness(args: &[&str]) -> (Exit, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let exit = crate::run(
        std::iter::once("d365-harness").chain(args.iter().copied()),
        &mut out,
        &mut err,
    );
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8 output");
    (exit, text(out), text(err))
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A scenario file's `world = ...` line naming the repository's setup-mistakes world by path
/// (a TOML literal string, so no character of the path needs escaping).
fn world_line() -> String {
    let world = repository().join("fixtures/worlds/setup-mistakes.toml");
    format!("world = '{}'", world.display())
}

const FORM: &str = r#"
[form]
name = "Contoso CRM"
environment_url = "https://contoso.crm.dynamics.com"
tenant_id = "contoso.onmicrosoft.com"
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
"#;

/// `scenarios/source/add_test_remove.toml`, shortened.
fn passing() -> String {
    format!(
        r#"version = 1
name = "add, test and remove a source"
description = "The happy path."
{}
{FORM}client_secret = {{ app = "importer", secret = "current" }}

[[steps]]
action = "add"
expect = {{ outcome = "added", warnings = [] }}

[[steps]]
action = "remove"
expect = {{ outcome = "removed" }}
"#,
        world_line()
    )
}

/// The expired secret, expecting the wrong problem on purpose (and a test that cannot pass).
fn failing() -> String {
    format!(
        r#"version = 1
name = "expects the wrong problem"
description = "Deliberately wrong: the expired secret fails with expired_secret."
{}
{FORM}client_secret = {{ app = "importer", secret = "expired" }}

[[steps]]
action = "add"
expect = {{ outcome = "failed", problem = "wrong_secret" }}

[[steps]]
action = "test"
expect = {{ outcome = "passed" }}
"#,
        world_line()
    )
}

/// A problem name the flow does not know, on line 15, column 42.
fn broken() -> String {
    passing().replace(
        r#"expect = { outcome = "added", warnings = [] }"#,
        r#"expect = { outcome = "failed", problem = "expird_secret" }"#,
    )
}

/// A temporary folder `qa/` holding `files` (name, contents).
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("temp dir");
    for (name, contents) in files {
        let path = folder.path().join("qa").join(name);
        std::fs::create_dir_all(path.parent().expect("a file in a folder")).expect("mkdir");
        std::fs::write(&path, contents).expect("write scenario");
    }
    folder
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

#[test]
fn passes_and_failures_are_listed_with_the_failing_steps_and_a_summary() {
    let folder = folder(&[("passes.toml", &passing()), ("fails.toml", &failing())]);
    let (exit, out, err) = harness(&["run", utf8(folder.path())]);
    assert_eq!((exit, err.as_str()), (Exit::Failures, ""), "{out}");
    assert_eq!(
        out,
        "\
FAIL  qa/fails  expects the wrong problem
      step 1 (add): failed (expired_secret)
        problem: expected `wrong_secret`, got `expired_secret`
        message: The Client Secret of application 3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01 has expired.
      step 2 (test): not_found
        outcome: expected `passed`, got `not_found`
PASS  qa/passes  add, test and remove a source
1 passed, 1 failed
"
    );
}

#[test]
fn verbose_shows_every_step_with_the_message_and_fix() {
    let folder = folder(&[("passes.toml", &passing()), ("fails.toml", &failing())]);
    let (exit, out, _) = harness(&["run", "--verbose", utf8(folder.path())]);
    assert_eq!(exit, Exit::Failures, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "FAIL  qa/fails  expects the wrong problem");
    assert_eq!(lines[1], "      step 1 (add): failed (expired_secret)");
    assert!(
        lines[4].starts_with("        fix: In Microsoft Entra admin center"),
        "{out}"
    );
    let passed = lines
        .iter()
        .position(|line| *line == "PASS  qa/passes  add, test and remove a source")
        .expect("the PASS line");
    assert_eq!(
        &lines[passed + 1..],
        [
            "      step 1 (add): added",
            "      step 2 (remove): removed",
            "1 passed, 1 failed",
        ]
    );
}

#[test]
fn all_passed_exits_zero() {
    let folder = folder(&[
        ("passes.toml", &passing()),
        ("README.md", "# not a scenario"),
    ]);
    let file = folder.path().join("qa/passes.toml");
    let (exit, out, err) = harness(&["run", utf8(&file)]);
    assert_eq!((exit, err.as_str()), (Exit::Success, ""));
    // A file on its own is named after its stem.
    assert_eq!(
        out,
        "PASS  passes  add, test and remove a source\n1 passed, 0 failed\n"
    );
}

#[test]
fn writes_the_json_report_and_the_junit_file() {
    let folder = folder(&[("passes.toml", &passing()), ("fails.toml", &failing())]);
    let json_path = folder.path().join("out/report.json");
    let junit_path = folder.path().join("out/junit.xml");
    let (exit, out, err) = harness(&[
        "run",
        utf8(&folder.path().join("qa")),
        "--report",
        utf8(&json_path),
        "--junit",
        utf8(&junit_path),
    ]);
    assert_eq!((exit, err.as_str()), (Exit::Failures, ""), "{out}");
    assert!(out.ends_with("\n1 passed, 1 failed\n"), "{out}");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("the JSON report"))
            .expect("valid JSON");
    assert_eq!(
        (&json["passed"], &json["failed"], &json["errors"]),
        (&1.into(), &1.into(), &0.into())
    );
    let scenarios = json["scenarios"].as_array().expect("an array of scenarios");
    let summary: Vec<(&str, &str, &str)> = scenarios
        .iter()
        .map(|case| {
            (
                case["scenario"].as_str().expect("scenario"),
                case["status"].as_str().expect("status"),
                case["path"].as_str().expect("path"),
            )
        })
        .collect();
    let fails = folder.path().join("qa/fails.toml");
    let passes = folder.path().join("qa/passes.toml");
    assert_eq!(
        summary,
        [
            ("fails", "failed", utf8(&fails)),
            ("passes", "passed", utf8(&passes)),
        ]
    );
    // The whole `Report`, as `scenario` serializes it.
    let report = &scenarios[0]["report"];
    assert_eq!(report["name"], "expects the wrong problem");
    assert_eq!(report["passed"], false);
    assert_eq!(report["form"]["client_secret"], "importer.expired");
    assert_eq!(report["steps"][0]["problem"]["kind"], "expired_secret");
    assert_eq!(
        report["steps"][0]["mismatches"],
        serde_json::json!(["problem: expected `wrong_secret`, got `expired_secret`"])
    );
    assert_eq!(scenarios[1]["report"]["steps"][1]["outcome"], "removed");
    assert!(scenarios[1].get("error").is_none());

    let xml = std::fs::read_to_string(&junit_path).expect("the JUnit file");
    assert_well_formed(&xml);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"));
    assert!(
        xml.contains(
            "<testsuite name=\"d365-harness scenarios\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\""
        ),
        "{xml}"
    );
    assert!(
        xml.contains(&format!(
            "<testcase classname=\"qa\" name=\"passes\" file=\"{}\"",
            passes.display()
        )),
        "{xml}"
    );
    let failure = "<failure message=\"step 1 (add): problem: expected `wrong_secret`, got \
        `expired_secret`; step 2 (test): outcome: expected `passed`, got `not_found`\" \
        type=\"mismatch\">expects the wrong problem\n";
    assert!(xml.contains(failure), "{xml}");
    // The fix's `Certificates & secrets` in the failure's text.
    assert!(xml.contains("Certificates &amp; secrets"), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
}

#[test]
fn a_file_that_does_not_load_is_an_error_naming_its_line_and_column() {
    let folder = folder(&[("passes.toml", &passing()), ("broken.toml", &broken())]);
    let junit_path = folder.path().join("junit.xml");
    let json_path = folder.path().join("report.json");
    let (exit, out, err) = harness(&[
        "run",
        utf8(folder.path()),
        "--junit",
        utf8(&junit_path),
        "--report",
        utf8(&json_path),
    ]);
    assert_eq!((exit, err.as_str()), (Exit::Error, ""), "{out}");
    let broken = folder.path().join("qa/broken.toml");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!("ERROR qa/broken  {}:15:42", broken.display())
    );
    assert!(
        lines[1].starts_with(&format!(
            "      invalid scenario `{}` at line 15, column 42: `steps[0].expect.problem`: \
             unknown problem `expird_secret`",
            broken.display()
        )),
        "{out}"
    );
    // The other files still run; the count of errors comes before the summary line.
    assert_eq!(
        &lines[2..],
        [
            "PASS  qa/passes  add, test and remove a source",
            "1 scenario could not be loaded or run",
            "1 passed, 0 failed",
        ]
    );

    let xml = std::fs::read_to_string(&junit_path).expect("the JUnit file");
    assert_well_formed(&xml);
    assert!(
        xml.contains("tests=\"2\" failures=\"0\" errors=\"1\""),
        "{xml}"
    );
    assert!(
        xml.contains(&format!(
            "<error message=\"invalid scenario `{}` at line 15, column 42: ",
            broken.display()
        )),
        "{xml}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("the JSON report"))
            .expect("valid JSON");
    assert_eq!(json["errors"], 1);
    assert_eq!(json["scenarios"][0]["status"], "error");
    assert!(json["scenarios"][0].get("report").is_none());
    assert!(
        json["scenarios"][0]["error"]
            .as_str()
            .expect("the error")
            .contains("unknown problem `expird_secret`")
    );
}

#[test]
fn markup_in_an_error_is_escaped_in_the_junit_file() {
    let folder = folder(&[(
        "markup.toml",
        "version = 1\nname = \"x\"\n\"<bad & 'key'> \\\"q\\\"\" = 1\n",
    )]);
    let junit_path = folder.path().join("junit.xml");
    let (exit, out, _) = harness(&["run", utf8(folder.path()), "--junit", utf8(&junit_path)]);
    assert_eq!(exit, Exit::Error);
    assert!(
        out.contains("unknown field `<bad & 'key'> \"q\"`"),
        "the terminal shows the key as written: {out}"
    );
    let xml = std::fs::read_to_string(&junit_path).expect("the JUnit file");
    assert_well_formed(&xml);
    assert!(
        xml.contains("unknown field `&lt;bad &amp; &apos;key&apos;&gt; &quot;q&quot;`"),
        "{xml}"
    );
    assert!(xml.contains("/markup.toml:3:1\n"), "{xml}");
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let folder = folder(&[("passes.toml", &passing())]);
    let missing = folder.path().join("nope");
    let (exit, out, err) = harness(&["run", utf8(folder.path()), utf8(&missing)]);
    assert_eq!((exit, out.as_str()), (Exit::Error, ""), "nothing runs");
    assert_eq!(
        err,
        format!(
            "error: no such scenario file or folder `{}`\n",
            missing.display()
        )
    );
}

#[test]
fn without_a_path_scenarios_come_from_the_current_folder() {
    // Tests run in the crate's folder, which has no `scenarios/`.
    assert!(!Path::new(DEFAULT_FOLDER).exists());
    let (exit, out, err) = harness(&["run"]);
    assert_eq!((exit, out.as_str()), (Exit::Error, ""));
    assert_eq!(
        err,
        "error: no folder `scenarios` here to take scenarios from; run in the repository's root \
         or name scenario files or folders\n"
    );
}

#[test]
fn a_folder_without_scenarios_is_a_usage_error() {
    let folder = folder(&[("README.md", "# no scenarios here")]);
    let (exit, out, err) = harness(&["run", utf8(folder.path())]);
    assert_eq!((exit, out.as_str()), (Exit::Error, ""));
    assert_eq!(
        err,
        format!(
            "error: no scenario files (`*.toml`) in folder `{}`\n",
            folder.path().display()
        )
    );
}

#[test]
fn finds_toml_files_sorted_relative_to_the_common_folder() {
    let folder = folder(&[
        ("b.toml", ""),
        ("a.toml", ""),
        ("README.md", ""),
        (".#a.toml", ""),
        ("deeper/c.toml", ""),
        (".hidden/d.toml", ""),
    ]);
    std::fs::write(folder.path().join("top.toml"), "").expect("write");
    let ids = |paths: &[PathBuf]| -> Vec<(String, String)> {
        scenario_files(paths)
            .expect("files")
            .into_iter()
            .map(|file| (file.id, file.folder))
            .collect()
    };
    let pairs = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(id, folder)| ((*id).to_owned(), (*folder).to_owned()))
            .collect()
    };
    let qa = folder.path().join("qa");
    assert_eq!(
        ids(&[folder.path().to_owned()]),
        pairs(&[
            ("qa/a", "qa"),
            ("qa/b", "qa"),
            ("qa/deeper/c", "deeper"),
            ("top", &folder_name(folder.path())),
        ])
    );
    // A file named twice (directly and through `.` and `..`) counts once.
    assert_eq!(
        ids(&[
            qa.join("b.toml"),
            qa.clone(),
            qa.join("deeper/../b.toml"),
            qa.join("./a.toml"),
        ]),
        pairs(&[("b", "qa"), ("a", "qa"), ("deeper/c", "deeper")])
    );
    assert_eq!(
        ids(&[qa.join("deeper"), folder.path().join("top.toml")]),
        pairs(&[
            ("qa/deeper/c", "deeper"),
            ("top", &folder_name(folder.path()))
        ])
    );
}

fn folder_name(path: &Path) -> String {
    path.file_name()
        .expect("a named folder")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn every_repository_scenario_passes() {
    let scenarios = repository().join("scenarios");
    // Counted, not written down: scenario files are added all the time.
    let mut files = Vec::new();
    walk(&scenarios, &mut files).expect("the scenarios folder");
    assert!(files.len() >= 29, "{files:?}");
    let (exit, out, err) = harness(&["run", utf8(&scenarios)]);
    assert_eq!((exit, err.as_str()), (Exit::Success, ""), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), files.len() + 1, "{out}");
    assert!(lines.contains(&"PASS  entra/expired_secret  expired client secret"));
    for line in &lines[..files.len()] {
        assert!(line.starts_with("PASS  "), "{out}");
    }
    assert_eq!(
        lines[files.len()],
        format!("{} passed, 0 failed", files.len())
    );
}

#[track_caller]
fn check(input: &str, expected_text: &str, expected_attribute: &str) {
    assert_eq!(junit::text(input), expected_text);
    assert_eq!(junit::attribute(input), expected_attribute);
}

#[test]
fn xml_escaping() {
    check("plain `text`", "plain `text`", "plain `text`");
    check(
        "<a href=\"x\">&'",
        "&lt;a href=\"x\"&gt;&amp;'",
        "&lt;a href=&quot;x&quot;&gt;&amp;&apos;",
    );
    check(
        "two\nlines\tand\r",
        "two\nlines\tand&#13;",
        "two&#10;lines&#9;and&#13;",
    );
    // XML 1.0 has no way to write these, not even as references.
    check(
        "bell\u{7}nul\u{0}\u{ffff}",
        "bell\u{fffd}nul\u{fffd}\u{fffd}",
        "bell\u{fffd}nul\u{fffd}\u{fffd}",
    );
    check("→ é", "→ é", "→ é");
}

/// A light check that `xml` is well-formed where escaping matters: every `&` starts an entity
/// or character reference, and no attribute value holds `<` or a line break.
#[track_caller]
fn assert_well_formed(xml: &str) {
    for (index, _) in xml.match_indices('&') {
        let rest = &xml[index + 1..];
        let reference = [
            "amp;", "lt;", "gt;", "quot;", "apos;", "#9;", "#10;", "#13;",
        ]
        .iter()
        .any(|name| rest.starts_with(name));
        assert!(reference, "a bare `&` at byte {index}: {xml}");
    }
    let mut inside_tag = false;
    let mut inside_value = false;
    for character in xml.chars() {
        match character {
            '"' if inside_tag => inside_value = !inside_value,
            '<' if inside_value => panic!("`<` in an attribute value: {xml}"),
            '\n' if inside_value => panic!("a line break in an attribute value: {xml}"),
            '<' => inside_tag = true,
            '>' if !inside_value => inside_tag = false,
            _ => {}
        }
    }
    assert!(!inside_tag && !inside_value, "unterminated: {xml}");
}

#[test]
fn parallel_jobs_print_results_in_file_order() {
    // Failing cases print several lines, passing ones one, broken ones an error: the kinds
    // take different times, so workers finish out of order.
    let (pass, fail, error) = (passing(), failing(), broken());
    let mut files = Vec::new();
    for index in 0..9 {
        let contents = match index % 3 {
            0 => &fail,
            1 => &pass,
            _ => &error,
        };
        files.push((format!("case_{index}.toml"), contents.as_str()));
    }
    let named: Vec<(&str, &str)> = files
        .iter()
        .map(|(name, contents)| (name.as_str(), *contents))
        .collect();
    let folder = folder(&named);
    let (serial_exit, serial, serial_err) = harness(&["run", "--jobs", "1", utf8(folder.path())]);
    let (parallel_exit, parallel, parallel_err) =
        harness(&["run", "--jobs", "4", utf8(folder.path())]);
    assert_eq!((serial_exit, serial_err.as_str()), (Exit::Error, ""));
    assert_eq!((parallel_exit, parallel_err.as_str()), (Exit::Error, ""));
    assert_eq!(parallel, serial);
    let ids: Vec<&str> = parallel
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .filter(|id| id.starts_with("qa/case_"))
        .collect();
    let expected: Vec<String> = (0..9).map(|index| format!("qa/case_{index}")).collect();
    assert_eq!(ids, expected, "{parallel}");
}

#[test]
fn jobs_must_be_at_least_one() {
    let (exit, _, err) = harness(&["run", "--jobs", "0", "scenarios"]);
    assert_eq!(exit, Exit::Error);
    assert!(err.contains("--jobs"), "{err}");
}
