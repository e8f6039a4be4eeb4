//! oslo.messaging's notification message and its two wire formats.
//!
//! A notification is `{message_id, publisher_id, event_type, priority,
//! payload, timestamp}`; the AMQP driver adds `_unique_id` (a fresh uuid4
//! in hex per send) and the request context, which Glance leaves empty.
//! The `messagingv2` driver sends it inside the 2.0 envelope
//! `{"oslo.version": "2.0", "oslo.message": "<the message as JSON text>"}`,
//! the `messaging` driver sends the message itself (format 1.0). Both are
//! written as Python's `json.dumps` writes them (`", "` and `": "`
//! separators, everything outside printable ASCII escaped), as the kombu
//! publisher of oslo.messaging does.

use std::io;
use std::sync::Arc;

use glint_model::time::Timestamp;
use serde::Serialize;
use serde_json::Value;
use serde_json::ser::Formatter;
use time::UtcOffset;
use time::macros::format_description;
use uuid::Uuid;

use crate::event::{EventType, Priority};

/// The two message formats of oslo.messaging's AMQP notification drivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFormat {
    /// `messaging`: the message itself.
    V1,
    /// `messagingv2`: the message inside the 2.0 envelope.
    V2,
}

/// One notification, stamped when it was emitted.
#[derive(Debug, Clone)]
pub struct Notification {
    pub message_id: Uuid,
    pub publisher_id: Arc<str>,
    pub event_type: EventType,
    pub priority: Priority,
    pub payload: Value,
    pub timestamp: Timestamp,
}

/// The message as oslo.messaging builds it, in its key order.
#[derive(Serialize)]
struct OsloMessage<'a> {
    message_id: String,
    publisher_id: &'a str,
    event_type: &'static str,
    priority: &'static str,
    payload: &'a Value,
    timestamp: String,
    #[serde(rename = "_unique_id", skip_serializing_if = "Option::is_none")]
    unique_id: Option<String>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "oslo.version")]
    version: &'static str,
    #[serde(rename = "oslo.message")]
    message: &'a str,
}

impl Notification {
    fn oslo_message(&self, unique_id: Option<String>) -> OsloMessage<'_> {
        OsloMessage {
            message_id: self.message_id.to_string(),
            publisher_id: &self.publisher_id,
            event_type: self.event_type.as_str(),
            priority: self.priority.as_str(),
            payload: &self.payload,
            timestamp: oslo_timestamp(self.timestamp),
            unique_id,
        }
    }

    /// The AMQP message body in `format`, with a fresh `_unique_id`.
    pub fn encode(&self, format: MessageFormat) -> Vec<u8> {
        let unique_id = Uuid::new_v4().simple().to_string();
        let message = python_json(&self.oslo_message(Some(unique_id)));
        match format {
            MessageFormat::V1 => message,
            MessageFormat::V2 => {
                // Only UTF-8 went in, and the ASCII escaping keeps it so.
                let text = String::from_utf8_lossy(&message);
                python_json(&Envelope {
                    version: "2.0",
                    message: &text,
                })
            }
        }
    }

    /// The message as the `log` driver writes it (no `_unique_id`), with
    /// the values of keys that name a secret masked, as oslo.messaging's
    /// log driver masks them.
    pub fn log_text(&self) -> String {
        let mut masked = self.clone();
        mask_secrets(&mut masked.payload);
        String::from_utf8_lossy(&python_json(&masked.oslo_message(None))).into_owned()
    }
}

/// Parts of key names that oslo.utils' `mask_dict_password` takes for a
/// secret (its list, folded: `pass` covers `password`, `admin_pass`,
/// `passphrase`…).
const SECRET_KEY_PARTS: &[&str] = &[
    "pass",
    "secret",
    "token",
    "pswd",
    "configdrive",
    "encrypted_key",
    "private_key",
    "fernetkey",
    "sslkey",
    "cookie",
    "authkey",
    "rndckey",
    "clientkey",
    "adminkey",
    "encryptionkey",
    "heartbeatkey",
    "credential",
    "fsid",
];

fn mask_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let key = key.to_lowercase();
                if !v.is_object() && SECRET_KEY_PARTS.iter().any(|part| key.contains(part)) {
                    *v = Value::String("***".to_owned());
                } else {
                    mask_secrets(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

/// Python's `str()` of a naive UTC datetime, as oslo.messaging stamps a
/// notification: `2026-01-02 03:04:05.123456`, without the fraction when
/// it is zero.
pub fn oslo_timestamp(t: Timestamp) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let seconds = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let mut text = t.format(&seconds).unwrap_or_default();
    let micros = t.microsecond();
    if micros != 0 {
        text.push_str(&format!(".{micros:06}"));
    }
    text
}

/// `json.dumps` with Python's defaults.
fn python_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonJson);
    // Serializing plain strings, numbers and maps into a Vec cannot fail.
    if value.serialize(&mut ser).is_err() {
        out.clear();
    }
    out
}

/// Python's separators and `ensure_ascii`.
struct PythonJson;

impl Formatter for PythonJson {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if (' '..='~').contains(&c) {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glint_model::time;
    use serde_json::json;

    fn sample(payload: Value) -> Notification {
        Notification {
            message_id: Uuid::new_v4(),
            publisher_id: Arc::from("image.localhost"),
            event_type: EventType::ImageCreate,
            priority: Priority::Info,
            payload,
            timestamp: time::parse_iso("2026-01-02T03:04:05.000042Z").unwrap(),
        }
    }

    #[test]
    fn timestamps_are_python_str_of_a_utc_datetime() {
        let t = |s| oslo_timestamp(time::parse_iso(s).unwrap());
        assert_eq!(
            t("2026-01-02T03:04:05.123456Z"),
            "2026-01-02 03:04:05.123456"
        );
        assert_eq!(
            t("2026-01-02T03:04:05.000042Z"),
            "2026-01-02 03:04:05.000042"
        );
        assert_eq!(t("2026-01-02T03:04:05Z"), "2026-01-02 03:04:05");
        assert_eq!(t("2026-01-02T05:04:05+02:00"), "2026-01-02 03:04:05");
    }

    #[test]
    fn v2_wraps_the_message_as_json_text_in_the_envelope() {
        let n = sample(json!({"name": "é☃😀", "size": 3}));
        let body = n.encode(MessageFormat::V2);
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.is_ascii(), "{text}");
        assert!(
            text.starts_with(r#"{"oslo.version": "2.0", "oslo.message": "{\"message_id\": \""#),
            "{text}"
        );
        let outer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(outer.as_object().unwrap().len(), 2);
        let inner_text = outer["oslo.message"].as_str().unwrap();
        let inner: Value = serde_json::from_str(inner_text).unwrap();
        let keys: Vec<&str> = inner
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "message_id",
                "publisher_id",
                "event_type",
                "priority",
                "payload",
                "timestamp",
                "_unique_id"
            ]
        );
        assert_eq!(inner["message_id"], n.message_id.to_string());
        assert_eq!(inner["publisher_id"], "image.localhost");
        assert_eq!(inner["event_type"], "image.create");
        assert_eq!(inner["priority"], "INFO");
        assert_eq!(inner["timestamp"], "2026-01-02 03:04:05.000042");
        assert_eq!(inner["payload"], json!({"name": "é☃😀", "size": 3}));
        let unique = inner["_unique_id"].as_str().unwrap();
        assert_eq!(unique.len(), 32);
        assert!(unique.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(
            inner_text.contains(r#""name": "\u00e9\u2603\ud83d\ude00""#),
            "{inner_text}"
        );
    }

    #[test]
    fn v1_is_the_message_itself_and_each_send_gets_its_own_unique_id() {
        let n = sample(Value::String("upload failed".into()));
        let a: Value = serde_json::from_slice(&n.encode(MessageFormat::V1)).unwrap();
        let b: Value = serde_json::from_slice(&n.encode(MessageFormat::V1)).unwrap();
        assert_eq!(a["payload"], "upload failed");
        assert_eq!(a["message_id"], b["message_id"]);
        assert_ne!(a["_unique_id"], b["_unique_id"]);
        assert!(a.get("oslo.version").is_none());
    }

    #[test]
    fn log_text_masks_values_of_keys_that_name_secrets() {
        let payload = json!({"id": "x", "properties": {"admin_password": "hunter2",
            "os_secret_uuid": "s", "hw_disk_bus": "scsi", "ssh_passphrase": "p"}});
        let text = sample(payload).log_text();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["payload"]["properties"],
            json!({"admin_password": "***", "os_secret_uuid": "***", "hw_disk_bus": "scsi",
                   "ssh_passphrase": "***"})
        );
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn log_text_has_no_unique_id() {
        let text = sample(json!({})).log_text();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v.get("_unique_id").is_none());
        assert_eq!(v["payload"], json!({}));
    }
}
