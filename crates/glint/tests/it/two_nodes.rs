//! Two real `glint serve` processes on one PostgreSQL (or MariaDB, or SQLite)
//! database and one file store directory, as two API nodes behind a load
//! balancer: races between them resolve to one winner, and what one node
//! changes the other shows at once. (`glint-api`'s `lost_updates.rs` runs
//! two in-process servers on one database for PATCH races; these add the
//! data path, deletes and reads through separate processes.)

use crate::common;

use std::sync::Arc;

use common::{Server, ServerDatabase, ServerKind, Setup, md5_hex};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Barrier;

/// Requests racing for one image, spread over both nodes.
const RACERS: usize = 8;
/// Images raced for, one after the other.
const ROUNDS: usize = 4;

struct Nodes {
    // Dropped first: the servers stop before their database goes.
    a: Server,
    b: Server,
    setup: Setup,
    _db: ServerDatabase,
}

impl Nodes {
    async fn start(kind: ServerKind, admin: &str, client: &Client) -> Nodes {
        let db = ServerDatabase::create(kind, admin).await;
        let setup = Setup::on_database(&db.url, "");
        setup.glint(&["db", "sync"]).ok();
        let mut a = setup.start();
        a.wait_ready(client).await;
        let extra = format!("[database]\nconnection = {}\n", db.url);
        let mut b = setup.start_another(&extra);
        b.wait_ready(client).await;
        Nodes {
            a,
            b,
            setup,
            _db: db,
        }
    }

    /// Node A for even `n`, node B for odd.
    fn node(&self, n: usize) -> &Server {
        if n.is_multiple_of(2) {
            &self.a
        } else {
            &self.b
        }
    }

    fn logs(&self) -> String {
        format!(
            "--- node A ---\n{}\n--- node B ---\n{}",
            self.a.logs(),
            self.b.logs()
        )
    }
}

async fn show(client: &Client, node: &Server, id: &str) -> (StatusCode, Value) {
    let resp = client
        .get(node.url(&format!("/v2/images/{id}")))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Sends the JSON patch `ops` for image `id` to `node`.
async fn patch(client: &Client, node: &Server, id: &str, ops: &Value) -> reqwest::Response {
    client
        .patch(node.url(&format!("/v2/images/{id}")))
        .header(
            "Content-Type",
            "application/openstack-images-v2.1-json-patch",
        )
        .body(ops.to_string())
        .send()
        .await
        .unwrap()
}

/// Deletes image `id` through `node`; the answer's status.
async fn delete(client: &Client, node: &Server, id: &str) -> StatusCode {
    let url = node.url(&format!("/v2/images/{id}"));
    client.delete(url).send().await.unwrap().status()
}

async fn create_raw(client: &Client, node: &Server, name: &str) -> String {
    let body = json!({"name": name, "disk_format": "raw", "container_format": "bare"});
    node.create_image(client, body).await
}

/// Distinct data for each racer.
fn data_of(racer: usize) -> Vec<u8> {
    (0..256 * 1024)
        .map(|i| {
            (i as u32)
                .wrapping_mul(31)
                .wrapping_add(racer as u32 * 7919) as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uploads_through_two_nodes_have_one_winner_whose_data_is_stored() {
    for (kind, admin) in ServerKind::configured() {
        eprintln!("running on {kind:?}");
        let client = Client::new();
        let nodes = Arc::new(Nodes::start(kind, &admin, &client).await);
        for round in 0..ROUNDS {
            let id = create_raw(&client, &nodes.a, &format!("raced {round}")).await;
            let barrier = Arc::new(Barrier::new(RACERS));
            let racers: Vec<_> = (0..RACERS)
                .map(|racer| {
                    let (nodes, client, barrier, id) =
                        (nodes.clone(), client.clone(), barrier.clone(), id.clone());
                    tokio::spawn(async move {
                        let url = nodes.node(racer).url(&format!("/v2/images/{id}/file"));
                        let data = data_of(racer);
                        barrier.wait().await;
                        let resp = client
                            .put(url)
                            .header("Content-Type", "application/octet-stream")
                            .body(data)
                            .send()
                            .await
                            .unwrap();
                        (racer, resp.status())
                    })
                })
                .collect();
            let mut outcomes = Vec::new();
            for racer in racers {
                outcomes.push(racer.await.unwrap());
            }
            let winners: Vec<usize> = outcomes
                .iter()
                .filter(|(_, s)| *s == StatusCode::NO_CONTENT)
                .map(|(r, _)| *r)
                .collect();
            assert_eq!(winners.len(), 1, "{outcomes:?}\n{}", nodes.logs());
            assert!(
                outcomes
                    .iter()
                    .all(|(_, s)| *s == StatusCode::NO_CONTENT || *s == StatusCode::CONFLICT),
                "{outcomes:?}\n{}",
                nodes.logs()
            );
            let winner = data_of(winners[0]);
            for node in [&nodes.a, &nodes.b] {
                let (status, image) = show(&client, node, &id).await;
                assert_eq!(status, StatusCode::OK);
                assert_eq!(image["status"], "active");
                assert_eq!(image["checksum"], md5_hex(&winner), "{image:#}");
                assert_eq!(image["size"], winner.len());
                let stored = client
                    .get(node.url(&format!("/v2/images/{id}/file")))
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                assert!(stored[..] == winner[..], "the stored data is the winner's");
            }
        }
        let files = nodes.setup.store_files();
        assert_eq!(
            files.len(),
            ROUNDS,
            "one file per image, no leftovers: {files:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_deletes_through_two_nodes_delete_once_and_leave_no_data() {
    for (kind, admin) in ServerKind::configured() {
        eprintln!("running on {kind:?}");
        let client = Client::new();
        let nodes = Arc::new(Nodes::start(kind, &admin, &client).await);
        for round in 0..ROUNDS {
            let id = create_raw(&client, &nodes.b, &format!("deleted {round}")).await;
            let resp = client
                .put(nodes.a.url(&format!("/v2/images/{id}/file")))
                .header("Content-Type", "application/octet-stream")
                .body(data_of(round))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::NO_CONTENT);
            let barrier = Arc::new(Barrier::new(RACERS));
            let racers: Vec<_> = (0..RACERS)
                .map(|racer| {
                    let (nodes, client, barrier, id) =
                        (nodes.clone(), client.clone(), barrier.clone(), id.clone());
                    tokio::spawn(async move {
                        let url = nodes.node(racer).url(&format!("/v2/images/{id}"));
                        barrier.wait().await;
                        client.delete(url).send().await.unwrap().status()
                    })
                })
                .collect();
            let mut statuses = Vec::new();
            for racer in racers {
                statuses.push(racer.await.unwrap());
            }
            let deleted = statuses
                .iter()
                .filter(|s| **s == StatusCode::NO_CONTENT)
                .count();
            let missing = statuses
                .iter()
                .filter(|s| **s == StatusCode::NOT_FOUND)
                .count();
            assert_eq!(
                (deleted, missing),
                (1, RACERS - 1),
                "{statuses:?}\n{}",
                nodes.logs()
            );
            for node in [&nodes.a, &nodes.b] {
                assert_eq!(show(&client, node, &id).await.0, StatusCode::NOT_FOUND);
            }
        }
        assert_eq!(
            nodes.setup.store_files(),
            Vec::<String>::new(),
            "no data left"
        );
        let logs = nodes.logs();
        assert!(
            !logs.contains("failed to delete image data") && !logs.contains("ERROR"),
            "{logs}"
        );
    }
}

#[tokio::test]
async fn what_one_node_changes_the_other_shows_at_once() {
    for (kind, admin) in ServerKind::configured() {
        eprintln!("running on {kind:?}");
        let client = Client::new();
        let nodes = Nodes::start(kind, &admin, &client).await;
        let (a, b) = (&nodes.a, &nodes.b);
        let id = create_raw(&client, a, "seen").await;
        let (status, image) = show(&client, b, &id).await;
        assert_eq!(
            (status, image["name"].clone()),
            (StatusCode::OK, json!("seen"))
        );

        let ops = json!([
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "add", "path": "/os_distro", "value": "cirros"},
            {"op": "replace", "path": "/visibility", "value": "shared"},
        ]);
        let resp = patch(&client, a, &id, &ops).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let (_, image) = show(&client, b, &id).await;
        assert_eq!(image["name"], "renamed");
        assert_eq!(image["os_distro"], "cirros");

        let resp = client
            .put(b.url(&format!("/v2/images/{id}/tags/from-b")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(show(&client, a, &id).await.1["tags"], json!(["from-b"]));
        let listed: Value = client
            .get(a.url("/v2/images?tag=from-b"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed["images"][0]["id"], id.as_str(), "{listed:#}");

        let resp = client
            .post(a.url(&format!("/v2/images/{id}/members")))
            .json(&json!({"member": "project-b"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let members: Value = client
            .get(b.url(&format!("/v2/images/{id}/members")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            members["members"][0]["member_id"], "project-b",
            "{members:#}"
        );
        // The member accepts through node B; node A lists the image for it.
        let resp = client
            .put(b.url(&format!("/v2/images/{id}/members/project-b")))
            .header("X-Project-Id", "project-b")
            .header("X-Roles", "member,reader")
            .json(&json!({"status": "accepted"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let listed: Value = client
            .get(a.url("/v2/images"))
            .header("X-Project-Id", "project-b")
            .header("X-Roles", "member,reader")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed["images"][0]["id"], id.as_str(), "{listed:#}");

        assert_eq!(delete(&client, b, &id).await, StatusCode::NO_CONTENT);
        assert_eq!(show(&client, a, &id).await.0, StatusCode::NOT_FOUND);
        let listed: Value = client
            .get(a.url("/v2/images"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed["images"], json!([]));
    }
}

/// Two `glint serve` processes on one SQLite file (two nodes on one host,
/// or a node beside `glint db …`): each keeps the images it showed while
/// the file is unchanged, and still shows at once whatever the other
/// changed, round after round.
#[tokio::test]
async fn on_one_sqlite_file_each_node_shows_at_once_what_the_other_changed() {
    let client = Client::new();
    let setup = Setup::new();
    let mut a = setup.start();
    a.wait_ready(&client).await;
    let mut b = setup.start_another("");
    b.wait_ready(&client).await;
    let logs = || format!("--- A ---\n{}\n--- B ---\n{}", a.logs(), b.logs());
    let id = create_raw(&client, &a, "round-0").await;
    for round in 1..=20 {
        let (writer, reader) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        // The reader shows the image (again) before the other changes it.
        for _ in 0..3 {
            let (status, image) = show(&client, reader, &id).await;
            assert_eq!(status, StatusCode::OK, "{}", logs());
            assert_eq!(image["name"], format!("round-{}", round - 1), "{}", logs());
        }
        let ops = json!([{"op": "replace", "path": "/name", "value": format!("round-{round}")}]);
        let resp = patch(&client, writer, &id, &ops).await;
        assert_eq!(resp.status(), StatusCode::OK, "{}", logs());
        let (_, image) = show(&client, reader, &id).await;
        assert_eq!(image["name"], format!("round-{round}"), "{}", logs());
    }
    assert_eq!(delete(&client, &b, &id).await, StatusCode::NO_CONTENT);
    assert_eq!(show(&client, &a, &id).await.0, StatusCode::NOT_FOUND);
}
