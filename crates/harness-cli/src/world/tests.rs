//! The built-in worlds: they load with no file beside them, `demo` is the committed demo world,
//! and `world export`/`world list` print what they should (unknown names exit 2 listing the
//! known ones).

use std::path::Path;

use super::*;
use crate::tests::run_captured;

#[test]
fn every_built_in_world_loads_with_no_file_beside_it() {
    for builtin in BUILTIN_WORLDS {
        // A folder that does not exist: any file the text still named would fail to read.
        let world = World::parse(&builtin.text(), "/nonexistent/folder/world.toml")
            .unwrap_or_else(|error| panic!("{}: {error:#}", builtin.name));
        for app in world.apps() {
            for certificate in &app.certificates {
                assert_eq!(certificate.file, None, "{}: {certificate:?}", builtin.name);
            }
        }
        let loaded = builtin.load().expect("loads under its own name");
        assert_eq!(
            loaded.path(),
            Path::new(&format!("built-in:{}", builtin.name))
        );
    }
}

#[test]
fn the_built_in_demo_is_the_committed_demo_world() {
    let committed =
        World::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds/demo.toml"))
            .expect("the committed demo world loads");
    let builtin = BuiltinWorld::named("demo")
        .expect("demo is built in")
        .load()
        .expect("the built-in demo loads");
    let summary = |world: &World| {
        (
            world.tenants().to_vec(),
            world
                .apps()
                .iter()
                .map(|app| {
                    (
                        app.client_id,
                        app.secrets.len(),
                        app.certificates
                            .iter()
                            .map(|certificate| (certificate.name.clone(), certificate.der.clone()))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>(),
            world
                .environments()
                .iter()
                .map(|environment| (environment.url.clone(), environment.tables.len()))
                .collect::<Vec<_>>(),
        )
    };
    let expected = summary(&committed);
    assert_eq!(expected.1[0].2.len(), 1, "the demo app has its certificate");
    assert_eq!(summary(&builtin), expected);
}

#[test]
fn export_prints_a_world_that_loads_anywhere() {
    let (exit, out, err) = run_captured(&["world", "export", "demo"]);
    assert_eq!((exit, err.as_str()), (crate::Exit::Success, ""));
    assert!(
        out.starts_with("# Exported by `d365-harness world export demo`"),
        "{out}"
    );
    assert!(!out.contains("PRIVATE KEY"), "only public certificates");
    let world = World::parse(&out, "/nonexistent/folder/my.toml").expect("the export loads");
    assert_eq!(world.apps()[0].certificates[0].file, None);
}

#[test]
fn export_of_an_unknown_world_lists_the_known_ones_and_exits_two() {
    let (exit, out, err) = run_captured(&["world", "export", "nope"]);
    assert_eq!((exit, out.as_str()), (crate::Exit::Error, ""));
    assert_eq!(err, "error: no built-in world `nope`; known: demo\n");
}

#[test]
fn list_names_every_built_in_world() {
    let (exit, out, err) = run_captured(&["world", "list"]);
    assert_eq!((exit, err.as_str()), (crate::Exit::Success, ""));
    let names: Vec<&str> = out
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(names, ["demo"]);
}
