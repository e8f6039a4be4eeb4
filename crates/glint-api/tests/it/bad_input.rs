//! Input no database can store the same way is refused with a 400 before
//! it reaches one, identically on SQLite, PostgreSQL and MariaDB; what
//! Glance's schema and request parser answer for typed and read-only
//! attributes; and errors quote at most a few hundred characters of what a
//! client sent.

use crate::common;

use common::{TestApp, expect_error, expect_json, id_of, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

const NUL: &str = "a\u{0}b";
const VALUE_LIMIT: usize = 65_535;

#[tokio::test]
async fn nul_characters_are_400_everywhere_on_every_backend() {
    on_every_backend(|app: TestApp| async move {
        let member = app.member_of("p1");
        for body in [
            json!({"name": NUL}),
            json!({NUL: "v"}),
            json!({"os_distro": NUL}),
            json!({"tags": ["ok", NUL]}),
        ] {
            let message = expect_error(member.create(body).await, StatusCode::BAD_REQUEST).await;
            assert!(message.contains("NUL characters"), "{message}");
        }
        let id = id_of(
            &member
                .create_image(json!({"name": "x", "visibility": "shared"}))
                .await,
        );
        for ops in [
            json!([{"op": "replace", "path": "/name", "value": NUL}]),
            json!([{"op": "add", "path": format!("/{NUL}"), "value": "v"}]),
            json!([{"op": "add", "path": "/os_distro", "value": NUL}]),
            json!([{"op": "add", "path": "/tags", "value": [NUL]}]),
        ] {
            let message = expect_error(member.patch(&id, ops).await, StatusCode::BAD_REQUEST).await;
            assert!(message.contains("NUL characters"), "{message}");
        }
        let resp = member
            .put(&format!("/v2/images/{id}/tags/a%00b"))
            .send()
            .await
            .unwrap();
        let message = expect_error(resp, StatusCode::BAD_REQUEST).await;
        assert_eq!(message, "Tags may not contain NUL characters.");
        let resp = member
            .post(&format!("/v2/images/{id}/members"))
            .json(&json!({"member": NUL}))
            .send()
            .await
            .unwrap();
        expect_error(resp, StatusCode::BAD_REQUEST).await;
        let path = format!("/v2/images/{id}/members/a%00b");
        let resp = member.get(&path).send().await.unwrap();
        expect_error(resp, StatusCode::NOT_FOUND).await;
        let resp = member.delete(&path).send().await.unwrap();
        expect_error(resp, StatusCode::NOT_FOUND).await;
        let resp = member
            .put(&path)
            .json(&json!({"status": "accepted"}))
            .send()
            .await
            .unwrap();
        expect_error(resp, StatusCode::NOT_FOUND).await;
        assert_eq!(app.image(&id).await["name"], "x");
    })
    .await;
}

#[tokio::test]
async fn a_property_value_holds_at_most_65535_bytes_on_every_backend() {
    on_every_backend(|app: TestApp| async move {
        let member = app.member_of("p1");
        // Three-byte characters: 21,845 of them fill the limit exactly.
        let full = "€".repeat(VALUE_LIMIT / 3);
        assert_eq!(full.len(), VALUE_LIMIT);
        let id = id_of(&member.create_image(json!({"description": full})).await);
        assert_eq!(app.image(&id).await["description"], full);
        let over = format!("{full}x");
        let message = expect_error(
            member.create(json!({"description": over})).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(
            message,
            "Value of property 'description' is too long: 65536 bytes, the limit is 65535 bytes."
        );
        for op in ["add", "replace"] {
            let ops = json!([{"op": op, "path": "/description", "value": over}]);
            expect_error(member.patch(&id, ops).await, StatusCode::BAD_REQUEST).await;
        }
        assert_eq!(app.image(&id).await["description"], full);
    })
    .await;
}

#[tokio::test]
async fn min_ram_and_min_disk_are_stored_exactly_within_glance_range_on_every_backend() {
    on_every_backend(|app: TestApp| async move {
        let member = app.member_of("p1");
        let image = member
            .create_image(json!({"min_ram": 2_147_483_647, "min_disk": 1.0}))
            .await;
        assert_eq!(app.image(&id_of(&image)).await["min_ram"], 2_147_483_647);
        assert_eq!(app.image(&id_of(&image)).await["min_disk"], 1);
        for value in [
            json!(2_147_483_648_u64),
            json!(9_223_372_036_854_775_808_u64),
            json!(u64::MAX),
            json!(1e30),
        ] {
            let message = expect_error(
                member.create(json!({"min_ram": value})).await,
                StatusCode::BAD_REQUEST,
            )
            .await;
            assert!(
                message.ends_with("is greater than the maximum of 2147483647"),
                "{message}"
            );
        }
        let ops =
            json!([{"op": "replace", "path": "/min_disk", "value": 9_223_372_036_854_775_808_u64}]);
        expect_error(
            member.patch(&id_of(&image), ops).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(app.image(&id_of(&image)).await["min_disk"], 1);
    })
    .await;
}

#[tokio::test]
async fn an_empty_property_name_is_400() {
    let app = TestApp::new().await;
    let member = app.member_of("p1");
    let message = expect_error(
        member.create(json!({"": "v"})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(message, "Property names may not be empty.");
    let id = id_of(&member.create_image(json!({"name": "x"})).await);
    let ops = json!([{"op": "add", "path": "/", "value": "v"}]);
    let message = expect_error(member.patch(&id, ops).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(message, "Property names may not be empty.");
}

async fn create_error(app: &TestApp, body: Value, status: StatusCode) -> String {
    expect_error(app.member_of("p1").create(body).await, status).await
}

#[tokio::test]
async fn read_only_attributes_in_a_create_body_answer_as_glance() {
    let app = TestApp::new().await;
    for (key, value) in [
        ("size", json!(5)),
        ("virtual_size", json!(null)),
        ("checksum", json!("0")),
        ("os_hash_algo", json!("sha512")),
        ("os_hash_value", json!("00")),
        ("status", json!("active")),
    ] {
        let message = create_error(&app, json!({key: value}), StatusCode::FORBIDDEN).await;
        assert_eq!(message, format!("Attribute '{key}' is read-only."));
    }
    let locations = json!([{"url": "file:///etc/passwd", "metadata": {}}]);
    let message = create_error(&app, json!({"locations": locations}), StatusCode::FORBIDDEN).await;
    assert_eq!(message, "Attribute 'locations' is reserved.");
    for (body, detail) in [
        (json!({"size": "5"}), "'5' is not of type 'null', 'integer'"),
        (
            json!({"locations": "file:///x"}),
            "'file:///x' is not of type 'array'",
        ),
        (
            json!({"locations": [{"url": "file:///x"}]}),
            "'metadata' is a required property",
        ),
        (
            json!({"status": "gone"}),
            "'gone' is not one of ['queued', ",
        ),
    ] {
        let message = create_error(&app, body, StatusCode::BAD_REQUEST).await;
        assert!(
            message.starts_with(&format!(
                "Provided object does not match schema 'image': {detail}"
            )),
            "{message}"
        );
    }
    assert!(app.admin().list_names("").await.is_empty());
}

#[tokio::test]
async fn well_known_properties_follow_the_served_schema_on_create_and_patch() {
    let app = TestApp::new().await;
    let member = app.member_of("p1");
    let uuid = "6f4ad1d2-21b2-4a4e-9bd5-6d5b2a9c1f00";
    let pattern =
        "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$";
    let cases = [
        (
            "kernel_id",
            json!("vmlinuz"),
            format!("'vmlinuz' does not match '{pattern}'"),
        ),
        (
            "ramdisk_id",
            json!(1),
            "1 is not of type 'null', 'string'".to_string(),
        ),
        (
            "instance_uuid",
            json!(1),
            "1 is not of type 'string'".to_string(),
        ),
        (
            "architecture",
            json!(null),
            "None is not of type 'string'".to_string(),
        ),
        (
            "os_distro",
            json!(true),
            "True is not of type 'string'".to_string(),
        ),
        (
            "os_version",
            json!([]),
            "[] is not of type 'string'".to_string(),
        ),
        (
            "description",
            json!({}),
            "{} is not of type 'string'".to_string(),
        ),
        (
            "cinder_encryption_key_id",
            json!(2),
            "2 is not of type 'string'".to_string(),
        ),
        (
            "cinder_encryption_key_deletion_policy",
            json!("sometimes"),
            "'sometimes' is not one of ['on_image_deletion', 'do_not_delete']".to_string(),
        ),
    ];
    let id = id_of(&member.create_image(json!({"name": "typed"})).await);
    for (key, value, detail) in cases {
        let expected = format!("Provided object does not match schema 'image': {detail}");
        let message =
            create_error(&app, json!({key: value.clone()}), StatusCode::BAD_REQUEST).await;
        assert_eq!(message, expected);
        for op in ["add", "replace"] {
            let ops = json!([{"op": op, "path": format!("/{key}"), "value": value}]);
            let message = expect_error(member.patch(&id, ops).await, StatusCode::BAD_REQUEST).await;
            assert_eq!(message, expected, "{op} {key}");
        }
    }
    let good = json!({"kernel_id": uuid, "ramdisk_id": uuid.to_uppercase(),
                      "cinder_encryption_key_deletion_policy": "on_image_deletion"});
    let image = member.create_image(good).await;
    assert_eq!(image["kernel_id"], uuid);
    let ops = json!([{"op": "replace", "path": "/cinder_encryption_key_deletion_policy",
                      "value": "do_not_delete"}]);
    let image = expect_json(member.patch(&id_of(&image), ops).await, StatusCode::OK).await;
    assert_eq!(
        image["cinder_encryption_key_deletion_policy"],
        "do_not_delete"
    );
}

#[tokio::test]
async fn values_quoted_in_schema_errors_are_cut() {
    let app = TestApp::new().await;
    let member = app.member_of("p1");
    let huge_name = "n".repeat(1_900_000);
    let huge_list: Vec<Value> = (0..100_000).map(|i| json!(i)).collect();
    for body in [
        json!({"name": huge_name}),
        json!({"name": huge_list}),
        json!({"visibility": huge_name}),
        json!({"kernel_id": huge_name}),
        json!({"min_ram": huge_name}),
    ] {
        let resp = member.create(body).await;
        let body = resp.text().await.unwrap();
        assert!(body.len() < 1000, "{} bytes: {}", body.len(), &body[..300]);
        assert!(body.contains("...(truncated)"), "{body}");
    }
    let id = id_of(&member.create_image(json!({})).await);
    for ops in [
        json!([{"op": huge_name, "path": "/name", "value": "x"}]),
        json!([{"op": "add", "path": format!("/{huge_name}/x"), "value": "x"}]),
        json!([{"op": "replace", "path": format!("/{}", "p".repeat(300)), "value": "x"}]),
        json!([{"op": "add", "path": "/name", "value": huge_list}]),
    ] {
        let resp = member.patch(&id, ops).await;
        let body = resp.text().await.unwrap();
        assert!(body.len() < 1000, "{} bytes: {}", body.len(), &body[..300]);
    }
}
