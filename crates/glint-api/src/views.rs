//! JSON shapes of the responses, key order as Glance writes them.

use glint_core::ImagePage;
use glint_model::time::format_iso;
use glint_model::{Image, Member};
use serde_json::{Map, Value, json};

fn opt_str(v: &Option<String>) -> Value {
    v.as_ref()
        .map(|s| Value::String(s.clone()))
        .unwrap_or(Value::Null)
}

fn opt_u64(v: Option<u64>) -> Value {
    v.map(Value::from).unwrap_or(Value::Null)
}

/// One image: extra properties first, then the base attributes and links.
pub fn image(image: &Image) -> Value {
    let mut m = Map::new();
    for (k, v) in image.visible_properties() {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    let id = image.id.to_string();
    m.insert("name".into(), opt_str(&image.name));
    m.insert("disk_format".into(), opt_str(&image.disk_format));
    m.insert("container_format".into(), opt_str(&image.container_format));
    m.insert("visibility".into(), json!(image.visibility.as_str()));
    m.insert("size".into(), opt_u64(image.size));
    m.insert("virtual_size".into(), opt_u64(image.virtual_size));
    m.insert("status".into(), json!(image.status.as_str()));
    m.insert("checksum".into(), opt_str(&image.checksum));
    m.insert("protected".into(), json!(image.protected));
    m.insert("min_ram".into(), json!(image.min_ram));
    m.insert("min_disk".into(), json!(image.min_disk));
    m.insert("owner".into(), opt_str(&image.owner));
    m.insert("os_hidden".into(), json!(image.os_hidden));
    m.insert("os_hash_algo".into(), opt_str(&image.os_hash_algo));
    m.insert("os_hash_value".into(), opt_str(&image.os_hash_value));
    m.insert("id".into(), json!(id));
    m.insert("created_at".into(), json!(format_iso(image.created_at)));
    m.insert("updated_at".into(), json!(format_iso(image.updated_at)));
    m.insert("tags".into(), json!(image.tags));
    m.insert("self".into(), json!(format!("/v2/images/{id}")));
    m.insert("file".into(), json!(format!("/v2/images/{id}/file")));
    m.insert("schema".into(), json!("/v2/schemas/image"));
    Value::Object(m)
}

/// A page of images with its `first` and `next` links. `params` are the
/// request's query pairs; the links repeat them, minus the old marker.
pub fn image_list(page: &ImagePage, params: &[(String, String)]) -> Value {
    let kept: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "marker").collect();
    let encode = |pairs: &[&(String, String)], marker: Option<String>| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            ser.append_pair(k, v);
        }
        if let Some(m) = marker {
            ser.append_pair("marker", &m);
        }
        ser.finish()
    };
    let first_query = encode(&kept, None);
    let first = if first_query.is_empty() {
        "/v2/images".to_string()
    } else {
        format!("/v2/images?{first_query}")
    };
    let mut m = Map::new();
    m.insert(
        "images".into(),
        Value::Array(page.images.iter().map(image).collect()),
    );
    m.insert("first".into(), json!(first));
    m.insert("schema".into(), json!("/v2/schemas/images"));
    if let Some(next) = page.next_marker {
        m.insert(
            "next".into(),
            json!(format!(
                "/v2/images?{}",
                encode(&kept, Some(next.to_string()))
            )),
        );
    }
    Value::Object(m)
}

/// One image member, keys in Glance's order.
pub fn member(member: &Member) -> Value {
    let mut m = Map::new();
    m.insert("member_id".into(), json!(member.member_id));
    m.insert("image_id".into(), json!(member.image_id.to_string()));
    m.insert("status".into(), json!(member.status.as_str()));
    m.insert("created_at".into(), json!(format_iso(member.created_at)));
    m.insert("updated_at".into(), json!(format_iso(member.updated_at)));
    m.insert("schema".into(), json!("/v2/schemas/member"));
    Value::Object(m)
}

/// The members of an image.
pub fn member_list(members: &[Member]) -> Value {
    let mut m = Map::new();
    m.insert(
        "members".into(),
        Value::Array(members.iter().map(member).collect()),
    );
    m.insert("schema".into(), json!("/v2/schemas/members"));
    Value::Object(m)
}
