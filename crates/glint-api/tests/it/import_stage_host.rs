//! Several nodes, each with its own staging area: a `glance-direct` import
//! asked of a node that does not hold the staged data is passed on to the
//! node that does (`os_glance_stage_host`), which runs it; the others
//! never take that task up.

use std::time::Duration;

use crate::common::{self, Backend, TestApp, expect_error, expect_status, noise};
use crate::image_import::{import, stage, wait_for_task};
use glint_model::ImageId;
use reqwest::StatusCode;
use serde_json::json;

fn glance_direct() -> serde_json::Value {
    json!({"method": {"name": "glance-direct"}})
}

#[tokio::test]
async fn an_import_asked_of_another_node_runs_where_the_data_is_staged() {
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let node_a = TestApp::builder()
            .backend(backend)
            .stage_host_self()
            .start()
            .await;
        let node_b = TestApp::builder()
            .sharing_data_with(&node_a)
            .stage_host_self()
            .start()
            .await;
        let id = node_a.create_raw_image("staged on a").await;
        let data = noise(300_000, 4);
        expect_status(
            stage(&node_a, &id, data.clone()).await,
            StatusCode::NO_CONTENT,
        )
        .await;
        assert_eq!(node_a.staged_files(), std::slice::from_ref(&id));
        assert!(node_b.staged_files().is_empty());

        expect_status(
            import(&node_b, &id, glance_direct()).await,
            StatusCode::ACCEPTED,
        )
        .await;
        let task = wait_for_task(&node_b, &id, "success").await;
        assert_eq!(
            task["input"]["stage_host"],
            format!("http://{}", node_a.addr())
        );
        let image = node_b
            .wait_for_image(&id, Duration::from_secs(10), |i| i["status"] == "active")
            .await;
        assert_eq!(image["checksum"], common::md5_hex(&data));
        assert!(node_a.staged_files().is_empty());

        // Node B never takes up a task of data staged on node A.
        let other = node_a.create_raw_image("second").await;
        expect_status(
            stage(&node_a, &other, noise(1000, 5)).await,
            StatusCode::NO_CONTENT,
        )
        .await;
        expect_status(
            import(&node_a, &other, glance_direct()).await,
            StatusCode::ACCEPTED,
        )
        .await;
        let queued = node_b.service().unfinished_imports(10).await.unwrap();
        for task in queued {
            assert!(!node_b.service().claim_and_run_import(task).await.unwrap());
        }
        wait_for_task(&node_a, &other, "success").await;
        drop(node_b);
    }
}

#[tokio::test]
async fn a_stage_host_that_is_gone_is_504_and_one_that_refuses_answers_for_itself() {
    let node_a = TestApp::builder().stage_host_self().start().await;
    let node_b = TestApp::builder()
        .sharing_data_with(&node_a)
        .stage_host_self()
        .start()
        .await;
    let id = node_a.create_raw_image("orphaned").await;
    expect_status(
        stage(&node_a, &id, noise(1000, 6)).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    // The node that staged it has gone (nothing listens on its port).
    let gone = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    set_stage_host(&node_a, &id, &gone).await;
    let msg = expect_error(
        import(&node_b, &id, glance_direct()).await,
        StatusCode::GATEWAY_TIMEOUT,
    )
    .await;
    assert!(msg.contains("Stage host is unavailable"), "{msg}");
    assert_eq!(node_b.image(&id).await["status"], "uploading");
    assert!(
        node_b
            .admin()
            .get("/v2/tasks")
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );

    // A stage host that refuses: its status is the answer.
    let refusing = axum::Router::new().route(
        "/v2/images/{id}/import",
        axum::routing::post(|| async { (StatusCode::CONFLICT, "no") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refusing_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, refusing).await.unwrap() });
    set_stage_host(&node_a, &id, &refusing_url).await;
    let msg = expect_error(
        import(&node_b, &id, glance_direct()).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(msg.contains("Conflict"), "{msg}");
    drop(node_b);
}

async fn set_stage_host(app: &TestApp, id: &str, url: &str) {
    let stored = app
        .db()
        .get_image_versioned(ImageId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut image = stored.image.clone();
    image
        .properties
        .insert("os_glance_stage_host".into(), url.into());
    app.db().save_image(&image, stored.version).await.unwrap();
}
