//! `[glint] filesystem_store_direct_io` reaches the file store of the real
//! server: an image uploaded over HTTP is written around the page cache by
//! default and through it when the option is off. Needs the temporary
//! directory on a disk-backed file system, as the file store's own tests do.

use crate::common;

use std::process::Command;

use common::Setup;
use reqwest::StatusCode;
use serde_json::json;

const SIZE: usize = 16 * 1024 * 1024;

/// Uploads `SIZE` bytes to a new image; returns how many of them the page
/// cache holds afterwards, and the bytes a download returns.
async fn upload_and_measure(setup: &Setup) -> (u64, Vec<u8>) {
    let client = reqwest::Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    let body = json!({"name": "direct", "disk_format": "raw", "container_format": "bare"});
    let id = server.create_image(&client, body).await;
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let resp = client
        .put(server.url(&format!("/v2/images/{id}/file")))
        .header("Content-Type", "application/octet-stream")
        .body(data)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{}", server.logs());
    let path = setup.dir.path().join("data").join("images").join(&id);
    let out = Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let cached = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let resp = client
        .get(server.url(&format!("/v2/images/{id}/file")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    (cached, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn uploads_bypass_the_page_cache_unless_turned_off() {
    let expected: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();

    let (cached, downloaded) = upload_and_measure(&Setup::new()).await;
    assert!(cached < SIZE as u64 / 2, "default: {cached} bytes cached");
    assert!(downloaded == expected);

    let setup = Setup::with_config("filesystem_store_direct_io = false\n");
    let (cached, downloaded) = upload_and_measure(&setup).await;
    assert!(
        cached > SIZE as u64 / 2,
        "turned off: {cached} bytes cached"
    );
    assert!(downloaded == expected);
}
