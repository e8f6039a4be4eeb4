//! Image lists through a real `glint serve` on PostgreSQL and MariaDB, as
//! projects see them: a sort on two keys paged with markers, and
//! `visibility=shared` for members (pending and accepted), and for a
//! project that is a member of nothing; a status or disk format filter
//! sorted by size or name, with queued images (no size) among active ones;
//! property filters on values of every length and of hostile text. (On
//! MariaDB these take forms of their own: the page is bounded by the first
//! sort key, a member's shared images are listed by the ids read from the
//! project's side, a filter with an index for its order names it, and the
//! rows a filter matches are counted by plain queries with the values
//! written in.)

use crate::common;

use common::{Server, ServerDatabase, ServerKind, Setup};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};

/// Images the owner makes.
const IMAGES: usize = 14;

/// A request as a regular user of `project`; the owner is also an admin,
/// whom Glance's policy lets publish images.
fn as_project(request: RequestBuilder, project: &str) -> RequestBuilder {
    let roles = if project == OWNER {
        "admin,reader,member"
    } else {
        "reader,member"
    };
    request
        .header("X-User-Id", format!("user-of-{project}"))
        .header("X-Project-Id", project)
        .header("X-Roles", roles)
}

const OWNER: &str = "p-owner";

async fn send(request: RequestBuilder, expect: StatusCode) -> Value {
    let resp = request.send().await.unwrap();
    let (status, url) = (resp.status(), resp.url().clone());
    let text = resp.text().await.unwrap();
    assert_eq!(status, expect, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Every page of `query` for `project`, `limit` images at a time, names
/// in the order listed.
async fn list_names(client: &Client, server: &Server, project: &str, query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut path = format!("/v2/images?{query}&limit=3");
    loop {
        let page = send(
            as_project(client.get(server.url(&path)), project),
            StatusCode::OK,
        )
        .await;
        for image in page["images"].as_array().unwrap() {
            names.push(image["name"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => return names,
        }
    }
}

/// Image `i`: its name, its size (three sizes shared by several images, so
/// that the second sort key decides), and whether it is shared with
/// `member` rather than public.
fn image(i: usize) -> (String, usize, bool) {
    (
        format!("img-{:02}", (i * 7) % IMAGES),
        1 + (i % 3) * 100,
        i % 2 == 1,
    )
}

#[tokio::test]
async fn lists_on_server_databases_page_two_sort_keys_and_shared_images_per_project() {
    for (kind, admin) in ServerKind::configured() {
        eprintln!("running on {kind:?}");
        let client = Client::new();
        let db = ServerDatabase::create(kind, &admin).await;
        let setup = Setup::on_database(&db.url, "");
        setup.glint(&["db", "sync"]).ok();
        let mut server = setup.start();
        server.wait_ready(&client).await;
        let (owner, member, other, stranger) = (OWNER, "p-member", "p-other", "p-none");

        let mut expected = Vec::new();
        for i in 0..IMAGES {
            let (name, size, shared) = image(i);
            let visibility = if shared { "shared" } else { "public" };
            let body = json!({"name": name, "disk_format": "raw",
                "container_format": "bare", "visibility": visibility});
            let created = send(
                as_project(client.post(server.url("/v2/images")), owner).json(&body),
                StatusCode::CREATED,
            )
            .await;
            let id = created["id"].as_str().unwrap().to_owned();
            send(
                as_project(
                    client.put(server.url(&format!("/v2/images/{id}/file"))),
                    owner,
                )
                .header("Content-Type", "application/octet-stream")
                .body(vec![b'x'; size]),
                StatusCode::NO_CONTENT,
            )
            .await;
            if shared {
                // Odd images go to the member, the last one to the other
                // project; both memberships stay pending.
                let to = if i == IMAGES - 1 { other } else { member };
                let members = server.url(&format!("/v2/images/{id}/members"));
                send(
                    as_project(client.post(members), owner).json(&json!({"member": to})),
                    StatusCode::OK,
                )
                .await;
            }
            expected.push((name, size, shared, i));
        }

        // Size descending, then name ascending, paged three at a time: the
        // public images (pending shared ones are not listed by default).
        let mut public: Vec<_> = expected
            .iter()
            .filter(|(_, _, shared, _)| !shared)
            .collect();
        public.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let want: Vec<String> = public.iter().map(|(name, ..)| name.clone()).collect();
        let got = list_names(&client, &server, member, "sort=size:desc,name:asc").await;
        assert_eq!(got, want, "{}", server.logs());

        // The member's pending shared images, newest first; none accepted.
        let mut shared: Vec<_> = expected
            .iter()
            .filter(|(_, _, shared, i)| *shared && *i != IMAGES - 1)
            .collect();
        shared.sort_by_key(|image| std::cmp::Reverse(image.3));
        let want: Vec<String> = shared.iter().map(|(name, ..)| name.clone()).collect();
        let pending = "visibility=shared&member_status=pending";
        let got = list_names(&client, &server, member, pending).await;
        assert_eq!(got, want, "{}", server.logs());
        let accepted = list_names(&client, &server, member, "visibility=shared").await;
        assert!(accepted.is_empty(), "{accepted:?}");

        // The other project sees its one image; a project that is a member
        // of nothing, none.
        let (last, ..) = image(IMAGES - 1);
        let got = list_names(&client, &server, other, pending).await;
        assert_eq!(got, vec![last]);
        let none = list_names(&client, &server, stranger, pending).await;
        assert!(none.is_empty(), "{none:?}");

        // Queued public images (no size, so lowest by size), then each
        // filter with an index for its order, paged with markers.
        let queued: Vec<String> = (0..4).map(|i| format!("queued-{i}")).collect();
        for name in &queued {
            let body = json!({"name": name, "disk_format": "raw",
                "container_format": "bare", "visibility": "public"});
            send(
                as_project(client.post(server.url("/v2/images")), owner).json(&body),
                StatusCode::CREATED,
            )
            .await;
        }
        let newest_first: Vec<String> = queued.iter().rev().cloned().collect();
        let got = list_names(&client, &server, member, "status=queued&sort_key=size").await;
        assert_eq!(got, newest_first, "{}", server.logs());
        // Ascending size: ties by creation time, ascending too.
        let mut by_size = public.clone();
        by_size.sort_by_key(|image| (image.1, image.3));
        let active: Vec<String> = by_size.iter().map(|(name, ..)| name.clone()).collect();
        let query = "status=active&sort_key=size&sort_dir=asc";
        assert_eq!(list_names(&client, &server, member, query).await, active);
        let mut queued_then_active = queued.clone();
        queued_then_active.extend(active.iter().cloned());
        // One format for every active image: ties by creation time.
        let mut by_creation = public.clone();
        by_creation.sort_by_key(|image| image.3);
        let oldest_first: Vec<String> = by_creation.iter().map(|(name, ..)| name.clone()).collect();
        for (query, expected) in [
            (
                "disk_format=raw&sort_key=size&sort_dir=asc",
                &queued_then_active,
            ),
            (
                "container_format=bare&sort_key=size&sort_dir=asc",
                &queued_then_active,
            ),
            (
                "status=active&sort_key=disk_format&sort_dir=asc",
                &oldest_first,
            ),
            (
                "status=active&sort_key=container_format&sort_dir=asc",
                &oldest_first,
            ),
        ] {
            assert_eq!(
                &list_names(&client, &server, member, query).await,
                expected,
                "{query}"
            );
        }
        let mut by_name: Vec<String> = public.iter().map(|(name, ..)| name.clone()).collect();
        by_name.sort();
        let query = "status=active&sort_key=name&sort_dir=asc";
        assert_eq!(list_names(&client, &server, member, query).await, by_name);

        // Property values: hostile text set at creation, a 300-character
        // value set by a patch `add`, each found whole and only whole.
        let hostile = "it's \\'; DROP TABLE images; -- ? é";
        let long = "é".repeat(300);
        for (name, value, patched) in [("note-a", hostile, false), ("note-b", long.as_str(), true)]
        {
            let mut body = json!({"name": name, "visibility": "public"});
            if !patched {
                body["note"] = json!(value);
            }
            let created = send(
                as_project(client.post(server.url("/v2/images")), owner).json(&body),
                StatusCode::CREATED,
            )
            .await;
            if patched {
                let id = created["id"].as_str().unwrap();
                let patch = json!([{"op": "add", "path": "/note", "value": value}]);
                send(
                    as_project(client.patch(server.url(&format!("/v2/images/{id}"))), owner)
                        .header(
                            "Content-Type",
                            "application/openstack-images-v2.1-json-patch",
                        )
                        .json(&patch),
                    StatusCode::OK,
                )
                .await;
            }
        }
        let shorter = "é".repeat(299);
        for (value, want) in [
            (hostile, vec!["note-a"]),
            (long.as_str(), vec!["note-b"]),
            (shorter.as_str(), vec![]),
            ("it's", vec![]),
        ] {
            let mut url = reqwest::Url::parse(&server.url("/v2/images")).unwrap();
            url.query_pairs_mut().append_pair("note", value);
            let page = send(as_project(client.get(url), stranger), StatusCode::OK).await;
            let names: Vec<&str> = page["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|image| image["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, want, "note={value}: {}", server.logs());
        }
        // A NUL is refused before any database is asked.
        let mut url = reqwest::Url::parse(&server.url("/v2/images")).unwrap();
        url.query_pairs_mut().append_pair("note", "it\0s");
        send(
            as_project(client.get(url), stranger),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
}
