//! Client-sent request ids and paths in the server's log lines: only safe
//! ids are kept, and nothing a client controls makes a log line unbounded.

use crate::common;

use common::TestApp;
use common::logs::CapturedLogs;
use common::raw::exchange;

const REQUEST_ID: &str = "x-openstack-request-id";

async fn list_with_request_id(app: &TestApp, id: &str) -> String {
    let resp = app
        .get("/v2/images")
        .header(REQUEST_ID, id)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    resp.headers()[REQUEST_ID].to_str().unwrap().to_string()
}

fn is_generated(id: &str) -> bool {
    id.strip_prefix("req-")
        .is_some_and(|uuid| uuid::Uuid::parse_str(uuid).is_ok())
}

#[tokio::test]
async fn forged_request_id_never_reaches_the_log() {
    let (logs, _guard) = CapturedLogs::start();
    let app = TestApp::new().await;
    for forged in [
        "1} image.id=forged {",
        "req-x\" status=200 forged=\"1",
        "req-a b",
        "req-tab\there",
        "req-semi;colon",
    ] {
        let echoed = list_with_request_id(&app, forged).await;
        assert!(is_generated(&echoed), "{forged:?} came back as {echoed:?}");
    }
    let text = logs.text();
    assert!(text.contains("request done"), "nothing logged: {text}");
    for fragment in ["forged", "req-a b", "tab\there", "semi;colon"] {
        assert!(!text.contains(fragment), "{fragment:?} logged:\n{text}");
    }
}

#[tokio::test]
async fn safe_request_id_is_echoed_and_logged() {
    let (logs, _guard) = CapturedLogs::start();
    let app = TestApp::new().await;
    let id = "req-Client_1.2-3";
    assert_eq!(list_with_request_id(&app, id).await, id);
    assert_eq!(
        list_with_request_id(&app, "from.the_client-7").await,
        "req-from.the_client-7"
    );
    assert!(logs.text().contains("request_id=req-Client_1.2-3"));
}

#[tokio::test]
async fn long_path_is_cut_in_the_log() {
    let (logs, _guard) = CapturedLogs::start();
    let app = TestApp::new().await;
    // http::Uri, on both ends, takes paths of up to 64 KiB.
    let long = "a".repeat(60_000);
    let head = format!(
        "GET /v2/images/{long} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        app.addr()
    );
    assert_eq!(exchange(app.addr(), &head).await.status, 404);
    let lines = logs.lines();
    let done: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("request done"))
        .collect();
    assert_eq!(done.len(), 1, "{lines:?}");
    assert!(done[0].len() < 2048, "{} bytes logged", done[0].len());
    assert!(done[0].contains("[cut: 60011 bytes]"), "{}", done[0]);
    assert!(lines.iter().all(|l| l.len() < 2048));
    // Another client is still served.
    assert_eq!(
        app.get("/v2/images").send().await.unwrap().status(),
        reqwest::StatusCode::OK
    );
}
