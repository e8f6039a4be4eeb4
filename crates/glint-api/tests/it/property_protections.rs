//! Property protections (`property_protection_file`) in both rule formats:
//! who may create, see, change and remove which additional properties.

use crate::common;

use common::{Caller, PATCH_V20, Protection, TestApp, expect_error, expect_json, id_of, names};
use glint_core::RuleFormat;
use glint_model::ImageId;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Glance's own test rules for the `roles` format.
const ROLES: &[Protection<'static>] = &[
    ("^x_owner_.*", ["admin,member"; 4]),
    (
        "spl_create_prop",
        ["admin,spl_role", "admin,spl_role", "admin", "admin"],
    ),
    (
        "spl_read_prop",
        ["admin,spl_role", "admin,spl_role", "admin", "admin"],
    ),
    (
        "spl_read_only_prop",
        ["admin", "admin,spl_role", "admin", "admin"],
    ),
    (
        "spl_update_prop",
        [
            "admin,spl_role",
            "admin,spl_role",
            "admin,spl_role",
            "admin",
        ],
    ),
    (
        "spl_delete_prop",
        [
            "admin,spl_role",
            "admin,spl_role",
            "admin",
            "admin,spl_role",
        ],
    ),
    ("^x_all_permitted.*", ["@"; 4]),
    ("^x_none_permitted.*", ["!"; 4]),
    ("x_none_read", ["admin,member", "!", "!", "!"]),
    (
        "x_none_update",
        ["admin,member", "admin,member", "!", "admin,member"],
    ),
    (
        "x_none_delete",
        ["admin,member", "admin,member", "admin,member", "!"],
    ),
    ("x_case_insensitive", ["admin,Member"; 4]),
    ("x_foo_matcher", ["admin"; 4]),
    ("x_foo_*", ["@"; 4]),
    (".*", ["admin"; 4]),
];

/// Glance's own test rules for the `policies` format.
const POLICIES: &[Protection<'static>] = &[
    (
        "spl_creator_policy",
        [
            "glance_creator",
            "glance_creator",
            "context_is_admin",
            "context_is_admin",
        ],
    ),
    (
        "spl_default_policy",
        [
            "context_is_admin",
            "default",
            "context_is_admin",
            "context_is_admin",
        ],
    ),
    ("^x_all_permitted.*", ["@"; 4]),
    ("^x_none_permitted.*", ["!"; 4]),
    (
        "x_none_update",
        [
            "context_is_admin",
            "context_is_admin",
            "!",
            "context_is_admin",
        ],
    ),
    (
        "x_none_delete",
        [
            "context_is_admin",
            "context_is_admin",
            "context_is_admin",
            "!",
        ],
    ),
    (".*", ["context_is_admin"; 4]),
];

const CREATOR_POLICY: &str = "glance_creator: role:admin or role:spl_role\n";

async fn roles_app() -> TestApp {
    TestApp::builder()
        .property_protections(RuleFormat::Roles, ROLES)
        .start()
        .await
}

async fn policies_app() -> TestApp {
    TestApp::builder()
        .policy_overrides(CREATOR_POLICY)
        .property_protections(RuleFormat::Policies, POLICIES)
        .start()
        .await
}

/// Callers of project `p1`.
fn admin(app: &TestApp) -> Caller<'_> {
    app.as_user("p1", "admin,member,reader")
}

fn member(app: &TestApp) -> Caller<'_> {
    app.as_user("p1", "reader,member")
}

fn special(app: &TestApp) -> Caller<'_> {
    app.as_user("p1", "reader,member,spl_role")
}

fn raw_image(extra: Value) -> Value {
    let mut body = json!({"name": "img", "disk_format": "raw", "container_format": "bare"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn create_as(caller: &Caller<'_>, extra: Value) -> Value {
    caller.create_image(raw_image(extra)).await
}

async fn create_refused(caller: &Caller<'_>, extra: Value) -> String {
    expect_error(caller.create(raw_image(extra)).await, StatusCode::FORBIDDEN).await
}

async fn patch_ok(caller: &Caller<'_>, id: &str, ops: Value) -> Value {
    expect_json(caller.patch(id, ops).await, StatusCode::OK).await
}

async fn patch_error(caller: &Caller<'_>, id: &str, ops: Value, status: StatusCode) -> String {
    expect_error(caller.patch(id, ops).await, status).await
}

/// The properties as stored, whatever any caller may see.
async fn stored_properties(app: &TestApp, id: &str) -> Vec<(String, String)> {
    let image = app
        .db()
        .get_image(ImageId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    image.properties.into_iter().collect()
}

fn keys(image: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = image
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.retain(|k| k.starts_with("x_") || k.starts_with("spl_") || *k == "foo");
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn roles_create_allows_permitted_properties_and_refuses_others() {
    let app = roles_app().await;
    let image = create_as(&member(&app), json!({"x_owner_foo": "bar"})).await;
    assert_eq!(image["x_owner_foo"], "bar");
    let image = create_as(&special(&app), json!({"spl_create_prop": "c"})).await;
    assert_eq!(image["spl_create_prop"], "c");
    assert_eq!(
        create_refused(&member(&app), json!({"foo": "bar"})).await,
        "Attribute 'foo' is reserved."
    );
    assert_eq!(
        create_refused(&member(&app), json!({"spl_create_prop": "c"})).await,
        "Attribute 'spl_create_prop' is reserved."
    );
    assert_eq!(
        member(&app).list("").await["images"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn create_names_the_first_refused_property_in_body_order() {
    let app = roles_app().await;
    let body = json!({
        "name": "img", "x_owner_ok": "1", "zz_first": "2", "aa_second": "3"
    });
    let message = expect_error(member(&app).create(body).await, StatusCode::FORBIDDEN).await;
    assert_eq!(message, "Attribute 'zz_first' is reserved.");
}

#[tokio::test]
async fn anyone_and_no_one_apply_to_every_role() {
    let app = roles_app().await;
    let image = create_as(
        &app.as_user("p1", "member"),
        json!({"x_all_permitted_a": "1"}),
    )
    .await;
    assert_eq!(image["x_all_permitted_a"], "1");
    assert_eq!(
        create_refused(&admin(&app), json!({"x_none_permitted_a": "1"})).await,
        "Attribute 'x_none_permitted_a' is reserved."
    );
}

#[tokio::test]
async fn the_first_matching_section_decides() {
    let app = roles_app().await;
    let image = create_as(&member(&app), json!({"x_foo_bar": "1"})).await;
    assert_eq!(image["x_foo_bar"], "1");
    assert_eq!(
        create_refused(&member(&app), json!({"x_foo_matcher": "1"})).await,
        "Attribute 'x_foo_matcher' is reserved."
    );
}

#[tokio::test]
async fn roles_in_the_file_match_regardless_of_case() {
    let app = roles_app().await;
    let id = id_of(&create_as(&admin(&app), json!({"x_case_insensitive": "1"})).await);
    let image = member(&app).image(&id).await;
    assert_eq!(image["x_case_insensitive"], "1");
    let ops = json!([{"op": "replace", "path": "/x_case_insensitive", "value": "2"}]);
    assert_eq!(
        patch_ok(&app.as_user("p1", "MEMBER"), &id, ops).await["x_case_insensitive"],
        "2"
    );
}

#[tokio::test]
async fn unreadable_properties_are_hidden_from_show_list_and_create() {
    let app = roles_app().await;
    let created = create_as(
        &admin(&app),
        json!({"spl_read_prop": "r", "x_owner_foo": "o", "x_none_read": "secret"}),
    )
    .await;
    // Not even its creator may read x_none_read.
    assert_eq!(keys(&created), ["spl_read_prop", "x_owner_foo"]);
    let id = id_of(&created);
    assert_eq!(
        keys(&special(&app).image(&id).await),
        ["spl_read_prop", "x_owner_foo"]
    );
    assert_eq!(keys(&member(&app).image(&id).await), ["x_owner_foo"]);
    let page = member(&app).list("").await;
    assert_eq!(names(&page), ["img"]);
    assert_eq!(keys(&page["images"][0]), ["x_owner_foo"]);
    let page = special(&app).list("").await;
    assert_eq!(keys(&page["images"][0]), ["spl_read_prop", "x_owner_foo"]);
    let stored: Vec<String> = stored_properties(&app, &id)
        .await
        .into_iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(stored, ["spl_read_prop", "x_none_read", "x_owner_foo"]);
}

#[tokio::test]
async fn update_and_delete_follow_their_own_roles() {
    let app = roles_app().await;
    let id = id_of(
        &create_as(
            &admin(&app),
            json!({
                "spl_update_prop": "u", "spl_read_prop": "r",
                "spl_delete_prop": "d", "spl_create_prop": "c"
            }),
        )
        .await,
    );
    let spl = special(&app);
    let ops = json!([{"op": "replace", "path": "/spl_update_prop", "value": "u2"}]);
    assert_eq!(patch_ok(&spl, &id, ops).await["spl_update_prop"], "u2");
    let ops = json!([{"op": "replace", "path": "/spl_read_prop", "value": "r2"}]);
    assert_eq!(
        patch_error(&spl, &id, ops, StatusCode::FORBIDDEN).await,
        "Attribute 'spl_read_prop' is reserved."
    );
    let ops = json!([{"op": "add", "path": "/spl_read_prop", "value": "r2"}]);
    assert_eq!(
        patch_error(&spl, &id, ops, StatusCode::FORBIDDEN).await,
        "Attribute 'spl_read_prop' is reserved."
    );
    let image = patch_ok(
        &spl,
        &id,
        json!([{"op": "remove", "path": "/spl_delete_prop"}]),
    )
    .await;
    assert!(image.get("spl_delete_prop").is_none());
    let ops = json!([{"op": "remove", "path": "/spl_create_prop"}]);
    assert_eq!(
        patch_error(&spl, &id, ops, StatusCode::FORBIDDEN).await,
        "Attribute 'spl_create_prop' is reserved."
    );
    let image = admin(&app).image(&id).await;
    assert_eq!(image["spl_read_prop"], "r");
    assert_eq!(image["spl_create_prop"], "c");
}

#[tokio::test]
async fn a_refused_operation_leaves_the_whole_patch_unapplied() {
    let app = roles_app().await;
    let id = id_of(&create_as(&admin(&app), json!({"x_none_update": "v"})).await);
    let ops = json!([
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "replace", "path": "/x_none_update", "value": "changed"},
    ]);
    assert_eq!(
        patch_error(&member(&app), &id, ops, StatusCode::FORBIDDEN).await,
        "Attribute 'x_none_update' is reserved."
    );
    let image = admin(&app).image(&id).await;
    assert_eq!(
        (image["name"].as_str(), image["x_none_update"].as_str()),
        (Some("img"), Some("v"))
    );
}

#[tokio::test]
async fn properties_the_caller_cannot_read_do_not_exist_for_them() {
    let app = roles_app().await;
    let id = id_of(&create_as(&admin(&app), json!({"spl_read_prop": "r"})).await);
    let m = member(&app);
    for ops in [
        json!([{"op": "replace", "path": "/spl_read_prop", "value": "x"}]),
        json!([{"op": "remove", "path": "/spl_read_prop"}]),
    ] {
        assert_eq!(
            patch_error(&m, &id, ops, StatusCode::CONFLICT).await,
            "Property spl_read_prop does not exist."
        );
    }
    // Adding it is a create, which a plain member may not do either.
    let ops = json!([{"op": "add", "path": "/spl_read_prop", "value": "x"}]);
    assert_eq!(
        patch_error(&m, &id, ops, StatusCode::FORBIDDEN).await,
        "Attribute 'spl_read_prop' is reserved."
    );
    // A change elsewhere keeps the hidden property as it was.
    let image = patch_ok(
        &m,
        &id,
        json!([{"op": "replace", "path": "/name", "value": "n"}]),
    )
    .await;
    assert!(image.get("spl_read_prop").is_none());
    assert_eq!(special(&app).image(&id).await["spl_read_prop"], "r");
}

#[tokio::test]
async fn adding_a_property_hidden_from_the_caller_overwrites_it_when_they_may_create() {
    let app = roles_app().await;
    let id = id_of(&create_as(&admin(&app), json!({"x_none_read": "first"})).await);
    let ops = json!([{"op": "add", "path": "/x_none_read", "value": "second"}]);
    let image = patch_ok(&member(&app), &id, ops).await;
    assert!(image.get("x_none_read").is_none());
    assert_eq!(
        stored_properties(&app, &id).await,
        [("x_none_read".to_owned(), "second".to_owned())]
    );
    // With the draft-4 media type an unreadable property is not "already present".
    let ops = json!([{"add": "/x_none_read", "value": "third"}]);
    let resp = member(&app).patch_as(&id, PATCH_V20, ops).await;
    expect_json(resp, StatusCode::OK).await;
    let ops = json!([{"add": "/x_none_update", "value": "v"}]);
    let resp = member(&app).patch_as(&id, PATCH_V20, ops.clone()).await;
    expect_json(resp, StatusCode::OK).await;
    let resp = member(&app).patch_as(&id, PATCH_V20, ops).await;
    assert_eq!(
        expect_error(resp, StatusCode::CONFLICT).await,
        "Property x_none_update already present."
    );
}

#[tokio::test]
async fn base_attributes_are_never_protected() {
    let app = roles_app().await;
    let image = member(&app)
        .create_image(json!({"name": "n", "min_ram": 1, "tags": ["t"], "visibility": "private"}))
        .await;
    let ops = json!([
        {"op": "replace", "path": "/name", "value": "m"},
        {"op": "replace", "path": "/min_disk", "value": 2},
        {"op": "add", "path": "/tags", "value": ["u"]},
    ]);
    let image = patch_ok(&member(&app), &id_of(&image), ops).await;
    assert_eq!(
        (image["name"].as_str(), image["min_disk"].as_i64()),
        (Some("m"), Some(2))
    );
}

#[tokio::test]
async fn policies_create_is_decided_by_the_named_rules() {
    let app = policies_app().await;
    assert_eq!(
        create_refused(&member(&app), json!({"foo": "bar"})).await,
        "Attribute 'foo' is reserved."
    );
    let image = create_as(&admin(&app), json!({"foo": "bar"})).await;
    assert_eq!(image["foo"], "bar");
    let image = create_as(&special(&app), json!({"spl_creator_policy": "c"})).await;
    assert_eq!(image["spl_creator_policy"], "c");
    let image = create_as(&member(&app), json!({"x_all_permitted_1": "1"})).await;
    assert_eq!(image["x_all_permitted_1"], "1");
    assert_eq!(
        create_refused(&admin(&app), json!({"x_none_permitted_1": "1"})).await,
        "Attribute 'x_none_permitted_1' is reserved."
    );
}

#[tokio::test]
async fn policies_read_hides_properties_in_show_and_list() {
    let app = policies_app().await;
    let id = id_of(
        &create_as(
            &admin(&app),
            json!({"spl_creator_policy": "c", "spl_default_policy": "d", "foo": "f"}),
        )
        .await,
    );
    assert_eq!(keys(&member(&app).image(&id).await), ["spl_default_policy"]);
    assert_eq!(
        keys(&special(&app).image(&id).await),
        ["spl_creator_policy", "spl_default_policy"]
    );
    assert_eq!(
        keys(&admin(&app).list("").await["images"][0]),
        ["foo", "spl_creator_policy", "spl_default_policy"]
    );
    assert_eq!(
        keys(&member(&app).list("").await["images"][0]),
        ["spl_default_policy"]
    );
}

#[tokio::test]
async fn policies_update_and_delete_can_be_closed_to_everyone() {
    let app = policies_app().await;
    let a = admin(&app);
    let id = id_of(&create_as(&a, json!({"x_none_update": "v", "x_none_delete": "w"})).await);
    let ops = json!([{"op": "replace", "path": "/x_none_update", "value": "x"}]);
    assert_eq!(
        patch_error(&a, &id, ops, StatusCode::FORBIDDEN).await,
        "Attribute 'x_none_update' is reserved."
    );
    let ops = json!([{"op": "replace", "path": "/x_none_delete", "value": "x"}]);
    assert_eq!(patch_ok(&a, &id, ops).await["x_none_delete"], "x");
    let ops = json!([{"op": "remove", "path": "/x_none_delete"}]);
    assert_eq!(
        patch_error(&a, &id, ops, StatusCode::FORBIDDEN).await,
        "Attribute 'x_none_delete' is reserved."
    );
    let ops = json!([{"op": "remove", "path": "/x_none_update"}]);
    assert!(patch_ok(&a, &id, ops).await.get("x_none_update").is_none());
    let ops = json!([{"op": "replace", "path": "/spl_creator_policy", "value": "x"}]);
    assert_eq!(
        patch_error(&member(&app), &id, ops, StatusCode::CONFLICT).await,
        "Property spl_creator_policy does not exist."
    );
}

#[tokio::test]
async fn protected_property_refusal_has_glances_error_shape() {
    let app = roles_app().await;
    let resp = member(&app)
        .post("/v2/images")
        .header("Accept", "text/plain")
        .json(&json!({"foo": "bar"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body = resp.text().await.unwrap();
    assert!(
        body.starts_with("403 Forbidden\n\nAttribute 'foo' is reserved."),
        "{body:?}"
    );
}
