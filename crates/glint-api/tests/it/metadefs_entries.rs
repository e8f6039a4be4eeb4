//! The properties, objects, tags and resource type associations of a
//! namespace: create, show, replace, delete and their errors, on every
//! configured database.

use crate::common::{self, TestApp, expect_error, expect_json, expect_status};
use reqwest::StatusCode;
use serde_json::{Value, json};

const NS: &str = "/v2/metadefs/namespaces/OS::Test";

async fn app_with_namespace(backend: common::Backend) -> TestApp {
    let app = TestApp::builder().backend(backend).start().await;
    let resp = app
        .post("/v2/metadefs/namespaces")
        .json(&json!({"namespace": "OS::Test", "visibility": "public"}))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::CREATED).await;
    app
}

async fn send_json(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> reqwest::Response {
    app.request(method, path).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn properties_are_created_shown_renamed_and_deleted() {
    for backend in common::Backend::configured() {
        let app = app_with_namespace(backend).await;
        let prop = json!({
            "name": "hw_rng_model", "title": "RNG model", "type": "string",
            "description": "The random number generator", "enum": ["virtio"],
            "default": "virtio", "readonly": false
        });
        let path = format!("{NS}/properties");
        let created = expect_json(
            send_json(&app, reqwest::Method::POST, &path, prop).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(created["name"], "hw_rng_model");
        assert_eq!(created["default"], "virtio");

        let one = format!("{path}/hw_rng_model");
        let shown = expect_json(app.get(&one).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(shown, created);
        let list = expect_json(app.get(&path).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(list["properties"]["hw_rng_model"]["title"], "RNG model");
        assert!(list["properties"]["hw_rng_model"].get("name").is_none());

        // A second with the same name clashes.
        let again = json!({"name": "hw_rng_model", "title": "x", "type": "string"});
        let message = expect_error(
            send_json(&app, reqwest::Method::POST, &path, again).await,
            StatusCode::CONFLICT,
        )
        .await;
        assert_eq!(
            message,
            "A metadata definition property with name=hw_rng_model already exists in namespace=OS::Test."
        );

        // PUT replaces the definition and may rename it.
        let replaced = json!({"name": "hw_rng", "title": "RNG", "type": "integer", "minimum": 1});
        let updated = expect_json(
            send_json(&app, reqwest::Method::PUT, &one, replaced).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(
            updated,
            json!({"name": "hw_rng", "type": "integer", "title": "RNG", "minimum": 1})
        );
        let message =
            expect_error(app.get(&one).send().await.unwrap(), StatusCode::NOT_FOUND).await;
        assert_eq!(
            message,
            "The metadata definition property with name=hw_rng_model was not found in namespace=OS::Test."
        );
        expect_status(
            app.delete(&format!("{path}/hw_rng")).send().await.unwrap(),
            StatusCode::NO_CONTENT,
        )
        .await;
        expect_error(
            app.delete(&format!("{path}/hw_rng")).send().await.unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
    }
}

#[tokio::test]
async fn property_bodies_follow_the_schema_subset() {
    for backend in common::Backend::configured() {
        let app = app_with_namespace(backend).await;
        let path = format!("{NS}/properties");
        let cases = [
            (
                json!({"title": "t", "type": "string"}),
                StatusCode::BAD_REQUEST,
                "'name' is a required property",
            ),
            (
                json!({"name": "p", "title": "t", "type": "string", "format": "uri"}),
                StatusCode::BAD_REQUEST,
                "('format' was unexpected)",
            ),
            (
                json!({"name": "p", "title": "t", "type": "string", "minLength": -2}),
                StatusCode::BAD_REQUEST,
                "-2 is less than the minimum of 0",
            ),
            (
                json!({"name": "p", "title": "t", "type": "array", "items": {"type": "map"}}),
                StatusCode::BAD_REQUEST,
                "'map' is not one of",
            ),
            (
                json!({"name": "p", "title": "t", "type": "string", "minimum": "1"}),
                StatusCode::BAD_REQUEST,
                "'1' is not of type 'number'",
            ),
            (
                json!({"name": "p", "title": "t", "type": "string", "created_at": "x"}),
                StatusCode::FORBIDDEN,
                "Attribute 'created_at' is read-only.",
            ),
            (
                json!({"name": "p".repeat(81), "title": "t", "type": "string"}),
                StatusCode::BAD_REQUEST,
                "is too long",
            ),
            (
                json!("p"),
                StatusCode::BAD_REQUEST,
                "is not of type 'object'",
            ),
        ];
        for (body, status, words) in cases {
            let resp = send_json(&app, reqwest::Method::POST, &path, body.clone()).await;
            let message = expect_error(resp, status).await;
            assert!(message.contains(words), "{body}: {message}");
        }
        let ok = json!({"name": "arr", "title": "t", "type": "array",
                        "items": {"type": "string", "enum": ["a", "b"]},
                        "minItems": 1, "maxItems": 2, "uniqueItems": true, "operators": ["<or>"]});
        expect_status(
            send_json(&app, reqwest::Method::POST, &path, ok).await,
            StatusCode::CREATED,
        )
        .await;
        // A property asked for with a resource type must carry its prefix.
        let assoc = json!({"name": "OS::Glance::Image", "prefix": "hw_"});
        expect_status(
            send_json(
                &app,
                reqwest::Method::POST,
                &format!("{NS}/resource_types"),
                assoc,
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        let shown = expect_json(
            app.get(&format!("{path}/hw_arr?resource_type=OS::Glance::Image"))
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(shown["name"], "arr");
        let message = expect_error(
            app.get(&format!("{path}/arr?resource_type=OS::Glance::Image"))
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(
            message,
            "Property arr does not start with the expected resource type association prefix of 'hw_'."
        );
        let message = expect_error(
            app.get(&format!("{path}/arr?resource_type=OS::Nova::Flavor"))
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
        assert!(
            message.contains("resource-type=OS::Nova::Flavor to namespace=OS::Test, was not found"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn objects_are_created_listed_updated_and_deleted() {
    for backend in common::Backend::configured() {
        let app = app_with_namespace(backend).await;
        let path = format!("{NS}/objects");
        let object = json!({
            "name": "CPU Limits", "description": "limits", "required": ["quota"],
            "properties": {"quota": {"title": "Quota", "type": "integer", "minimum": 0}}
        });
        let created = expect_json(
            send_json(&app, reqwest::Method::POST, &path, object).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(
            created["self"],
            "/v2/metadefs/namespaces/OS::Test/objects/CPU Limits"
        );
        assert_eq!(created["schema"], "/v2/schemas/metadefs/object");
        let list = expect_json(app.get(&path).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(list["schema"], "v2/schemas/metadefs/objects");
        assert_eq!(list["objects"][0]["properties"]["quota"]["minimum"], 0);

        let one = format!("{path}/CPU%20Limits");
        let shown = expect_json(app.get(&one).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(shown["required"], json!(["quota"]));
        let updated = expect_json(
            send_json(
                &app,
                reqwest::Method::PUT,
                &one,
                json!({"name": "CPU Limits", "description": "new"}),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(updated["description"], "new");
        assert!(updated.get("properties").is_none(), "{updated}");
        assert!(updated.get("updated_at").is_some());

        for (body, status, words) in [
            (
                json!({"description": "x"}),
                StatusCode::BAD_REQUEST,
                "'name' is a required property",
            ),
            (
                json!({"name": "o", "required": ["a", "a"]}),
                StatusCode::BAD_REQUEST,
                "has non-unique elements",
            ),
            (
                json!({"name": "o", "properties": {"p": {"title": "t", "type": "string", "bogus": 1}}}),
                StatusCode::BAD_REQUEST,
                "('bogus' was unexpected)",
            ),
            (
                json!({"name": "o", "schema": "x"}),
                StatusCode::FORBIDDEN,
                "Attribute 'schema' is read-only.",
            ),
            (
                json!({"name": "CPU Limits"}),
                StatusCode::CONFLICT,
                "A metadata definition object with name=CPU Limits already exists in namespace=OS::Test.",
            ),
        ] {
            let message = expect_error(
                send_json(&app, reqwest::Method::POST, &path, body.clone()).await,
                status,
            )
            .await;
            assert!(message.contains(words), "{body}: {message}");
        }
        expect_status(
            app.delete(&one).send().await.unwrap(),
            StatusCode::NO_CONTENT,
        )
        .await;
        let message =
            expect_error(app.get(&one).send().await.unwrap(), StatusCode::NOT_FOUND).await;
        assert_eq!(
            message,
            "The metadata definition object with name=CPU Limits was not found in namespace=OS::Test."
        );
    }
}

#[tokio::test]
async fn tags_are_created_alone_or_in_bulk_renamed_and_deleted() {
    for backend in common::Backend::configured() {
        let app = app_with_namespace(backend).await;
        let path = format!("{NS}/tags");
        let created = expect_json(
            app.post(&format!("{path}/first")).send().await.unwrap(),
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(created["name"], "first");
        assert!(created["created_at"].is_string());
        // Names are case-insensitive.
        let message = expect_error(
            app.post(&format!("{path}/FIRST")).send().await.unwrap(),
            StatusCode::CONFLICT,
        )
        .await;
        assert!(
            message.starts_with(
                "A metadata tag with name=FIRST already exists in namespace=OS::Test."
            ),
            "{message}"
        );
        let shown = expect_json(
            app.get(&format!("{path}/First")).send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(shown["name"], "first");

        // Without X-Openstack-Append the bulk create replaces the tags.
        let bulk = json!({"tags": [{"name": "b"}, {"name": "a"}]});
        let resp = app.post(&path).json(&bulk).send().await.unwrap();
        assert_eq!(expect_json(resp, StatusCode::CREATED).await, bulk);
        let names = |v: &Value| -> Vec<String> {
            let mut n: Vec<String> = v["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect();
            n.sort();
            n
        };
        let list = expect_json(app.get(&path).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(names(&list), ["a", "b"]);
        let resp = app
            .post(&path)
            .header("X-Openstack-Append", "True")
            .json(&json!({"tags": [{"name": "c"}]}))
            .send()
            .await
            .unwrap();
        expect_status(resp, StatusCode::CREATED).await;
        let list = expect_json(app.get(&path).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(names(&list), ["a", "b", "c"]);
        let resp = app
            .post(&path)
            .header("X-Openstack-Append", "true")
            .json(&json!({"tags": [{"name": "A"}]}))
            .send()
            .await
            .unwrap();
        expect_error(resp, StatusCode::CONFLICT).await;
        let resp = app
            .post(&path)
            .json(&json!({"tags": [{"name": "x"}, {"name": "x"}]}))
            .send()
            .await
            .unwrap();
        expect_error(resp, StatusCode::CONFLICT).await;
        let resp = app
            .post(&path)
            .json(&json!({"tags": [{"title": "x"}]}))
            .send()
            .await
            .unwrap();
        expect_error(resp, StatusCode::BAD_REQUEST).await;
        // The refused bulk creates changed nothing.
        let list = expect_json(app.get(&path).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(names(&list), ["a", "b", "c"]);

        // Paging by name.
        let page = expect_json(
            app.get(&format!("{path}?sort_key=name&sort_dir=asc&limit=2"))
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(page["tags"], json!([{"name": "a"}, {"name": "b"}]));
        let page = expect_json(
            app.get(&format!(
                "{path}?sort_key=name&sort_dir=asc&limit=2&marker=b"
            ))
            .send()
            .await
            .unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(page["tags"], json!([{"name": "c"}]));
        expect_error(
            app.get(&format!("{path}?limit=0")).send().await.unwrap(),
            StatusCode::BAD_REQUEST,
        )
        .await;

        let renamed = expect_json(
            app.put(&format!("{path}/a"))
                .json(&json!({"name": "z"}))
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(renamed["name"], "z");
        expect_error(
            app.put(&format!("{path}/z"))
                .json(&json!({"name": "B"}))
                .send()
                .await
                .unwrap(),
            StatusCode::CONFLICT,
        )
        .await;
        expect_status(
            app.delete(&format!("{path}/z")).send().await.unwrap(),
            StatusCode::NO_CONTENT,
        )
        .await;
        let message = expect_error(
            app.get(&format!("{path}/z")).send().await.unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(
            message,
            "The metadata definition tag with name=z was not found in namespace=OS::Test."
        );
        expect_error(
            app.post(&format!("{path}/{}", "t".repeat(81)))
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
}

#[tokio::test]
async fn resource_types_are_associated_listed_and_dissociated() {
    for backend in common::Backend::configured() {
        let app = app_with_namespace(backend).await;
        let path = format!("{NS}/resource_types");
        let assoc =
            json!({"name": "OS::Nova::Aggregate", "prefix": "aggr_", "properties_target": "x"});
        let created = expect_json(
            send_json(&app, reqwest::Method::POST, &path, assoc.clone()).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(created["prefix"], "aggr_");
        let message = expect_error(
            send_json(&app, reqwest::Method::POST, &path, assoc).await,
            StatusCode::CONFLICT,
        )
        .await;
        assert_eq!(
            message,
            "The metadata definition resource-type association of resource-type=OS::Nova::Aggregate to namespace=OS::Test already exists."
        );
        for (body, words) in [
            (json!({"prefix": "x"}), "'name' is a required property"),
            (
                json!({"name": "n", "prefix": "p".repeat(81)}),
                "is too long",
            ),
            (json!({"name": "n", "other": 1}), "('other' was unexpected)"),
        ] {
            let message = expect_error(
                send_json(&app, reqwest::Method::POST, &path, body).await,
                StatusCode::BAD_REQUEST,
            )
            .await;
            assert!(message.contains(words), "{message}");
        }
        let list = expect_json(app.get(&path).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(
            list["resource_type_associations"][0]["name"],
            "OS::Nova::Aggregate"
        );
        let types = expect_json(
            app.get("/v2/metadefs/resource_types").send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(types["resource_types"][0]["name"], "OS::Nova::Aggregate");

        let one = format!("{path}/OS::Nova::Aggregate");
        expect_status(
            app.delete(&one).send().await.unwrap(),
            StatusCode::NO_CONTENT,
        )
        .await;
        let message = expect_error(
            app.delete(&one).send().await.unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(
            message,
            "Failed to find resource type OS::Nova::Aggregate to delete"
        );
        // The resource type stays known after its last association went.
        let types = expect_json(
            app.get("/v2/metadefs/resource_types").send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(types["resource_types"].as_array().unwrap().len(), 1);
    }
}
