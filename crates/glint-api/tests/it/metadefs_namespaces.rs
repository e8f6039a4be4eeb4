//! `/v2/metadefs/namespaces`: create with embedded definitions, show with
//! `?resource_type=` prefixes, list paging and filters, full replace,
//! protected namespaces, deletes; on every configured database.

use crate::common::{self, TestApp, expect_error, expect_json, expect_status};
use reqwest::StatusCode;
use serde_json::{Value, json};

const NS: &str = "/v2/metadefs/namespaces";

fn full_namespace(name: &str) -> Value {
    json!({
        "namespace": name,
        "display_name": "Full",
        "description": "Everything at once",
        "visibility": "public",
        "protected": false,
        "resource_type_associations": [
            {"name": "OS::Glance::Image", "prefix": "hw_"},
            {"name": "OS::Nova::Flavor", "prefix": "hw:", "properties_target": "flavor"}
        ],
        "properties": {
            "cpu_policy": {"title": "CPU policy", "type": "string", "enum": ["shared", "dedicated"]}
        },
        "objects": [{
            "name": "Watchdog",
            "description": "a device",
            "required": ["watchdog_action"],
            "properties": {
                "watchdog_action": {"title": "Action", "type": "string", "default": "reset"}
            }
        }],
        "tags": [{"name": "alpha"}, {"name": "beta"}]
    })
}

async fn create(app: &TestApp, body: Value) -> Value {
    expect_json(
        app.post(NS).json(&body).send().await.unwrap(),
        StatusCode::CREATED,
    )
    .await
}

#[tokio::test]
async fn a_namespace_is_created_with_what_it_holds_and_shown_back() {
    for backend in common::Backend::configured() {
        let app = TestApp::builder().backend(backend).start().await;
        let resp = app
            .post(NS)
            .json(&full_namespace("OS::Test::Full"))
            .send()
            .await
            .unwrap();
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.ends_with("/v2/metadefs/namespaces/OS::Test::Full"),
            "{location}"
        );
        let created = expect_json(resp, StatusCode::CREATED).await;
        assert_eq!(created["owner"], "admin");
        assert_eq!(created["self"], "/v2/metadefs/namespaces/OS::Test::Full");
        assert_eq!(created["schema"], "/v2/schemas/metadefs/namespace");

        let shown = expect_json(
            app.get(&format!("{NS}/OS::Test::Full"))
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(shown["display_name"], "Full");
        assert_eq!(shown["visibility"], "public");
        assert_eq!(shown["protected"], false);
        assert!(shown.get("updated_at").is_none(), "never updated: {shown}");
        assert_eq!(
            shown["properties"]["cpu_policy"],
            json!({"type": "string", "title": "CPU policy", "enum": ["shared", "dedicated"]})
        );
        assert_eq!(shown["objects"][0]["name"], "Watchdog");
        assert_eq!(shown["objects"][0]["required"], json!(["watchdog_action"]));
        assert_eq!(
            shown["objects"][0]["self"],
            "/v2/metadefs/namespaces/OS::Test::Full/objects/Watchdog"
        );
        assert_eq!(shown["tags"], json!([{"name": "alpha"}, {"name": "beta"}]));
        let assocs = shown["resource_type_associations"].as_array().unwrap();
        assert_eq!(assocs.len(), 2);
        assert_eq!(assocs[1]["properties_target"], "flavor");

        // The prefix of the association asked for goes before every
        // property name, and before the objects' properties and required.
        let prefixed = expect_json(
            app.get(&format!(
                "{NS}/OS::Test::Full?resource_type=OS::Nova::Flavor"
            ))
            .send()
            .await
            .unwrap(),
            StatusCode::OK,
        )
        .await;
        assert!(
            prefixed["properties"].get("hw:cpu_policy").is_some(),
            "{prefixed}"
        );
        assert_eq!(
            prefixed["objects"][0]["required"],
            json!(["hw:watchdog_action"])
        );
        assert!(
            prefixed["objects"][0]["properties"]
                .get("hw:watchdog_action")
                .is_some()
        );
        // An unknown resource type changes nothing.
        let plain = expect_json(
            app.get(&format!("{NS}/OS::Test::Full?resource_type=OS::Nope"))
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        assert!(plain["properties"].get("cpu_policy").is_some());
    }
}

#[tokio::test]
async fn create_refuses_bad_bodies_with_glance_errors() {
    for backend in common::Backend::configured() {
        let app = TestApp::builder().backend(backend).start().await;
        let cases = [
            (
                json!({}),
                StatusCode::BAD_REQUEST,
                "'namespace' is a required property",
            ),
            (
                json!({"namespace": "x".repeat(81)}),
                StatusCode::BAD_REQUEST,
                "is too long",
            ),
            (
                json!({"namespace": "a", "visibility": "shared"}),
                StatusCode::BAD_REQUEST,
                "'shared' is not one of ['public', 'private']",
            ),
            (
                json!({"namespace": "a", "protected": "yes"}),
                StatusCode::BAD_REQUEST,
                "'yes' is not of type 'boolean'",
            ),
            (
                json!({"namespace": "a", "unknown": 1}),
                StatusCode::BAD_REQUEST,
                "Additional properties are not allowed ('unknown' was unexpected)",
            ),
            (
                json!({"namespace": "a", "properties": {"p": {"type": "string"}}}),
                StatusCode::BAD_REQUEST,
                "'title' is a required property",
            ),
            (
                json!({"namespace": "a", "properties": {"p": {"title": "t", "type": "text"}}}),
                StatusCode::BAD_REQUEST,
                "'text' is not one of",
            ),
            (
                json!({"namespace": "a", "self": "/x"}),
                StatusCode::FORBIDDEN,
                "Attribute 'self' is read-only.",
            ),
            (
                json!(["a"]),
                StatusCode::BAD_REQUEST,
                "is not of type 'object'",
            ),
            (
                json!({"namespace": "a", "tags": [{"name": "t"}, {"name": "T"}]}),
                StatusCode::CONFLICT,
                "A metadata tag with name=T already exists in namespace=a.",
            ),
        ];
        for (body, status, words) in cases {
            let resp = app.post(NS).json(&body).send().await.unwrap();
            let message = expect_error(resp, status).await;
            assert!(message.contains(words), "{body}: {message}");
        }
        // Nothing of a refused body was kept.
        let list = expect_json(app.get(NS).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(list["namespaces"], json!([]));

        create(&app, json!({"namespace": "dup"})).await;
        let resp = app
            .post(NS)
            .json(&json!({"namespace": "dup"}))
            .send()
            .await
            .unwrap();
        let message = expect_error(resp, StatusCode::CONFLICT).await;
        assert_eq!(
            message,
            "The metadata definition namespace=dup already exists."
        );
    }
}

#[tokio::test]
async fn namespaces_are_listed_in_pages_with_first_and_next_links() {
    for backend in common::Backend::configured() {
        let app = TestApp::builder().backend(backend).start().await;
        for name in ["ns-a", "ns-b", "ns-c", "ns-d", "ns-e"] {
            create(&app, json!({"namespace": name, "visibility": "public"})).await;
        }
        let mut seen = Vec::new();
        let mut path = format!("{NS}?limit=2&sort_key=namespace&sort_dir=asc");
        let first = expect_json(app.get(&path).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(
            first["first"],
            "/v2/metadefs/namespaces?limit=2&sort_key=namespace&sort_dir=asc"
        );
        assert_eq!(first["schema"], "/v2/schemas/metadefs/namespaces");
        let mut page = first;
        loop {
            for ns in page["namespaces"].as_array().unwrap() {
                seen.push(ns["namespace"].as_str().unwrap().to_owned());
            }
            let Some(next) = page["next"].as_str() else {
                break;
            };
            assert!(next.contains("marker="), "{next}");
            path = next.to_owned();
            page = expect_json(app.get(&path).send().await.unwrap(), StatusCode::OK).await;
        }
        assert_eq!(seen, ["ns-a", "ns-b", "ns-c", "ns-d", "ns-e"]);

        // Newest first by default.
        let all = expect_json(app.get(NS).send().await.unwrap(), StatusCode::OK).await;
        let names: Vec<&str> = all["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["namespace"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["ns-e", "ns-d", "ns-c", "ns-b", "ns-a"]);
        assert!(all.get("next").is_none());

        for (query, words) in [
            ("sort_dir=up", "Invalid sort direction: up"),
            ("visibility=shared", "Invalid visibility value: shared"),
            ("limit=-1", "limit param must be positive"),
            ("limit=many", "limit param must be an integer"),
            ("sort_key=owner", "Invalid sort key: owner"),
        ] {
            let resp = app.get(&format!("{NS}?{query}")).send().await.unwrap();
            let message = expect_error(resp, StatusCode::BAD_REQUEST).await;
            assert!(message.contains(words), "{query}: {message}");
        }
        let resp = app.get(&format!("{NS}?marker=nope")).send().await.unwrap();
        let message = expect_error(resp, StatusCode::NOT_FOUND).await;
        assert_eq!(message, "Metadata definition namespace=nope was not found.");
    }
}

#[tokio::test]
async fn lists_filter_by_visibility_and_resource_types() {
    for backend in common::Backend::configured() {
        let app = TestApp::builder().backend(backend).start().await;
        create(
            &app,
            json!({"namespace": "img", "visibility": "public",
                   "resource_type_associations": [{"name": "OS::Glance::Image"}]}),
        )
        .await;
        create(
            &app,
            json!({"namespace": "vol", "resource_type_associations": [{"name": "OS::Cinder::Volume"}]}),
        )
        .await;
        create(&app, json!({"namespace": "none"})).await;
        let names = |v: &Value| -> Vec<String> {
            let mut n: Vec<String> = v["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["namespace"].as_str().unwrap().to_owned())
                .collect();
            n.sort();
            n
        };
        let get = |q: &str| app.get(&format!("{NS}?{q}")).send();
        let public = expect_json(get("visibility=public").await.unwrap(), StatusCode::OK).await;
        assert_eq!(names(&public), ["img"]);
        let private = expect_json(get("visibility=private").await.unwrap(), StatusCode::OK).await;
        assert_eq!(names(&private), ["none", "vol"]);
        let typed = expect_json(
            get("resource_types=OS::Glance::Image,OS::Cinder::Volume")
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(names(&typed), ["img", "vol"]);
        let first = &typed["namespaces"][0];
        assert!(first["resource_type_associations"].is_array(), "{first}");
    }
}

#[tokio::test]
async fn put_replaces_every_field_and_may_rename() {
    for backend in common::Backend::configured() {
        let app = TestApp::builder().backend(backend).start().await;
        create(&app, full_namespace("old-name")).await;
        create(&app, json!({"namespace": "taken"})).await;
        let resp = app
            .put(&format!("{NS}/old-name"))
            .json(&json!({"namespace": "new-name", "description": "renamed"}))
            .send()
            .await
            .unwrap();
        let updated = expect_json(resp, StatusCode::OK).await;
        assert_eq!(updated["namespace"], "new-name");
        // Left out: back to their defaults.
        assert_eq!(updated["visibility"], "private");
        assert!(updated.get("display_name").is_none());
        assert!(updated.get("updated_at").is_some());
        assert!(
            updated.get("properties").is_none(),
            "a PUT answers the fields only"
        );
        // What it holds went with it.
        let shown = expect_json(
            app.get(&format!("{NS}/new-name")).send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        assert!(shown["properties"].get("cpu_policy").is_some());
        expect_status(
            app.get(&format!("{NS}/old-name")).send().await.unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
        let resp = app
            .put(&format!("{NS}/new-name"))
            .json(&json!({"namespace": "taken"}))
            .send()
            .await
            .unwrap();
        let message = expect_error(resp, StatusCode::CONFLICT).await;
        assert!(
            message.starts_with("Invalid update. It would result in a duplicate"),
            "{message}"
        );
        let resp = app
            .put(&format!("{NS}/missing"))
            .json(&json!({"namespace": "missing"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            expect_error(resp, StatusCode::NOT_FOUND).await,
            "Namespace missing not found"
        );
    }
}

#[tokio::test]
async fn protected_namespaces_cannot_be_deleted_or_emptied() {
    for backend in common::Backend::configured() {
        let app = TestApp::builder().backend(backend).start().await;
        let mut body = full_namespace("guarded");
        body["protected"] = json!(true);
        create(&app, body).await;
        let path = format!("{NS}/guarded");
        let message = expect_error(
            app.delete(&path).send().await.unwrap(),
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_eq!(
            message,
            "Metadata definition namespace guarded is protected and cannot be deleted."
        );
        for what in ["properties", "objects", "tags"] {
            let resp = app.delete(&format!("{path}/{what}")).send().await.unwrap();
            expect_error(resp, StatusCode::FORBIDDEN).await;
        }
        for (what, name, words) in [
            (
                "properties",
                "cpu_policy",
                "Metadata definition property cpu_policy is protected",
            ),
            (
                "objects",
                "Watchdog",
                "Metadata definition object Watchdog is protected",
            ),
            (
                "tags",
                "alpha",
                "Metadata definition tag alpha is protected",
            ),
            (
                "resource_types",
                "OS::Glance::Image",
                "Metadata definition resource-type-association OS::Glance::Image is protected",
            ),
        ] {
            let resp = app
                .delete(&format!("{path}/{what}/{name}"))
                .send()
                .await
                .unwrap();
            let message = expect_error(resp, StatusCode::FORBIDDEN).await;
            assert!(message.starts_with(words), "{message}");
        }
        // Unprotecting it (a PUT is allowed) lets it go, with all it holds.
        let resp = app
            .put(&path)
            .json(&json!({"namespace": "guarded", "protected": false}))
            .send()
            .await
            .unwrap();
        expect_status(resp, StatusCode::OK).await;
        expect_status(
            app.delete(&path).send().await.unwrap(),
            StatusCode::NO_CONTENT,
        )
        .await;
        expect_status(app.get(&path).send().await.unwrap(), StatusCode::NOT_FOUND).await;
        let message = expect_error(
            app.delete(&path).send().await.unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(message, "Namespace guarded not found");
        // Its name can be used again, and starts empty.
        create(&app, json!({"namespace": "guarded"})).await;
        let shown = expect_json(app.get(&path).send().await.unwrap(), StatusCode::OK).await;
        assert!(
            shown.get("properties").is_none() && shown.get("tags").is_none(),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn delete_all_empties_one_kind_of_definition() {
    for backend in common::Backend::configured() {
        let app = TestApp::builder().backend(backend).start().await;
        create(&app, full_namespace("emptied")).await;
        let path = format!("{NS}/emptied");
        for what in ["properties", "objects", "tags"] {
            let resp = app.delete(&format!("{path}/{what}")).send().await.unwrap();
            expect_status(resp, StatusCode::NO_CONTENT).await;
            let shown = expect_json(app.get(&path).send().await.unwrap(), StatusCode::OK).await;
            assert!(shown.get(what).is_none(), "{what}: {shown}");
        }
        let shown = expect_json(app.get(&path).send().await.unwrap(), StatusCode::OK).await;
        assert!(shown["resource_type_associations"].is_array());
        let resp = app.delete(&format!("{NS}/nope/tags")).send().await.unwrap();
        assert_eq!(
            expect_error(resp, StatusCode::NOT_FOUND).await,
            "Namespace nope not found"
        );
    }
}
