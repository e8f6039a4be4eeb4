//! `GET /metrics`: Prometheus's text format with requests counted by route
//! template (never an image id), method and status, latency histograms,
//! body bytes as sent, uploads in flight; administrators only on the API
//! listener, anyone on the metrics listener.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{TestApp, expect_status, id_of};
use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

/// One sample: its name and labels, and its value.
type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// Parses the text exposition format, checking each line's syntax.
fn parse(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text.lines() {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP ") || line.starts_with("# TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').expect("}"))),
        };
        assert!(!name.is_empty() && !name.contains(' '), "{line}");
        let previous = samples.insert((name.to_owned(), labels), value);
        assert!(previous.is_none(), "duplicate series {line}");
    }
    samples
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "label {name} of {text}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => panic!("dangling escape in {text}"),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(name, value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let key = (
        name.to_owned(),
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    samples.get(&key).copied().unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> (String, Samples) {
    let resp = app.get("/metrics").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    let samples = parse(&text);
    (text, samples)
}

const IMAGE: &str = "/v2/images/{id}";
const FILE: &str = "/v2/images/{id}/file";

#[tokio::test]
async fn requests_are_counted_by_route_template_method_and_status() {
    let app = TestApp::new().await;
    let image = app
        .create_image(json!({"name": "m", "disk_format": "raw", "container_format": "bare"}))
        .await;
    let id = id_of(&image);
    for _ in 0..2 {
        app.image(&id).await;
    }
    let missing = uuid::Uuid::new_v4();
    let resp = app
        .get(&format!("/v2/images/{missing}"))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NOT_FOUND).await;
    let resp = app.get("/v2/no/such/path").send().await.unwrap();
    expect_status(resp, StatusCode::NOT_FOUND).await;
    // Another version prefix reaches the same route.
    let resp = app.get(&format!("/v2.1/images/{id}")).send().await.unwrap();
    expect_status(resp, StatusCode::OK).await;

    let (text, samples) = scrape(&app).await;
    let requests = "glint_http_requests_total";
    let get_image = [("method", "GET"), ("route", IMAGE)];
    assert_eq!(
        value(
            &samples,
            requests,
            &[get_image[0], get_image[1], ("status", "200")]
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        value(
            &samples,
            requests,
            &[get_image[0], get_image[1], ("status", "404")]
        ),
        1.0,
        "{text}"
    );
    let created = [
        ("method", "POST"),
        ("route", "/v2/images"),
        ("status", "201"),
    ];
    assert_eq!(value(&samples, requests, &created), 1.0, "{text}");
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert_eq!(value(&samples, requests, &unmatched), 1.0, "{text}");
    for raw in [id.as_str(), &missing.to_string(), "/v2/no/such/path"] {
        assert!(!text.contains(raw), "{raw} in a label:\n{text}");
    }

    // The histogram of GET /v2/images/{id}: cumulative, +Inf = count.
    let bucket = "glint_http_request_duration_seconds_bucket";
    let mut buckets: Vec<(f64, f64)> = samples
        .iter()
        .filter(|((name, labels), _)| {
            name == bucket
                && labels.get("route").map(String::as_str) == Some(IMAGE)
                && labels.get("method").map(String::as_str) == Some("GET")
        })
        .map(|((_, labels), v)| {
            let le = match labels["le"].as_str() {
                "+Inf" => f64::INFINITY,
                le => le.parse().unwrap(),
            };
            (le, *v)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() > 10, "{text}");
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    let count = value(
        &samples,
        "glint_http_request_duration_seconds_count",
        &get_image,
    );
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, 4.0));
    assert_eq!(count, 4.0);
    let sum = value(
        &samples,
        "glint_http_request_duration_seconds_sum",
        &get_image,
    );
    assert!(sum > 0.0 && sum < 60.0, "{sum}");
}

#[tokio::test]
async fn body_bytes_are_counted_as_sent() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("bytes").await;
    let data = common::noise(300_000, 7);
    app.upload_ok(&id, data.clone()).await;
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap().len(), data.len());
    let resp = app.get(&format!("/v2/images/{id}")).send().await.unwrap();
    let shown = resp.bytes().await.unwrap().len();

    let (text, samples) = scrape(&app).await;
    let upload = [("method", "PUT"), ("route", FILE)];
    let download = [("method", "GET"), ("route", FILE)];
    let inbound = "glint_http_request_body_bytes_total";
    let outbound = "glint_http_response_body_bytes_total";
    assert_eq!(
        value(&samples, inbound, &upload),
        data.len() as f64,
        "{text}"
    );
    assert_eq!(
        value(&samples, outbound, &download),
        data.len() as f64,
        "{text}"
    );
    assert_eq!(value(&samples, outbound, &upload), 0.0, "{text}");
    let show = [("method", "GET"), ("route", IMAGE)];
    assert_eq!(value(&samples, outbound, &show), shown as f64, "{text}");
    assert_eq!(value(&samples, "glint_downloads_in_flight", &[]), 0.0);
    assert!(
        value(&samples, "glint_http_connections_open", &[]) >= 1.0,
        "{text}"
    );
}

#[tokio::test]
async fn uploads_in_flight_rise_during_a_slow_upload_and_fall_back() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("slow").await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(tokio_stream(rx));
    let upload = tokio::spawn(
        app.admin()
            .put(&format!("/v2/images/{id}/file"))
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body)
            .send(),
    );
    tx.send(Ok(vec![7u8; 64 * 1024])).await.unwrap();
    let gauge = |samples: &Samples| value(samples, "glint_uploads_in_flight", &[]);
    wait_for(&app, |s| gauge(s) == 1.0).await;
    tx.send(Ok(vec![8u8; 64 * 1024])).await.unwrap();
    drop(tx);
    let resp = upload.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let samples = wait_for(&app, |s| gauge(s) == 0.0).await;
    let inbound = [("method", "PUT"), ("route", FILE)];
    let read = value(&samples, "glint_http_request_body_bytes_total", &inbound);
    assert_eq!(read, 128.0 * 1024.0);
}

/// The receiver as a stream.
fn tokio_stream<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// Scrapes until `check` holds (5 s at most).
async fn wait_for(app: &TestApp, check: impl Fn(&Samples) -> bool) -> Samples {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (text, samples) = scrape(app).await;
        if check(&samples) {
            return samples;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn only_administrators_read_metrics_on_the_api_listener() {
    let app = TestApp::new().await;
    let resp = app.member_of("p1").get("/metrics").send().await.unwrap();
    common::expect_error(resp, StatusCode::FORBIDDEN).await;
    let resp = app
        .as_user("p1", "admin")
        .get("/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (text, _) = scrape(&app).await;
    assert!(
        text.contains("status=\"403\""),
        "the refusal is counted:\n{text}"
    );
}

#[tokio::test]
async fn the_metrics_rule_can_be_opened_to_readers() {
    let app = TestApp::builder()
        .policy_overrides("\"glint:metrics\": \"role:reader\"\n")
        .start()
        .await;
    let resp = app.member_of("p1").get("/metrics").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_metrics_listener_serves_metrics_without_authentication_and_nothing_else() {
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(glint_api::serve_metrics(
        listener,
        app.metrics().clone(),
        async {
            let _ = stopped.await;
        },
    ));
    app.create_raw_image("seen").await;
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let samples = parse(&resp.text().await.unwrap());
    let created = [
        ("method", "POST"),
        ("route", "/v2/images"),
        ("status", "201"),
    ];
    assert_eq!(value(&samples, "glint_http_requests_total", &created), 1.0);
    for path in ["/v2/images", "/healthcheck", "/"] {
        let resp = client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
