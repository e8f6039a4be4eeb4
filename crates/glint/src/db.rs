//! `glint db`: the catalogue database's schema and the rows deleted images
//! leave behind, as glance-manage's `db` commands manage them; and the
//! schema check `glint serve` makes before it opens a shared database.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use glint_db::schema::SchemaState;
use glint_db::{ConnectOptions, Database, Dialect, PurgeCounts, PurgeRequest};

use crate::config::GlanceConfig;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Migrate the database of `[database] connection` to this glint's
    /// schema. Run it once, before starting the API servers of a new
    /// version on a shared PostgreSQL or MySQL/MariaDB database.
    Sync(ConfigArgs),
    /// Print the database's schema version, and whether it is behind (or
    /// ahead of) this glint.
    Version(ConfigArgs),
    /// Remove what images deleted more than `--age-in-days` days ago left
    /// in the database (their properties, tags, locations and members), and
    /// member rows removed as long ago. The image rows stay, so that their
    /// ids cannot be given to new images (see `purge-images-table`).
    Purge(PurgeArgs<30>),
    /// Remove the rows of images deleted more than `--age-in-days` days
    /// ago, with whatever they still hold. Their ids can then be given to
    /// new images: keep the age well beyond the life of anything that may
    /// still name them (instances, snapshots, other clouds' copies).
    #[command(name = "purge-images-table", alias = "purge_images_table")]
    PurgeImagesTable(PurgeArgs<180>),
    /// Load metadata definitions (Glance's metadefs files, one namespace
    /// per `*.json` file) from DIR, or the catalogue built into glint when
    /// DIR is left out. Namespaces already in the catalogue are kept.
    #[command(name = "load-metadefs", alias = "load_metadefs")]
    LoadMetadefs(LoadMetadefsArgs),
    /// Delete every metadata definition: namespaces, what they hold and
    /// the resource types.
    #[command(name = "unload-metadefs", alias = "unload_metadefs")]
    UnloadMetadefs(ConfigArgs),
    /// Write every namespace of the catalogue to DIR, one file each, in
    /// Glance's metadefs format.
    #[command(name = "export-metadefs", alias = "export_metadefs")]
    ExportMetadefs(ExportMetadefsArgs),
}

#[derive(Debug, Args)]
pub struct LoadMetadefsArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// A directory of metadefs files, or one file.
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportMetadefsArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Where to write the files (created if missing).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// A glance-api.conf to read; repeat to merge several, later ones win.
    #[arg(long = "config-file", value_name = "PATH")]
    config_files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PurgeArgs<const AGE: i64> {
    #[command(flatten)]
    config: ConfigArgs,
    /// Purge images deleted more than this many days ago (0 or more).
    #[arg(
        long = "age-in-days",
        alias = "age_in_days",
        value_name = "DAYS",
        default_value_t = AGE,
        allow_negative_numbers = true
    )]
    age_in_days: i64,
    /// Purge at most this many images in this run (-1: all of them).
    #[arg(
        long = "max-rows",
        alias = "max_rows",
        value_name = "ROWS",
        default_value_t = 100,
        allow_negative_numbers = true
    )]
    max_rows: i64,
}

pub fn run(command: DbCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match command {
            DbCommand::Sync(args) => sync(&args, out).await,
            DbCommand::Version(args) => version(&args, out).await,
            DbCommand::Purge(args) => {
                let request = purge_request(args.age_in_days, args.max_rows, false)?;
                purge(&args.config, request, out).await
            }
            DbCommand::PurgeImagesTable(args) => {
                let request = purge_request(args.age_in_days, args.max_rows, true)?;
                purge(&args.config, request, out).await
            }
            DbCommand::LoadMetadefs(args) => {
                let db = open_current(&args.config).await?;
                let done = crate::metadefs::load(db.clone(), args.dir.as_deref(), out).await;
                db.close().await;
                done
            }
            DbCommand::UnloadMetadefs(args) => {
                let db = open_current(&args).await?;
                let done = crate::metadefs::unload(db.clone(), out).await;
                db.close().await;
                done
            }
            DbCommand::ExportMetadefs(args) => {
                let db = open_current(&args.config).await?;
                let done = crate::metadefs::export(db.clone(), &args.dir, out).await;
                db.close().await;
                done
            }
        }
    })
}

/// Opens the configured database as it is, creating the data directory
/// when the database is the embedded default inside it.
async fn open(args: &ConfigArgs) -> anyhow::Result<Database> {
    let (conf, warnings) =
        GlanceConfig::load(&args.config_files).context("invalid configuration")?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    if conf.database.url.is_none() {
        std::fs::create_dir_all(&conf.glint.data_dir)
            .with_context(|| format!("cannot create data dir {}", conf.glint.data_dir.display()))?;
    }
    let url = conf
        .database_url()
        .context("invalid [database] connection")?;
    Database::open(&url, &conf.glint.database)
        .await
        .context("cannot open the database")
}

/// [`open`], refusing a database whose schema is not this glint's.
async fn open_current(args: &ConfigArgs) -> anyhow::Result<Database> {
    let db = open(args).await?;
    let state = db.schema_state().await.context("cannot read the schema")?;
    if !state.is_current() {
        db.close().await;
        bail!("{}", schema_mismatch(state));
    }
    Ok(db)
}

async fn sync(args: &ConfigArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let db = open(args).await?;
    let done = migrate_and_seed(&db, out).await;
    db.close().await;
    done
}

/// Migrates, then loads the built-in metadefs into an empty catalogue.
async fn migrate_and_seed(db: &Database, out: &mut dyn Write) -> anyhow::Result<()> {
    let (before, after) = db.migrate().await.context("migration failed")?;
    if before.current == after.current {
        writeln!(
            out,
            "Database schema is at version {} already.",
            after.current
        )?;
    } else {
        writeln!(
            out,
            "Database schema migrated from version {} to {}.",
            before.current, after.current
        )?;
    }
    crate::metadefs::load_if_empty(db.clone(), out).await?;
    // New indexes, or a catalogue loaded by other means, start planned
    // with statistics.
    db.analyze_catalogue()
        .await
        .context("gathering planner statistics failed")
}

async fn version(args: &ConfigArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let db = open(args).await?;
    let state = db.schema_state().await.context("cannot read the schema")?;
    db.close().await;
    writeln!(out, "{}", state.current)?;
    if !state.is_current() {
        writeln!(out, "{}", schema_mismatch(state))?;
    }
    Ok(())
}

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// Checks the values as glance-manage does, in its words.
fn purge_request(
    age_in_days: i64,
    max_rows: i64,
    image_rows: bool,
) -> anyhow::Result<PurgeRequest> {
    if age_in_days < 0 {
        bail!("Must supply a non-negative value for age.");
    }
    let now = glint_model::time::now();
    let days_since_epoch = glint_model::time::to_micros(now) / MICROS_PER_DAY;
    if age_in_days >= days_since_epoch {
        bail!("Maximal age is count of days since epoch.");
    }
    if max_rows < -1 {
        bail!("Minimal rows limit is -1.");
    }
    Ok(PurgeRequest {
        deleted_before: glint_model::time::from_micros(
            glint_model::time::to_micros(now) - age_in_days * MICROS_PER_DAY,
        ),
        max_images: u64::try_from(max_rows).ok(),
        image_rows,
    })
}

async fn purge(
    args: &ConfigArgs,
    request: PurgeRequest,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let db = open(args).await?;
    let state = db.schema_state().await.context("cannot read the schema")?;
    if !state.is_current() {
        bail!("{}", schema_mismatch(state));
    }
    let counts = db.purge_deleted(&request).await;
    db.close().await;
    let counts = counts.context("purge failed")?;
    write_counts(&counts, request.image_rows, out)?;
    Ok(())
}

fn write_counts(counts: &PurgeCounts, image_rows: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    for (table, rows) in counts.per_table() {
        if table == "images" && !image_rows {
            writeln!(
                out,
                "Emptied {rows} row(s) of table images (the rows are kept, so their ids stay taken)"
            )?;
        } else {
            writeln!(out, "Deleted {rows} row(s) from table {table}")?;
        }
    }
    Ok(())
}

/// What an operator should do about a schema other than this build's.
fn schema_mismatch(state: SchemaState) -> String {
    let SchemaState { current, latest } = state;
    if current == 0 {
        format!(
            "the database has no glint schema yet (this glint's is version {latest}): \
             run `glint db sync` with the same --config-file options"
        )
    } else if current < latest {
        format!(
            "the database schema is at version {current}, behind this glint's version {latest}: \
             stop the glint servers of the older version, then run `glint db sync` with the \
             same --config-file options"
        )
    } else {
        format!(
            "the database schema is at version {current}, newer than this glint knows \
             ({latest}): run a glint of the version that migrated it, or a newer one"
        )
    }
}

/// The database `glint serve` works on. The embedded SQLite database is
/// migrated on the spot: only processes on this host share it, and they
/// migrate one at a time under SQLite's write lock. A PostgreSQL or
/// MySQL/MariaDB database is shared by every node, some possibly still
/// running an older glint that a migration would break, so a server only
/// checks that it is at this glint's version, and refuses to start
/// otherwise: operators run `glint db sync` once, before starting nodes.
pub async fn open_for_serving(url: &str, options: &ConnectOptions) -> anyhow::Result<Database> {
    if Dialect::from_url(url)? == Dialect::Sqlite {
        return Database::connect_with(url, options)
            .await
            .context("cannot open the database");
    }
    let db = Database::open(url, options)
        .await
        .context("cannot open the database")?;
    let state = db
        .schema_state()
        .await
        .context("cannot read the database schema")?;
    if !state.is_current() {
        db.close().await;
        bail!("{}", schema_mismatch(state));
    }
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_values_are_checked_as_glance_manage_does() {
        let error = purge_request(-1, 100, false).unwrap_err().to_string();
        assert_eq!(error, "Must supply a non-negative value for age.");
        let error = purge_request(100_000, 100, false).unwrap_err().to_string();
        assert_eq!(error, "Maximal age is count of days since epoch.");
        let error = purge_request(1, -2, false).unwrap_err().to_string();
        assert_eq!(error, "Minimal rows limit is -1.");
        assert_eq!(purge_request(0, -1, false).unwrap().max_images, None);
        assert_eq!(purge_request(0, 0, true).unwrap().max_images, Some(0));
    }

    #[test]
    fn schema_mismatches_say_what_to_run() {
        let fresh = schema_mismatch(SchemaState {
            current: 0,
            latest: 5,
        });
        assert!(fresh.contains("`glint db sync`"), "{fresh}");
        let behind = schema_mismatch(SchemaState {
            current: 3,
            latest: 5,
        });
        assert!(
            behind.contains("version 3, behind this glint's version 5"),
            "{behind}"
        );
        assert!(behind.contains("`glint db sync`"), "{behind}");
        let ahead = schema_mismatch(SchemaState {
            current: 7,
            latest: 5,
        });
        assert!(ahead.contains("newer than this glint knows (5)"), "{ahead}");
    }
}
