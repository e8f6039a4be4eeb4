//! The scrubber's options (glance-scrubber.conf's, in `[DEFAULT]`) and
//! the one thing glint reads from an old `glance-registry.conf`.

use std::path::Path;
use std::time::Duration;

use super::ConfigError;
use super::ini::IniFile;
use super::options::*;
use super::source::Source;
use super::values;

/// Most images scrubbed at once: far beyond what a store serves in
/// parallel, low enough that a typo cannot open thousands of requests.
const MAX_SCRUB_POOL_SIZE: u64 = 1024;

/// Options of delayed delete's scrubber, read from `[DEFAULT]` like
/// Glance's (`glint scrub`, and the scrubber of `glint serve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrubberOptions {
    /// How long an image stays `pending_delete` before its data is removed.
    pub scrub_time: Duration,
    /// How many images are scrubbed at once.
    pub scrub_pool_size: usize,
    /// Time between sweeps of a scrubber that keeps running (`glint scrub`
    /// as a daemon, the scrubber of `glint serve`); at least a second.
    pub wakeup_time: Duration,
    /// Whether `glint scrub` keeps running, sweeping every `wakeup_time`,
    /// instead of sweeping once and exiting (for cron).
    pub daemon: bool,
    /// An image id that `glint scrub` brings back from `pending_delete` to
    /// `active` instead of scrubbing.
    pub restore: Option<String>,
}

impl ScrubberOptions {
    pub(super) fn read(src: &Source<'_>) -> Result<Self, ConfigError> {
        let seconds =
            |value: &str| values::parse_u64_in(value, 0, u64::MAX).map(Duration::from_secs);
        Ok(Self {
            scrub_time: src.parse(&SCRUB_TIME, seconds)?,
            scrub_pool_size: src.parse(&SCRUB_POOL_SIZE, |v| {
                values::parse_u64_in(v, 1, MAX_SCRUB_POOL_SIZE).map(|n| n as usize)
            })?,
            wakeup_time: src.parse(&WAKEUP_TIME, seconds)?,
            daemon: src.bool(&DAEMON)?,
            restore: src.optional(&RESTORE)?,
        })
    }

    /// The wait between sweeps: `wakeup_time`, but never under a second,
    /// so that 0 (which Glance allows) does not spin.
    pub fn sweep_interval(&self) -> Duration {
        self.wakeup_time.max(Duration::from_secs(1))
    }
}

/// The file name of the Glance registry's configuration.
const REGISTRY_FILE: &str = "glance-registry.conf";

/// `glance-registry.conf` is accepted on the command line, as operators of
/// releases that had the registry still pass it: only its `[database]`
/// section is kept. Returns the file as glint reads it and the warning to
/// give, if it is that file.
pub(super) fn registry_database_only(path: &Path, ini: IniFile) -> (IniFile, Option<String>) {
    if path.file_name().and_then(|n| n.to_str()) != Some(REGISTRY_FILE) {
        return (ini, None);
    }
    let warning = format!(
        "{}: the Glance registry service is gone (removed in Glance 20.0.0, Ussuri); \
         glint reads only the [database] section of this file and ignores the rest",
        path.display()
    );
    (ini.only_section("database"), Some(warning))
}
