//! The JSON shapes of tasks, as Glance's task serializer writes them: the
//! full view (`GET /v2/tasks/{id}`, `POST /v2/tasks`, the image's tasks)
//! and the stub of lists, without `input`, `result` and `message`.

use glint_core::TaskPage;
use glint_model::Task;
use glint_model::time::format_iso;
use serde_json::{Map, Value, json};

fn common(task: &Task) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(task.id.to_string()));
    m.insert("type".into(), json!(task.kind));
    m.insert("status".into(), json!(task.status.as_str()));
    m.insert("owner".into(), json!(task.owner));
    m.insert("created_at".into(), json!(format_iso(task.created_at)));
    m.insert("updated_at".into(), json!(format_iso(task.updated_at)));
    m.insert("self".into(), json!(format!("/v2/tasks/{}", task.id)));
    m.insert("schema".into(), json!("/v2/schemas/task"));
    if let Some(at) = task.expires_at {
        m.insert("expires_at".into(), json!(format_iso(at)));
    }
    m
}

/// The full view of a task.
pub fn task(task: &Task) -> Value {
    let mut m = common(task);
    let mut input = task.input.clone();
    if let Some(Value::Object(fields)) = &mut input {
        for key in glint_core::import::PRIVATE_TASK_INPUT {
            fields.remove(key);
        }
    }
    m.insert("input".into(), json!(input));
    m.insert("result".into(), json!(task.result));
    m.insert("message".into(), json!(task.message));
    if let Some(id) = task.image_id {
        m.insert("image_id".into(), json!(id.to_string()));
    }
    if let Some(id) = &task.request_id {
        m.insert("request_id".into(), json!(id));
    }
    if let Some(id) = &task.user_id {
        m.insert("user_id".into(), json!(id));
    }
    Value::Object(m)
}

/// `GET /v2/tasks`: stubs, `first` (the query without its marker),
/// `next` when the page was full, and the schema.
pub fn task_list(page: &TaskPage, params: &[(String, String)]) -> Value {
    let kept: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "marker").collect();
    let encode = |pairs: &[&(String, String)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish()
    };
    let query = encode(&kept);
    let first = if query.is_empty() {
        "/v2/tasks".to_owned()
    } else {
        format!("/v2/tasks?{query}")
    };
    let tasks: Vec<Value> = page
        .tasks
        .iter()
        .map(|t| Value::Object(common(t)))
        .collect();
    let mut m = Map::new();
    m.insert("tasks".into(), Value::Array(tasks));
    m.insert("first".into(), json!(first));
    m.insert("schema".into(), json!("/v2/schemas/tasks"));
    if let Some(marker) = page.next_marker {
        let marker = ("marker".to_owned(), marker.to_string());
        let mut next = kept.clone();
        next.push(&marker);
        m.insert("next".into(), json!(format!("/v2/tasks?{}", encode(&next))));
    }
    Value::Object(m)
}

/// `GET /v2/images/{id}/tasks`.
pub fn image_tasks(tasks: &[Task]) -> Value {
    json!({ "tasks": tasks.iter().map(task).collect::<Vec<_>>() })
}
