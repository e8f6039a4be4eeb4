//! The process's own metrics, and the optional listener that serves
//! `/metrics` without authentication (`[glint] metrics_bind`).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use glint_api::metrics::Metrics;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Registers the process's resident memory and open file descriptors,
/// read from `/proc` when scraped.
pub fn register_process(metrics: &Metrics) {
    let registered = [
        metrics.register_gauge_fn(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            &[],
            || resident_bytes().unwrap_or(f64::NAN),
        ),
        metrics.register_gauge_fn(
            "process_open_fds",
            "Number of open file descriptors.",
            &[],
            || open_fds().unwrap_or(f64::NAN),
        ),
    ];
    for result in registered {
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot register a process metric");
        }
    }
}

/// The second field of `/proc/self/statm` (resident pages) in bytes.
fn resident_bytes() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

#[allow(unsafe_code, reason = "sysconf, see the SAFETY note")]
fn page_size() -> f64 {
    // SAFETY: sysconf takes a constant and reads no memory of ours.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as f64 } else { 4096.0 }
}

fn open_fds() -> Option<f64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as f64)
}

/// The metrics listener, running.
pub struct MetricsServer {
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Listens on `at` and serves `metrics` there until stopped.
pub async fn listen(at: SocketAddr, metrics: Metrics) -> anyhow::Result<MetricsServer> {
    let listener = TcpListener::bind(at)
        .await
        .with_context(|| format!("cannot listen on [glint] metrics_bind = {at}"))?;
    tracing::info!(address = %listener.local_addr()?, "metrics listening");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(glint_api::serve_metrics(listener, metrics, async {
        let _ = stopped.await;
    }));
    Ok(MetricsServer { stop, task })
}

impl MetricsServer {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "the metrics listener failed"),
            Err(e) => tracing::error!(error = %e, "the metrics listener panicked"),
        }
    }
}

/// Registers the image cache's counters, read from `stats` when scraped.
pub fn register_cache(metrics: &Metrics, stats: &Arc<glint_store::CacheStats>) {
    type Read = fn(&glint_store::CacheStats) -> u64;
    let counters: [(&str, &str, Read); 5] = [
        (
            "glint_cache_hits_total",
            "Downloads served from the image cache.",
            |s| s.hits(),
        ),
        (
            "glint_cache_misses_total",
            "Downloads of a cacheable image not served from the cache.",
            |s| s.misses(),
        ),
        (
            "glint_cache_served_bytes_total",
            "Bytes sent from cached files.",
            |s| s.bytes_served(),
        ),
        ("glint_cache_fills_total", "Images put in the cache.", |s| {
            s.fills()
        }),
        (
            "glint_cache_rejected_total",
            "Cache fills whose data did not match the image.",
            |s| s.rejected(),
        ),
    ];
    for (name, help, read) in counters {
        let stats = Arc::clone(stats);
        if let Err(e) = metrics.register_counter_fn(name, help, &[], move || read(&stats)) {
            tracing::warn!(error = %e, "cannot register a cache metric");
        }
    }
}

/// Registers the notification counters, read from `stats` when scraped.
pub fn register_notifications(metrics: &Metrics, stats: &Arc<glint_notify::NotifierStats>) {
    type Read = fn(&glint_notify::NotifierStats) -> u64;
    let counters: [(&str, &str, Read); 3] = [
        (
            "glint_notifications_published_total",
            "Notifications handed to their drivers.",
            |s| s.published(),
        ),
        (
            "glint_notifications_dropped_total",
            "Notifications never sent (queue full or stopping).",
            |s| s.dropped(),
        ),
        (
            "glint_notifications_refused_total",
            "Notifications refused by RabbitMQ.",
            |s| s.refused(),
        ),
    ];
    for (name, help, read) in counters {
        let stats = Arc::clone(stats);
        if let Err(e) = metrics.register_counter_fn(name, help, &[], move || read(&stats)) {
            tracing::warn!(error = %e, "cannot register a notification metric");
        }
    }
}

/// Registers the depth of the import task queue, read from `stats` when
/// scraped.
pub fn register_imports(metrics: &Metrics, stats: Arc<glint_workers::ImportStats>) {
    let queued = metrics.register_gauge_fn(
        "glint_import_tasks_queued",
        "Import tasks pending or processing, on every node, as counted after the importer's last pass.",
        &[],
        move || stats.queued() as f64,
    );
    if let Err(e) = queued {
        tracing::warn!(error = %e, "cannot register the import metric");
    }
}

/// Registers the scrubber's counters and its queue depth, read from
/// `stats` when scraped.
pub fn register_scrubber(metrics: &Metrics, stats: &Arc<glint_workers::ScrubberStats>) {
    type Read = fn(&glint_workers::ScrubberStats) -> u64;
    let counters: [(&str, &str, Read); 2] = [
        (
            "glint_scrubber_scrubbed_total",
            "Pending deletes whose data the scrubber removed.",
            |s| s.scrubbed(),
        ),
        (
            "glint_scrubber_failed_total",
            "Scrubs that failed and wait for a retry.",
            |s| s.failed(),
        ),
    ];
    for (name, help, read) in counters {
        let stats = Arc::clone(stats);
        if let Err(e) = metrics.register_counter_fn(name, help, &[], move || read(&stats)) {
            tracing::warn!(error = %e, "cannot register a scrubber metric");
        }
    }
    let stats = Arc::clone(stats);
    let pending = metrics.register_gauge_fn(
        "glint_scrubber_pending_deletes",
        "Images in pending_delete, due or not, as counted after the last sweep.",
        &[],
        move || stats.pending() as f64,
    );
    if let Err(e) = pending {
        tracing::warn!(error = %e, "cannot register a scrubber metric");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_metrics_are_read_from_proc() {
        let metrics = Metrics::new();
        register_process(&metrics);
        let text = metrics.render();
        let rss = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .and_then(|v| v.parse::<f64>().ok())
            .expect("a value");
        assert!(rss > 1e6, "{rss}");
        assert!(text.contains("\nprocess_open_fds "), "{text}");
    }
}
