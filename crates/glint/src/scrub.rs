//! `glint scrub`: delayed delete's scrubber, as `glance-scrubber` runs it.
//! Once (for cron), as a daemon sweeping every `wakeup_time`, or to
//! restore one pending delete to `active` (`--restore`), which is safe
//! while scrubbers run: the database lets either the restore or a scrub
//! happen, never both.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use glint_core::{CoreError, ImageService};
use glint_model::ImageId;
use glint_policy::Enforcer;
use glint_workers::{CancellationToken, Runner, ScrubberConfig, ScrubberWorker, run_until_idle};

use crate::config::GlanceConfig;

/// How long a daemon's sweep in flight may take to end after SIGTERM; the
/// images it holds then go to the next run.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub struct ScrubArgs {
    /// A configuration file (glance-api.conf, glance-scrubber.conf, an old
    /// glance-registry.conf for its [database]); repeat to layer several,
    /// later ones win.
    #[arg(long = "config-file", value_name = "PATH")]
    config_files: Vec<PathBuf>,
    /// Keep running, sweeping every `wakeup_time` seconds, until SIGTERM or
    /// SIGINT (overrides `daemon` of the files).
    #[arg(short = 'D', long, overrides_with = "nodaemon")]
    daemon: bool,
    /// Sweep once and exit (overrides `daemon` of the files).
    #[arg(long, overrides_with = "daemon")]
    nodaemon: bool,
    /// Bring this image back from `pending_delete` to `active` instead of
    /// scrubbing (overrides `restore` of the files).
    #[arg(long, value_name = "IMAGE_ID")]
    restore: Option<String>,
}

/// What the command line and the files ask for.
enum Task {
    Once,
    Daemon,
    Restore(String),
}

pub fn run(args: ScrubArgs) -> anyhow::Result<()> {
    let (conf, warnings) =
        GlanceConfig::load(&args.config_files).context("invalid configuration")?;
    crate::logging::init(conf.glint.log_format);
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let daemon = match (args.daemon, args.nodaemon) {
        (true, _) => true,
        (_, true) => false,
        _ => conf.scrubber.daemon,
    };
    let task = match (args.restore.or(conf.scrubber.restore.clone()), daemon) {
        (Some(_), true) => bail!(
            "The restore and daemon options should not be set together. \
             Please use either of them in one request."
        ),
        (Some(id), false) => Task::Restore(id),
        (None, true) => Task::Daemon,
        (None, false) => Task::Once,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let images = image_service(&conf).await?;
        let outcome = match task {
            Task::Restore(id) => restore(&images, &id).await,
            Task::Once => sweep_once(&images, &conf).await,
            Task::Daemon => daemon_until_signal(&images, &conf).await,
        };
        images.database().close().await;
        outcome
    })
}

/// The image service over the configured database and stores, as a
/// server would have it (the scrubber asks no policy).
async fn image_service(conf: &GlanceConfig) -> anyhow::Result<ImageService> {
    if conf.database.url.is_none() {
        std::fs::create_dir_all(&conf.glint.data_dir)
            .with_context(|| format!("cannot create data dir {}", conf.glint.data_dir.display()))?;
    }
    let url = conf
        .database_url()
        .context("invalid [database] connection")?;
    let db = crate::db::open_for_serving(&url, &conf.glint.database).await?;
    let stores = Arc::new(crate::stores::build(conf)?);
    let mut image_conf = crate::serve::image_config(conf);
    image_conf.node_name = crate::serve::node_name();
    let policy = Arc::new(Enforcer::with_glance_defaults());
    Ok(ImageService::new(db, stores, policy, image_conf))
}

fn scrubber_config(conf: &GlanceConfig) -> ScrubberConfig {
    ScrubberConfig {
        scrub_time: conf.scrubber.scrub_time,
        pool_size: conf.scrubber.scrub_pool_size,
        ..ScrubberConfig::default()
    }
}

/// `--restore`, with Glance's messages for an image that is missing or
/// not pending.
async fn restore(images: &ImageService, id: &str) -> anyhow::Result<()> {
    let not_found = || anyhow::anyhow!("No image found with ID {id}");
    let image_id = ImageId::parse(id).ok_or_else(not_found)?;
    match images.restore_pending_delete(image_id).await {
        Ok(_) => {
            tracing::info!(image.id = %image_id, "image restored to active");
            Ok(())
        }
        Err(CoreError::ImageNotFound { .. }) => Err(not_found()),
        Err(CoreError::NotPendingDelete { status, .. }) => bail!(
            "cannot restore the image from {status} to active (wanted from_state=pending_delete)"
        ),
        Err(CoreError::ScrubStarted { .. }) => bail!(
            "cannot restore image {id}: a scrubber has begun removing its data, so it stays \
             pending_delete and will be deleted"
        ),
        Err(e) => Err(e).context("restore failed"),
    }
}

/// One sweep over the due pending deletes. SIGTERM or SIGINT ends it once
/// the images in flight are done, or after a grace period: the images
/// still claimed then go to the next run.
async fn sweep_once(images: &ImageService, conf: &GlanceConfig) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let on_signal = {
        let stop = stop.clone();
        tokio::spawn(async move {
            crate::serve::shutdown_signal().await;
            stop.cancel();
        })
    };
    let mut worker = ScrubberWorker::new(images.clone(), scrubber_config(conf));
    let run = tokio::select! {
        run = run_until_idle(&mut worker, &stop) => Some(run),
        () = async {
            stop.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => None,
    };
    on_signal.abort();
    let Some(run) = run else {
        tracing::warn!("stopped with images in flight; the next run finishes them");
        return Ok(());
    };
    let pass = run.context("scrub run failed")?;
    tracing::info!(
        scrubbed = pass.done,
        failed = pass.failed,
        pending = worker.stats().pending(),
        "scrub run finished"
    );
    Ok(())
}

/// Sweeps every `wakeup_time` until SIGTERM or SIGINT.
async fn daemon_until_signal(images: &ImageService, conf: &GlanceConfig) -> anyhow::Result<()> {
    let worker = ScrubberWorker::new(images.clone(), scrubber_config(conf));
    let stats = worker.stats();
    let mut runner = Runner::new();
    runner.spawn(worker, conf.scrubber.sweep_interval());
    crate::serve::shutdown_signal().await;
    runner.shutdown(SHUTDOWN_GRACE).await;
    tracing::info!(
        scrubbed = stats.scrubbed(),
        failed = stats.failed(),
        "scrubber stopped"
    );
    Ok(())
}
