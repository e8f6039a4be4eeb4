use crate::common;

use std::collections::BTreeSet;

use common::listing::{add, admin, names, query, set, user};
use common::{at, bare_image, on_every_db};
use glint_db::Database;
use glint_model::{ImageStatus, Visibility};

/// Images with distinct attributes for the filter tests.
async fn filter_catalogue(db: &Database) {
    for (i, name) in ["alpha", "beta", "gamma, delta", "epsilon"]
        .iter()
        .enumerate()
    {
        let n = i64::try_from(i).unwrap();
        let mut image = bare_image(
            Some(&format!("owner{}", i % 2)),
            Visibility::Public,
            at(n * 10, 0),
        );
        image.name = Some(name.to_string());
        image.updated_at = at(n * 10 + 5, 0);
        image.status = if i == 3 {
            ImageStatus::Queued
        } else {
            ImageStatus::Active
        };
        image.protected = i == 1;
        if i < 3 {
            image.size = Some(100 * (n as u64 + 1));
            image.virtual_size = Some(1000 * (n as u64 + 1));
            image.container_format = Some(["bare", "ovf", "bare"][i].into());
            image.disk_format = Some(["qcow2", "raw", "iso"][i].into());
            image.checksum = Some(format!("{i:032}"));
            image.os_hash_algo = Some("sha512".into());
            image.os_hash_value = Some(format!("{i:0128}"));
        }
        image.min_ram = 256 * n;
        image.min_disk = n;
        image.tags = match i {
            0 => vec!["x".into(), "y".into()],
            1 => vec!["y".into()],
            2 => vec!["x".into(), "y".into(), "z".into()],
            _ => vec![],
        };
        image.properties.insert(
            "os_distro".into(),
            ["cirros", "ubuntu", "cirros", "fedora"][i].into(),
        );
        if i == 2 {
            image.properties.insert("hw_disk_bus".into(), "scsi".into());
        }
        if let Some(note) = long_values().get(i) {
            image.properties.insert("note".into(), note.clone());
        }
        db.create_image(&image).await.unwrap();
    }
}

async fn filtered(db: &Database, pairs: &[(&str, &str)]) -> BTreeSet<String> {
    names(db, pairs, &admin(None)).await
}

#[tokio::test]
async fn text_filters_match_one_value_or_an_in_list() {
    on_every_db(|db| async move {
        filter_catalogue(&db).await;
        assert_eq!(filtered(&db, &[("name", "beta")]).await, set(&["beta"]));
        assert_eq!(filtered(&db, &[("name", "Beta")]).await, set(&[]));
        let listed = filtered(&db, &[("name", "in:alpha,\"gamma, delta\"")]).await;
        assert_eq!(listed, set(&["alpha", "gamma, delta"]));
        assert_eq!(
            filtered(&db, &[("status", "queued")]).await,
            set(&["epsilon"])
        );
        assert_eq!(
            filtered(&db, &[("container_format", "bare")]).await,
            set(&["alpha", "gamma, delta"])
        );
        assert_eq!(
            filtered(&db, &[("disk_format", "in:raw,iso")]).await,
            set(&["beta", "gamma, delta"])
        );
        assert_eq!(
            filtered(&db, &[("owner", "owner1")]).await,
            set(&["beta", "epsilon"])
        );
        let checksum = format!("{:032}", 2);
        assert_eq!(
            filtered(&db, &[("checksum", &checksum)]).await,
            set(&["gamma, delta"])
        );
        let hash = format!("{:0128}", 1);
        assert_eq!(
            filtered(&db, &[("os_hash_value", &hash)]).await,
            set(&["beta"])
        );
        assert_eq!(filtered(&db, &[("os_hash_algo", "sha512")]).await.len(), 3);
        let alpha = db
            .list_images(&query(&[("name", "alpha")]), 10, None, &admin(None))
            .await
            .unwrap();
        let by_id = filtered(&db, &[("id", &alpha[0].id.to_string())]).await;
        assert_eq!(by_id, set(&["alpha"]));
    })
    .await;
}

#[tokio::test]
async fn number_filters_compare_and_skip_missing_values() {
    on_every_db(|db| async move {
        filter_catalogue(&db).await;
        assert_eq!(filtered(&db, &[("size", "200")]).await, set(&["beta"]));
        assert_eq!(
            filtered(&db, &[("size_min", "200")]).await,
            set(&["beta", "gamma, delta"])
        );
        assert_eq!(
            filtered(&db, &[("size_max", "200")]).await,
            set(&["alpha", "beta"])
        );
        let range = filtered(&db, &[("size_min", "150"), ("size_max", "250")]).await;
        assert_eq!(range, set(&["beta"]));
        assert_eq!(
            filtered(&db, &[("virtual_size", "3000")]).await,
            set(&["gamma, delta"])
        );
        assert_eq!(
            filtered(&db, &[("min_ram", "512")]).await,
            set(&["gamma, delta"])
        );
        assert_eq!(
            filtered(&db, &[("min_disk_min", "2")]).await,
            set(&["gamma, delta", "epsilon"])
        );
    })
    .await;
}

#[tokio::test]
async fn protected_filter_matches_the_flag() {
    on_every_db(|db| async move {
        filter_catalogue(&db).await;
        assert_eq!(
            filtered(&db, &[("protected", "true")]).await,
            set(&["beta"])
        );
        let unprotected = filtered(&db, &[("protected", "false")]).await;
        assert_eq!(unprotected, set(&["alpha", "gamma, delta", "epsilon"]));
    })
    .await;
}

#[tokio::test]
async fn time_filters_compare_with_each_operator() {
    on_every_db(|db| async move {
        filter_catalogue(&db).await;
        let iso = |seconds: i64| glint_model::time::format_iso(at(seconds, 0));
        let t10 = iso(10);
        assert_eq!(
            filtered(&db, &[("created_at", &format!("gt:{t10}"))]).await,
            set(&["gamma, delta", "epsilon"])
        );
        assert_eq!(
            filtered(&db, &[("created_at", &format!("gte:{t10}"))])
                .await
                .len(),
            3
        );
        assert_eq!(
            filtered(&db, &[("created_at", &format!("lt:{t10}"))]).await,
            set(&["alpha"])
        );
        assert_eq!(
            filtered(&db, &[("created_at", &format!("lte:{t10}"))]).await,
            set(&["alpha", "beta"])
        );
        assert_eq!(
            filtered(&db, &[("created_at", &format!("neq:{t10}"))])
                .await
                .len(),
            3
        );
        assert_eq!(filtered(&db, &[("created_at", &t10)]).await, set(&["beta"]));
        let updated = filtered(&db, &[("updated_at", &format!("eq:{}", iso(25)))]).await;
        assert_eq!(updated, set(&["gamma, delta"]));
    })
    .await;
}

#[tokio::test]
async fn property_filters_must_all_match() {
    on_every_db(|db| async move {
        filter_catalogue(&db).await;
        assert_eq!(
            filtered(&db, &[("os_distro", "cirros")]).await,
            set(&["alpha", "gamma, delta"])
        );
        let both = filtered(&db, &[("os_distro", "cirros"), ("hw_disk_bus", "scsi")]).await;
        assert_eq!(both, set(&["gamma, delta"]));
        assert_eq!(filtered(&db, &[("os_distro", "Cirros")]).await, set(&[]));
        assert_eq!(filtered(&db, &[("no_such_property", "x")]).await, set(&[]));
    })
    .await;
}

/// Property values about 255 characters long (two bytes each in UTF-8):
/// 255 of them, 256, and 300 whose first 255 are the first value's.
fn long_values() -> Vec<String> {
    vec![
        "é".repeat(255),
        "é".repeat(256),
        format!("{}{}", "é".repeat(255), "x".repeat(45)),
    ]
}

#[tokio::test]
async fn property_values_match_whole_at_any_length() {
    // (MySQL/MariaDB compare values of up to 255 characters on a column
    // of their own, longer ones on the value itself.)
    on_every_db(|db| async move {
        filter_catalogue(&db).await;
        let values = long_values();
        for (value, name) in values.iter().zip(["alpha", "beta", "gamma, delta"]) {
            assert_eq!(filtered(&db, &[("note", value)]).await, set(&[name]));
        }
        let short = "é".repeat(254);
        assert_eq!(filtered(&db, &[("note", &short)]).await, set(&[]));
        let longer = format!("{}y", values[2]);
        assert_eq!(filtered(&db, &[("note", &longer)]).await, set(&[]));
    })
    .await;
}

#[tokio::test]
async fn tag_filters_must_all_match() {
    on_every_db(|db| async move {
        filter_catalogue(&db).await;
        assert_eq!(
            filtered(&db, &[("tag", "y")]).await,
            set(&["alpha", "beta", "gamma, delta"])
        );
        assert_eq!(
            filtered(&db, &[("tag", "x"), ("tag", "y")]).await,
            set(&["alpha", "gamma, delta"])
        );
        assert_eq!(
            filtered(&db, &[("tag", "x"), ("tag", "z")]).await,
            set(&["gamma, delta"])
        );
        assert_eq!(filtered(&db, &[("tag", "nope")]).await, set(&[]));
    })
    .await;
}

#[tokio::test]
async fn listed_images_carry_their_tags_properties_and_locations() {
    on_every_db(|db| async move {
        let mut expected = Vec::new();
        for i in 0..5 {
            let mut image = common::full_image("p");
            image.created_at = at(i, 0);
            image.os_hidden = false;
            image.tags.push(format!("own-{i}"));
            db.create_image(&image).await.unwrap();
            expected.push(image);
        }
        expected.reverse();
        let listed = db
            .list_images(&query(&[]), 100, None, &admin(None))
            .await
            .unwrap();
        assert_eq!(listed, expected);
    })
    .await;
}

#[tokio::test]
async fn a_zero_limit_lists_nothing() {
    on_every_db(|db| async move {
        add(&db, "x", Some("A"), Visibility::Public).await;
        assert!(
            db.list_images(&query(&[]), 0, None, &user("A"))
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn a_page_whose_children_exceed_a_mebibyte_is_read_whole() {
    on_every_db(|db| async move {
        for i in 0..30 {
            let mut image = bare_image(Some("A"), Visibility::Public, at(i, 0));
            image.name = Some(format!("big-{i:02}"));
            image
                .properties
                .insert("blob".into(), format!("{i:02}").repeat(25_000));
            db.create_image(&image).await.unwrap();
        }
        let listed = db
            .list_images(&query(&[]), 100, None, &admin(None))
            .await
            .unwrap();
        assert_eq!(listed.len(), 30);
        for image in &listed {
            let blob = &image.properties["blob"];
            assert_eq!(blob.len(), 50_000);
            assert!(blob.starts_with(&image.name.as_deref().unwrap()[4..]));
        }
    })
    .await;
}
