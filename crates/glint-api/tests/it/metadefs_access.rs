//! Who sees and changes the metadefs catalogue (Glance's default policy:
//! readers see public namespaces and their project's, writes are
//! admin-only, a namespace out of sight is missing), the schemas, and the
//! `metadef_*` notifications.

use crate::common::{self, TestApp, expect_error, expect_json, expect_status};
use crate::notifications::Topic;
use reqwest::StatusCode;
use serde_json::{Value, json};

const NS: &str = "/v2/metadefs/namespaces";

async fn seed(app: &TestApp) {
    for body in [
        json!({"namespace": "public-ns", "visibility": "public", "owner": "other",
               "properties": {"p": {"title": "P", "type": "string"}}, "tags": [{"name": "t"}]}),
        json!({"namespace": "mine", "visibility": "private", "owner": "p1"}),
        json!({"namespace": "theirs", "visibility": "private", "owner": "p2",
               "objects": [{"name": "o"}]}),
    ] {
        expect_status(
            app.post(NS).json(&body).send().await.unwrap(),
            StatusCode::CREATED,
        )
        .await;
    }
}

fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = v["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["namespace"].as_str().unwrap().to_owned())
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn readers_see_public_namespaces_and_their_projects() {
    for backend in common::Backend::configured() {
        let app = TestApp::builder().backend(backend).start().await;
        seed(&app).await;
        let user = app.member_of("p1");
        let list = expect_json(user.get(NS).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(names(&list), ["mine", "public-ns"]);
        let all = expect_json(app.get(NS).send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(names(&all), ["mine", "public-ns", "theirs"]);

        expect_status(
            user.get(&format!("{NS}/public-ns")).send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        expect_status(
            user.get(&format!("{NS}/mine")).send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        // Another project's private namespace does not exist for them.
        let message = expect_error(
            user.get(&format!("{NS}/theirs")).send().await.unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(message, "The resource could not be found.");
        for sub in [
            "objects",
            "objects/o",
            "properties",
            "tags",
            "resource_types",
        ] {
            let resp = user
                .get(&format!("{NS}/theirs/{sub}"))
                .send()
                .await
                .unwrap();
            let message = expect_error(resp, StatusCode::NOT_FOUND).await;
            assert_eq!(message, "Namespace theirs not found", "{sub}");
        }
        let resp = user
            .get(&format!("{NS}?marker=theirs"))
            .send()
            .await
            .unwrap();
        expect_error(resp, StatusCode::FORBIDDEN).await;
    }
}

#[tokio::test]
async fn only_admins_change_the_catalogue() {
    for backend in common::Backend::configured() {
        let app = TestApp::builder().backend(backend).start().await;
        seed(&app).await;
        let user = app.member_of("p1");
        let forbidden = |rule: &str| format!("You are not authorized to complete {rule} action.");
        let resp = user
            .post(NS)
            .json(&json!({"namespace": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            expect_error(resp, StatusCode::FORBIDDEN).await,
            forbidden("add_metadef_namespace")
        );
        let cases = [
            (
                user.put(&format!("{NS}/mine"))
                    .json(&json!({"namespace": "mine"})),
                "modify_metadef_namespace",
            ),
            (
                user.delete(&format!("{NS}/mine")),
                "delete_metadef_namespace",
            ),
            (
                user.delete(&format!("{NS}/public-ns/tags")),
                "delete_metadef_namespace",
            ),
            (
                user.post(&format!("{NS}/public-ns/tags/new")),
                "add_metadef_tag",
            ),
            (
                user.post(&format!("{NS}/public-ns/tags"))
                    .json(&json!({"tags": []})),
                "add_metadef_tags",
            ),
            (
                user.delete(&format!("{NS}/public-ns/tags/t")),
                "delete_metadef_tag",
            ),
            (
                user.put(&format!("{NS}/public-ns/tags/t"))
                    .json(&json!({"name": "u"})),
                "modify_metadef_tag",
            ),
            (
                user.post(&format!("{NS}/public-ns/properties"))
                    .json(&json!({"name": "q", "title": "Q", "type": "string"})),
                "add_metadef_property",
            ),
            (
                user.delete(&format!("{NS}/public-ns/properties/p")),
                "remove_metadef_property",
            ),
            (
                user.post(&format!("{NS}/public-ns/objects"))
                    .json(&json!({"name": "o"})),
                "add_metadef_object",
            ),
            (
                user.post(&format!("{NS}/public-ns/resource_types"))
                    .json(&json!({"name": "OS::Glance::Image"})),
                "add_metadef_resource_type_association",
            ),
        ];
        for (req, rule) in cases {
            let message = expect_error(req.send().await.unwrap(), StatusCode::FORBIDDEN).await;
            assert_eq!(message, forbidden(rule));
        }
        // A write to a namespace out of sight is a missing namespace.
        let resp = user.delete(&format!("{NS}/theirs")).send().await.unwrap();
        assert_eq!(
            expect_error(resp, StatusCode::NOT_FOUND).await,
            "Namespace theirs not found"
        );
        // Nothing changed.
        let shown = expect_json(
            app.get(&format!("{NS}/public-ns")).send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(shown["tags"], json!([{"name": "t"}]));
    }
}

#[tokio::test]
async fn policy_overrides_apply_to_metadef_rules() {
    let app = TestApp::builder()
        .policy_overrides("\"add_metadef_namespace\": \"role:member\"\n\"get_metadef_namespace\": \"role:admin\"\n")
        .start()
        .await;
    let user = app.member_of("p1");
    let resp = user
        .post(NS)
        .json(&json!({"namespace": "by-member", "visibility": "public"}))
        .send()
        .await
        .unwrap();
    let created = expect_json(resp, StatusCode::CREATED).await;
    assert_eq!(created["owner"], "p1");
    // The reader may list but no longer get: the namespace is missing.
    let list = expect_json(user.get(NS).send().await.unwrap(), StatusCode::OK).await;
    assert_eq!(list["namespaces"], json!([]));
    expect_error(
        user.get(&format!("{NS}/by-member")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn metadef_schemas_are_served() {
    let app = TestApp::new().await;
    for (name, title) in [
        ("namespace", "namespace"),
        ("namespaces", "namespaces"),
        ("object", "object"),
        ("objects", "objects"),
        ("property", "property"),
        ("properties", "properties"),
        ("resource_type", "resource_type_association"),
        ("resource_types", "resource_type_associations"),
        ("tag", "tag"),
        ("tags", "tags"),
    ] {
        let resp = app
            .get(&format!("/v2/schemas/metadefs/{name}"))
            .send()
            .await
            .unwrap();
        let schema = expect_json(resp, StatusCode::OK).await;
        assert_eq!(schema["name"], title);
        insta::assert_json_snapshot!(format!("metadef_schema_{name}"), schema);
    }
}

#[tokio::test]
async fn metadef_changes_are_notified_as_glance_does() {
    let mut topic = Topic::new().await;
    let app = TestApp::builder()
        .notifications(topic.config())
        .start()
        .await;
    let body = json!({"namespace": "noisy", "resource_type_associations": [{"name": "OS::Glance::Image"}],
                      "properties": {"p": {"title": "P", "type": "string"}}});
    expect_status(
        app.post(NS).json(&body).send().await.unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let ns = topic.expect("metadef_namespace.create").await;
    assert_eq!(ns["namespace"], "noisy");
    assert_eq!(ns["namespace_old"], "noisy");
    assert_eq!(ns["deleted"], false);
    let rt = topic.expect("metadef_resource_type.create").await;
    assert_eq!(rt["name"], "OS::Glance::Image");
    let prop = topic.expect("metadef_property.create").await;
    assert_eq!(
        (prop["name"].as_str(), prop["type"].as_str()),
        (Some("p"), Some("string"))
    );

    let resp = app
        .put(&format!("{NS}/noisy"))
        .json(&json!({"namespace": "quiet"}))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::OK).await;
    let update = topic.expect("metadef_namespace.update").await;
    assert_eq!(
        (
            update["namespace"].as_str(),
            update["namespace_old"].as_str()
        ),
        (Some("quiet"), Some("noisy"))
    );

    expect_status(
        app.post(&format!("{NS}/quiet/tags/t1"))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(topic.expect("metadef_tag.create").await["name"], "t1");
    let resp = app
        .put(&format!("{NS}/quiet/tags/t1"))
        .json(&json!({"name": "t2"}))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::OK).await;
    let tag = topic.expect("metadef_tag.update").await;
    assert_eq!(
        (tag["name"].as_str(), tag["name_old"].as_str()),
        (Some("t2"), Some("t1"))
    );
    expect_status(
        app.post(&format!("{NS}/quiet/objects"))
            .json(&json!({"name": "o"}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        topic.expect("metadef_object.create").await["properties"],
        json!([])
    );
    expect_status(
        app.delete(&format!("{NS}/quiet/properties"))
            .send()
            .await
            .unwrap(),
        StatusCode::NO_CONTENT,
    )
    .await;
    topic.expect("metadef_namespace.delete_properties").await;
    expect_status(
        app.delete(&format!("{NS}/quiet/resource_types/OS::Glance::Image"))
            .send()
            .await
            .unwrap(),
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(
        topic.expect("metadef_resource_type.delete").await["deleted"],
        true
    );
    expect_status(
        app.delete(&format!("{NS}/quiet")).send().await.unwrap(),
        StatusCode::NO_CONTENT,
    )
    .await;
    let gone = topic.expect("metadef_namespace.delete").await;
    assert_eq!(gone["deleted"], true);
    assert!(gone["deleted_at"].is_string());
    topic.expect_nothing().await;
    topic.finish().await;
}
