//! `get_image` and `list_images` (pages of 100) on a SQLite catalogue of
//! 10,000 images. Run with `cargo bench -p glint-db --bench db`.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use glint_db::{Database, Viewer};
use glint_model::query::ImageListQuery;
use glint_model::time::from_micros;
use glint_model::{Image, ImageId, ImageStatus, Location, Visibility};
use tokio::runtime::Runtime;

const IMAGES: usize = 10_000;

fn image(i: usize) -> Image {
    let created = from_micros(1_767_225_600_000_000 + i64::try_from(i).unwrap_or(0) * 1_000_003);
    let mut properties = BTreeMap::new();
    properties.insert("os_distro".to_string(), "cirros".to_string());
    properties.insert("hw_disk_bus".to_string(), "scsi".to_string());
    Image {
        id: ImageId::new_random(),
        name: Some(format!("image-{i:05}")),
        status: ImageStatus::Active,
        visibility: [Visibility::Public, Visibility::Private, Visibility::Shared][i % 3],
        protected: false,
        os_hidden: false,
        checksum: Some(format!("{i:032x}")),
        os_hash_algo: Some("sha512".into()),
        os_hash_value: Some(format!("{i:0128x}")),
        owner: Some(format!("project-{}", i % 20)),
        size: Some(1 << 20),
        virtual_size: Some(1 << 30),
        container_format: Some("bare".into()),
        disk_format: Some("qcow2".into()),
        min_ram: 0,
        min_disk: 0,
        created_at: created,
        updated_at: created,
        deleted_at: None,
        tags: vec!["bench".into(), format!("t{}", i % 7)],
        properties,
        locations: vec![Location::new(
            format!("file:///var/lib/glint/images/{i}"),
            "local",
        )],
    }
}

/// A SQLite catalogue of [`IMAGES`] images in a temporary directory.
fn catalogue(rt: &Runtime, dir: &tempfile::TempDir) -> (Database, Vec<ImageId>) {
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    rt.block_on(async {
        let db = Database::connect(&url).await.expect("connect");
        let mut ids = Vec::with_capacity(IMAGES);
        for i in 0..IMAGES {
            let image = image(i);
            db.create_image(&image).await.expect("create");
            ids.push(image.id);
        }
        (db, ids)
    })
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, ids) = catalogue(&rt, &dir);
    let admin = Viewer {
        project_id: None,
        is_admin: true,
    };
    let user = Viewer {
        project_id: Some("project-3".into()),
        is_admin: false,
    };
    let q = ImageListQuery::default();
    let list = |viewer: &Viewer, marker: Option<&Image>| {
        let page = rt.block_on(db.list_images(&q, 100, marker, viewer));
        black_box(page.expect("list"))
    };

    let mut n = 0;
    c.bench_function("get_image", |b| {
        b.iter(|| {
            n = (n + 7919) % IMAGES;
            black_box(rt.block_on(db.get_image(ids[n])).expect("get"))
        })
    });
    c.bench_function("list_images admin first page (100)", |b| {
        b.iter(|| list(&admin, None))
    });
    c.bench_function("list_images user first page (100)", |b| {
        b.iter(|| list(&user, None))
    });
    // A marker deep in the catalogue: the page must cost the same.
    let deep = rt.block_on(db.get_image(ids[IMAGES / 10]));
    let deep = deep.expect("get").expect("marker");
    c.bench_function("list_images admin page after 9,000 (100)", |b| {
        b.iter(|| list(&admin, Some(&deep)))
    });
    c.bench_function("list_images user page after 9,000 (100)", |b| {
        b.iter(|| list(&user, Some(&deep)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
