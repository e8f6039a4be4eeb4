//! Replays every committed fuzz corpus through its target's function, on
//! stable Rust: each file of `fuzz/corpus/<target>/` must run without a
//! panic (the targets assert their properties themselves). A target whose
//! corpus is missing or empty fails, as does a cargo-fuzz target without a
//! function here or a corpus without a target, so a rename cannot silently
//! stop the replay.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use glint_fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn replay(name: &str) {
    let (_, run) = TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .unwrap_or_else(|| panic!("no target {name}"));
    let dir = fuzz_dir().join("corpus").join(name);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} cannot be read: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    let failed: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let data = std::fs::read(path).unwrap();
            catch_unwind(AssertUnwindSafe(|| run(&data)))
                .err()
                .map(|_| path.display().to_string())
        })
        .collect();
    assert!(failed.is_empty(), "{name} panicked on {failed:#?}");
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                replay(stringify!($name));
            }
        )*

        /// Every target has a replay test above.
        const REPLAYED: &[&str] = &[$(stringify!($name)),*];
    };
}

replay_tests!(
    archive,
    glance_api_conf,
    image_request,
    import_url,
    inspect,
    keystone_token,
    list_query,
    location_url,
    metadef_body,
    patch,
    policy_file,
    policy_rule,
    property_protections,
    range_header,
);

#[test]
fn targets_corpora_and_cargo_fuzz_binaries_agree() {
    let targets: BTreeSet<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(targets, REPLAYED.iter().copied().collect());

    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let binaries: BTreeSet<&str> = manifest
        .lines()
        .filter_map(|line| line.strip_prefix("name = \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .filter(|name| *name != "glint-fuzz")
        .collect();
    assert_eq!(binaries, targets, "fuzz/Cargo.toml [[bin]] targets");

    for name in &targets {
        let source = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        assert!(
            text.contains(&format!("glint_fuzzing::{name}(")),
            "{} must call glint_fuzzing::{name}",
            source.display()
        );
    }

    let corpora: BTreeSet<String> = std::fs::read_dir(fuzz_dir().join("corpus"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let targets: BTreeSet<String> = targets.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(corpora, targets, "fuzz/corpus directories");
}
