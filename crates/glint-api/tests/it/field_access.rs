//! Every base attribute, and the kinds of names beside them (read-only,
//! reserved, additional properties), reached every way a non-admin can
//! reach it: in the create body, and by PATCH add, replace and remove in
//! both JSON-patch dialects. The same rule must answer whichever way.

use crate::common;

use common::{Caller, PATCH_V20, PATCH_V21, TestApp, expect_error, expect_json, id_of};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// One way to set an attribute.
#[derive(Debug, Clone, Copy)]
enum Way {
    Create,
    Add(&'static str),
    Replace(&'static str),
    Remove(&'static str),
}

const WAYS: [Way; 7] = [
    Way::Create,
    Way::Add(PATCH_V21),
    Way::Add(PATCH_V20),
    Way::Replace(PATCH_V21),
    Way::Replace(PATCH_V20),
    Way::Remove(PATCH_V21),
    Way::Remove(PATCH_V20),
];

/// What a way must answer: success, or an error whose message contains
/// the text.
#[derive(Debug, Clone, Copy)]
enum Want {
    Ok,
    Err(u16, &'static str),
}

use Want::{Err as E, Ok as OK};

const NOT_REMOVABLE: Want = E(403, "may not be removed.");
const OWNER: Want = E(403, "Owner can't be updated by non admin.");
const PUBLICIZE: Want = E(
    403,
    "You are not authorized to complete publicize_image action.",
);
const PRESENT: Want = E(409, "already present.");
const MISSING: Want = E(409, "does not exist.");

/// A settable attribute: success, except for the draft-4 add of a name
/// that exists and any remove.
const SETTABLE: [Want; 7] = [OK, OK, PRESENT, OK, OK, NOT_REMOVABLE, NOT_REMOVABLE];
/// Refused the same way everywhere.
const fn everywhere(want: Want) -> [Want; 7] {
    [want; 7]
}
/// A bad value: refused wherever a value is given; removing is refused as
/// for any base attribute.
const fn bad_value(want: Want) -> [Want; 7] {
    [want, want, want, want, want, NOT_REMOVABLE, NOT_REMOVABLE]
}

const UUID: &str = "6f4ad1d2-21b2-4a4e-9bd5-6d5b2a9c1f00";

/// (attribute, value, what each of [`WAYS`] answers) for a `member` of
/// project `p1` on a queued image of `p1` that has the property `hw_x`.
fn table() -> Vec<(&'static str, Value, [Want; 7])> {
    let read_only = |name| (name, everywhere(E(403, "is read-only.")));
    let mut rows = vec![
        ("name", json!("renamed"), SETTABLE),
        ("name", json!("a\u{0}b"), bad_value(E(400, "NUL"))),
        (
            "owner",
            json!("p2"),
            [
                E(403, "You are not permitted to create images owned by 'p2'"),
                OWNER,
                OWNER,
                OWNER,
                OWNER,
                NOT_REMOVABLE,
                NOT_REMOVABLE,
            ],
        ),
        (
            "owner",
            json!("p1"),
            [OK, OWNER, OWNER, OWNER, OWNER, NOT_REMOVABLE, NOT_REMOVABLE],
        ),
        (
            "owner",
            json!(null),
            [
                E(
                    403,
                    "You are not permitted to create images owned by 'None'",
                ),
                OWNER,
                OWNER,
                OWNER,
                OWNER,
                NOT_REMOVABLE,
                NOT_REMOVABLE,
            ],
        ),
        ("visibility", json!("public"), bad_value(PUBLICIZE)),
        ("visibility", json!("community"), SETTABLE),
        ("visibility", json!("private"), SETTABLE),
        (
            "visibility",
            json!("everyone"),
            bad_value(E(400, "is not one of")),
        ),
        ("protected", json!(true), SETTABLE),
        (
            "protected",
            json!("yes"),
            bad_value(E(400, "is not of type")),
        ),
        ("os_hidden", json!(true), SETTABLE),
        ("tags", json!(["a", "b", "a"]), SETTABLE),
        ("tags", json!(["a\u{0}"]), bad_value(E(400, "NUL"))),
        ("min_ram", json!(512), SETTABLE),
        (
            "min_ram",
            json!(2_147_483_648_u64),
            bad_value(E(400, "maximum")),
        ),
        ("min_disk", json!(u64::MAX), bad_value(E(400, "maximum"))),
        ("min_disk", json!(-1), bad_value(E(400, "negative"))),
        ("disk_format", json!("qcow2"), SETTABLE),
        ("container_format", json!("ova"), SETTABLE),
        (
            "container_format",
            json!("tar"),
            bad_value(E(400, "is not one of")),
        ),
        (
            "id",
            json!(UUID),
            [
                OK,
                E(403, "is read-only."),
                E(403, "is read-only."),
                E(403, "is read-only."),
                E(403, "is read-only."),
                E(403, "is read-only."),
                E(403, "is read-only."),
            ],
        ),
    ];
    for (name, value) in [
        ("status", json!("active")),
        ("checksum", json!("0".repeat(32))),
        ("size", json!(5)),
        ("virtual_size", json!(5)),
        ("created_at", json!("2020-01-01T00:00:00Z")),
        ("updated_at", json!("2020-01-01T00:00:00Z")),
        ("os_hash_algo", json!("sha512")),
        ("os_hash_value", json!("ab")),
        ("direct_url", json!("file:///x")),
        ("self", json!("/v2/images/x")),
        ("file", json!("/v2/images/x/file")),
        ("schema", json!("/v2/schemas/image")),
        ("stores", json!("file")),
    ] {
        let (name, wants) = read_only(name);
        rows.push((name, value, wants));
    }
    for name in ["location", "deleted", "deleted_at", "os_glance_anything"] {
        rows.push((name, json!("x"), everywhere(E(403, "is reserved."))));
    }
    // A bad name is refused where a property would be created; replacing
    // or removing a property that cannot exist conflicts.
    let bad_name = |want| [want, want, want, MISSING, MISSING, MISSING, MISSING];
    // A bad value is refused wherever a value is given, before the
    // property is looked for.
    let bad_value_absent = |want| [want, want, want, want, want, MISSING, MISSING];
    rows.extend([
        ("hw_x", json!("w"), [OK, OK, PRESENT, OK, OK, OK, OK]),
        (
            "hw_new",
            json!("w"),
            [OK, OK, OK, MISSING, MISSING, MISSING, MISSING],
        ),
        (
            "hw_x",
            json!(5),
            bad_value_property(E(400, "is not of type 'string'")),
        ),
        ("hw_x", json!("a\u{0}b"), bad_value_property(E(400, "NUL"))),
        ("a\u{0}b", json!("v"), bad_name(E(400, "NUL"))),
        ("", json!("v"), bad_name(E(400, "may not be empty"))),
        (
            "kernel_id",
            json!(UUID),
            [OK, OK, OK, MISSING, MISSING, MISSING, MISSING],
        ),
        (
            "kernel_id",
            json!("vmlinuz"),
            bad_value_absent(E(400, "does not match")),
        ),
        (
            "ramdisk_id",
            json!(7),
            bad_value_absent(E(400, "is not of type")),
        ),
        (
            "instance_uuid",
            json!(null),
            bad_value_absent(E(400, "is not of type 'string'")),
        ),
        (
            "cinder_encryption_key_deletion_policy",
            json!("later"),
            bad_value_absent(E(400, "is not one of")),
        ),
    ]);
    rows
}

/// A bad value for the existing property `hw_x`: refused wherever a value
/// is given; removing it works.
const fn bad_value_property(want: Want) -> [Want; 7] {
    [want, want, want, want, want, OK, OK]
}

async fn base_image(member: &Caller<'_>) -> String {
    let body = json!({"name": "base", "disk_format": "raw", "container_format": "bare",
                      "hw_x": "v"});
    id_of(&member.create_image(body).await)
}

fn patch_body(way: Way, name: &str, value: &Value) -> (&'static str, Value) {
    let path = format!("/{}", name.replace('~', "~0").replace('/', "~1"));
    let (dialect, op) = match way {
        Way::Add(d) => (d, "add"),
        Way::Replace(d) => (d, "replace"),
        Way::Remove(d) => (d, "remove"),
        Way::Create => unreachable!("create is not a patch"),
    };
    (dialect, json!([change(dialect, op, &path, value)]))
}

/// One operation in `dialect`: `{"op": op, "path": path, "value": value}`
/// or the draft-4 `{op: path, "value": value}`.
fn change(dialect: &str, op: &str, path: &str, value: &Value) -> Value {
    let mut change = serde_json::Map::new();
    if dialect == PATCH_V21 {
        change.insert("op".into(), json!(op));
        change.insert("path".into(), json!(path));
    } else {
        change.insert(op.into(), json!(path));
    }
    if op != "remove" {
        change.insert("value".into(), value.clone());
    }
    Value::Object(change)
}

/// Runs one way and answers what the server answered.
async fn attempt(member: &Caller<'_>, way: Way, name: &str, value: &Value) -> reqwest::Response {
    match way {
        Way::Create => {
            let mut body = json!({"name": "created"});
            body[name] = value.clone();
            member.create(body).await
        }
        _ => {
            let id = base_image(member).await;
            let (dialect, ops) = patch_body(way, name, value);
            member.patch_as(&id, dialect, ops).await
        }
    }
}

#[tokio::test]
async fn every_attribute_answers_the_same_rule_every_way_it_is_reached() {
    let app = TestApp::new().await;
    let member = app.member_of("p1");
    let mut failures = Vec::new();
    for (name, value, wants) in table() {
        for (way, want) in WAYS.into_iter().zip(wants) {
            let resp = attempt(&member, way, name, &value).await;
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            let ok = match want {
                Want::Ok => status.is_success(),
                Want::Err(code, text) => status.as_u16() == code && body.contains(text),
            };
            if !ok {
                let body: String = body.chars().take(300).collect();
                failures.push(format!(
                    "{name:?} = {value} by {way:?}: want {want:?}, got {status}: {body}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn refused_owner_changes_leave_the_image_in_its_project() {
    let app = TestApp::new().await;
    let member = app.member_of("p1");
    for (dialect, op) in [
        (PATCH_V21, "add"),
        (PATCH_V20, "add"),
        (PATCH_V21, "replace"),
    ] {
        for owner in [json!("p2"), json!(null)] {
            let id = base_image(&member).await;
            let ops = json!([change(dialect, op, "/owner", &owner)]);
            let message = expect_error(
                member.patch_as(&id, dialect, ops).await,
                StatusCode::FORBIDDEN,
            )
            .await;
            assert_eq!(message, "Owner can't be updated by non admin.");
            assert_eq!(app.image(&id).await["owner"], "p1");
            assert_eq!(member.image(&id).await["owner"], "p1");
            let listed = app.member_of("p2").list_names("visibility=all").await;
            assert!(listed.is_empty(), "{listed:?}");
        }
    }
}

#[tokio::test]
async fn an_admin_may_give_an_image_away_or_leave_it_without_owner() {
    let app = TestApp::new().await;
    let id = base_image(&app.member_of("p1")).await;
    for (op, owner) in [("add", json!("p2")), ("replace", json!(null))] {
        let ops = json!([{"op": op, "path": "/owner", "value": owner}]);
        let image = expect_json(app.admin().patch(&id, ops).await, StatusCode::OK).await;
        assert_eq!(image["owner"], owner);
    }
    let image = app
        .admin()
        .create_image(json!({"name": "orphan", "owner": null}))
        .await;
    assert_eq!(image["owner"], Value::Null);
}

#[tokio::test]
async fn a_null_kernel_id_leaves_the_image_without_one() {
    let app = TestApp::new().await;
    let member = app.member_of("p1");
    let image = member
        .create_image(json!({"kernel_id": null, "ramdisk_id": UUID}))
        .await;
    assert!(image.get("kernel_id").is_none(), "{image}");
    assert_eq!(image["ramdisk_id"], UUID);
    let id = id_of(&image);
    let ops = json!([{"op": "replace", "path": "/ramdisk_id", "value": null}]);
    let image = expect_json(member.patch(&id, ops).await, StatusCode::OK).await;
    assert!(image.get("ramdisk_id").is_none(), "{image}");
}
