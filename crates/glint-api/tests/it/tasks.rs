//! The task API: `/v2/tasks` (admin-only by default), paging and filters,
//! the legacy `POST /v2/tasks`, expiry, and `/v2/images/{id}/tasks`.

use crate::common;

use std::collections::HashSet;

use crate::common::{TestApp, expect_error, expect_json, expect_status};
use glint_model::time;
use glint_model::{ImageId, Task, TaskStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn task_of(kind: &str, owner: &str, at_offset_s: i64, image: Option<ImageId>) -> Task {
    let at = time::now() - std::time::Duration::from_secs(3600) + time_offset(at_offset_s);
    let mut task = Task::pending(kind, json!({"k": "v"}), at);
    task.owner = Some(owner.into());
    task.image_id = image;
    task
}

fn time_offset(s: i64) -> std::time::Duration {
    std::time::Duration::from_secs(u64::try_from(s).unwrap())
}

async fn seed(app: &TestApp, tasks: &[Task]) {
    for task in tasks {
        app.db().insert_task(task).await.unwrap();
    }
}

fn ids(body: &Value) -> Vec<String> {
    body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn task_api_is_admin_only_by_default() {
    let app = TestApp::new().await;
    let user = app.member_of("p1");
    expect_error(
        user.get("/v2/tasks").send().await.unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    let id = uuid::Uuid::new_v4();
    let resp = user.get(&format!("/v2/tasks/{id}")).send().await.unwrap();
    expect_error(resp, StatusCode::FORBIDDEN).await;
    let resp = user
        .post("/v2/tasks")
        .json(&json!({"type": "import", "input": {}}))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn tasks_are_listed_newest_first_in_pages_with_links() {
    for backend in common::Backend::configured() {
        let app = TestApp::builder().backend(backend).start().await;
        let tasks: Vec<Task> = (0..5)
            .map(|i| task_of("api_image_import", "p1", i * 10, None))
            .collect();
        seed(&app, &tasks).await;
        let body = expect_json(
            app.get("/v2/tasks?limit=2").send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(body["schema"], "/v2/schemas/tasks");
        assert_eq!(body["first"], "/v2/tasks?limit=2");
        let mut seen = ids(&body);
        assert_eq!(seen, vec![tasks[4].id.to_string(), tasks[3].id.to_string()]);
        let stub = &body["tasks"][0];
        assert!(stub.get("input").is_none() && stub.get("message").is_none());
        assert_eq!(stub["self"], format!("/v2/tasks/{}", tasks[4].id));
        let mut next = body["next"].as_str().map(str::to_owned);
        while let Some(link) = next {
            let page = expect_json(app.get(&link).send().await.unwrap(), StatusCode::OK).await;
            seen.extend(ids(&page));
            next = page["next"].as_str().map(str::to_owned);
        }
        let expected: Vec<String> = tasks.iter().rev().map(|t| t.id.to_string()).collect();
        assert_eq!(seen, expected);
        let asc = expect_json(
            app.get("/v2/tasks?sort_dir=asc&sort_key=created_at&limit=3")
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(ids(&asc)[0], tasks[0].id.to_string());
    }
}

#[tokio::test]
async fn task_filters_and_bad_queries() {
    let app = TestApp::new().await;
    let mut done = task_of("api_image_import", "p1", 0, None);
    done.transition(
        TaskStatus::Processing,
        time::now(),
        std::time::Duration::from_secs(3600),
    )
    .unwrap();
    seed(
        &app,
        &[done.clone(), task_of("api_image_import", "p1", 5, None)],
    )
    .await;
    let body = expect_json(
        app.get("/v2/tasks?status=processing").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&body), vec![done.id.to_string()]);
    let body = expect_json(
        app.get("/v2/tasks?type=import").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(ids(&body).is_empty());
    for (query, words) in [
        ("status=done", "Invalid status value: done"),
        (
            "type=api_image_import",
            "Invalid type value: api_image_import",
        ),
        ("sort_dir=up", "Invalid sort direction: up"),
        ("marker=abc", "Invalid marker format"),
        ("limit=x", "limit param must be an integer"),
        ("limit=-1", "limit param must be positive"),
    ] {
        let resp = app.get(&format!("/v2/tasks?{query}")).send().await.unwrap();
        let text = expect_error(resp, StatusCode::BAD_REQUEST).await;
        assert!(text.contains(words), "{query}: {text}");
    }
    let unknown = uuid::Uuid::new_v4();
    let resp = app
        .get(&format!("/v2/tasks?marker={unknown}"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_task_shows_every_field_and_cannot_be_deleted() {
    let app = TestApp::new().await;
    let image = ImageId::new_random();
    let mut task = task_of("api_image_import", "p1", 0, Some(image));
    task.user_id = Some("u1".into());
    task.request_id = Some("req-1".into());
    seed(&app, std::slice::from_ref(&task)).await;
    let path = format!("/v2/tasks/{}", task.id);
    let body = expect_json(app.get(&path).send().await.unwrap(), StatusCode::OK).await;
    assert_eq!(body["status"], "pending");
    assert_eq!(body["type"], "api_image_import");
    assert_eq!(body["input"], json!({"k": "v"}));
    assert_eq!(body["result"], Value::Null);
    assert_eq!(body["message"], "");
    assert_eq!(body["image_id"], image.to_string());
    assert_eq!(body["user_id"], "u1");
    assert_eq!(body["request_id"], "req-1");
    assert_eq!(body["schema"], "/v2/schemas/task");
    assert!(body.get("expires_at").is_none());
    let text = expect_error(
        app.delete(&path).send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    assert!(text.contains("auto deleted"), "{text}");
    let missing = format!("/v2/tasks/{}", uuid::Uuid::new_v4());
    expect_error(
        app.get(&missing).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        app.get("/v2/tasks/not-a-uuid").send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn with_the_api_opened_users_see_only_their_projects_tasks() {
    let app = TestApp::builder()
        .policy_overrides("tasks_api_access: \"role:member\"\n")
        .start()
        .await;
    let mine = task_of("api_image_import", "p1", 0, None);
    let theirs = task_of("api_image_import", "p2", 1, None);
    seed(&app, &[mine.clone(), theirs.clone()]).await;
    let user = app.member_of("p1");
    let body = expect_json(user.get("/v2/tasks").send().await.unwrap(), StatusCode::OK).await;
    assert_eq!(ids(&body), vec![mine.id.to_string()]);
    let resp = user
        .get(&format!("/v2/tasks/{}", theirs.id))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::FORBIDDEN).await;
    let resp = user
        .get(&format!("/v2/tasks/{}", mine.id))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::OK).await;
}

#[tokio::test]
async fn expired_tasks_are_gone_and_purged() {
    let app = TestApp::new().await;
    let mut old = task_of("api_image_import", "p1", 0, None);
    let long_ago = time::now() - std::time::Duration::from_secs(7200);
    old.transition(
        TaskStatus::Failure,
        long_ago,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    let live = task_of("api_image_import", "p1", 1, None);
    seed(&app, &[old.clone(), live.clone()]).await;
    let body = expect_json(app.get("/v2/tasks").send().await.unwrap(), StatusCode::OK).await;
    assert_eq!(ids(&body), vec![live.id.to_string()]);
    let resp = app
        .get(&format!("/v2/tasks/{}", old.id))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(
        app.db()
            .purge_expired_tasks(time::now(), 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        app.db()
            .purge_expired_tasks(time::now(), 100)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn legacy_task_create_records_a_failed_task() {
    let app = TestApp::new().await;
    for (body, words) in [
        (json!({"input": {}}), "Task 'type' is required"),
        (json!({"type": "import"}), "Task 'input' is required"),
        (
            json!({"type": "bogus", "input": {}}),
            "does not match schema",
        ),
    ] {
        let resp = app.post("/v2/tasks").json(&body).send().await.unwrap();
        let text = expect_error(resp, StatusCode::BAD_REQUEST).await;
        assert!(text.contains(words), "{body}: {text}");
    }
    let input = json!({"import_from": "http://example.com/x.img", "import_from_format": "raw", "image_properties": {}});
    let resp = app
        .post("/v2/tasks")
        .json(&json!({"type": "import", "input": input}))
        .send()
        .await
        .unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let task = expect_json(resp, StatusCode::CREATED).await;
    assert!(location.ends_with(&format!("/v2/tasks/{}", task["id"].as_str().unwrap())));
    assert_eq!(task["status"], "failure");
    assert_eq!(task["input"], input);
    assert!(task["message"].as_str().unwrap().contains("/import"));
    assert!(task["expires_at"].is_string());
}

#[tokio::test]
async fn image_tasks_need_a_visible_image() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("with tasks").await;
    let image = ImageId::parse(&id).unwrap();
    let tasks = [
        task_of("api_image_import", "admin", 0, Some(image)),
        task_of("api_image_import", "admin", 1, Some(image)),
    ];
    seed(&app, &tasks).await;
    let body = expect_json(
        app.get(&format!("/v2/images/{id}/tasks"))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let got: HashSet<String> = ids(&body).into_iter().collect();
    assert_eq!(got, tasks.iter().map(|t| t.id.to_string()).collect());
    assert_eq!(body["tasks"][0]["input"], json!({"k": "v"}));
    let outsider = app.member_of("p9");
    let resp = outsider
        .get(&format!("/v2/images/{id}/tasks"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND).await;
}
