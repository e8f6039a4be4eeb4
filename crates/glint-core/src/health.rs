//! Whether this node should receive requests: the checks behind
//! `/healthcheck`, in the shape of oslo.middleware's healthcheck backends
//! (each result has a short reason, details and the name of its check),
//! plus glint's own checks of the database and of every store.
//!
//! Results are reused for [`HealthConfig::reuse_for`] and one check runs
//! at a time, so a flood of health checks costs the database and the
//! stores at most one cheap request each per interval. Every dependency is
//! given [`HealthConfig::timeout`] to answer. Details never hold a secret:
//! URLs in error texts lose their user information.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use glint_db::Database;
use glint_store::{StoreEntry, StoreRegistry};

/// Which checks run, and how often they really reach the dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// The checks, in the order they are reported.
    pub checks: Vec<HealthCheck>,
    /// How long a result is served again before the checks run anew.
    pub reuse_for: Duration,
    /// How long the database or a store may take to answer its check.
    pub timeout: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            checks: vec![
                HealthCheck::DisableByFile {
                    path: Some(PathBuf::from(HealthConfig::DEFAULT_DISABLE_BY_FILE_PATH)),
                },
                HealthCheck::Database,
                HealthCheck::Stores,
            ],
            reuse_for: Duration::from_secs(1),
            timeout: Duration::from_secs(3),
        }
    }
}

impl HealthConfig {
    /// The file whose presence takes a Glance node out of service, as
    /// Glance's paste pipeline configures it.
    pub const DEFAULT_DISABLE_BY_FILE_PATH: &str = "/etc/glance/healthcheck_disable";
}

/// One check (an oslo.middleware backend, or one of glint's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheck {
    /// `disable_by_file`: unavailable while the file exists.
    DisableByFile { path: Option<PathBuf> },
    /// `disable_by_files_ports`: the same, with the file configured for
    /// the port this server listens on (`None`: none is).
    DisableByFilesPorts { path: Option<PathBuf> },
    /// `enable_by_files`: unavailable while one of the files is missing.
    EnableByFiles { paths: Vec<PathBuf> },
    /// glint's `database`: a trivial statement answers.
    Database,
    /// glint's `stores`: every store answers its own cheap check.
    Stores,
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The check's name, as oslo.middleware names its result classes.
    pub class: &'static str,
    pub available: bool,
    /// Short: `OK`, `DISABLED BY FILE`, `DATABASE UNAVAILABLE`, …
    pub reason: String,
    /// What was checked and what went wrong; shown in detailed mode only.
    pub details: String,
}

impl CheckResult {
    fn new(class: &'static str, available: bool, reason: &str, details: String) -> Self {
        CheckResult {
            class,
            available,
            reason: reason.to_owned(),
            details,
        }
    }
}

/// The results of one run of every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub results: Vec<CheckResult>,
    /// When the checks ran.
    pub checked_at: SystemTime,
}

impl HealthReport {
    /// Whether every check passed.
    pub fn healthy(&self) -> bool {
        self.results.iter().all(|r| r.available)
    }
}

/// Runs the health checks. Cheap to clone; shared by every request.
#[derive(Debug, Clone)]
pub struct HealthService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    stores: StoreRegistry,
    config: HealthConfig,
    last: Mutex<Option<(Instant, Arc<HealthReport>)>>,
    /// Held while the checks run: requests arriving meanwhile wait for
    /// that run's report rather than starting their own.
    running: tokio::sync::Mutex<()>,
}

impl HealthService {
    pub fn new(db: Database, stores: StoreRegistry, config: HealthConfig) -> Self {
        HealthService {
            inner: Arc::new(Inner {
                db,
                stores,
                config,
                last: Mutex::new(None),
                running: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The current report: the last one if it is recent enough, else a
    /// new one (or the one a concurrent caller is making).
    pub async fn check(&self) -> Arc<HealthReport> {
        if let Some(report) = self.recent() {
            return report;
        }
        let _turn = self.inner.running.lock().await;
        if let Some(report) = self.recent() {
            return report;
        }
        let report = Arc::new(self.run().await);
        *self
            .inner
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), Arc::clone(&report)));
        report
    }

    fn recent(&self) -> Option<Arc<HealthReport>> {
        let last = self
            .inner
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (at, report) = last.as_ref()?;
        (at.elapsed() < self.inner.config.reuse_for).then(|| Arc::clone(report))
    }

    async fn run(&self) -> HealthReport {
        let checks = self
            .inner
            .config
            .checks
            .iter()
            .map(|check| self.run_one(check));
        let results = futures::future::join_all(checks).await;
        HealthReport {
            results: results.into_iter().flatten().collect(),
            checked_at: SystemTime::now(),
        }
    }

    async fn run_one(&self, check: &HealthCheck) -> Vec<CheckResult> {
        match check {
            HealthCheck::DisableByFile { path } => {
                vec![disable_by_file("DisableByFileHealthcheck", path.as_ref())]
            }
            HealthCheck::DisableByFilesPorts { path } => {
                vec![disable_by_file(
                    "DisableByFilesPortsHealthcheck",
                    path.as_ref(),
                )]
            }
            HealthCheck::EnableByFiles { paths } => vec![enable_by_files(paths)],
            HealthCheck::Database => vec![self.database().await],
            HealthCheck::Stores => {
                let entries = self.inner.stores.entries();
                futures::future::join_all(entries.map(|e| self.store(e))).await
            }
        }
    }

    async fn database(&self) -> CheckResult {
        const CLASS: &str = "DatabaseHealthcheck";
        let started = Instant::now();
        match self.inner.db.ping_within(self.inner.config.timeout).await {
            Ok(()) => CheckResult::new(
                CLASS,
                true,
                "OK",
                format!("the database answered in {}", elapsed(started)),
            ),
            Err(e) => CheckResult::new(
                CLASS,
                false,
                "DATABASE UNAVAILABLE",
                redact_urls(&e.to_string()),
            ),
        }
    }

    async fn store(&self, entry: &StoreEntry) -> CheckResult {
        const CLASS: &str = "StoreHealthcheck";
        let id = entry.id();
        let started = Instant::now();
        let checked = tokio::time::timeout(self.inner.config.timeout, entry.store.check()).await;
        let failure = match checked {
            Ok(Ok(())) => {
                let details = format!(
                    "store {id} ({}) answered in {}",
                    entry.meta.kind,
                    elapsed(started)
                );
                return CheckResult::new(CLASS, true, "OK", details);
            }
            Ok(Err(e)) => redact_urls(&e.to_string()),
            Err(_) => format!(
                "no answer within {} s",
                self.inner.config.timeout.as_secs_f64()
            ),
        };
        let reason = format!("STORE UNAVAILABLE: {id}");
        let details = format!("store {id} ({}): {failure}", entry.meta.kind);
        CheckResult::new(CLASS, false, &reason, details)
    }
}

fn disable_by_file(class: &'static str, path: Option<&PathBuf>) -> CheckResult {
    let Some(path) = path else {
        let details = "No 'disable_by_file_path' configuration value specified".to_owned();
        return CheckResult::new(class, true, "OK", details);
    };
    let shown = path.display();
    if path.exists() {
        let details = format!("Path '{shown}' was found");
        CheckResult::new(class, false, "DISABLED BY FILE", details)
    } else {
        let details = format!("Path '{shown}' was not found");
        CheckResult::new(class, true, "OK", details)
    }
}

fn enable_by_files(paths: &[PathBuf]) -> CheckResult {
    const CLASS: &str = "EnableByFilesHealthcheck";
    match paths.iter().find(|p| !p.exists()) {
        Some(missing) => {
            let details = format!("File path {} is missing", missing.display());
            CheckResult::new(CLASS, false, "FILE PATH MISSING", details)
        }
        None => {
            let details = "Specified file paths are available".to_owned();
            CheckResult::new(CLASS, true, "OK", details)
        }
    }
}

fn elapsed(started: Instant) -> String {
    format!("{:.1} ms", started.elapsed().as_secs_f64() * 1000.0)
}

/// `text` with every URL in it stripped of its user information (and
/// its query, which may carry a signature or a token).
pub fn redact_urls(text: &str) -> String {
    text.split(' ')
        .map(|word| match word.find("://") {
            Some(at) => {
                let start = word[..at]
                    .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
                    .map_or(0, |i| i + 1);
                let end = word[at..]
                    .find(['"', '\'', ')', '>', ',', ']'])
                    .map_or(word.len(), |i| at + i);
                let url = &word[start..end];
                let shown = glint_store::redact_url(url)
                    .map(|u| u.split(['?', '#']).next().unwrap_or_default().to_owned())
                    .unwrap_or_else(|| "<url>".to_owned());
                format!("{}{shown}{}", &word[..start], &word[end..])
            }
            None => word.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_error_texts_lose_credentials_and_queries() {
        let text = "error sending request for url (http://admin:s3cret@db.example:5432/x?sig=abc): \
                    connection refused";
        let shown = redact_urls(text);
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("admin"), "{shown}");
        assert!(!shown.contains("sig=abc"), "{shown}");
        assert!(shown.contains("(http://db.example:5432/x)"), "{shown}");
        assert!(shown.ends_with("connection refused"), "{shown}");
    }

    #[test]
    fn text_without_urls_is_unchanged() {
        let text = "pool timed out while waiting for an open connection";
        assert_eq!(redact_urls(text), text);
    }

    #[test]
    fn disable_by_file_follows_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disable");
        let up = disable_by_file("DisableByFileHealthcheck", Some(&path));
        assert!(up.available);
        assert_eq!(up.reason, "OK");
        std::fs::write(&path, b"").unwrap();
        let down = disable_by_file("DisableByFileHealthcheck", Some(&path));
        assert!(!down.available);
        assert_eq!(down.reason, "DISABLED BY FILE");
        assert!(down.details.contains("was found"), "{}", down.details);
    }

    #[test]
    fn enable_by_files_needs_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"").unwrap();
        let result = enable_by_files(&[a.clone(), b.clone()]);
        assert!(!result.available);
        assert_eq!(result.reason, "FILE PATH MISSING");
        std::fs::write(&b, b"").unwrap();
        assert!(enable_by_files(&[a, b]).available);
    }
}
