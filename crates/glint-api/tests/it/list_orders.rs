//! `GET /v2/images` with a filter and a sort key at odds (a format by the
//! other format or by status, a size range by a format or by status, a tag
//! or a property by size, status or a format, and by that key then the
//! name, which the tag or property leads run by run of the first key), on
//! each database, for an admin and for a member, paged through `next`
//! links: the pages hold what a sort of the visible images says, whichever
//! way the list is read. The catalogue is a few images; lowering the count
//! from which the planner checks a filter along the order's index rather
//! than starting from its rows makes these few images take the plans a
//! large catalogue takes, including the walk that skips the images without
//! data (queued, no size, no formats) when the filter leaves all of them
//! out, and does not when a queued image with one format set matches.

use crate::common;

use std::cmp::Ordering;

use common::{Backend, Caller, TestApp, expect_json, expect_status, id_of, names};
use reqwest::StatusCode;
use serde_json::json;

/// One image as the test made it.
struct Made {
    name: String,
    disk: Option<&'static str>,
    container: Option<&'static str>,
    size: Option<u64>,
    status: &'static str,
    /// Tagged `t` and with `os_distro=cirros`.
    tagged: bool,
    /// Visible to the member: public, or the member's own.
    to_member: bool,
}

/// An image to make: name, disk format, container format, size of its
/// data (none: left queued), the member's own, public.
type Spec = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<u64>,
    bool,
    bool,
);

/// A sort key and what it reads of an image.
#[derive(Clone, Copy)]
enum Key {
    Size,
    Disk,
    Container,
    Status,
}

impl Key {
    fn param(self) -> &'static str {
        match self {
            Key::Size => "size",
            Key::Disk => "disk_format",
            Key::Container => "container_format",
            Key::Status => "status",
        }
    }

    /// Missing values (an image without data) come first ascending.
    fn compare(self, a: &Made, b: &Made) -> Ordering {
        match self {
            Key::Size => a.size.cmp(&b.size),
            Key::Disk => a.disk.cmp(&b.disk),
            Key::Container => a.container.cmp(&b.container),
            Key::Status => a.status.cmp(b.status),
        }
    }
}

/// The shapes: the query's filter, the predicate it stands for, the key.
type Shape = (&'static str, fn(&Made) -> bool, Key);

fn shapes() -> Vec<Shape> {
    fn ami(m: &Made) -> bool {
        m.disk == Some("ami")
    }
    fn bare(m: &Made) -> bool {
        m.container == Some("bare")
    }
    fn sized(m: &Made) -> bool {
        m.size.is_some_and(|s| s >= 1)
    }
    fn small(m: &Made) -> bool {
        m.size.is_some_and(|s| s <= 4)
    }
    fn either(m: &Made) -> bool {
        matches!(m.disk, Some("ami" | "raw"))
    }
    fn tagged(m: &Made) -> bool {
        m.tagged
    }
    vec![
        ("disk_format=ami", ami, Key::Container),
        ("container_format=bare", bare, Key::Disk),
        ("size_min=1", sized, Key::Disk),
        ("size_min=1", sized, Key::Container),
        ("size_min=1", sized, Key::Status),
        ("disk_format=ami", ami, Key::Status),
        ("size_max=4", small, Key::Status),
        ("disk_format=in:raw,ami", either, Key::Size),
        ("disk_format=in:raw,ami", either, Key::Container),
        ("tag=t", tagged, Key::Size),
        ("tag=t", tagged, Key::Status),
        ("tag=t", tagged, Key::Container),
        ("os_distro=cirros", tagged, Key::Disk),
        ("os_distro=cirros", tagged, Key::Size),
    ]
}

/// Every image `caller` lists with `query`, two at a time, following the
/// `next` links.
async fn every_page(caller: &Caller<'_>, query: &str) -> Vec<String> {
    let mut listed = Vec::new();
    let mut path = format!("/v2/images?{query}&limit=2");
    for _ in 0..50 {
        let resp = caller.get(&path).send().await.unwrap();
        let page = expect_json(resp, StatusCode::OK).await;
        listed.extend(names(&page));
        match page["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => return listed,
        }
    }
    panic!("{query}: paging does not end");
}

/// The names `query` should list, in order: the images matching the
/// filter, by the key, ties by creation time in the same direction.
fn expected(made: &[Made], admin: bool, shape: &Shape, desc: bool) -> Vec<String> {
    let (_, matches, key) = shape;
    let mut rows: Vec<(usize, &Made)> = made
        .iter()
        .enumerate()
        .filter(|(_, m)| (admin || m.to_member) && matches(m))
        .collect();
    rows.sort_by(|(i, a), (j, b)| {
        let order = key.compare(a, b).then(i.cmp(j));
        if desc { order.reverse() } else { order }
    });
    rows.into_iter().map(|(_, m)| m.name.clone()).collect()
}

/// The names a two-key order lists: `shape`'s key in its direction, then
/// the name descending (a tag or property leads it run by run of the
/// first key).
fn expected_then_name(made: &[Made], admin: bool, shape: &Shape, desc: bool) -> Vec<String> {
    let (_, matches, key) = shape;
    let mut rows: Vec<&Made> = made
        .iter()
        .filter(|m| (admin || m.to_member) && matches(m))
        .collect();
    rows.sort_by(|a, b| {
        let first = key.compare(a, b);
        let first = if desc { first.reverse() } else { first };
        first.then_with(|| b.name.cmp(&a.name))
    });
    rows.into_iter().map(|m| m.name.clone()).collect()
}

/// Creates `image` as `caller` and uploads its data, if it has a size;
/// returns its id.
async fn make(caller: &Caller<'_>, image: &Made, visibility: &str) -> String {
    let mut body = json!({"name": image.name, "visibility": visibility});
    if image.tagged {
        body["tags"] = json!(["t"]);
        body["os_distro"] = json!("cirros");
    }
    if let Some(disk) = image.disk {
        body["disk_format"] = json!(disk);
    }
    if let Some(container) = image.container {
        body["container_format"] = json!(container);
    }
    let id = id_of(&caller.create_image(body).await);
    if let Some(size) = image.size {
        let resp = caller.upload(&id, vec![7u8; size as usize]).await;
        expect_status(resp, StatusCode::NO_CONTENT).await;
    }
    id
}

/// An image with data (active once uploaded), public to the member.
fn public(name: &str, disk: &'static str, container: &'static str, size: u64) -> Made {
    Made {
        name: name.to_owned(),
        disk: Some(disk),
        container: Some(container),
        size: Some(size),
        status: "active",
        tagged: true,
        to_member: true,
    }
}

#[tokio::test]
async fn filters_at_odds_with_the_order_list_every_page_in_each_plan() {
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let app = TestApp::builder().backend(backend).start().await;
        let (admin, member) = (app.admin(), app.member_of("p1"));
        let mut made = Vec::new();
        let images: [Spec; 9] = [
            (
                "raw-bare-3",
                Some("raw"),
                Some("bare"),
                Some(3),
                false,
                true,
            ),
            ("none-a", None, None, None, false, true),
            (
                "ami-bare-1",
                Some("ami"),
                Some("bare"),
                Some(1),
                false,
                true,
            ),
            ("ami-ova-5", Some("ami"), Some("ova"), Some(5), false, true),
            ("none-b", None, None, None, true, false),
            ("raw-ova-2", Some("raw"), Some("ova"), Some(2), false, true),
            (
                "ami-bare-4",
                Some("ami"),
                Some("bare"),
                Some(4),
                false,
                false,
            ),
            (
                "own-ami-ova-6",
                Some("ami"),
                Some("ova"),
                Some(6),
                true,
                false,
            ),
            ("none-c", None, None, None, false, false),
        ];
        for (i, (name, disk, container, size, own, public)) in images.into_iter().enumerate() {
            let tagged = i % 2 == 0;
            let (caller, visibility) = match (own, public) {
                (true, _) => (&member, "private"),
                (false, true) => (&admin, "public"),
                (false, false) => (&admin, "private"),
            };
            let image = Made {
                name: name.to_owned(),
                disk,
                container,
                size,
                status: if size.is_some() { "active" } else { "queued" },
                tagged,
                to_member: own || public,
            };
            make(caller, &image, visibility).await;
            made.push(image);
        }
        // A deactivated image, and a deleted one that no list shows.
        let deactivated = Made {
            status: "deactivated",
            ..public("raw-ova-7", "raw", "ova", 7)
        };
        let id = make(&admin, &deactivated, "public").await;
        let resp = admin
            .post(&format!("/v2/images/{id}/actions/deactivate"))
            .send()
            .await
            .unwrap();
        expect_status(resp, StatusCode::NO_CONTENT).await;
        made.push(deactivated);
        let id = make(&admin, &public("gone", "ami", "bare", 2), "public").await;
        let resp = admin
            .delete(&format!("/v2/images/{id}"))
            .send()
            .await
            .unwrap();
        expect_status(resp, StatusCode::NO_CONTENT).await;

        // First with no queued image matching a format filter (the walks
        // skip the images without data), then with one for each format (a
        // queued image the filter matches: nothing may be skipped).
        for phase in 0..2 {
            if phase == 1 {
                for (name, disk, container, tagged) in [
                    ("queued-ami", Some("ami"), None, true),
                    ("queued-bare", None, Some("bare"), false),
                ] {
                    let image = Made {
                        name: name.to_owned(),
                        disk,
                        container,
                        size: None,
                        status: "queued",
                        tagged,
                        to_member: true,
                    };
                    make(&admin, &image, "public").await;
                    made.push(image);
                }
            }
            // The default count (these few images start the list), then
            // counts under which every filter is checked along the order's
            // index, its walk bounded or not.
            for few in [5000, 1, 3] {
                glint_db::testing::set_few_rows(app.db(), few);
                for shape in shapes() {
                    for desc in [false, true] {
                        let dir = if desc { "desc" } else { "asc" };
                        let query =
                            format!("{}&sort_key={}&sort_dir={dir}", shape.0, shape.2.param());
                        for (caller, is_admin) in [(&admin, true), (&member, false)] {
                            let want = expected(&made, is_admin, &shape, desc);
                            assert!(!want.is_empty(), "{query}");
                            let whole = caller.list_names(&format!("{query}&limit=100")).await;
                            assert_eq!(
                                whole, want,
                                "{query}, admin {is_admin}, few {few}, phase {phase}"
                            );
                            let paged = every_page(caller, &query).await;
                            assert_eq!(
                                paged, want,
                                "{query} paged, admin {is_admin}, few {few}, phase {phase}"
                            );
                        }
                        if !shape.0.starts_with("tag=") && !shape.0.starts_with("os_distro=") {
                            continue;
                        }
                        let query = format!("{}&sort={}:{dir},name:desc", shape.0, shape.2.param());
                        for (caller, is_admin) in [(&admin, true), (&member, false)] {
                            let want = expected_then_name(&made, is_admin, &shape, desc);
                            let paged = every_page(caller, &query).await;
                            assert_eq!(
                                paged, want,
                                "{query} paged, admin {is_admin}, few {few}, phase {phase}"
                            );
                        }
                    }
                }
            }
        }
    }
}
