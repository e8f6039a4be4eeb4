use crate::common;

use std::cmp::Ordering;
use std::collections::BTreeSet;

use common::listing::{admin, ids, query, share, user, walk};
use common::{at, bare_image, on_every_db};
use glint_db::Database;
use glint_model::query::{SortDir, SortKey};
use glint_model::time::to_micros;
use glint_model::{Image, ImageStatus, MemberStatus, Visibility};

/// Images with NULLs and ties in every nullable sort column.
async fn sort_catalogue(db: &Database) -> Vec<Image> {
    // (name, size, disk_format) per image; NULLs, '' and ties on purpose.
    #[rustfmt::skip]
    let rows: [(Option<&str>, Option<u64>, Option<&str>); 9] = [
        (None, None, None), (Some("b"), Some(5), Some("raw")), (Some("B"), Some(0), Some("qcow2")),
        (Some("a"), Some(5), None), (Some(""), None, Some("raw")), (None, Some(7), Some("iso")),
        (Some("a"), Some(1), None), (Some("é"), Some(1 << 40), Some("vmdk")),
        (Some("z"), Some(5), Some("raw")),
    ];
    let statuses = [
        ImageStatus::Active,
        ImageStatus::Queued,
        ImageStatus::Saving,
    ];
    let mut all = Vec::new();
    for (i, (name, size, disk)) in rows.into_iter().enumerate() {
        let n = i64::try_from(i).unwrap();
        // Pairs of images share created_at so that id decides between them.
        let mut image = bare_image(Some("p"), Visibility::Private, at(n / 2, 0));
        image.name = name.map(str::to_string);
        image.size = size;
        image.disk_format = disk.map(str::to_string);
        image.container_format = (i % 3 != 0).then(|| ["bare", "ovf"][i % 2].to_string());
        image.status = statuses[i % 3];
        image.updated_at = at(100 - (n % 4), 0);
        db.create_image(&image).await.unwrap();
        all.push(image);
    }
    all
}

/// The order the database must produce: NULL sorts below every value.
fn expected_order(mut images: Vec<Image>, sort: &[(SortKey, SortDir)]) -> Vec<Image> {
    images.sort_by(|a, b| {
        for (key, dir) in sort {
            let ord = sort_value(a, *key).cmp(&sort_value(b, *key));
            let ord = if *dir == SortDir::Desc {
                ord.reverse()
            } else {
                ord
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
    images
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Int(i64),
    Text(String),
}

fn sort_value(image: &Image, key: SortKey) -> SortValue {
    let text = |v: &Option<String>| SortValue::Text(v.clone().unwrap_or_default());
    match key {
        SortKey::Name => text(&image.name),
        SortKey::ContainerFormat => text(&image.container_format),
        SortKey::DiskFormat => text(&image.disk_format),
        SortKey::Size => SortValue::Int(image.size.map_or(-1, |s| i64::try_from(s).unwrap())),
        SortKey::Status => SortValue::Text(image.status.as_str().into()),
        SortKey::Id => SortValue::Text(image.id.to_string()),
        SortKey::CreatedAt => SortValue::Int(to_micros(image.created_at)),
        SortKey::UpdatedAt => SortValue::Int(to_micros(image.updated_at)),
    }
}

#[tokio::test]
async fn every_sort_key_orders_both_ways_with_nulls_lowest_and_pages_join_up() {
    on_every_db(|db| async move {
        let catalogue = sort_catalogue(&db).await;
        for key in SortKey::ALL {
            for dir in ["asc", "desc"] {
                let q = query(&[("sort", &format!("{}:{dir}", key.as_str()))]);
                let expected = expected_order(catalogue.clone(), &q.sort);
                let listed = db.list_images(&q, 100, None, &admin(None)).await.unwrap();
                assert_eq!(ids(&listed), ids(&expected), "sort {key:?} {dir}");
                let paged = walk(&db, &q, 2, &admin(None)).await;
                assert_eq!(ids(&paged), ids(&expected), "paged sort {key:?} {dir}");
            }
        }
        // Several keys with mixed directions, in the classic syntax.
        let q = query(&[
            ("sort_key", "disk_format"),
            ("sort_dir", "asc"),
            ("sort_key", "size"),
            ("sort_dir", "desc"),
        ]);
        let expected = expected_order(catalogue.clone(), &q.sort);
        assert_eq!(ids(&walk(&db, &q, 3, &admin(None)).await), ids(&expected));
    })
    .await;
}

#[tokio::test]
async fn marker_pagination_walks_a_whole_catalogue_without_gaps_or_repeats() {
    on_every_db(|db| async move {
        let viewer = user("A");
        for i in 0..50_i64 {
            let (owner, visibility) = match i % 5 {
                0 => ("B", Visibility::Public),
                1 => ("A", Visibility::Private),
                2 => ("B", Visibility::Private),
                3 => ("B", Visibility::Shared),
                _ => ("A", Visibility::Community),
            };
            let mut image = bare_image(Some(owner), visibility, at(i / 3, i % 3));
            image.name = (i % 4 != 0).then(|| format!("img-{:02}", (i * 7) % 13));
            image.size = (i % 3 != 0).then_some(u64::try_from(i % 6).unwrap());
            db.create_image(&image).await.unwrap();
            if i % 2 == 1 && visibility == Visibility::Shared {
                share(&db, &image, "A", MemberStatus::Accepted).await;
            }
        }
        for sort in [
            "created_at:desc",
            "name:asc",
            "size:desc,name:asc",
            "id:asc",
        ] {
            let q = query(&[("sort", sort)]);
            let whole = db.list_images(&q, 1000, None, &viewer).await.unwrap();
            assert!(whole.len() > 20, "{}", whole.len());
            let paged = walk(&db, &q, 7, &viewer).await;
            assert_eq!(ids(&paged), ids(&whole), "sort {sort}");
            let unique: BTreeSet<_> = paged.iter().map(|i| i.id).collect();
            assert_eq!(unique.len(), paged.len());
        }
        let q = query(&[]);
        let everything = walk(&db, &q, 7, &admin(None)).await;
        assert_eq!(everything.len(), 40, "all but others' community images");
    })
    .await;
}
