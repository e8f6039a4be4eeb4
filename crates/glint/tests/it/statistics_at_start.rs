//! A catalogue that gained rows while no glint analyzed it (restored,
//! loaded, or filled by a server that never reached a statistics pass) is
//! given planner statistics before the next server answers, on
//! PostgreSQL; the other databases need none before serving.

use crate::common;

use common::{ServerDatabase, ServerKind, Setup};
use serde_json::json;

#[tokio::test]
async fn serve_sketches_missing_statistics_before_it_answers() {
    for (kind, admin) in ServerKind::configured() {
        eprintln!("running on {kind:?}");
        let db = ServerDatabase::create(kind, &admin).await;
        let setup = Setup::on_database(&db.url, "");
        // `db sync` analyzes the tables while they are empty, which leaves
        // them without statistics; a few images do not make them stale.
        setup.glint(&["db", "sync"]).ok();
        let client = reqwest::Client::new();
        let mut first = setup.start();
        first.wait_ready(&client).await;
        for i in 0..3 {
            let body = json!({
                "name": format!("loaded-{i}"), "disk_format": "raw",
                "container_format": "bare", "tags": ["t"], "os_distro": "cirros",
            });
            first.create_image(&client, body).await;
        }
        first.signal("TERM");
        assert!(first.wait_exit().await.success(), "{}", first.logs());
        let before = first.logs().len();
        drop(first);

        let mut second = setup.start();
        second.wait_ready(&client).await;
        let logs = second.logs();
        let start = &logs[before..];
        let listening = start.find("glint API listening").expect("listening");
        let sketched = start.find("planner statistics sketched before serving");
        if kind == ServerKind::Postgres {
            let at = sketched.unwrap_or_else(|| panic!("no statistics sketched:\n{start}"));
            assert!(at < listening, "sketched after listening:\n{start}");
            let line = start[at..].lines().next().unwrap_or_default();
            for table in ["images", "image_tags", "image_properties"] {
                assert!(line.contains(&format!("\"{table}\"")), "{line}");
            }
            assert!(!line.contains("image_members"), "an empty table: {line}");
        } else {
            assert!(sketched.is_none(), "{start}");
        }
        let resp = client.get(second.url("/v2/images")).send().await.unwrap();
        assert_eq!(resp.status(), reqwest::StatusCode::OK);
        let listed: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(listed["images"].as_array().map(Vec::len), Some(3));
    }
}
