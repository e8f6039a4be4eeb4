//! Image members: projects an image is shared with.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::error::ModelError;
use crate::ids::ImageId;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    Pending,
    Accepted,
    Rejected,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Pending => "pending",
            MemberStatus::Accepted => "accepted",
            MemberStatus::Rejected => "rejected",
        }
    }
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MemberStatus {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(MemberStatus::Pending),
            "accepted" => Ok(MemberStatus::Accepted),
            "rejected" => Ok(MemberStatus::Rejected),
            _ => Err(ModelError::invalid(
                "Status must be \"pending\", \"accepted\" or \"rejected\".",
            )),
        }
    }
}

/// A project an image is shared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub image_id: ImageId,
    pub member_id: String,
    pub status: MemberStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Longest project id a membership can name (the width of the column).
pub const MAX_MEMBER_ID_LEN: usize = 255;

/// Python's truthiness of a JSON value, which Glance's request parsing
/// relies on ("Member can't be empty" covers `""`, `0`, `null`, `[]`…).
fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(xs) => xs.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

const MEMBER_FORM: &str = r#"Expected a member in the form: {"member": "image_id"}"#;

/// The project named by a `POST /v2/images/{id}/members` body
/// (`{"member": "<project id>"}`), checked as Glance's request parser does.
/// The id itself is checked later, by [`validate_member_id`].
pub fn member_from_body(body: &Value) -> Result<String, ModelError> {
    let Some(obj) = body.as_object() else {
        return Err(ModelError::invalid(MEMBER_FORM));
    };
    let Some(member) = obj.get("member") else {
        return Err(ModelError::invalid("Member to be added not specified"));
    };
    if is_falsy(member) {
        return Err(ModelError::invalid("Member can't be empty"));
    }
    // Glance would store a number or an object as it is; a project id is
    // a string, and anything else is refused here.
    member
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ModelError::invalid(MEMBER_FORM))
}

/// The requested status of a `PUT /v2/images/{id}/members/{member}` body
/// (`{"status": …}`), not yet checked: Glance checks the value only after
/// it has decided the caller may change the membership.
pub fn status_from_body(body: &Value) -> Result<&Value, ModelError> {
    let Some(obj) = body.as_object() else {
        return Err(ModelError::invalid(
            r#"Expected a status in the form: {"status": "status"}"#,
        ));
    };
    obj.get("status")
        .ok_or_else(|| ModelError::invalid("Status not specified"))
}

impl MemberStatus {
    /// The status a request asked for, or Glance's 400 message.
    pub fn from_request(value: &Value) -> Result<MemberStatus, ModelError> {
        let parsed = value.as_str().ok_or_else(|| {
            ModelError::invalid(r#"Status must be "pending", "accepted" or "rejected"."#)
        });
        parsed
            .and_then(str::parse)
            .map_err(|e| ModelError::invalid(format!("Incorrect request: {e}")))
    }
}

/// What a membership can be stored with: no 4-byte UTF-8 characters (as
/// Glance, whose MySQL tables cannot hold them), no NUL (PostgreSQL text
/// cannot), and no more than [`MAX_MEMBER_ID_LEN`] characters.
pub fn validate_member_id(member: &str) -> Result<(), ModelError> {
    if member.chars().any(|c| c.len_utf8() == 4) {
        return Err(ModelError::invalid(
            "Member can't contain 4 byte unicode characters.",
        ));
    }
    if member.contains('\0') {
        return Err(ModelError::invalid("Member can't contain NUL characters."));
    }
    if member.chars().count() > MAX_MEMBER_ID_LEN {
        return Err(ModelError::invalid(format!(
            "Member can't be longer than {MAX_MEMBER_ID_LEN} characters."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn member_error(body: Value) -> String {
        member_from_body(&body).unwrap_err().to_string()
    }

    #[test]
    fn add_body_names_the_member() {
        assert_eq!(member_from_body(&json!({"member": "p2"})).unwrap(), "p2");
        assert_eq!(
            member_error(json!({"other": "p2"})),
            "Member to be added not specified"
        );
        for empty in [json!(""), json!(null), json!(0), json!(false), json!([])] {
            assert_eq!(
                member_error(json!({ "member": empty })),
                "Member can't be empty"
            );
        }
        for shape in [json!(["p2"]), json!("p2"), json!(7), json!(null)] {
            assert_eq!(member_error(shape), MEMBER_FORM);
        }
        assert_eq!(member_error(json!({"member": 7})), MEMBER_FORM);
    }

    #[test]
    fn update_body_carries_a_status_checked_later() {
        let body = json!({"status": "nonsense"});
        assert_eq!(status_from_body(&body).unwrap(), &json!("nonsense"));
        assert_eq!(
            status_from_body(&json!({})).unwrap_err().to_string(),
            "Status not specified"
        );
        assert_eq!(
            status_from_body(&json!(["accepted"]))
                .unwrap_err()
                .to_string(),
            r#"Expected a status in the form: {"status": "status"}"#
        );
    }

    #[test]
    fn requested_status_must_be_one_of_three() {
        assert_eq!(
            MemberStatus::from_request(&json!("accepted")).unwrap(),
            MemberStatus::Accepted
        );
        let bad = r#"Incorrect request: Status must be "pending", "accepted" or "rejected"."#;
        for value in [json!("Accepted"), json!(1), json!(null), json!("all")] {
            assert_eq!(
                MemberStatus::from_request(&value).unwrap_err().to_string(),
                bad
            );
        }
    }

    #[test]
    fn member_ids_that_cannot_be_stored_are_refused() {
        assert!(validate_member_id("a-project").is_ok());
        assert!(validate_member_id(&"x".repeat(MAX_MEMBER_ID_LEN)).is_ok());
        assert!(validate_member_id(&"x".repeat(MAX_MEMBER_ID_LEN + 1)).is_err());
        assert_eq!(
            validate_member_id("p\u{1F600}").unwrap_err().to_string(),
            "Member can't contain 4 byte unicode characters."
        );
        assert!(validate_member_id("p\0q").is_err());
    }
}
