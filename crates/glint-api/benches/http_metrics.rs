//! What the request metrics cost per request: one small JSON answer of a
//! templated route through an axum router, without and with the metrics
//! layers (route template, status, latency histogram, body bytes).
//!
//!     cargo bench -p glint-api --bench http_metrics

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use glint_api::metrics::{Metrics, instrument};
use http::Request;
use tower::ServiceExt;

async fn show() -> &'static str {
    "{\"id\": \"5f0c1c5e-6b50-4a3b-9c37-5d1c8f5f2d11\", \"name\": \"cirros\"}"
}

fn routes() -> Router {
    Router::new()
        .route("/v2/images", get(show))
        .route("/v2/images/{id}", get(show))
        .route("/v2/images/{id}/file", get(show))
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let plain = routes();
    let metrics = Metrics::new();
    let measured = instrument(routes(), &metrics);
    let request = || {
        Request::get("/v2/images/5f0c1c5e-6b50-4a3b-9c37-5d1c8f5f2d11")
            .body(Body::empty())
            .expect("request")
    };
    let mut group = c.benchmark_group("show through a router");
    group.bench_function("without metrics", |b| {
        b.iter(|| runtime.block_on(plain.clone().oneshot(black_box(request()))))
    });
    group.bench_function("with metrics", |b| {
        b.iter(|| runtime.block_on(measured.clone().oneshot(black_box(request()))))
    });
    group.finish();
    c.bench_function("render /metrics (3 routes seen)", |b| {
        b.iter(|| black_box(metrics.render()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
