//! `glint db load-metadefs | unload-metadefs | export-metadefs`: the
//! metadata definitions catalogue in and out of files of Glance's metadefs
//! format (one namespace per `*.json` file), as glance-manage's
//! `db load_metadefs` and friends do; and the catalogue glint ships
//! (`etc/metadefs/`, built into the binary), loaded by `glint db sync`
//! into an empty catalogue.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use glint_core::{LoadReport, MetadefService};
use glint_db::Database;
use serde_json::Value;

/// The catalogue glint ships: common compute properties, written for
/// glint in Glance's format.
const BUILT_IN: [(&str, &str); 5] = [
    (
        "guest-cpu.json",
        include_str!("../../../etc/metadefs/guest-cpu.json"),
    ),
    (
        "guest-devices.json",
        include_str!("../../../etc/metadefs/guest-devices.json"),
    ),
    (
        "guest-memory.json",
        include_str!("../../../etc/metadefs/guest-memory.json"),
    ),
    (
        "guest-os.json",
        include_str!("../../../etc/metadefs/guest-os.json"),
    ),
    (
        "hypervisor.json",
        include_str!("../../../etc/metadefs/hypervisor.json"),
    ),
];

/// The files of the built-in catalogue, parsed.
fn built_in() -> anyhow::Result<Vec<(String, Value)>> {
    BUILT_IN
        .iter()
        .map(|(name, text)| {
            let json = serde_json::from_str(text)
                .with_context(|| format!("built-in metadefs file {name} is not JSON"))?;
            Ok(((*name).to_owned(), json))
        })
        .collect()
}

/// The `*.json` files of `dir` (or the one file `dir` names), by name. A
/// file that is not JSON is reported and left out, as glance-manage does.
fn read_dir(dir: &Path, out: &mut dyn Write) -> anyhow::Result<Vec<(String, Value)>> {
    let paths: Vec<PathBuf> = if dir.is_file() {
        vec![dir.to_owned()]
    } else {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read metadefs directory {}", dir.display()))?;
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.is_file() && path.extension().is_some_and(|e| e == "json") {
                paths.push(path);
            }
        }
        paths.sort();
        paths
    };
    if paths.is_empty() {
        bail!("no metadefs files (*.json) in {}", dir.display());
    }
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        match serde_json::from_str(&text) {
            Ok(json) => files.push((path.display().to_string(), json)),
            Err(e) => writeln!(out, "Failed to parse {}: {e}", path.display())?,
        }
    }
    Ok(files)
}

fn write_report(report: &LoadReport, out: &mut dyn Write) -> anyhow::Result<()> {
    for name in &report.loaded {
        writeln!(out, "Loaded namespace {name}")?;
    }
    for name in &report.skipped {
        writeln!(
            out,
            "Skipped namespace {name}: it is in the catalogue already"
        )?;
    }
    for (file, reason) in &report.failed {
        writeln!(out, "Failed to load {file}: {reason}")?;
    }
    Ok(())
}

/// `glint db load-metadefs [DIR]`: the files of `dir`, or the built-in
/// catalogue. Namespaces already present are left as they are.
pub async fn load(db: Database, dir: Option<&Path>, out: &mut dyn Write) -> anyhow::Result<()> {
    let files = match dir {
        Some(dir) => read_dir(dir, out)?,
        None => built_in()?,
    };
    let service = MetadefService::for_operator(db);
    let report = service
        .load_catalogue(files)
        .await
        .context("cannot load the metadefs")?;
    write_report(&report, out)?;
    if !report.failed.is_empty() {
        bail!(
            "{} metadefs file(s) could not be loaded",
            report.failed.len()
        );
    }
    Ok(())
}

/// `glint db sync`: the built-in catalogue goes into an empty one.
pub async fn load_if_empty(db: Database, out: &mut dyn Write) -> anyhow::Result<()> {
    let service = MetadefService::for_operator(db);
    if service
        .catalogue_size()
        .await
        .context("cannot count metadefs")?
        > 0
    {
        return Ok(());
    }
    let report = service
        .load_catalogue(built_in()?)
        .await
        .context("cannot load the built-in metadefs")?;
    writeln!(
        out,
        "Loaded the built-in metadata definitions ({} namespaces).",
        report.loaded.len()
    )?;
    Ok(())
}

/// `glint db unload-metadefs`.
pub async fn unload(db: Database, out: &mut dyn Write) -> anyhow::Result<()> {
    let service = MetadefService::for_operator(db);
    let gone = service
        .unload_catalogue()
        .await
        .context("cannot unload the metadefs")?;
    writeln!(out, "Deleted {gone} metadata definition namespace(s)")?;
    Ok(())
}

/// `glint db export-metadefs DIR`: one file per namespace, named after
/// its display name as glance-manage names them; existing files are
/// overwritten.
pub async fn export(db: Database, dir: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let service = MetadefService::for_operator(db);
    let files = service
        .export_catalogue()
        .await
        .context("cannot read the metadefs")?;
    for (name, json) in files {
        let path = dir.join(&name);
        let text = serde_json::to_string_pretty(&json)?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(
            out,
            "Namespace {} saved in {}",
            json["namespace"].as_str().unwrap_or_default(),
            path.display()
        )?;
    }
    Ok(())
}
