//! `image_member_quota` holds when members are added at the same time.

use crate::common;

use common::{Backend, TestApp, id_of};
use reqwest::StatusCode;
use serde_json::json;

const QUOTA: u64 = 5;
const ADDS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_member_adds_never_exceed_the_quota() {
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let app = TestApp::builder()
            .backend(backend)
            .image_config(|c| c.image_member_quota = Some(QUOTA))
            .start()
            .await;
        for round in 0..3 {
            let body = json!({"name": format!("shared-{round}"), "visibility": "shared"});
            let id = id_of(&app.create_image(body).await);
            let url = app.url(&format!("/v2/images/{id}/members"));
            let adds: Vec<_> = (0..ADDS)
                .map(|m| {
                    let client = app.client().clone();
                    let url = url.clone();
                    tokio::spawn(async move {
                        let body = json!({"member": format!("project-{m}")});
                        client.post(url).json(&body).send().await.unwrap().status()
                    })
                })
                .collect();
            let mut added = 0;
            for add in adds {
                match add.await.expect("add task") {
                    StatusCode::OK => added += 1,
                    StatusCode::PAYLOAD_TOO_LARGE => {}
                    other => panic!("unexpected {other}"),
                }
            }
            let listed = app
                .get(&format!("/v2/images/{id}/members"))
                .send()
                .await
                .unwrap();
            let listed: serde_json::Value = listed.json().await.unwrap();
            let members = listed["members"].as_array().unwrap().len();
            assert_eq!(members, added, "every answered add is listed");
            assert_eq!(added, QUOTA as usize, "round {round}: {added} members");
        }
    }
}
