//! Prometheus metrics: a small registry and its text exposition (format
//! 0.0.4).
//!
//! The HTTP layer's own metrics (requests by route template, method and
//! status, their latency, body bytes, connections) are kept in atomics
//! updated without a lock on the request path (see `http`). Other parts of
//! glint keep their counters as plain atomics in their own crates and hand
//! them to the registry at start-up with [`Metrics::register_counter`],
//! [`Metrics::register_gauge`] or, for a value computed when scraped,
//! [`Metrics::register_counter_fn`] / [`Metrics::register_gauge_fn`]:
//!
//! ```
//! # use std::sync::Arc;
//! # use std::sync::atomic::AtomicU64;
//! let metrics = glint_api::metrics::Metrics::new();
//! let hits = Arc::new(AtomicU64::new(0));
//! metrics
//!     .register_counter("glint_example_hits_total", "Example hits.", Arc::clone(&hits))
//!     .unwrap();
//! assert!(metrics.render().contains("glint_example_hits_total 0\n"));
//! ```
//!
//! Registered values are only read when `/metrics` is scraped.

mod requests;
mod text;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

pub(crate) use requests::{ConnectionGauge, Observation, RouteLayer, observe_requests};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderValue};
use requests::HttpMetrics;
use text::Exposition;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::state::AppState;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics` on the API listener: for callers the `glint:metrics`
/// rule allows (administrators by default).
pub(crate) async fn show_metrics(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Response, ApiError> {
    state.images.authorize_metrics(&ctx).await?;
    Ok(exposition(&state.metrics))
}

/// `GET /metrics` on the metrics listener, which has no authentication.
pub(crate) async fn scrape(State(metrics): State<Metrics>) -> Response {
    exposition(&metrics)
}

/// `router` with the request metrics of `metrics`: route templates taken
/// on every route it has so far, requests timed and counted around it.
/// [`crate::serve`] applies the same two layers to the API; this is for
/// benchmarks and other routers.
pub fn instrument<S>(router: axum::Router<S>, metrics: &Metrics) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.route_layer(RouteLayer::new(metrics.clone())).layer(
        axum::middleware::from_fn_with_state(metrics.clone(), observe_requests),
    )
}

fn exposition(metrics: &Metrics) -> Response {
    let content_type = [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))];
    (content_type, metrics.render()).into_response()
}

/// Why a metric could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    #[error("invalid metric name {0:?}: use [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidName(String),
    #[error("invalid label name {0:?}: use [a-zA-Z_][a-zA-Z0-9_]*, not starting with __")]
    InvalidLabel(String),
    #[error("counter {0:?} must end in _total")]
    CounterName(String),
    #[error("metric {0:?} is glint's own or already registered with another type or help")]
    Conflict(String),
    #[error("metric {name:?} already has a sample with labels {labels}")]
    Duplicate { name: String, labels: String },
}

/// What a registered metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

type Reader = Box<dyn Fn() -> f64 + Send + Sync>;

struct Sample {
    labels: Vec<(String, String)>,
    read: Reader,
}

struct Family {
    name: String,
    help: String,
    kind: Kind,
    samples: Vec<Sample>,
}

/// The registry: every metric `/metrics` shows. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    http: HttpMetrics,
    families: Mutex<Vec<Family>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry holding the HTTP layer's metrics only.
    pub fn new() -> Metrics {
        Metrics {
            inner: Arc::new(Inner {
                http: HttpMetrics::new(),
                families: Mutex::new(Vec::new()),
            }),
        }
    }

    pub(crate) fn http(&self) -> &HttpMetrics {
        &self.inner.http
    }

    /// A counter read from `value` (which only ever grows).
    pub fn register_counter(
        &self,
        name: &str,
        help: &str,
        value: Arc<AtomicU64>,
    ) -> Result<(), MetricsError> {
        self.register_counter_fn(name, help, &[], move || value.load(Ordering::Relaxed))
    }

    /// A gauge read from `value`.
    pub fn register_gauge(
        &self,
        name: &str,
        help: &str,
        value: Arc<AtomicU64>,
    ) -> Result<(), MetricsError> {
        self.register_gauge_fn(name, help, &[], move || {
            value.load(Ordering::Relaxed) as f64
        })
    }

    /// One sample of a counter, with `labels`, whose value `read` gives
    /// at each scrape. Samples of one name share its help.
    pub fn register_counter_fn(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        read: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Result<(), MetricsError> {
        if !name.ends_with("_total") {
            return Err(MetricsError::CounterName(name.to_owned()));
        }
        let read = Box::new(move || read() as f64);
        self.register(Kind::Counter, name, help, labels, read)
    }

    /// One sample of a gauge, with `labels`, whose value `read` gives at
    /// each scrape.
    pub fn register_gauge_fn(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        read: impl Fn() -> f64 + Send + Sync + 'static,
    ) -> Result<(), MetricsError> {
        self.register(Kind::Gauge, name, help, labels, Box::new(read))
    }

    fn register(
        &self,
        kind: Kind,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        read: Reader,
    ) -> Result<(), MetricsError> {
        if !text::is_metric_name(name) {
            return Err(MetricsError::InvalidName(name.to_owned()));
        }
        if let Some((bad, _)) = labels.iter().find(|(l, _)| !text::is_label_name(l)) {
            return Err(MetricsError::InvalidLabel((*bad).to_owned()));
        }
        if HttpMetrics::owns(name) {
            return Err(MetricsError::Conflict(name.to_owned()));
        }
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut families = self.families();
        let family = match families.iter_mut().find(|f| f.name == name) {
            Some(f) if f.kind != kind || f.help != help => {
                return Err(MetricsError::Conflict(name.to_owned()));
            }
            Some(f) => f,
            None => {
                families.push(Family {
                    name: name.to_owned(),
                    help: help.to_owned(),
                    kind,
                    samples: Vec::new(),
                });
                families.last_mut().expect("just pushed")
            }
        };
        let same_labels = |s: &Sample| {
            let mut a = s.labels.clone();
            let mut b = labels.clone();
            a.sort();
            b.sort();
            a == b
        };
        if family.samples.iter().any(same_labels) {
            return Err(MetricsError::Duplicate {
                name: name.to_owned(),
                labels: format!("{labels:?}"),
            });
        }
        family.samples.push(Sample { labels, read });
        Ok(())
    }

    fn families(&self) -> std::sync::MutexGuard<'_, Vec<Family>> {
        self.inner
            .families
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every metric in Prometheus's text format.
    pub fn render(&self) -> String {
        let mut out = Exposition::default();
        self.inner.http.render(&mut out);
        for family in self.families().iter() {
            out.family(&family.name, &family.help, family.kind.as_str());
            for sample in &family.samples {
                let labels: Vec<(&str, &str)> = sample
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                out.sample(&family.name, &labels, (sample.read)());
            }
        }
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_read_when_rendered() {
        let metrics = Metrics::new();
        let depth = Arc::new(AtomicU64::new(0));
        metrics
            .register_gauge("glint_queue_depth", "Jobs waiting.", Arc::clone(&depth))
            .unwrap();
        depth.store(7, Ordering::Relaxed);
        let text = metrics.render();
        assert!(
            text.contains("# HELP glint_queue_depth Jobs waiting.\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE glint_queue_depth gauge\n"), "{text}");
        assert!(text.contains("\nglint_queue_depth 7\n"), "{text}");
    }

    #[test]
    fn labelled_samples_share_one_family() {
        let metrics = Metrics::new();
        let help = "Lookups in the cache.";
        let name = "glint_cache_lookups_total";
        metrics
            .register_counter_fn(name, help, &[("result", "hit")], || 3)
            .unwrap();
        metrics
            .register_counter_fn(name, help, &[("result", "miss")], || 1)
            .unwrap();
        let text = metrics.render();
        assert_eq!(
            text.matches("# TYPE glint_cache_lookups_total counter")
                .count(),
            1
        );
        assert!(
            text.contains("glint_cache_lookups_total{result=\"hit\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("glint_cache_lookups_total{result=\"miss\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn bad_registrations_are_refused() {
        let metrics = Metrics::new();
        let zero = || 0;
        assert!(matches!(
            metrics.register_counter_fn("bad name_total", "h", &[], zero),
            Err(MetricsError::InvalidName(_))
        ));
        assert!(matches!(
            metrics.register_counter_fn("glint_hits", "h", &[], zero),
            Err(MetricsError::CounterName(_))
        ));
        assert!(matches!(
            metrics.register_counter_fn("glint_x_total", "h", &[("__x", "v")], zero),
            Err(MetricsError::InvalidLabel(_))
        ));
        assert!(matches!(
            metrics.register_counter_fn("glint_http_requests_total", "h", &[], zero),
            Err(MetricsError::Conflict(_))
        ));
        metrics
            .register_counter_fn("glint_x_total", "h", &[], zero)
            .unwrap();
        assert!(matches!(
            metrics.register_counter_fn("glint_x_total", "h", &[], zero),
            Err(MetricsError::Duplicate { .. })
        ));
        assert!(matches!(
            metrics.register_gauge_fn("glint_x_total", "h", &[], || 0.0),
            Err(MetricsError::Conflict(_))
        ));
    }

    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::new();
        metrics
            .register_gauge_fn("glint_g", "h", &[("v", "a\"b\\c\nd")], || 1.5)
            .unwrap();
        assert!(
            metrics
                .render()
                .contains("glint_g{v=\"a\\\"b\\\\c\\nd\"} 1.5\n")
        );
    }
}
