//! `glint db load-metadefs | unload-metadefs | export-metadefs` on the real
//! binary: the built-in catalogue, Glance's file format, and a round trip
//! load → export → load that leaves the catalogue as it was; on SQLite and
//! every configured database server.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common;

use common::{ServerDatabase, ServerKind, Setup};
use serde_json::{Value, json};

/// Every file of `dir`, parsed, by namespace.
fn files_by_namespace(dir: &Path) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        out.insert(json["namespace"].as_str().unwrap().to_owned(), json);
    }
    out
}

fn round_trip(setup: &Setup) {
    let scratch = tempfile::tempdir().unwrap();
    // The built-in catalogue, loaded by hand after an unload.
    let unloaded = setup.glint(&["db", "unload-metadefs"]).ok();
    assert!(unloaded.stdout.starts_with("Deleted "), "{unloaded:#?}");
    let loaded = setup.glint(&["db", "load-metadefs"]).ok();
    assert_eq!(
        loaded.stdout.matches("Loaded namespace").count(),
        5,
        "{loaded:#?}"
    );
    // Loading again keeps what is there.
    let again = setup.glint(&["db", "load-metadefs"]).ok();
    assert_eq!(
        again.stdout.matches("Skipped namespace").count(),
        5,
        "{again:#?}"
    );

    // A file in Glance's format, with what a catalogue may hold.
    let source = scratch.path().join("source");
    std::fs::create_dir(&source).unwrap();
    let glance_file = json!({
        "namespace": "OS::Example::Everything",
        "display_name": "Example: everything",
        "description": "One of each",
        "visibility": "private",
        "protected": false,
        "resource_type_associations": [
            {"name": "OS::Nova::Flavor", "prefix": "ex:", "properties_target": null}
        ],
        "properties": {"size": {"title": "Size", "type": "integer", "minimum": 1, "default": 8}},
        "objects": [{"name": "Pair", "description": null,
                     "properties": {"left": {"title": "L", "type": "string"}}}],
        "tags": [{"name": "example"}]
    });
    std::fs::write(source.join("example.json"), glance_file.to_string()).unwrap();
    std::fs::write(source.join("broken.json"), "{ not json").unwrap();
    let dir = source.to_str().unwrap();
    let loaded = setup.glint(&["db", "load-metadefs", dir]).ok();
    assert!(
        loaded
            .stdout
            .contains("Loaded namespace OS::Example::Everything"),
        "{loaded:#?}"
    );
    assert!(loaded.stdout.contains("Failed to parse"), "{loaded:#?}");

    let first = scratch.path().join("first");
    setup
        .glint(&["db", "export-metadefs", first.to_str().unwrap()])
        .ok();
    let exported = files_by_namespace(&first);
    assert_eq!(exported.len(), 6, "{exported:#?}");
    assert!(first.join("Exampleeverything.json").is_file());
    let example = &exported["OS::Example::Everything"];
    assert_eq!(example["owner"], "admin");
    assert_eq!(example["properties"]["size"]["default"], 8);
    assert_eq!(example["tags"], json!([{"name": "example"}]));

    // Unload, load the export, export again: the same catalogue.
    setup.glint(&["db", "unload-metadefs"]).ok();
    let empty = scratch.path().join("empty");
    setup
        .glint(&["db", "export-metadefs", empty.to_str().unwrap()])
        .ok();
    assert!(files_by_namespace(&empty).is_empty());
    setup
        .glint(&["db", "load-metadefs", first.to_str().unwrap()])
        .ok();
    let second = scratch.path().join("second");
    setup
        .glint(&["db", "export-metadefs", second.to_str().unwrap()])
        .ok();
    assert_eq!(files_by_namespace(&second), exported);
}

#[test]
fn metadefs_round_trip_through_files_on_sqlite() {
    let setup = Setup::new();
    let synced = setup.glint(&["db", "sync"]).ok();
    assert!(
        synced
            .stdout
            .contains("Loaded the built-in metadata definitions (5 namespaces)."),
        "{synced:#?}"
    );
    round_trip(&setup);
    // A later sync refills an emptied catalogue.
    setup.glint(&["db", "unload-metadefs"]).ok();
    let synced = setup.glint(&["db", "sync"]).ok();
    assert!(synced.stdout.contains("Loaded the built-in"), "{synced:#?}");
}

#[tokio::test]
async fn metadefs_round_trip_through_files_on_database_servers() {
    for (kind, admin) in ServerKind::configured() {
        eprintln!("running on {kind:?}");
        let db = ServerDatabase::create(kind, &admin).await;
        let setup = Setup::on_database(&db.url, "");
        setup.glint(&["db", "sync"]).ok();
        round_trip(&setup);
    }
}

#[test]
fn load_metadefs_refuses_a_file_that_breaks_the_rules() {
    let setup = Setup::new();
    setup.glint(&["db", "sync"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let bad = json!({"namespace": "bad", "properties": {"p": {"type": "string"}}});
    std::fs::write(dir.path().join("bad.json"), bad.to_string()).unwrap();
    let out = setup.glint(&["db", "load-metadefs", dir.path().to_str().unwrap()]);
    assert!(!out.success, "{out:#?}");
    assert!(
        out.stdout.contains("'title' is a required property"),
        "{out:#?}"
    );
    let missing = setup.glint(&["db", "load-metadefs", "/nonexistent/metadefs"]);
    assert!(!missing.success);
}
