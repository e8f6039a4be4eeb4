//! Per-project limits as Glance takes them from Keystone's unified limits
//! (`use_keystone_limits`): the four resources, where their values come
//! from ([`LimitsSource`], implemented over Keystone's API outside this
//! crate), and a cache that keeps them for a short while.
//!
//! A project's limit of a resource is its project limit, else the
//! registered (default) limit, else 0: as in oslo.limit, a resource with no
//! limit registered allows nothing. -1 means unlimited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The resources Glance registers in Keystone, in the order Glance reports
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// MiB of image data, once per location.
    ImageSizeTotal,
    /// MiB of image data being imported.
    ImageStageTotal,
    /// Images that are not killed, deleted or pending delete.
    ImageCountTotal,
    /// Images being uploaded or imported.
    ImageCountUploading,
}

impl Resource {
    pub const ALL: [Resource; 4] = [
        Resource::ImageSizeTotal,
        Resource::ImageStageTotal,
        Resource::ImageCountTotal,
        Resource::ImageCountUploading,
    ];

    /// The resource's name in Keystone.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::ImageSizeTotal => "image_size_total",
            Resource::ImageStageTotal => "image_stage_total",
            Resource::ImageCountTotal => "image_count_total",
            Resource::ImageCountUploading => "image_count_uploading",
        }
    }
}

/// Limits by resource name, as Keystone lists them for the service.
pub type LimitMap = HashMap<String, i64>;

/// Why limits could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    /// The identity service could not be reached or did not answer usably:
    /// retrying later may work.
    #[error("limits unavailable: {0}")]
    Unavailable(String),
    /// The identity service answered, but not what the configuration
    /// expects (credentials refused, no such endpoint, an enforcement model
    /// other than flat).
    #[error("limits misconfigured: {0}")]
    Misconfigured(String),
}

/// Where limits come from: the registered limits of the image service's
/// endpoint and the limits of one project.
#[async_trait::async_trait]
pub trait LimitsSource: Send + Sync + std::fmt::Debug {
    async fn registered_limits(&self) -> Result<LimitMap, LimitsError>;
    async fn project_limits(&self, project: &str) -> Result<LimitMap, LimitsError>;
}

/// The limits that apply to one project.
#[derive(Debug, Clone)]
pub struct ProjectLimits {
    registered: Arc<LimitMap>,
    project: Option<Arc<LimitMap>>,
}

impl ProjectLimits {
    /// The limit of `resource`: the project's own, else the registered
    /// one, else 0. Negative means unlimited.
    pub fn get(&self, resource: Resource) -> i64 {
        let name = resource.as_str();
        self.project
            .as_ref()
            .and_then(|p| p.get(name))
            .or_else(|| self.registered.get(name))
            .copied()
            .unwrap_or(0)
    }

    /// The limit of `resource`, `None` when unlimited.
    pub fn bound(&self, resource: Resource) -> Option<u64> {
        u64::try_from(self.get(resource)).ok()
    }
}

/// Most projects whose limits are kept at once.
const MAX_CACHED_PROJECTS: usize = 10_000;

struct Cached {
    at: Instant,
    limits: Arc<LimitMap>,
}

/// The limits of Keystone, each kept for `cache_time` after it was read.
/// One read at a time: requests that find an entry stale while another
/// reads it wait for that read instead of asking again.
#[derive(Debug)]
pub struct UnifiedLimits {
    source: Arc<dyn LimitsSource>,
    cache_time: Duration,
    cache: Mutex<Cache>,
    reading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cache {
    registered: Option<Cached>,
    projects: HashMap<String, Cached>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("projects", &self.projects.len())
            .finish()
    }
}

impl UnifiedLimits {
    /// The default of `[glint] keystone_limits_cache_time`.
    pub const DEFAULT_CACHE_TIME: Duration = Duration::from_secs(5);

    pub fn new(source: Arc<dyn LimitsSource>, cache_time: Duration) -> UnifiedLimits {
        UnifiedLimits {
            source,
            cache_time,
            cache: Mutex::default(),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// The limits of `project` (`None`: a caller without a project, to
    /// whom only the registered limits apply).
    pub async fn limits(&self, project: Option<&str>) -> Result<ProjectLimits, LimitsError> {
        if let Some(found) = self.cached(project) {
            return Ok(found);
        }
        let _reading = self.reading.lock().await;
        if let Some(found) = self.cached(project) {
            return Ok(found);
        }
        let registered = match self.fresh(|c| c.registered.as_ref()) {
            Some(r) => r,
            None => {
                let read = Arc::new(self.source.registered_limits().await?);
                self.store(|c| {
                    c.registered = Some(Cached {
                        at: Instant::now(),
                        limits: read.clone(),
                    })
                });
                read
            }
        };
        let project = match project {
            None => None,
            Some(p) => Some(match self.fresh(|c| c.projects.get(p)) {
                Some(found) => found,
                None => {
                    let read = Arc::new(self.source.project_limits(p).await?);
                    self.store(|c| {
                        if c.projects.len() >= MAX_CACHED_PROJECTS {
                            c.projects.clear();
                        }
                        c.projects.insert(
                            p.to_owned(),
                            Cached {
                                at: Instant::now(),
                                limits: read.clone(),
                            },
                        );
                    });
                    read
                }
            }),
        };
        Ok(ProjectLimits {
            registered,
            project,
        })
    }

    fn cached(&self, project: Option<&str>) -> Option<ProjectLimits> {
        let registered = self.fresh(|c| c.registered.as_ref())?;
        let project = match project {
            None => None,
            Some(p) => Some(self.fresh(|c| c.projects.get(p))?),
        };
        Some(ProjectLimits {
            registered,
            project,
        })
    }

    /// The entry `pick` finds, if read less than `cache_time` ago.
    fn fresh(&self, pick: impl FnOnce(&Cache) -> Option<&Cached>) -> Option<Arc<LimitMap>> {
        let cache = self.cache.lock().ok()?;
        pick(&cache)
            .filter(|c| c.at.elapsed() < self.cache_time)
            .map(|c| c.limits.clone())
    }

    fn store(&self, change: impl FnOnce(&mut Cache)) {
        if let Ok(mut cache) = self.cache.lock() {
            change(&mut cache);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, Default)]
    struct Counting {
        reads: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl LimitsSource for Counting {
        async fn registered_limits(&self) -> Result<LimitMap, LimitsError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(LimitMap::from([
                ("image_count_total".to_owned(), 10),
                ("image_size_total".to_owned(), -1),
            ]))
        }

        async fn project_limits(&self, project: &str) -> Result<LimitMap, LimitsError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(match project {
                "small" => LimitMap::from([("image_count_total".to_owned(), 1)]),
                _ => LimitMap::new(),
            })
        }
    }

    #[tokio::test]
    async fn a_project_limit_overrides_the_registered_one_and_a_missing_one_is_zero() {
        let limits = UnifiedLimits::new(Arc::new(Counting::default()), Duration::from_secs(60));
        let small = limits.limits(Some("small")).await.unwrap();
        assert_eq!(small.get(Resource::ImageCountTotal), 1);
        assert_eq!(small.bound(Resource::ImageSizeTotal), None);
        assert_eq!(small.get(Resource::ImageStageTotal), 0);
        let other = limits.limits(Some("other")).await.unwrap();
        assert_eq!(other.get(Resource::ImageCountTotal), 10);
        let none = limits.limits(None).await.unwrap();
        assert_eq!(none.bound(Resource::ImageCountTotal), Some(10));
    }

    #[tokio::test]
    async fn limits_are_read_again_only_once_the_cache_time_has_passed() {
        let source = Arc::new(Counting::default());
        let limits = UnifiedLimits::new(source.clone(), Duration::from_millis(200));
        for _ in 0..5 {
            limits.limits(Some("p")).await.unwrap();
        }
        assert_eq!(source.reads.load(Ordering::SeqCst), 2);
        tokio::time::sleep(Duration::from_millis(250)).await;
        limits.limits(Some("p")).await.unwrap();
        assert_eq!(source.reads.load(Ordering::SeqCst), 4);
        let uncached = UnifiedLimits::new(source.clone(), Duration::ZERO);
        uncached.limits(Some("p")).await.unwrap();
        uncached.limits(Some("p")).await.unwrap();
        assert_eq!(source.reads.load(Ordering::SeqCst), 8);
    }
}
