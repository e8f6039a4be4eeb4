//! The list query set at scale, at the database layer: seeds a catalogue
//! of N images through the bulk loader (the rows `create_image` and
//! `delete_image` leave, many images per transaction), gathers
//! statistics as the `statistics` worker would, then times one 100-image
//! page of each list shape (median and worst of 5, after one warm-up) for
//! an admin and for a member of one project, and prints a Markdown table.
//!
//!   cargo run --release -p glint-db --example list_scale -- N [DATABASE_URL]
//!
//! With `LIST_SCALE_QUERIES` set, it prints each shape's label and query
//! string (tab-separated) instead of timing them, for `scripts/bench-list`;
//! with `LIST_SCALE_EXPLAIN` set, each shape's plan on standard error; with
//! `LIST_SCALE_ONLY` set, only the shapes whose label holds its value; with
//! `LIST_SCALE_FEW_ROWS` set, the planner's count from which a filter is
//! checked along the walk rather than starting the list is that number
//! (5,000 otherwise), for weighing the two.
//!
//! Without a URL the catalogue is a SQLite file in a temporary directory.
//! A database that already holds images (seeded by an earlier run with the
//! same N) is timed as it is; one whose seeding was cut short is seeded on:
//! the batches it did not finish (`LIST_SCALE_JOBS` of them at a time, 4
//! otherwise) are written.
//! The catalogue: numbered names, a hundred to a project (at least 100 projects), half public
//! and the rest private, shared (with a member each) or community; two tags
//! (`bucket-<i % 100>`, `all`); `os_distro=cirros`; a property on two
//! hundredths of them (`group=bucket-3` and `group=bucket-5`, on the images
//! that have those tags); and N deleted rows not yet purged.

use std::time::{Duration, Instant};

use glint_db::{Database, Viewer};
use glint_model::query::ImageListQuery;
use glint_model::time::from_micros;
use glint_model::{Image, ImageId, ImageStatus, Member, MemberStatus, Visibility};

/// A hundred images per project (10,000 projects at a million), and at
/// least a hundred projects.
fn projects(count: usize) -> usize {
    (count / 100).max(100)
}
const BATCH: usize = 5_000;
const RUNS: usize = 5;

/// A row of the table: its label, the query parameters, and whether the
/// page is read after the marker deep in the list.
type Shape<'a> = (&'a str, Vec<(&'a str, &'a str)>, bool);

fn image(i: usize, projects: usize) -> Image {
    let n = i64::try_from(i).expect("small");
    let created = from_micros(1_767_225_600_000_000 + n * 1_000);
    let mut image = Image::queued(ImageId::new_random(), created);
    image.owner = Some(format!("project-{}", i % projects));
    image.visibility = match i % 8 {
        0..=3 => Visibility::Public,
        4 | 5 => Visibility::Private,
        6 => Visibility::Shared,
        _ => Visibility::Community,
    };
    image.name = Some(format!("image-{i:08}"));
    image.status = if i % 10 == 3 {
        ImageStatus::Queued
    } else {
        ImageStatus::Active
    };
    if image.status == ImageStatus::Active {
        image.size = Some(u64::try_from(i).expect("small") * 1000 + 1);
        image.disk_format = Some("qcow2".into());
        image.container_format = Some("bare".into());
        image.checksum = Some(format!("{i:032x}"));
    }
    image.tags = vec![format!("bucket-{}", i % 100), "all".into()];
    image.properties.insert("os_distro".into(), "cirros".into());
    if matches!(i % 100, 3 | 5) {
        // A property on 1 % of the images each, and of the deleted rows.
        image
            .properties
            .insert("group".into(), format!("bucket-{}", i % 100));
    }
    image
}

/// Batches seeded at a time, each in its own transactions
/// (`LIST_SCALE_JOBS`, 4 otherwise): one connection waits on the server's
/// answer to each statement, several keep both of its cores busy.
fn jobs() -> usize {
    std::env::var("LIST_SCALE_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(4)
}

/// Seeds the rows of every batch not already whole (all of them in an
/// empty database): N images, then N more deleted.
async fn seed(db: &Database, count: usize) {
    let started = Instant::now();
    let batches = (2 * count).div_ceil(BATCH);
    let mut running = tokio::task::JoinSet::new();
    let mut seeded = 0;
    for batch in 0..batches - 1 {
        if running.len() >= jobs() {
            seeded += running.join_next().await.expect("a batch").expect("batch");
        }
        let db = db.clone();
        running.spawn(async move { seed_batch(&db, count, batch).await });
    }
    while let Some(done) = running.join_next().await {
        seeded += done.expect("batch");
    }
    // The last batch only when every other is whole: its last row, the
    // newest of all, marks a whole seed.
    seeded += seed_batch(db, count, batches - 1).await;
    eprintln!(
        "seeded {seeded} of {batches} batches ({count} images and as many deleted) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Seeds batch `batch` (rows `batch * BATCH` on; those from `count` on
/// stored as deleted, at their creation) in one transaction, unless an
/// earlier run did: its last row tells. Answers 1 when it wrote it.
async fn seed_batch(db: &Database, count: usize, batch: usize) -> usize {
    let from = batch * BATCH;
    let end = (from + BATCH).min(2 * count);
    let last = format!(
        "SELECT COUNT(*) FROM images WHERE name = 'image-{:08}'",
        end - 1
    );
    if glint_db::testing::scalar(db, &last).await.expect("count") > 0 {
        return 0;
    }
    let images: Vec<Image> = (from..end)
        .map(|i| {
            let mut image = image(i, projects(count));
            if i >= count {
                image.status = ImageStatus::Deleted;
                image.deleted_at = Some(image.created_at);
            }
            image
        })
        .collect();
    let members: Vec<Member> = images
        .iter()
        .enumerate()
        .filter(|(_, image)| image.visibility == Visibility::Shared)
        .map(|(k, image)| Member {
            image_id: image.id,
            member_id: format!("project-{}", (from + k + 1) % projects(count)),
            status: MemberStatus::Accepted,
            created_at: image.created_at,
            updated_at: image.created_at,
        })
        .collect();
    glint_db::testing::load_catalogue(db, &images, &members)
        .await
        .expect("load");
    1
}

fn admin_viewer() -> Viewer {
    Viewer {
        project_id: Some("project-0".into()),
        is_admin: true,
    }
}

fn query(pairs: &[(&str, &str)]) -> ImageListQuery {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ImageListQuery::from_pairs(&owned).expect("valid query")
}

/// Median and worst of [`RUNS`] pages, after one warm-up.
async fn time(
    db: &Database,
    q: &ImageListQuery,
    marker: Option<&Image>,
    viewer: &Viewer,
) -> (Duration, Duration, usize) {
    let mut found = db
        .list_images(q, 100, marker, viewer)
        .await
        .expect("list")
        .len();
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        found = db
            .list_images(q, 100, marker, viewer)
            .await
            .expect("list")
            .len();
        times.push(started.elapsed());
    }
    times.sort_unstable();
    (times[RUNS / 2], times[RUNS - 1], found)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("usage: list_scale N [DATABASE_URL]");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = args
        .next()
        .unwrap_or_else(|| format!("sqlite://{}/glint.db", dir.path().display()));
    let db = Database::connect(&url).await.expect("connect");
    if let Some(few) = std::env::var("LIST_SCALE_FEW_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        glint_db::testing::set_few_rows(&db, few);
    }
    // The newest row a seed writes (a deleted one, so purged last, and
    // written after every other batch): a seed that wrote it is whole,
    // though a purge may have removed the oldest deleted rows since.
    let last = format!(
        "SELECT COUNT(*) FROM images WHERE name = 'image-{:08}'",
        2 * count - 1
    );
    if glint_db::testing::scalar(&db, &last).await.expect("count") == 0 {
        seed(&db, count).await;
    } else {
        // A catalogue this example seeded before: timed again as it is.
        eprintln!("a catalogue of {count} seeded there already, not seeding");
    }
    let name = format!("image-{:08}", count / 2);
    let found = db
        .list_images(&query(&[("name", &name)]), 1, None, &admin_viewer())
        .await
        .expect("marker");
    let marker = found.into_iter().next().expect("marker seeded");
    let admin = admin_viewer();
    let member = Viewer {
        project_id: Some("project-7".into()),
        is_admin: false,
    };
    let near = format!("image-{:08}", count / 3);
    let far = format!("image-{:08}", count * 2 / 3);
    let names = format!("in:{near},{far}");
    // The newest 50 live images were created after this instant.
    let newest = image(count - 51, projects(count)).created_at;
    let recent = format!(
        "gt:{}.{:03}Z",
        glint_model::time::format_iso(newest).trim_end_matches('Z'),
        newest.millisecond()
    );
    let shapes: Vec<Shape> = vec![
        ("default", vec![], false),
        ("`sort_key=name`", vec![("sort_key", "name")], false),
        (
            "`sort_key=name`, deep marker",
            vec![("sort_key", "name")],
            true,
        ),
        ("default, deep marker", vec![], true),
        (
            "`status=queued&sort_key=size`",
            vec![("status", "queued"), ("sort_key", "size")],
            false,
        ),
        ("`name=…` exact", vec![("name", &near)], false),
        ("`name=in:a,b`", vec![("name", &names)], false),
        ("`tag=bucket-3`", vec![("tag", "bucket-3")], false),
        (
            "`tag=bucket-3&sort_key=size` (the tag's images all queued)",
            vec![("tag", "bucket-3"), ("sort_key", "size")],
            false,
        ),
        (
            "`tag=bucket-5&sort_key=size` (the tag's images spread)",
            vec![("tag", "bucket-5"), ("sort_key", "size")],
            false,
        ),
        (
            "`tag=` matching nothing",
            vec![("tag", "no-such-tag")],
            false,
        ),
        ("`os_distro=cirros`", vec![("os_distro", "cirros")], false),
        ("`group=bucket-5`", vec![("group", "bucket-5")], false),
        (
            "`group=bucket-3&sort_key=size` (the property's images all queued)",
            vec![("group", "bucket-3"), ("sort_key", "size")],
            false,
        ),
        (
            "`group=bucket-5&sort_key=size` (the property's images spread)",
            vec![("group", "bucket-5"), ("sort_key", "size")],
            false,
        ),
        (
            "`tag=bucket-5&sort_key=name&sort_dir=asc`",
            vec![
                ("tag", "bucket-5"),
                ("sort_key", "name"),
                ("sort_dir", "asc"),
            ],
            false,
        ),
        (
            "`group=bucket-5&sort_key=name&sort_dir=asc`",
            vec![
                ("group", "bucket-5"),
                ("sort_key", "name"),
                ("sort_dir", "asc"),
            ],
            false,
        ),
        (
            "`tag=bucket-3&sort_key=status`",
            vec![("tag", "bucket-3"), ("sort_key", "status")],
            false,
        ),
        (
            "`group=bucket-5&sort_key=updated_at&sort_dir=asc`",
            vec![
                ("group", "bucket-5"),
                ("sort_key", "updated_at"),
                ("sort_dir", "asc"),
            ],
            false,
        ),
        (
            "`group=bucket-3&sort_key=disk_format`, deep marker",
            vec![("group", "bucket-3"), ("sort_key", "disk_format")],
            true,
        ),
        (
            "`tag=bucket-5&sort_key=name&sort_key=size` (two keys)",
            vec![
                ("tag", "bucket-5"),
                ("sort_key", "name"),
                ("sort_key", "size"),
            ],
            false,
        ),
        (
            "`tag=bucket-5&sort=status:asc,name:desc` (two keys, one status)",
            vec![("tag", "bucket-5"), ("sort", "status:asc,name:desc")],
            false,
        ),
        (
            "`tag=bucket-3&sort_key=size&sort_key=name` (two keys, all queued)",
            vec![
                ("tag", "bucket-3"),
                ("sort_key", "size"),
                ("sort_key", "name"),
            ],
            false,
        ),
        (
            "`group=bucket-5&sort_key=disk_format&sort_key=size` (two keys), deep marker",
            vec![
                ("group", "bucket-5"),
                ("sort_key", "disk_format"),
                ("sort_key", "size"),
            ],
            true,
        ),
        (
            "`group=bucket-3&sort=updated_at:asc,name:asc` (two keys)",
            vec![("group", "bucket-3"), ("sort", "updated_at:asc,name:asc")],
            false,
        ),
        (
            "`os_distro=` matching nothing",
            vec![("os_distro", "no-such-distro")],
            false,
        ),
        ("`size_min=1`", vec![("size_min", "1")], false),
        (
            "`visibility=private`",
            vec![("visibility", "private")],
            false,
        ),
        ("`visibility=shared`", vec![("visibility", "shared")], false),
        ("`owner=project-3`", vec![("owner", "project-3")], false),
        (
            "`status=active&sort_key=name`",
            vec![("status", "active"), ("sort_key", "name")],
            false,
        ),
        (
            "`disk_format=qcow2&sort_key=size&sort_dir=asc`",
            vec![
                ("disk_format", "qcow2"),
                ("sort_key", "size"),
                ("sort_dir", "asc"),
            ],
            false,
        ),
        (
            "`container_format=bare&sort_key=size&sort_dir=asc`",
            vec![
                ("container_format", "bare"),
                ("sort_key", "size"),
                ("sort_dir", "asc"),
            ],
            false,
        ),
        (
            "`status=active&sort_key=disk_format&sort_dir=asc`",
            vec![
                ("status", "active"),
                ("sort_key", "disk_format"),
                ("sort_dir", "asc"),
            ],
            false,
        ),
        (
            "`disk_format=qcow2&sort_key=container_format&sort_dir=asc`",
            vec![
                ("disk_format", "qcow2"),
                ("sort_key", "container_format"),
                ("sort_dir", "asc"),
            ],
            false,
        ),
        (
            "`container_format=bare&sort_key=disk_format&sort_dir=asc`",
            vec![
                ("container_format", "bare"),
                ("sort_key", "disk_format"),
                ("sort_dir", "asc"),
            ],
            false,
        ),
        (
            "`size_min=1&sort_key=disk_format&sort_dir=asc`",
            vec![
                ("size_min", "1"),
                ("sort_key", "disk_format"),
                ("sort_dir", "asc"),
            ],
            false,
        ),
        (
            "`size_min=1&sort_key=container_format&sort_dir=asc`",
            vec![
                ("size_min", "1"),
                ("sort_key", "container_format"),
                ("sort_dir", "asc"),
            ],
            false,
        ),
        (
            "`size_min=1&sort_key=status`",
            vec![("size_min", "1"), ("sort_key", "status")],
            false,
        ),
        (
            "`disk_format=qcow2&sort_key=status`",
            vec![("disk_format", "qcow2"), ("sort_key", "status")],
            false,
        ),
        (
            "`visibility=public&sort_key=name`",
            vec![("visibility", "public"), ("sort_key", "name")],
            false,
        ),
        (
            "`owner=project-3&sort_key=size`",
            vec![("owner", "project-3"), ("sort_key", "size")],
            false,
        ),
        (
            "`created_at=gt:` (the newest 50) `&sort_key=name`",
            vec![("created_at", &recent), ("sort_key", "name")],
            false,
        ),
        (
            "`size_max=5000&sort_key=name`",
            vec![("size_max", "5000"), ("sort_key", "name")],
            false,
        ),
        (
            "`name=in:a,b&sort_key=size`",
            vec![("name", &names), ("sort_key", "size")],
            false,
        ),
        (
            "`tag=bucket-3&tag=all`",
            vec![("tag", "bucket-3"), ("tag", "all")],
            false,
        ),
        (
            "`sort_key=size&sort_key=name`, deep marker",
            vec![("sort_key", "size"), ("sort_key", "name")],
            true,
        ),
        (
            "`sort_key=updated_at&sort_dir=asc`",
            vec![("sort_key", "updated_at"), ("sort_dir", "asc")],
            false,
        ),
        (
            "`visibility=shared&member_status=pending`",
            vec![("visibility", "shared"), ("member_status", "pending")],
            false,
        ),
        ("`protected=true`", vec![("protected", "true")], false),
        ("`os_hidden=true`", vec![("os_hidden", "true")], false),
        (
            "`checksum=` matching nothing",
            vec![("checksum", "0123456789abcdef0123456789abcdef")],
            false,
        ),
        (
            "`status=queued&os_distro=cirros&sort_key=name`",
            vec![
                ("status", "queued"),
                ("os_distro", "cirros"),
                ("sort_key", "name"),
            ],
            false,
        ),
    ];
    // With `LIST_SCALE_ONLY` set, only the shapes whose label holds it.
    let only = std::env::var("LIST_SCALE_ONLY").unwrap_or_default();
    let shapes: Vec<Shape> = shapes
        .into_iter()
        .filter(|(label, _, _)| label.contains(only.as_str()))
        .collect();
    if std::env::var_os("LIST_SCALE_QUERIES").is_some() {
        // The query strings of the shapes, for timing them through the API.
        for (label, pairs, with_marker) in &shapes {
            let mut query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            query.push("limit=100".into());
            if *with_marker {
                query.push(format!("marker={}", marker.id));
            }
            println!("{label}\t{}", query.join("&"));
        }
        db.close().await;
        return;
    }
    let analyzed = db.refresh_statistics().await.expect("statistics");
    eprintln!("statistics gathered for {analyzed:?}");
    println!(
        "| query ({count} images) | admin p50 (max) ms | member p50 (max) ms | rows admin / member |"
    );
    println!("|---|---|---|---|");
    for (label, pairs, with_marker) in &shapes {
        let q = query(pairs);
        let marker = with_marker.then_some(&marker);
        if std::env::var_os("LIST_SCALE_EXPLAIN").is_some() {
            for viewer in [&admin, &member] {
                let plan = glint_db::testing::explain_list(&db, &q, 100, marker, viewer)
                    .await
                    .expect("explain");
                eprintln!("{label} ({viewer:?}):\n    {}", plan.join("\n    "));
            }
        }
        let (a50, amax, an) = time(&db, &q, marker, &admin).await;
        let (m50, mmax, mn) = time(&db, &q, marker, &member).await;
        println!(
            "| {label} | {} ({}) | {} ({}) | {an} / {mn} |",
            ms(a50),
            ms(amax),
            ms(m50),
            ms(mmax)
        );
    }
    db.close().await;
}
