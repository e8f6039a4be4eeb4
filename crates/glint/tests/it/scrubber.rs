//! Delayed delete and its scrubber through the real processes: `glint
//! serve` leaves deleted images pending, `glint scrub` (once, as a daemon,
//! two at once, killed, against a failing store) removes their data after
//! `scrub_time`, or restores one.

use crate::common;
use crate::scrub_support;

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use common::{ServerDatabase, ServerKind, Setup};
use glint_model::ImageStatus;
use reqwest::{Client, StatusCode};
use scrub_support::*;

/// glance-api.conf options of these tests: delayed delete on, no
/// scrubber inside the server unless a test asks for one.
const DELAYED: &str = "[DEFAULT]\ndelayed_delete = true\n[glint]\nscrubber_in_serve = false\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_image_is_hidden_and_keeps_its_data_until_scrub_time_then_glint_scrub_removes_it()
{
    let setup = Setup::with_config(DELAYED);
    let client = Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    let kept = upload(&client, &server, b"kept image").await;
    let doomed = upload(&client, &server, b"deleted image").await;
    delete(&client, &server, &doomed).await;
    let gone = client
        .get(server.url(&format!("/v2/images/{doomed}")))
        .send();
    assert_eq!(gone.await.unwrap().status(), StatusCode::NOT_FOUND);
    let listed = list_ids(&client, &server).await;
    assert_eq!(listed, std::slice::from_ref(&kept));
    assert!(setup.store_files().contains(&doomed), "the data waits");
    let db = sqlite(&setup).await;
    assert_eq!(status(&db, &doomed).await, ImageStatus::PendingDelete);

    // Not due yet: the scrubber leaves it.
    let waiting = conf(
        &setup,
        "glance-scrubber.conf",
        "[DEFAULT]\nscrub_time = 3600\n",
    );
    scrub(&[&setup.config, &waiting], &[]).ok();
    assert!(setup.store_files().contains(&doomed));
    assert_eq!(status(&db, &doomed).await, ImageStatus::PendingDelete);

    // A later file overrides scrub_time: due now.
    let now = conf(&setup, "now.conf", "[DEFAULT]\nscrub_time = 0\n");
    let run = scrub(&[&setup.config, &waiting, &now], &[]).ok();
    assert!(run.stderr.contains("image scrubbed"), "{}", run.stderr);
    assert!(!setup.store_files().contains(&doomed));
    assert!(setup.store_files().contains(&kept));
    assert_eq!(status(&db, &doomed).await, ImageStatus::Deleted);
    assert_eq!(status(&db, &kept).await, ImageStatus::Active);
    // Nothing left to do; the log in the format [glint] log_format asks.
    let json = conf(&setup, "json.conf", "[glint]\nlog_format = json\n");
    let again = scrub(&[&setup.config, &now, &json], &[]).ok();
    assert!(!again.stderr.contains("image scrubbed"), "{}", again.stderr);
    let finished = again
        .stderr
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a JSON line"))
        .find(|line| line["message"] == "scrub run finished")
        .unwrap_or_else(|| panic!("no summary: {}", again.stderr));
    assert_eq!(finished["fields"]["scrubbed"], 0, "{finished}");
    db.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scrubber_in_serve_removes_data_after_scrub_time_and_stops_with_the_server() {
    let metrics_port = common::free_port();
    let setup = Setup::with_config(&format!(
        "metrics_bind = 127.0.0.1:{metrics_port}\n\
         [DEFAULT]\ndelayed_delete = true\nscrub_time = 2\nwakeup_time = 1\n"
    ));
    let client = Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    let id = upload(&client, &server, b"some data").await;
    delete(&client, &server, &id).await;
    assert!(setup.store_files().contains(&id));
    wait_until(Duration::from_secs(30), || {
        !setup.store_files().contains(&id)
    })
    .await;
    // The row is marked once the data is gone.
    let db = sqlite(&setup).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while status(&db, &id).await != ImageStatus::Deleted {
        assert!(
            std::time::Instant::now() < deadline,
            "the image stays pending_delete"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.close().await;
    // The scrubber's work shows in the metrics once its sweep has ended.
    let metrics = format!("http://127.0.0.1:{metrics_port}/metrics");
    let mut text = String::new();
    for _ in 0..100 {
        text = client
            .get(&metrics)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("\nglint_scrubber_scrubbed_total 1\n")
            && text.contains("\nglint_scrubber_pending_deletes 0\n")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        text.contains("\nglint_scrubber_scrubbed_total 1\n"),
        "{text}"
    );
    assert!(text.contains("\nglint_scrubber_failed_total 0\n"), "{text}");
    assert!(
        text.contains("\nglint_scrubber_pending_deletes 0\n"),
        "{text}"
    );
    server.signal("TERM");
    assert!(server.wait_exit().await.success(), "{}", server.logs());
    let logs = server.logs();
    assert!(logs.contains("image scrubbed"), "{logs}");
    assert!(logs.contains("scrubber stopped"), "{logs}");
    assert!(logs.contains("scrubbed=1"), "{logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_scrubbers_on_one_postgresql_database_scrub_each_pending_delete_once() {
    let Some(admin) = std::env::var("GLINT_TEST_POSTGRES_URL").ok() else {
        eprintln!("skipped: GLINT_TEST_POSTGRES_URL is not set");
        return;
    };
    let database = ServerDatabase::create(ServerKind::Postgres, &admin).await;
    let setup = Setup::on_database(&database.url, DELAYED);
    setup.glint(&["db", "sync"]).ok();
    let client = Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    let mut ids = HashSet::new();
    for n in 0..40 {
        let id = upload(&client, &server, format!("image {n}").as_bytes()).await;
        delete(&client, &server, &id).await;
        ids.insert(id);
    }
    drop(server);
    let pool = conf(&setup, "pool.conf", "[DEFAULT]\nscrub_pool_size = 4\n");
    let configs = [setup.config.as_path(), pool.as_path()];
    let one = spawn_scrub(&configs, &[], Stdio::piped());
    let two = spawn_scrub(&configs, &[], Stdio::piped());
    let (one, two) = (
        one.wait_with_output().unwrap(),
        two.wait_with_output().unwrap(),
    );
    let (log_one, log_two) = (
        String::from_utf8_lossy(&one.stderr),
        String::from_utf8_lossy(&two.stderr),
    );
    assert!(
        one.status.success() && two.status.success(),
        "{log_one}\n{log_two}"
    );
    let (by_one, by_two) = (scrubbed_ids(&log_one), scrubbed_ids(&log_two));
    eprintln!("scrubbed {} and {}", by_one.len(), by_two.len());
    assert!(by_one.is_disjoint(&by_two), "{log_one}\n{log_two}");
    let all: HashSet<String> = by_one.union(&by_two).cloned().collect();
    assert_eq!(all, ids, "{log_one}\n{log_two}");
    for log in [&log_one, &log_two] {
        assert!(!log.contains("ERROR") && !log.contains("WARN"), "{log}");
    }
    assert!(setup.store_files().is_empty(), "{:?}", setup.store_files());
    let db = database.open().await;
    for id in &ids {
        assert_eq!(status(&db, id).await, ImageStatus::Deleted);
    }
    db.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_restored_while_a_scrubber_daemon_runs_comes_back_whole() {
    let setup = Setup::with_config(DELAYED);
    let client = Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    let saved = upload(&client, &server, b"restore me").await;
    let lost = upload(&client, &server, b"scrub me").await;
    delete(&client, &server, &saved).await;
    delete(&client, &server, &lost).await;
    let daemon_conf = conf(
        &setup,
        "glance-scrubber.conf",
        "[DEFAULT]\ndaemon = true\nscrub_time = 3\nwakeup_time = 1\n",
    );
    let mut daemon = Daemon::start(&setup, &[&setup.config, &daemon_conf], &[]);
    wait_until(Duration::from_secs(30), || {
        daemon.log().contains("worker started")
    })
    .await;
    // Restored while the daemon runs, before the image is due.
    scrub(&[&setup.config], &["--restore", &saved]).ok();
    wait_until(Duration::from_secs(30), || {
        !setup.store_files().contains(&lost)
    })
    .await;
    // Another sweep past the restored image's scrub_time.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(setup.store_files().contains(&saved));
    let shown = client
        .get(server.url(&format!("/v2/images/{saved}")))
        .send();
    let shown: serde_json::Value = shown.await.unwrap().json().await.unwrap();
    assert_eq!(shown["status"], "active");
    let data = client
        .get(server.url(&format!("/v2/images/{saved}/file")))
        .send();
    let data = data.await.unwrap();
    assert_eq!(data.status(), StatusCode::OK);
    assert_eq!(&data.bytes().await.unwrap()[..], b"restore me");
    // The scrubbed one cannot come back.
    let late = scrub(&[&setup.config], &["--restore", &lost]);
    assert!(!late.success);
    assert!(
        late.stderr.contains(
            "cannot restore the image from deleted to active (wanted from_state=pending_delete)"
        ),
        "{}",
        late.stderr
    );
    daemon.signal("TERM");
    assert!(daemon.wait_exit().await.success(), "{}", daemon.log());
    assert!(
        daemon.log().contains("scrubber stopped"),
        "{}",
        daemon.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_errors_are_glances_and_a_restore_option_in_a_file_works() {
    let setup = Setup::with_config(DELAYED);
    let client = Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    let active = upload(&client, &server, b"active").await;
    for (args, expected) in [
        (
            vec!["--restore", "fake_image_id"],
            "No image found with ID fake_image_id".to_owned(),
        ),
        (
            vec!["--restore", "1b0f6a4e-41bd-4c6f-9b5f-7c2a4a1f0f00"],
            "No image found with ID 1b0f6a4e-41bd-4c6f-9b5f-7c2a4a1f0f00".to_owned(),
        ),
        (
            vec!["--restore", &active],
            "cannot restore the image from active to active (wanted from_state=pending_delete)"
                .to_owned(),
        ),
        (
            vec!["--restore", &active, "--daemon"],
            "The restore and daemon options should not be set together".to_owned(),
        ),
    ] {
        let run = scrub(&[&setup.config], &args);
        assert!(!run.success, "{args:?}");
        assert!(run.stderr.contains(&expected), "{args:?}: {}", run.stderr);
    }
    let pending = upload(&client, &server, b"pending").await;
    delete(&client, &server, &pending).await;
    let restore = conf(
        &setup,
        "restore.conf",
        &format!("[DEFAULT]\nrestore = {pending}\n"),
    );
    scrub(&[&setup.config, &restore], &[]).ok();
    let shown = client
        .get(server.url(&format!("/v2/images/{pending}")))
        .send();
    assert_eq!(shown.await.unwrap().status(), StatusCode::OK);
    // --nodaemon on the command line wins over the file's daemon = true.
    let daemon_file = conf(&setup, "daemon.conf", "[DEFAULT]\ndaemon = true\n");
    scrub(&[&setup.config, &daemon_file], &["--nodaemon"]).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_glance_registry_conf_gives_its_database_with_a_warning() {
    let setup = Setup::with_config(DELAYED);
    let client = Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    let id = upload(&client, &server, b"registry").await;
    delete(&client, &server, &id).await;
    // A scrubber whose own files name another data directory, and the
    // registry's file the API's database.
    let elsewhere = setup.dir.path().join("elsewhere");
    let own = conf(
        &setup,
        "glance-scrubber.conf",
        &format!(
            "[glint]\ndata_dir = {}\n[glance_store]\nfilesystem_store_datadir = {}\n",
            elsewhere.display(),
            setup.dir.path().join("data").join("images").display()
        ),
    );
    let registry = conf(
        &setup,
        "glance-registry.conf",
        &format!(
            "[DEFAULT]\nbind_port = 9191\nworkers = 2\n[database]\nconnection = sqlite:///{}\n\
             [paste_deploy]\nflavor = keystone\n",
            setup.dir.path().join("data").join("glint.sqlite").display()
        ),
    );
    let run = scrub(&[&own, &registry], &[]).ok();
    assert!(
        run.stderr
            .contains("glance-registry.conf: the Glance registry service is gone"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("image scrubbed"), "{}", run.stderr);
    assert!(!setup.store_files().contains(&id));
}
