//! `[image_format] vmdk_allowed_types` reaches the upload decision of the
//! real server: a VMDK whose create type the operator left out of the list
//! is refused, one in the list is stored.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{Server, Setup};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A 16 MiB VMDK of `subformat`, made by `qemu-img` in `dir`.
fn vmdk(dir: &Path, subformat: &str) -> Vec<u8> {
    let name = format!("{subformat}.vmdk");
    let status = Command::new("qemu-img")
        .args(["create", "-q", "-f", "vmdk", "-o"])
        .arg(format!("subformat={subformat}"))
        .args([name.as_str(), "16M"])
        .current_dir(dir)
        .status()
        .expect("qemu-img is installed");
    assert!(status.success(), "qemu-img create {subformat}");
    std::fs::read(dir.join(name)).unwrap()
}

/// Creates a vmdk/bare image and uploads `data`; the upload's status and
/// the image as it then is.
async fn upload(server: &Server, data: Vec<u8>) -> (StatusCode, String, Value) {
    let client = reqwest::Client::new();
    let body = json!({"disk_format": "vmdk", "container_format": "bare"});
    let id = server.create_image(&client, body).await;
    let file = server.url(&format!("/v2/images/{id}/file"));
    let resp = client
        .put(&file)
        .header("Content-Type", "application/octet-stream")
        .body(data)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let image = client
        .get(file.trim_end_matches("/file"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (status, text, image)
}

#[tokio::test]
async fn a_create_type_left_out_of_vmdk_allowed_types_is_refused() {
    let setup = Setup::with_config("\n[image_format]\nvmdk_allowed_types = streamOptimized\n");
    let mut server = setup.start();
    server.wait_ready(&reqwest::Client::new()).await;

    let sparse = vmdk(setup.dir.path(), "monolithicSparse");
    let (status, text, image) = upload(&server, sparse).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{text}");
    assert!(
        text.contains("Image fails safety check: vmdk subformat monolithicSparse is not allowed"),
        "{text}"
    );
    assert_eq!(image["status"], "queued");

    let stream = vmdk(setup.dir.path(), "streamOptimized");
    let (status, text, image) = upload(&server, stream).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    assert_eq!(image["status"], "active");
    assert_eq!(image["virtual_size"], 16 << 20);
}

#[tokio::test]
async fn both_single_file_create_types_are_allowed_by_default() {
    let setup = Setup::new();
    let mut server = setup.start();
    server.wait_ready(&reqwest::Client::new()).await;
    for subformat in ["monolithicSparse", "streamOptimized"] {
        let (status, text, image) = upload(&server, vmdk(setup.dir.path(), subformat)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{subformat}: {text}");
        assert_eq!(image["status"], "active", "{subformat}");
        assert_eq!(image["virtual_size"], 16 << 20, "{subformat}");
    }
}
