//! What an upload records and refuses after inspecting the data: safety
//! checks for every container format, the VMDK create types the operator
//! allows, virtual sizes no column can hold, and the virtual size of empty
//! data.

use crate::common;

use common::{TestApp, expect_error, id_of, on_every_backend, qcow2_with_backing_file, qemu_img};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A plain qcow2 image of 16 MiB whose header is then made to claim `size`.
fn qcow2_claiming(app: &TestApp, size: u64) -> Vec<u8> {
    let dir = app.scratch_dir();
    qemu_img(dir, &["create", "-q", "-f", "qcow2", "plain.qcow2", "16M"]);
    let mut data = std::fs::read(dir.join("plain.qcow2")).unwrap();
    data[24..32].copy_from_slice(&size.to_be_bytes());
    data
}

/// A 16 MiB VMDK of `subformat` (`qemu-img create -o subformat=…`).
fn vmdk(app: &TestApp, subformat: &str) -> Vec<u8> {
    let dir = app.scratch_dir();
    let name = format!("{subformat}.vmdk");
    let option = format!("subformat={subformat}");
    qemu_img(
        dir,
        &["create", "-q", "-f", "vmdk", "-o", &option, &name, "16M"],
    );
    std::fs::read(dir.join(name)).unwrap()
}

const CONTAINERS: [&str; 8] = [
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
    "ami",
    "aki",
    "ari",
];

async fn create(app: &TestApp, disk: &str, container: &str) -> String {
    let body = json!({"disk_format": disk, "container_format": container});
    id_of(&app.member_of("p1").create_image(body).await)
}

async fn assert_queued_without_data(app: &TestApp, id: &str) {
    let image = app.image(id).await;
    assert_eq!(image["status"], "queued");
    assert_eq!(image["size"], Value::Null);
    assert!(app.store_files().is_empty(), "{:?}", app.store_files());
}

#[tokio::test]
async fn an_unsafe_image_is_refused_whatever_its_container_format() {
    let app = TestApp::new().await;
    let data = qcow2_with_backing_file(app.scratch_dir());
    for container in CONTAINERS {
        for disk in ["qcow2", "raw"] {
            let id = create(&app, disk, container).await;
            let resp = app.member_of("p1").upload(&id, data.clone()).await;
            let message = expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
            assert!(
                message.ends_with("Image fails safety check: image refers to a backing file"),
                "{disk}/{container}: {message}"
            );
            assert_queued_without_data(&app, &id).await;
        }
    }
}

#[tokio::test]
async fn both_single_file_vmdk_types_are_stored_by_default() {
    let app = TestApp::new().await;
    for subformat in ["monolithicSparse", "streamOptimized"] {
        let id = create(&app, "vmdk", "bare").await;
        let resp = app.member_of("p1").upload(&id, vmdk(&app, subformat)).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{subformat}");
        let image = app.image(&id).await;
        assert_eq!(image["status"], "active", "{subformat}");
        assert_eq!(image["virtual_size"], 16 << 20, "{subformat}");
    }
}

#[tokio::test]
async fn a_vmdk_type_left_out_of_vmdk_allowed_types_is_refused_whatever_its_container() {
    let app = TestApp::builder()
        .image_config(|c| c.upload_rules.vmdk_allowed_types = vec!["streamOptimized".into()])
        .start()
        .await;
    let sparse = vmdk(&app, "monolithicSparse");
    for container in CONTAINERS {
        for disk in ["vmdk", "raw"] {
            let id = create(&app, disk, container).await;
            let resp = app.member_of("p1").upload(&id, sparse.clone()).await;
            let message = expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
            assert!(
                message.ends_with(
                    "Image fails safety check: vmdk subformat monolithicSparse is not allowed"
                ),
                "{disk}/{container}: {message}"
            );
            assert_queued_without_data(&app, &id).await;
        }
    }
    let id = create(&app, "vmdk", "bare").await;
    let resp = app
        .member_of("p1")
        .upload(&id, vmdk(&app, "streamOptimized"))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.image(&id).await["virtual_size"], 16 << 20);
}

#[tokio::test]
async fn other_containers_still_skip_the_format_match_and_the_virtual_size() {
    let app = TestApp::new().await;
    let dir = app.scratch_dir();
    qemu_img(dir, &["create", "-q", "-f", "qcow2", "disk.qcow2", "16M"]);
    let data = std::fs::read(dir.join("disk.qcow2")).unwrap();
    let id = create(&app, "vmdk", "ova").await;
    app.member_of("p1").upload(&id, data).await;
    let image = app.image(&id).await;
    assert_eq!(image["status"], "active");
    assert_eq!(image["virtual_size"], Value::Null);
}

#[tokio::test]
async fn a_virtual_size_beyond_a_signed_64_bit_column_is_refused() {
    let app = TestApp::new().await;
    for size in [1u64 << 63, u64::MAX] {
        let id = create(&app, "qcow2", "bare").await;
        let resp = app
            .member_of("p1")
            .upload(&id, qcow2_claiming(&app, size))
            .await;
        let message = expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        assert!(message.contains("virtual size"), "{message}");
        assert_queued_without_data(&app, &id).await;
    }
}

#[tokio::test]
async fn the_largest_virtual_size_is_stored_exactly_on_every_backend() {
    on_every_backend(|app: TestApp| async move {
        let largest = i64::MAX as u64;
        let id = create(&app, "qcow2", "bare").await;
        app.member_of("p1")
            .upload(&id, qcow2_claiming(&app, largest))
            .await;
        let image = app.image(&id).await;
        assert_eq!(image["status"], "active");
        assert_eq!(image["virtual_size"], largest);
        let listed = app
            .admin()
            .list("virtual_size_min=9223372036854775807")
            .await;
        assert_eq!(listed["images"][0]["virtual_size"], largest);
    })
    .await;
}

#[tokio::test]
async fn an_empty_upload_records_no_virtual_size() {
    let app = TestApp::new().await;
    for disk in ["raw", "ami", "ploop"] {
        let id = create(&app, disk, "bare").await;
        app.upload_ok(&id, Vec::<u8>::new()).await;
        let image = app.image(&id).await;
        assert_eq!(image["status"], "active", "{disk}");
        assert_eq!(image["size"], 0, "{disk}");
        assert_eq!(image["virtual_size"], Value::Null, "{disk}");
    }
}

/// A disk whose MBR bends the rules: one partition with a boot flag of 0x01.
fn bent_mbr_disk() -> Vec<u8> {
    let mut disk = vec![0u8; 1 << 20];
    let entry = 446;
    disk[entry] = 0x01;
    disk[entry + 4] = 0x83;
    disk[entry + 8..entry + 12].copy_from_slice(&2048u32.to_le_bytes());
    disk[entry + 12..entry + 16].copy_from_slice(&1024u32.to_le_bytes());
    disk[510] = 0x55;
    disk[511] = 0xaa;
    disk
}

#[tokio::test]
async fn gpt_safety_checks_nonfatal_lets_a_bent_partition_table_through() {
    let strict = TestApp::new().await;
    let id = create(&strict, "raw", "bare").await;
    let resp = strict.member_of("p1").upload(&id, bent_mbr_disk()).await;
    let message = expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert!(message.contains("invalid partition table"), "{message}");
    assert_queued_without_data(&strict, &id).await;

    let lenient = TestApp::builder()
        .image_config(|c| c.upload_rules.gpt_safety_checks_nonfatal = vec!["mbr".into()])
        .start()
        .await;
    let id = create(&lenient, "raw", "bare").await;
    let resp = lenient.member_of("p1").upload(&id, bent_mbr_disk()).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(lenient.image(&id).await["status"], "active");
    // Other formats' safety failures stay fatal.
    let id = create(&lenient, "qcow2", "bare").await;
    let resp = lenient
        .member_of("p1")
        .upload(&id, qcow2_with_backing_file(lenient.scratch_dir()))
        .await;
    expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}
