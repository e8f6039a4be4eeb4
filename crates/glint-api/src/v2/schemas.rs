//! `/v2/schemas/*`: the JSON schemas clients validate against.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use glint_model::properties::FormatRules;
use serde_json::{Value, json};

use crate::json::Json;
use crate::state::AppState;

pub mod metadefs;

const IMAGE_SCHEMA: &str = include_str!("../../schemas/image.json");
const MEMBER_SCHEMA: &str = include_str!("../../schemas/member.json");
const TASK_SCHEMA: &str = include_str!("../../schemas/task.json");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/schemas/image", get(show_image_schema))
        .route("/v2/schemas/images", get(show_images_schema))
        .route("/v2/schemas/member", get(show_member_schema))
        .route("/v2/schemas/members", get(show_members_schema))
        .route("/v2/schemas/task", get(show_task_schema))
        .route("/v2/schemas/tasks", get(show_tasks_schema))
        .merge(metadefs::routes())
}

fn parse(text: &'static str, cell: &'static OnceLock<Value>) -> Value {
    cell.get_or_init(|| serde_json::from_str(text).unwrap_or(Value::Null))
        .clone()
}

/// The image schema, with the format enums taken from the configuration.
pub fn image_schema(formats: &FormatRules) -> Value {
    static CELL: OnceLock<Value> = OnceLock::new();
    let mut schema = parse(IMAGE_SCHEMA, &CELL);
    let with_null = |xs: &[String]| {
        let mut v = vec![Value::Null];
        v.extend(xs.iter().map(|s| Value::String(s.clone())));
        Value::Array(v)
    };
    if let Some(props) = schema.get_mut("properties") {
        props["disk_format"]["enum"] = with_null(&formats.disk_formats);
        props["container_format"]["enum"] = with_null(&formats.container_formats);
    }
    schema
}

/// Glance's collection schema around an item schema.
pub fn collection_schema(name: &str, item: Value) -> Value {
    let mut properties = serde_json::Map::new();
    properties.insert(name.into(), json!({"type": "array", "items": item}));
    properties.insert("first".into(), json!({"type": "string"}));
    properties.insert("next".into(), json!({"type": "string"}));
    properties.insert("schema".into(), json!({"type": "string"}));
    json!({
        "name": name,
        "properties": properties,
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    })
}

/// The short collection form Glance serves for members and tasks: no
/// `first`/`next` links.
pub fn minimal_collection_schema(name: &str, item: Value) -> Value {
    let mut properties = serde_json::Map::new();
    properties.insert(name.into(), json!({"type": "array", "items": item}));
    properties.insert("schema".into(), json!({"type": "string"}));
    json!({
        "name": name,
        "properties": properties,
        "links": [{"rel": "describedby", "href": "{schema}"}],
    })
}

fn member_schema() -> Value {
    static CELL: OnceLock<Value> = OnceLock::new();
    parse(MEMBER_SCHEMA, &CELL)
}

fn task_schema() -> Value {
    static CELL: OnceLock<Value> = OnceLock::new();
    parse(TASK_SCHEMA, &CELL)
}

/// The task schema without the fields task lists leave out.
fn partial_task_schema() -> Value {
    let mut schema = task_schema();
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for key in ["input", "result", "message"] {
            props.shift_remove(key);
        }
    }
    schema
}

pub async fn show_image_schema(State(state): State<AppState>) -> Json<Value> {
    Json(image_schema(&state.images.config().formats))
}

pub async fn show_images_schema(State(state): State<AppState>) -> Json<Value> {
    Json(collection_schema(
        "images",
        image_schema(&state.images.config().formats),
    ))
}

pub async fn show_member_schema() -> Json<Value> {
    Json(member_schema())
}

pub async fn show_members_schema() -> Json<Value> {
    Json(minimal_collection_schema("members", member_schema()))
}

pub async fn show_task_schema() -> Json<Value> {
    Json(task_schema())
}

pub async fn show_tasks_schema() -> Json<Value> {
    Json(minimal_collection_schema("tasks", partial_task_schema()))
}
