//! Tests of the source list against real files in temp directories: round trips, name rules,
//! concurrent writers, corrupt and foreign files left untouched, the key file's rules, and that
//! no secret ever reaches the disk in plain text.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Barrier;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use tempfile::TempDir;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

use super::crypto::SecretKey;
use super::{FORMAT_VERSION, LastCheck, Store, StoreWarning, secret_hint};
use crate::Error;
use crate::form::{Cloud, Draft, EnvironmentUrl, TenantId};
use crate::problem::{Evidence, Problem, ProblemKind, Step};
use crate::report::{
    CheckReport, CheckWarning, CheckWarningKind, Organization, ReadDepth, TableAccess,
};

const SECRET: &str = "Qx8~kT3.vZp9Lw2_rN7yHc4-Ud6sFj1mEb5oAa0";
const OTHER_SECRET: &str = "Zr5~aB7.qWe2Ty8_uIo3Pa9-Sd4fGh6jKl1zXc0";

fn draft(name: &str, secret: &str) -> Draft {
    Draft {
        name: name.to_owned(),
        environment: EnvironmentUrl::new(
            "https://contoso.crm.dynamics.com".to_owned(),
            Cloud::Public,
        ),
        tenant: TenantId::Id(Uuid::from_u128(0x6f1f3b7e_2b51_4f0e_9d5e_0c8c3a7d1a10)),
        client_id: Uuid::from_u128(0x0b8a9d2c_1e4f_4a6b_8c3d_5e7f9a1b2c3d),
        client_secret: SecretString::from(secret),
        warnings: Vec::new(),
    }
}

fn report(checked_at: OffsetDateTime) -> CheckReport {
    CheckReport {
        checked_at,
        user_id: Uuid::from_u128(0x1111),
        business_unit_id: Uuid::from_u128(0x2222),
        organization: Organization {
            id: Uuid::from_u128(0x3333),
            name: "Contoso".to_owned(),
            unique_name: "org1a2b3c4d".to_owned(),
            version: "9.2.25023.00180".to_owned(),
        },
        tables: vec![TableAccess {
            logical_name: "account".to_owned(),
            entity_set: "accounts".to_owned(),
            requested: None,
            read_depth: None,
        }],
        readable_tables: vec!["account".to_owned(), "contact".to_owned()],
        warnings: Vec::new(),
    }
}

fn failed_check(checked_at: OffsetDateTime) -> LastCheck {
    LastCheck::Failed {
        checked_at,
        problem: Problem {
            kind: ProblemKind::WrongSecret,
            evidence: Evidence::new(
                Step::Token,
                "POST https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
            )
            .status(401)
            .code("AADSTS7000215"),
            message: "The client secret is not valid for this app.".to_owned(),
            fix: "Copy the secret's Value, not its Secret ID.".to_owned(),
        },
    }
}

const CREATED_AT: OffsetDateTime = datetime!(2025-03-01 09:30:00 UTC);
const CHECKED_AT: OffsetDateTime = datetime!(2025-03-01 09:29:58 UTC);

/// A store in a data directory that does not exist yet.
fn new_store() -> (TempDir, Store) {
    let temp = tempfile::tempdir().expect("create a temp dir");
    let store = Store::open(temp.path().join("data"));
    (temp, store)
}

fn tables() -> Vec<String> {
    vec!["account".to_owned(), "contact".to_owned()]
}

fn insert(store: &Store, name: &str, secret: &str) {
    store
        .insert(
            &draft(name, secret),
            &tables(),
            report(CHECKED_AT),
            CREATED_AT,
        )
        .expect("insert a source");
}

fn list_path(store: &Store) -> PathBuf {
    store.dir().join("sources.json")
}

fn key_path(store: &Store) -> PathBuf {
    store.dir().join("sources.key")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).expect("read the list")).expect("the list is JSON")
}

fn write_json(path: &Path, value: &Value) {
    fs::write(path, serde_json::to_vec_pretty(value).expect("serialise")).expect("write the list");
}

fn file_names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .expect("read the data dir")
        .map(|entry| {
            entry
                .expect("read a dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[test]
fn round_trips_a_source() {
    let (_temp, store) = new_store();

    let inserted = store
        .insert(
            &draft("  Contoso  ", SECRET),
            &tables(),
            report(CHECKED_AT),
            CREATED_AT,
        )
        .expect("insert");

    assert_eq!(inserted.name, "Contoso");
    assert_eq!(
        inserted.environment.as_str(),
        "https://contoso.crm.dynamics.com"
    );
    assert_eq!(inserted.tenant, draft("", "").tenant);
    assert_eq!(inserted.client_id, draft("", "").client_id);
    assert_eq!(inserted.secret_hint, "Qx8*****");
    assert_eq!(inserted.created_at, CREATED_AT);
    assert_eq!(inserted.last_check, LastCheck::Passed(report(CHECKED_AT)));
    assert_eq!(store.list().expect("list"), vec![inserted.clone()]);
    assert_eq!(store.get("CONTOSO").expect("get"), inserted);
    // A second store on the same directory sees the same list (nothing is cached).
    let reopened = Store::open(store.dir());
    assert_eq!(reopened.get(" contoso ").expect("get"), inserted);
    assert_eq!(
        reopened.secret("contoso").expect("secret").expose_secret(),
        SECRET
    );
}

/// A check's warnings, resolved names and depths are saved and read back; a report without
/// them (as older builds wrote it) keeps its old shape in the file.
#[test]
fn round_trips_check_warnings_and_table_resolutions() {
    let (_temp, store) = new_store();
    let mut checked = report(CHECKED_AT);
    checked.tables[0].requested = Some("Accounts".to_owned());
    checked.tables[0].read_depth = Some(ReadDepth::Local);
    checked.warnings.push(CheckWarning {
        kind: CheckWarningKind::PartialReadDepth,
        table: "account".to_owned(),
        depth: ReadDepth::Local,
        message: "Table account is read at Business Unit (Local) depth.".to_owned(),
    });
    store
        .insert(
            &draft("Contoso", SECRET),
            &tables(),
            checked.clone(),
            CREATED_AT,
        )
        .expect("insert");
    store
        .insert(
            &draft("Plain", SECRET),
            &tables(),
            report(CHECKED_AT),
            CREATED_AT,
        )
        .expect("insert");
    let reopened = Store::open(store.dir());
    assert_eq!(
        reopened.get("Contoso").expect("get").last_check,
        LastCheck::Passed(checked)
    );
    let json = read_json(&list_path(&store));
    let saved = &json["sources"][0]["last_check"];
    assert_eq!(saved["warnings"][0]["kind"], "partial_read_depth");
    assert_eq!(saved["warnings"][0]["depth"], "Local");
    assert_eq!(saved["tables"][0]["requested"], "Accounts");
    let plain = &json["sources"][1]["last_check"];
    assert!(plain.get("warnings").is_none(), "{plain}");
    assert!(plain["tables"][0].get("requested").is_none(), "{plain}");
    assert!(plain["tables"][0].get("read_depth").is_none(), "{plain}");
}

#[test]
fn lists_sources_in_the_order_they_were_added() {
    let (_temp, store) = new_store();
    for name in ["Zulu", "alpha", "Mike"] {
        insert(&store, name, SECRET);
    }

    let names: Vec<String> = store
        .list()
        .expect("list")
        .into_iter()
        .map(|source| source.name)
        .collect();

    assert_eq!(names, ["Zulu", "alpha", "Mike"]);
}

#[test]
fn refuses_a_taken_name_case_insensitively() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso Sales", SECRET);
    let before = fs::read(list_path(&store)).expect("read");

    let error = store
        .insert(
            &draft("  cONTOSO sALES ", OTHER_SECRET),
            &tables(),
            report(CHECKED_AT),
            CREATED_AT,
        )
        .expect_err("the name is taken");

    assert!(
        matches!(&error, Error::NameTaken { name } if name == "cONTOSO sALES"),
        "{error:?}"
    );
    assert_eq!(fs::read(list_path(&store)).expect("read"), before);
}

#[test]
fn compares_names_with_unicode_lower_case() {
    let (_temp, store) = new_store();
    insert(&store, "Ärzte Übersicht", SECRET);

    assert!(store.get("ärzte übersicht").is_ok());
    assert!(matches!(
        store.insert(
            &draft("ÄRZTE ÜBERSICHT", SECRET),
            &tables(),
            report(CHECKED_AT),
            CREATED_AT
        ),
        Err(Error::NameTaken { .. })
    ));
}

#[test]
fn removes_a_source() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    insert(&store, "Fabrikam", OTHER_SECRET);

    let removed = store.remove("contoso").expect("remove");

    assert_eq!(removed.name, "Contoso");
    let names: Vec<String> = store
        .list()
        .expect("list")
        .into_iter()
        .map(|source| source.name)
        .collect();
    assert_eq!(names, ["Fabrikam"]);
    assert!(matches!(
        store.get("Contoso"),
        Err(Error::SourceNotFound { name }) if name == "Contoso"
    ));
    assert!(matches!(
        store.remove("Contoso"),
        Err(Error::SourceNotFound { .. })
    ));
    assert_eq!(
        store.secret("fabrikam").expect("secret").expose_secret(),
        OTHER_SECRET
    );
}

#[test]
fn keeps_the_key_when_the_last_source_goes() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    let key = fs::read(key_path(&store)).expect("read the key");

    store.remove("Contoso").expect("remove");
    insert(&store, "Fabrikam", OTHER_SECRET);

    assert_eq!(fs::read(key_path(&store)).expect("read the key"), key);
    assert_eq!(
        store.secret("Fabrikam").expect("secret").expose_secret(),
        OTHER_SECRET
    );
}

#[test]
fn rotates_a_secret() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    insert(&store, "Fabrikam", SECRET);
    let nonce_before =
        read_json(&list_path(&store))["sources"][0]["client_secret"]["nonce"].clone();
    let rechecked_at = datetime!(2025-06-01 12:00:00 UTC);

    let rotated = store
        .rotate_secret(
            "CONTOSO",
            &SecretString::from(OTHER_SECRET),
            report(rechecked_at),
        )
        .expect("rotate");

    assert_eq!(rotated.secret_hint, "Zr5*****");
    assert_eq!(rotated.last_check, LastCheck::Passed(report(rechecked_at)));
    assert_eq!(rotated.created_at, CREATED_AT);
    assert_eq!(store.get("Contoso").expect("get"), rotated);
    assert_eq!(
        store.secret("Contoso").expect("secret").expose_secret(),
        OTHER_SECRET
    );
    assert_eq!(
        store.secret("Fabrikam").expect("secret").expose_secret(),
        SECRET
    );
    let nonce_after = read_json(&list_path(&store))["sources"][0]["client_secret"]["nonce"].clone();
    assert_ne!(nonce_before, nonce_after);
}

#[test]
fn records_a_check() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    let failed_at = datetime!(2025-04-01 08:00:00 UTC);

    let failed = store
        .record_check("contoso", failed_check(failed_at))
        .expect("record a failed check");

    assert_eq!(failed.last_check, failed_check(failed_at));
    assert_eq!(failed.last_check.checked_at(), failed_at);
    assert_eq!(store.get("Contoso").expect("get"), failed);

    let passed_at = datetime!(2025-04-02 08:00:00 UTC);
    let passed = store
        .record_check("Contoso", LastCheck::Passed(report(passed_at)))
        .expect("record a passed check");
    assert_eq!(passed.last_check.checked_at(), passed_at);
    assert_eq!(passed.secret_hint, "Qx8*****");
    assert_eq!(
        store.secret("Contoso").expect("secret").expose_secret(),
        SECRET
    );
}

#[test]
fn reports_missing_names() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    let before = fs::read(list_path(&store)).expect("read");

    let errors = [
        store.get("Fabrikam").map(drop),
        store.secret("Fabrikam").map(drop),
        store
            .record_check("Fabrikam", failed_check(CHECKED_AT))
            .map(drop),
        store
            .rotate_secret("Fabrikam", &SecretString::from(SECRET), report(CHECKED_AT))
            .map(drop),
        store.remove("Fabrikam").map(drop),
    ];

    for error in errors {
        assert!(
            matches!(&error, Err(Error::SourceNotFound { name }) if name == "Fabrikam"),
            "{error:?}"
        );
    }
    assert_eq!(fs::read(list_path(&store)).expect("read"), before);
}

#[test]
fn keeps_every_source_added_concurrently_by_separate_stores() {
    const WRITERS: usize = 16;
    let (_temp, store) = new_store();
    let barrier = Barrier::new(WRITERS);

    std::thread::scope(|scope| {
        for writer in 0..WRITERS {
            let barrier = &barrier;
            let dir = store.dir().to_owned();
            scope.spawn(move || {
                let own_store = Store::open(dir);
                barrier.wait();
                own_store
                    .insert(
                        &draft(
                            &format!("source {writer}"),
                            &format!("secret-value-{writer}"),
                        ),
                        &tables(),
                        report(CHECKED_AT),
                        CREATED_AT,
                    )
                    .expect("insert concurrently");
            });
        }
    });

    let names: BTreeSet<String> = store
        .list()
        .expect("list")
        .into_iter()
        .map(|source| source.name)
        .collect();
    let expected: BTreeSet<String> = (0..WRITERS)
        .map(|writer| format!("source {writer}"))
        .collect();
    assert_eq!(names, expected);
    // One key was created and every secret was sealed with it.
    for writer in 0..WRITERS {
        let secret = store
            .secret(&format!("source {writer}"))
            .expect("decrypt a concurrently added secret");
        assert_eq!(secret.expose_secret(), format!("secret-value-{writer}"));
    }
    assert_eq!(
        file_names(store.dir()),
        BTreeSet::from(["sources.json", "sources.key", "sources.lock"].map(str::to_owned)),
        "no temp file is left behind"
    );
}

#[test]
fn lets_one_of_many_concurrent_inserts_of_a_name_win() {
    const WRITERS: usize = 8;
    let (_temp, store) = new_store();
    let barrier = Barrier::new(WRITERS);

    let outcomes: Vec<Result<(), Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let barrier = &barrier;
                let dir = store.dir().to_owned();
                scope.spawn(move || {
                    let own_store = Store::open(dir);
                    let name = if writer % 2 == 0 {
                        "Contoso"
                    } else {
                        "CONTOSO"
                    };
                    barrier.wait();
                    own_store
                        .insert(
                            &draft(name, SECRET),
                            &tables(),
                            report(CHECKED_AT),
                            CREATED_AT,
                        )
                        .map(drop)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("the writer does not panic"))
            .collect()
    });

    assert_eq!(outcomes.iter().filter(|outcome| outcome.is_ok()).count(), 1);
    assert!(
        outcomes
            .iter()
            .filter_map(|outcome| outcome.as_ref().err())
            .all(|error| matches!(error, Error::NameTaken { .. }))
    );
    assert_eq!(store.list().expect("list").len(), 1);
}

/// Writes `text` as the list next to a store with one source, and checks that reading and
/// every change report it as corrupt at `line`:`column` and leave it byte for byte.
#[track_caller]
fn check_corrupt(text: &str, line: usize, column: usize) {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    fs::write(list_path(&store), text).expect("write the list");

    let outcomes = [
        store.list().map(drop),
        store.get("Contoso").map(drop),
        store.secret("Contoso").map(drop),
        store
            .insert(
                &draft("Fabrikam", SECRET),
                &tables(),
                report(CHECKED_AT),
                CREATED_AT,
            )
            .map(drop),
        store
            .record_check("Contoso", failed_check(CHECKED_AT))
            .map(drop),
        store
            .rotate_secret("Contoso", &SecretString::from(SECRET), report(CHECKED_AT))
            .map(drop),
        store.remove("Contoso").map(drop),
    ];

    for outcome in outcomes {
        match outcome {
            Err(Error::Corrupt {
                path,
                line: found_line,
                column: found_column,
                ..
            }) => {
                assert_eq!(path, list_path(&store));
                assert_eq!((found_line, found_column), (line, column), "{text}");
            }
            other => panic!("expected Error::Corrupt for {text:?}, got {other:?}"),
        }
    }
    assert_eq!(
        fs::read(list_path(&store)).expect("read the list"),
        text.as_bytes()
    );
}

#[test]
fn reports_a_corrupt_list_with_its_position_and_leaves_it_untouched() {
    // Not JSON.
    check_corrupt(
        "{\n  \"version\": 1,\n  \"sources\": [\n    oops\n  ]\n}\n",
        4,
        5,
    );
    check_corrupt("", 1, 0);
    check_corrupt("{\"version\": 1, \"sources\": []} trailing", 1, 31);
    // JSON of the wrong shape.
    check_corrupt("[]", 1, 2);
    check_corrupt("{\"sources\": []}", 1, 15);
    check_corrupt("{\"version\": \"1\", \"sources\": []}", 1, 15);
    check_corrupt("{\n  \"version\": 1,\n  \"sources\": {}\n}", 3, 13);
    check_corrupt(
        "{\"version\": 1, \"sources\": [{\"name\": \"Contoso\"}]}",
        1,
        46,
    );
}

#[test]
fn reports_a_malformed_sealed_secret_as_corrupt() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    let mut list = read_json(&list_path(&store));
    list["sources"][0]["client_secret"]["nonce"] = Value::from("AAAA");
    write_json(&list_path(&store), &list);

    let error = store.list().expect_err("a 3-byte nonce is refused");

    assert!(
        matches!(&error, Error::Corrupt { line, .. } if *line > 1),
        "{error:?}"
    );
    assert!(
        format!("{:#}", DisplayChain(&error)).contains("a nonce has 12 bytes, this one has 3"),
        "{error:?}"
    );
}

#[test]
fn refuses_unknown_fields_rather_than_dropping_them() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    let mut list = read_json(&list_path(&store));
    list["sources"][0]["colour"] = Value::from("blue");
    write_json(&list_path(&store), &list);
    let before = fs::read(list_path(&store)).expect("read");

    let error = store
        .record_check("Contoso", failed_check(CHECKED_AT))
        .expect_err("an unknown field is refused");

    assert!(matches!(error, Error::Corrupt { .. }), "{error:?}");
    assert_eq!(fs::read(list_path(&store)).expect("read"), before);
}

#[test]
fn reports_a_foreign_version_and_leaves_it_untouched() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    // A later format may look nothing like this one; its version is what matters.
    let text = "{\"version\": 2, \"sources\": {\"contoso\": {\"vault\": \"keyring\"}}}\n";
    fs::write(list_path(&store), text).expect("write the list");

    let outcomes = [
        store.list().map(drop),
        store.secret("Contoso").map(drop),
        store
            .insert(
                &draft("Fabrikam", SECRET),
                &tables(),
                report(CHECKED_AT),
                CREATED_AT,
            )
            .map(drop),
        store.remove("Contoso").map(drop),
    ];

    for outcome in outcomes {
        match outcome {
            Err(Error::UnsupportedVersion {
                path,
                found,
                supported,
            }) => {
                assert_eq!(path, list_path(&store));
                assert_eq!((found, supported), (2, FORMAT_VERSION));
            }
            other => panic!("expected Error::UnsupportedVersion, got {other:?}"),
        }
    }
    assert_eq!(
        fs::read(list_path(&store)).expect("read the list"),
        text.as_bytes()
    );
}

#[cfg(unix)]
#[test]
fn creates_a_private_key_file_in_a_private_directory() {
    let (_temp, store) = new_store();

    insert(&store, "Contoso", SECRET);

    assert_eq!(mode(store.dir()), 0o700);
    assert_eq!(mode(&key_path(&store)), 0o600);
    assert_eq!(mode(&list_path(&store)), 0o600);
    assert_eq!(
        fs::read(key_path(&store)).expect("read the key").len(),
        super::crypto::KEY_LEN
    );
}

#[test]
fn creates_missing_parent_directories() {
    let temp = tempfile::tempdir().expect("create a temp dir");
    let store = Store::open(temp.path().join("share").join("d365-harness"));

    insert(&store, "Contoso", SECRET);

    assert_eq!(store.list().expect("list").len(), 1);
}

#[test]
fn refuses_to_replace_a_missing_key_while_sources_need_it() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    fs::remove_file(key_path(&store)).expect("delete the key");
    let before = fs::read(list_path(&store)).expect("read");

    let outcomes = [
        store.secret("Contoso").map(drop),
        store
            .insert(
                &draft("Fabrikam", SECRET),
                &tables(),
                report(CHECKED_AT),
                CREATED_AT,
            )
            .map(drop),
        store
            .rotate_secret("Contoso", &SecretString::from(SECRET), report(CHECKED_AT))
            .map(drop),
    ];

    for outcome in outcomes {
        assert!(
            matches!(&outcome, Err(Error::Key { path, .. }) if *path == key_path(&store)),
            "{outcome:?}"
        );
    }
    assert!(!key_path(&store).exists(), "no new key was generated");
    assert_eq!(fs::read(list_path(&store)).expect("read"), before);
    // Changes that need no key still work.
    assert!(
        store
            .record_check("Contoso", failed_check(CHECKED_AT))
            .is_ok()
    );
}

#[test]
fn refuses_a_key_of_the_wrong_length() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    fs::write(key_path(&store), [7_u8; 16]).expect("write a short key");

    let error = store
        .secret("Contoso")
        .expect_err("a 16-byte key is refused");

    assert!(
        matches!(&error, Error::Key { reason, .. } if reason.contains("16 bytes")),
        "{error:?}"
    );
}

#[test]
fn never_overwrites_an_existing_key_file() {
    let (_temp, store) = new_store();
    fs::create_dir(store.dir()).expect("create the data dir");
    fs::write(key_path(&store), b"not a key").expect("write a bad key");

    let error = store
        .insert(
            &draft("Contoso", SECRET),
            &tables(),
            report(CHECKED_AT),
            CREATED_AT,
        )
        .expect_err("the bad key is refused");

    assert!(matches!(error, Error::Key { .. }), "{error:?}");
    assert_eq!(
        fs::read(key_path(&store)).expect("read the key"),
        b"not a key"
    );
    assert!(!list_path(&store).exists());
}

#[test]
fn reports_a_tampered_ciphertext() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    let mut list = read_json(&list_path(&store));
    let sealed = &mut list["sources"][0]["client_secret"]["ciphertext"];
    let mut ciphertext = STANDARD
        .decode(sealed.as_str().expect("base64 text"))
        .expect("base64");
    ciphertext[0] ^= 1;
    *sealed = Value::from(STANDARD.encode(&ciphertext));
    write_json(&list_path(&store), &list);

    let error = store
        .secret("contoso")
        .expect_err("the tag does not verify");

    assert!(
        matches!(&error, Error::Tampered { name, key_path: path } if name == "Contoso" && *path == key_path(&store)),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with(
            "the saved secret of `Contoso` was changed outside d365-harness or the key"
        ),
        "{error}"
    );
}

#[test]
fn refuses_a_ciphertext_copied_to_another_source() {
    let (_temp, store) = new_store();
    // Same app, same environment: only the name tells them apart.
    insert(&store, "Contoso", SECRET);
    insert(&store, "Contoso (copy)", OTHER_SECRET);
    let mut list = read_json(&list_path(&store));
    list["sources"][1]["client_secret"] = list["sources"][0]["client_secret"].clone();
    write_json(&list_path(&store), &list);

    let error = store
        .secret("Contoso (copy)")
        .expect_err("the ciphertext belongs to another source");

    assert!(matches!(error, Error::Tampered { .. }), "{error:?}");
    assert_eq!(
        store.secret("Contoso").expect("secret").expose_secret(),
        SECRET
    );
}

#[test]
fn reports_a_replaced_key_of_one_source_as_tampering() {
    // With one source, a replaced key and an edited record cannot be told apart.
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    fs::write(key_path(&store), [42_u8; 32]).expect("replace the key");

    let error = store.secret("Contoso").expect_err("another key");

    assert!(matches!(error, Error::Tampered { .. }), "{error:?}");
}

/// A store with two sources whose key was then replaced by another valid key.
fn store_with_a_replaced_key() -> (TempDir, Store) {
    let (temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    insert(&store, "Fabrikam", OTHER_SECRET);
    fs::write(key_path(&store), [42_u8; 32]).expect("replace the key");
    (temp, store)
}

#[track_caller]
fn assert_key_mismatch<T: std::fmt::Debug>(store: &Store, outcome: Result<T, Error>) {
    match outcome {
        Err(Error::KeyMismatch {
            key_path: path,
            list_path: list,
            count: 2,
        }) if path == key_path(store) && list == list_path(store) => {}
        other => panic!("expected a key mismatch, got {other:?}"),
    }
}

#[test]
fn refuses_to_save_a_secret_under_a_replaced_key() {
    let (_temp, store) = store_with_a_replaced_key();
    let list_before = fs::read(list_path(&store)).expect("read the list");

    let added = store.insert(
        &draft("Northwind", SECRET),
        &tables(),
        report(CHECKED_AT),
        CREATED_AT,
    );
    let rotated = store.rotate_secret("Contoso", &SecretString::from(SECRET), report(CHECKED_AT));

    assert_key_mismatch(&store, added);
    assert_key_mismatch(&store, rotated);
    assert_key_mismatch(&store, store.check_key());
    assert_eq!(fs::read(list_path(&store)).expect("read"), list_before);
    assert_eq!(fs::read(key_path(&store)).expect("read"), [42_u8; 32]);
}

#[test]
fn lists_but_does_not_decrypt_under_a_replaced_key() {
    let (_temp, store) = store_with_a_replaced_key();

    let names: Vec<String> = store
        .list()
        .expect("the list needs no key")
        .into_iter()
        .map(|source| source.name)
        .collect();

    assert_eq!(names, ["Contoso", "Fabrikam"]);
    assert_key_mismatch(&store, store.secret("Fabrikam"));
    let message = store.secret("Contoso").expect_err("mismatch").to_string();
    assert!(
        message.contains("does not match the 2 saved secret(s)") && message.contains("restore"),
        "{message}"
    );
}

#[test]
fn a_tampered_record_does_not_block_the_others() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    insert(&store, "Fabrikam", OTHER_SECRET);
    let mut list = read_json(&list_path(&store));
    list["sources"][0]["client_secret"] = list["sources"][1]["client_secret"].clone();
    write_json(&list_path(&store), &list);

    let tampered = store.secret("Contoso");
    insert(&store, "Northwind", SECRET);
    store
        .rotate_secret("Contoso", &SecretString::from(SECRET), report(CHECKED_AT))
        .expect("rotating repairs the tampered secret");

    assert!(
        matches!(&tampered, Err(Error::Tampered { name, .. }) if name == "Contoso"),
        "{tampered:?}"
    );
    assert_eq!(
        store.secret("Contoso").expect("secret").expose_secret(),
        SECRET
    );
    assert_eq!(
        store.secret("Northwind").expect("secret").expose_secret(),
        SECRET
    );
}

#[test]
fn a_key_check_passes_for_a_matching_or_missing_key() {
    let (_temp, store) = new_store();
    assert!(store.check_key().is_ok(), "no key yet, no secret needs one");

    insert(&store, "Contoso", SECRET);
    assert!(store.check_key().is_ok());

    fs::remove_file(key_path(&store)).expect("delete the key");
    assert!(matches!(store.check_key(), Err(Error::Key { .. })));
}

/// Runs `read` on another thread and gives up after ten seconds, so a read that blocks fails
/// the test instead of hanging it.
#[track_caller]
fn within_ten_seconds<T: Send + 'static>(read: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(read());
    });
    receiver
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the key file was refused without blocking")
}

#[track_caller]
fn assert_key_refused<T: std::fmt::Debug>(
    outcome: Result<T, Error>,
    path: &Path,
    reason_part: &str,
) {
    match &outcome {
        Err(Error::Key {
            path: found,
            reason,
        }) if found == path && reason.contains(reason_part) => {}
        other => panic!("expected the key file to be refused for `{reason_part}`, got {other:?}"),
    }
}

#[cfg(unix)]
#[test]
fn refuses_a_key_that_links_to_an_endless_device() {
    let (_temp, store) = new_store();
    fs::create_dir(store.dir()).expect("create the data dir");
    std::os::unix::fs::symlink("/dev/zero", key_path(&store)).expect("link the key");
    let path = key_path(&store);

    let (added, checked) = within_ten_seconds({
        let store = store.clone();
        move || {
            let added = store.insert(
                &draft("Contoso", SECRET),
                &tables(),
                report(CHECKED_AT),
                CREATED_AT,
            );
            (added, store.check_key())
        }
    });

    assert_key_refused(added, &path, "it is a character device, not a regular file");
    assert_key_refused(checked, &path, "character device");
    assert!(!list_path(&store).exists());
}

#[cfg(unix)]
#[test]
fn refuses_a_key_that_is_a_fifo_without_blocking() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    let path = key_path(&store);
    fs::remove_file(&path).expect("delete the key");
    mkfifo(&path);

    let secret = within_ten_seconds({
        let store = store.clone();
        move || store.secret("Contoso")
    });

    assert_key_refused(
        secret,
        &path,
        "it is a FIFO (named pipe), not a regular file",
    );
}

#[test]
fn refuses_a_key_that_is_a_directory() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    let path = key_path(&store);
    fs::remove_file(&path).expect("delete the key");
    fs::create_dir(&path).expect("a directory in its place");

    assert_key_refused(store.secret("Contoso"), &path, "it is a directory");
}

#[test]
fn refuses_a_key_that_is_too_long_before_reading_it() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    let path = key_path(&store);
    let mut bytes = fs::read(&path).expect("read the key");
    bytes.push(0);
    fs::write(&path, &bytes).expect("one byte more");

    assert_key_refused(store.secret("Contoso"), &path, "it holds 33 bytes");

    // A sparse 1 GiB file: refused from its size, not read.
    let file = fs::File::options()
        .write(true)
        .open(&path)
        .expect("open the key");
    file.set_len(1 << 30).expect("grow the key");
    assert_key_refused(store.secret("Contoso"), &path, "it holds 1073741824 bytes");
}

#[test]
fn refuses_an_empty_key() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    fs::write(key_path(&store), b"").expect("empty the key");

    assert_key_refused(
        store.secret("Contoso"),
        &key_path(&store),
        "it holds 0 bytes",
    );
}

#[cfg(unix)]
#[test]
fn warns_about_a_key_that_others_can_read_and_leaves_its_mode() {
    use std::os::unix::fs::PermissionsExt as _;
    let (_temp, store) = new_store();
    assert_eq!(store.warnings(), [], "no key, nothing to warn about");
    insert(&store, "Contoso", SECRET);
    assert_eq!(store.warnings(), [], "a new key is private");
    let path = key_path(&store);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");

    let warnings = store.warnings();
    let secret = store.secret("Contoso").expect("a readable key still works");

    assert_eq!(
        warnings,
        [StoreWarning::KeyPermissions {
            path: path.clone(),
            mode: 0o644
        }]
    );
    assert_eq!(secret.expose_secret(), SECRET);
    assert_eq!(mode(&path), 0o644, "the store only warns");
    let message = warnings[0].to_string();
    assert!(
        message.contains("mode 0644") && message.contains(&format!("chmod 600 {}", path.display())),
        "{message}"
    );
    fs::set_permissions(&path, fs::Permissions::from_mode(0o620)).expect("chmod");
    assert_eq!(store.warnings().len(), 1, "group-writable");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).expect("chmod");
    assert_eq!(store.warnings(), [], "owner-only");
}

#[test]
fn never_writes_a_secret_in_plain_text() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    insert(&store, "Fabrikam", SECRET);
    store
        .rotate_secret(
            "Contoso",
            &SecretString::from(OTHER_SECRET),
            report(CHECKED_AT),
        )
        .expect("rotate");

    for secret in [SECRET, OTHER_SECRET] {
        let mut needles = vec![secret.as_bytes().to_vec()];
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            needles.push(engine.encode(secret).into_bytes());
        }
        for file_name in file_names(store.dir()) {
            let bytes = fs::read(store.dir().join(&file_name)).expect("read a file");
            for needle in &needles {
                assert!(
                    !bytes.windows(needle.len()).any(|window| window == needle),
                    "`{file_name}` holds the secret {:?}",
                    String::from_utf8_lossy(needle)
                );
            }
        }
        let debug = format!("{:?}", store.list().expect("list"));
        assert!(!debug.contains(secret));
    }
}

#[test]
fn reading_an_absent_store_creates_nothing() {
    let (temp, store) = new_store();

    assert_eq!(store.list().expect("list"), Vec::new());
    let outcomes = [
        store.get("Contoso").map(drop),
        store.secret("Contoso").map(drop),
        store
            .record_check("Contoso", failed_check(CHECKED_AT))
            .map(drop),
        store
            .rotate_secret("Contoso", &SecretString::from(SECRET), report(CHECKED_AT))
            .map(drop),
        store.remove("Contoso").map(drop),
    ];

    for outcome in outcomes {
        assert!(
            matches!(outcome, Err(Error::SourceNotFound { .. })),
            "{outcome:?}"
        );
    }
    assert!(file_names(temp.path()).is_empty());
}

#[test]
fn reading_an_empty_directory_creates_nothing() {
    let temp = tempfile::tempdir().expect("create a temp dir");
    let store = Store::open(temp.path());

    assert_eq!(store.list().expect("list"), Vec::new());
    assert!(matches!(
        store.secret("Contoso"),
        Err(Error::SourceNotFound { .. })
    ));
    assert!(file_names(temp.path()).is_empty());
}

#[test]
fn reads_a_list_restored_without_its_lock_file() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    fs::remove_file(store.dir().join("sources.lock")).expect("delete the lock file");

    assert_eq!(
        store.secret("Contoso").expect("secret").expose_secret(),
        SECRET
    );
    assert!(!store.dir().join("sources.lock").exists());
}

#[test]
fn writes_pretty_json_in_a_stable_order() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);

    let text = fs::read_to_string(list_path(&store)).expect("read the list");
    let list: Value = serde_json::from_str(&text).expect("JSON");

    assert!(
        text.starts_with(
            "{\n  \"version\": 1,\n  \"sources\": [\n    {\n      \"name\": \"Contoso\","
        ),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
    let keys: Vec<&str> = list["sources"][0]
        .as_object()
        .expect("a source is an object")
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
            "client_secret",
            "secret_hint",
            "created_at",
            "last_check"
        ]
    );
    let sealed_keys: Vec<&str> = list["sources"][0]["client_secret"]
        .as_object()
        .expect("the sealed secret is an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(sealed_keys, ["nonce", "ciphertext"]);
    assert_eq!(list["sources"][0]["created_at"], "2025-03-01T09:30:00Z");
    assert_eq!(list["sources"][0]["last_check"]["outcome"], "passed");
}

#[test]
fn redacts_the_key_in_debug_output() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    let key_bytes = fs::read(key_path(&store)).expect("read the key");

    let key = SecretKey::load(&key_path(&store))
        .expect("load the key")
        .expect("the key exists");
    let debug = format!("{key:?}");

    assert!(debug.contains("[redacted]"), "{debug}");
    assert!(!debug.contains(&format!("{:?}", key_bytes)), "{debug}");
    assert!(!debug.contains(&STANDARD.encode(&key_bytes)), "{debug}");
}

#[track_caller]
fn check_hint(secret: &str, expected: &str) {
    assert_eq!(secret_hint(&SecretString::from(secret)), expected);
}

#[test]
fn hints_at_a_secret_with_its_first_three_characters() {
    check_hint(SECRET, "Qx8*****");
    check_hint("abcdefgh", "abc*****");
    check_hint("abcdefg", "*****");
    check_hint("", "*****");
    check_hint("日本語のひみつです", "日本語*****");
    check_hint("日本語のひみつ", "*****");
}

/// Formats an error with its chain of sources, as a binary's `{:#}` would.
struct DisplayChain<'a>(&'a Error);

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = std::error::Error::source(self.0);
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// A `sources.json` of format version 1 as this crate wrote it (with its key), committed so
/// that a field added to the report types cannot silently break the lists users already have.
#[test]
fn loads_a_version_1_source_list_as_written_by_an_earlier_build() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sources/v1");
    let temp = TempDir::new().expect("temp dir");
    let dir = temp.path().join("data");
    fs::create_dir(&dir).expect("data dir");
    for file in ["sources.json", "sources.key"] {
        fs::copy(fixture.join(file), dir.join(file)).expect("copy the fixture");
    }
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod dir");
        fs::set_permissions(dir.join("sources.key"), fs::Permissions::from_mode(0o600))
            .expect("chmod key");
    }
    let store = Store::open(&dir);
    let sources = store.list().expect("a version 1 list loads");
    let names: Vec<&str> = sources.iter().map(|source| source.name.as_str()).collect();
    assert_eq!(names, ["Contoso CRM", "Fabrikam Sales"]);
    assert_eq!(sources[0].tables, ["account"]);
    match &sources[0].last_check {
        LastCheck::Passed(report) => {
            assert_eq!(report.organization.unique_name, "org1a2b3c4d");
            assert_eq!(report.readable_tables, ["account", "contact"]);
        }
        other => panic!("expected a passed check, got {other:?}"),
    }
    match &sources[1].last_check {
        LastCheck::Failed { problem, .. } => {
            assert_eq!(problem.kind, ProblemKind::UnexpectedResponse);
            assert_eq!(problem.evidence.status, Some(502));
        }
        other => panic!("expected a failed check, got {other:?}"),
    }
    let secret = store
        .secret("Contoso CRM")
        .expect("decrypts with the committed key");
    assert_eq!(secret.expose_secret(), SECRET);
    let secret = store
        .secret("Fabrikam Sales")
        .expect("decrypts with the committed key");
    assert_eq!(secret.expose_secret(), OTHER_SECRET);
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo failed");
}

#[track_caller]
fn assert_list_refused<T: std::fmt::Debug>(outcome: Result<T, Error>, path: &Path, reason: &str) {
    let error = outcome.expect_err("the list file is refused");
    let text = DisplayChain(&error).to_string();
    assert!(
        matches!(&error, Error::Io { path: found, .. } if found == path) && text.ends_with(reason),
        "{text}"
    );
}

#[cfg(unix)]
#[test]
fn refuses_a_list_that_is_a_fifo_or_a_device_without_blocking() {
    let (_temp, store) = new_store();
    fs::create_dir(store.dir()).expect("create the data dir");
    let path = list_path(&store);
    mkfifo(&path);

    let listed = within_ten_seconds({
        let store = store.clone();
        move || store.list()
    });
    assert_list_refused(
        listed,
        &path,
        "it is a FIFO (named pipe), not a regular file",
    );

    fs::remove_file(&path).expect("remove the FIFO");
    std::os::unix::fs::symlink("/dev/zero", &path).expect("link the list");
    let added = within_ten_seconds({
        let store = store.clone();
        move || {
            store.insert(
                &draft("Contoso", SECRET),
                &tables(),
                report(CHECKED_AT),
                CREATED_AT,
            )
        }
    });
    assert_list_refused(added, &path, "it is a character device, not a regular file");
}

#[test]
fn refuses_a_list_too_large_to_be_one_without_reading_it() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    let path = list_path(&store);
    let file = fs::File::options()
        .write(true)
        .open(&path)
        .expect("open the list");
    file.set_len(super::disk::MAX_LIST_LEN + 1)
        .expect("grow the list (sparse)");

    assert_list_refused(
        store.list(),
        &path,
        "it holds 16777217 bytes, more than a source list ever needs (16777216)",
    );
}

#[cfg(unix)]
#[test]
fn a_lock_file_that_is_a_fifo_does_not_block_reads() {
    let (_temp, store) = new_store();
    insert(&store, "Contoso", SECRET);
    let lock = store.dir().join("sources.lock");
    fs::remove_file(&lock).expect("remove the lock file");
    mkfifo(&lock);

    let listed = within_ten_seconds({
        let store = store.clone();
        move || store.list().map(|sources| sources.len())
    });

    assert_eq!(listed.expect("listed"), 1);
}
