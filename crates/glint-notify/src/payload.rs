//! The payloads of Glance's notifications, field for field as
//! `glance/notifier.py` writes them.
//!
//! An image's payload never holds its locations: they may carry store
//! credentials. Times are Glance's `isotime` (`2026-01-02T03:04:05Z`).

use glint_model::time::{Timestamp, format_iso};
use glint_model::{Image, ImageId, Member, Task};
use serde_json::{Map, Value, json};

/// The properties in which an import records its stores; Glance adds them
/// to `image.prepare` and `image.upload` as lists.
const IMPORTING_TO_STORES: &str = "os_glance_importing_to_stores";
const FAILED_IMPORT: &str = "os_glance_failed_import";

/// `format_image_notification`: the image without its locations, with
/// `is_public`, every additional property, and `deleted: false`.
pub fn image(image: &Image) -> Value {
    let properties: Map<String, Value> = image
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "id": image.id.to_string(),
        "name": image.name,
        "status": image.status.as_str(),
        "created_at": format_iso(image.created_at),
        "updated_at": format_iso(image.updated_at),
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "protected": image.protected,
        "checksum": image.checksum,
        "owner": image.owner,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "is_public": image.visibility == glint_model::Visibility::Public,
        "visibility": image.visibility.as_str(),
        "properties": properties,
        "tags": image.tags,
        "deleted": false,
        "deleted_at": null,
    })
}

/// `image.delete`: the image payload with `deleted: true` and the time of
/// the delete.
pub fn deleted_image(img: &Image, deleted_at: Timestamp) -> Value {
    let mut payload = image(img);
    mark_deleted(&mut payload, deleted_at);
    payload
}

/// `image.prepare` and `image.upload`: the image payload with the import's
/// store lists (empty unless an import set them) and, in multi-store mode,
/// the store the data goes to (`backend`, only in `image.prepare`).
pub fn image_with_import(img: &Image, backend: Option<&str>) -> Value {
    let mut payload = image(img);
    let list = |name: &str| -> Value {
        img.properties
            .get(name)
            .filter(|v| !v.is_empty())
            .map(|v| v.split(',').map(|s| Value::String(s.to_owned())).collect())
            .unwrap_or_else(|| Value::Array(Vec::new()))
    };
    if let Value::Object(map) = &mut payload {
        map.insert(IMPORTING_TO_STORES.into(), list(IMPORTING_TO_STORES));
        map.insert(FAILED_IMPORT.into(), list(FAILED_IMPORT));
        if let Some(backend) = backend {
            map.insert("backend".into(), Value::String(backend.to_owned()));
        }
    }
    payload
}

/// `format_image_member_notification`.
pub fn member(member: &Member) -> Value {
    json!({
        "image_id": member.image_id.to_string(),
        "member_id": member.member_id,
        "status": member.status.as_str(),
        "created_at": format_iso(member.created_at),
        "updated_at": format_iso(member.updated_at),
        "deleted": false,
        "deleted_at": null,
    })
}

/// `image.member.delete`: the member payload with `deleted: true` and the
/// time of the delete.
pub fn deleted_member(m: &Member, deleted_at: Timestamp) -> Value {
    let mut payload = member(m);
    mark_deleted(&mut payload, deleted_at);
    payload
}

fn mark_deleted(payload: &mut Value, at: Timestamp) {
    if let Value::Object(map) = payload {
        map.insert("deleted".into(), Value::Bool(true));
        map.insert("deleted_at".into(), Value::String(format_iso(at)));
    }
}

/// What `image.send` reports of a download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSend {
    pub bytes_sent: u64,
    pub image_id: ImageId,
    pub owner_id: Option<String>,
    pub receiver_tenant_id: Option<String>,
    pub receiver_user_id: Option<String>,
    /// The client's address; Glance sends it only for downloads its image
    /// cache served.
    pub destination_ip: Option<String>,
}

/// The `image.send` payload.
pub fn image_send(send: &ImageSend) -> Value {
    let mut payload = json!({
        "bytes_sent": send.bytes_sent,
        "image_id": send.image_id.to_string(),
        "owner_id": send.owner_id,
        "receiver_tenant_id": send.receiver_tenant_id,
        "receiver_user_id": send.receiver_user_id,
    });
    if let (Some(ip), Value::Object(map)) = (&send.destination_ip, &mut payload) {
        map.insert("destination_ip".into(), Value::String(ip.clone()));
    }
    payload
}

/// `format_task_notification`: the task without its input (it may hold
/// credentials), result or message, as Glance sends it. `now` stands in
/// for an expiry not set yet, as Glance's `isotime(None)` does.
pub fn task(task: &Task, now: Timestamp) -> Value {
    json!({
        "id": task.id.to_string(),
        "type": task.kind,
        "status": task.status.as_str(),
        "result": null,
        "owner": task.owner,
        "message": null,
        "expires_at": format_iso(task.expires_at.unwrap_or(now)),
        "created_at": format_iso(task.created_at),
        "updated_at": format_iso(task.updated_at),
        "deleted": false,
        "deleted_at": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use glint_model::member::MemberStatus;
    use glint_model::{ImageStatus, Location, Visibility, time};

    fn at(s: &str) -> Timestamp {
        time::parse_iso(s).unwrap()
    }

    fn sample() -> Image {
        let mut img = Image::queued(ImageId::new_random(), at("2026-01-02T03:04:05.123456Z"));
        img.updated_at = at("2026-01-02T03:04:06Z");
        img.name = Some("cirros".into());
        img.status = ImageStatus::Active;
        img.visibility = Visibility::Public;
        img.checksum = Some("abc".into());
        img.os_hash_algo = Some("sha512".into());
        img.os_hash_value = Some("def".into());
        img.owner = Some("p1".into());
        img.size = Some(13);
        img.virtual_size = Some(13);
        img.disk_format = Some("raw".into());
        img.container_format = Some("bare".into());
        img.min_disk = 1;
        img.min_ram = 64;
        img.tags = vec!["b".into(), "a".into()];
        img.properties.insert("hw_disk_bus".into(), "scsi".into());
        img.locations = vec![Location::new("swift+https://user:key@host/c/o", "s")];
        img
    }

    #[test]
    fn image_payload_has_glance_fields_in_order_and_no_location() {
        let img = sample();
        let p = image(&img);
        let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "id",
                "name",
                "status",
                "created_at",
                "updated_at",
                "min_disk",
                "min_ram",
                "protected",
                "checksum",
                "owner",
                "disk_format",
                "container_format",
                "size",
                "virtual_size",
                "is_public",
                "visibility",
                "properties",
                "tags",
                "deleted",
                "deleted_at"
            ]
        );
        assert_eq!(p["id"], img.id.to_string());
        assert_eq!(p["status"], "active");
        assert_eq!(p["created_at"], "2026-01-02T03:04:05Z");
        assert_eq!(p["updated_at"], "2026-01-02T03:04:06Z");
        assert_eq!(p["min_disk"], 1);
        assert_eq!(p["min_ram"], 64);
        assert_eq!(p["protected"], false);
        assert_eq!(p["size"], 13);
        assert_eq!(p["is_public"], true);
        assert_eq!(p["visibility"], "public");
        assert_eq!(p["properties"], json!({"hw_disk_bus": "scsi"}));
        assert_eq!(p["tags"], json!(["b", "a"]));
        assert_eq!(p["deleted"], false);
        assert_eq!(p["deleted_at"], Value::Null);
        let text = p.to_string();
        assert!(!text.contains("swift"), "{text}");
        assert!(!text.contains("key@"), "{text}");
        assert!(
            !text.contains("sha512"),
            "os_hash_* are not in Glance's payload: {text}"
        );
    }

    #[test]
    fn unset_fields_are_null_and_only_public_is_public() {
        let mut img = Image::queued(ImageId::new_random(), time::now());
        img.visibility = Visibility::Community;
        let p = image(&img);
        for field in [
            "name",
            "checksum",
            "owner",
            "disk_format",
            "container_format",
            "size",
            "virtual_size",
        ] {
            assert_eq!(p[field], Value::Null, "{field}");
        }
        assert_eq!(p["is_public"], false);
        assert_eq!(p["status"], "queued");
        assert_eq!(p["properties"], json!({}));
        assert_eq!(p["tags"], json!([]));
    }

    #[test]
    fn delete_payload_is_marked_deleted_at_the_given_time() {
        let p = deleted_image(&sample(), at("2026-03-04T05:06:07.5Z"));
        assert_eq!(p["deleted"], true);
        assert_eq!(p["deleted_at"], "2026-03-04T05:06:07Z");
    }

    #[test]
    fn import_payload_lists_stores_and_names_the_backend() {
        let mut img = sample();
        let p = image_with_import(&img, None);
        assert_eq!(p["os_glance_importing_to_stores"], json!([]));
        assert_eq!(p["os_glance_failed_import"], json!([]));
        assert!(p.get("backend").is_none());
        img.properties
            .insert(IMPORTING_TO_STORES.into(), "a,b".into());
        img.properties.insert(FAILED_IMPORT.into(), "c".into());
        let p = image_with_import(&img, Some("fast"));
        assert_eq!(p["os_glance_importing_to_stores"], json!(["a", "b"]));
        assert_eq!(p["os_glance_failed_import"], json!(["c"]));
        assert_eq!(p["backend"], "fast");
    }

    #[test]
    fn member_payloads() {
        let m = Member {
            image_id: ImageId::new_random(),
            member_id: "p2".into(),
            status: MemberStatus::Accepted,
            created_at: at("2026-01-02T03:04:05Z"),
            updated_at: at("2026-01-02T03:04:09Z"),
        };
        let p = member(&m);
        assert_eq!(
            p,
            json!({
                "image_id": m.image_id.to_string(), "member_id": "p2", "status": "accepted",
                "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:09Z",
                "deleted": false, "deleted_at": null
            })
        );
        let p = deleted_member(&m, at("2026-01-03T00:00:00Z"));
        assert_eq!(p["deleted"], true);
        assert_eq!(p["deleted_at"], "2026-01-03T00:00:00Z");
    }

    #[test]
    fn send_payload_names_destination_only_when_known() {
        let id = ImageId::new_random();
        let mut send = ImageSend {
            bytes_sent: 10,
            image_id: id,
            owner_id: Some("p1".into()),
            receiver_tenant_id: Some("p2".into()),
            receiver_user_id: Some("u2".into()),
            destination_ip: None,
        };
        assert_eq!(
            image_send(&send),
            json!({"bytes_sent": 10, "image_id": id.to_string(), "owner_id": "p1",
                   "receiver_tenant_id": "p2", "receiver_user_id": "u2"})
        );
        send.destination_ip = Some("127.0.0.1".into());
        assert_eq!(image_send(&send)["destination_ip"], "127.0.0.1");
    }
}
