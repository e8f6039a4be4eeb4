use crate::common;

use common::listing::{add, admin, names, set, share, user};
use common::{at, bare_image, on_every_db};
use glint_db::{Database, Viewer};
use glint_model::{ImageStatus, MemberStatus, Visibility};

/// A catalogue exercising every visibility rule, seen from project "A".
async fn visibility_catalogue(db: &Database) {
    add(db, "pub_a", Some("A"), Visibility::Public).await;
    add(db, "pub_noowner", None, Visibility::Public).await;
    add(db, "com_a", Some("A"), Visibility::Community).await;
    add(db, "com_b", Some("B"), Visibility::Community).await;
    add(db, "priv_a", Some("A"), Visibility::Private).await;
    add(db, "priv_b", Some("B"), Visibility::Private).await;
    add(db, "shr_a", Some("A"), Visibility::Shared).await;
    let accepted = add(db, "shr_b_acc", Some("B"), Visibility::Shared).await;
    share(db, &accepted, "A", MemberStatus::Accepted).await;
    let pending = add(db, "shr_b_pend", Some("B"), Visibility::Shared).await;
    share(db, &pending, "A", MemberStatus::Pending).await;
    let rejected = add(db, "shr_b_rej", Some("B"), Visibility::Shared).await;
    share(db, &rejected, "A", MemberStatus::Rejected).await;
    let other = add(db, "shr_b_c", Some("B"), Visibility::Shared).await;
    share(db, &other, "C", MemberStatus::Accepted).await;
    let removed = add(db, "shr_b_removed", Some("B"), Visibility::Shared).await;
    share(db, &removed, "A", MemberStatus::Accepted).await;
    db.delete_member(removed.id, "A").await.unwrap();
    let private_member = add(db, "priv_b_member", Some("B"), Visibility::Private).await;
    share(db, &private_member, "A", MemberStatus::Accepted).await;
    let killed = add(db, "killed_a", Some("A"), Visibility::Public).await;
    db.set_status(
        killed.id,
        ImageStatus::Active,
        ImageStatus::Killed,
        at(1, 0),
    )
    .await
    .unwrap();
    let mut hidden = bare_image(Some("A"), Visibility::Public, at(5, 0));
    hidden.name = Some("hidden_pub".into());
    hidden.os_hidden = true;
    db.create_image(&hidden).await.unwrap();
    let deleted = add(db, "deleted_pub", Some("A"), Visibility::Public).await;
    let read = db.get_image_versioned(deleted.id).await.unwrap().unwrap();
    db.delete_image(deleted.id, read.version, ImageStatus::Deleted, at(2, 0))
        .await
        .unwrap();
    let pending_delete = add(db, "pending_delete_pub", Some("A"), Visibility::Public).await;
    let pd = ImageStatus::PendingDelete;
    let read = db
        .get_image_versioned(pending_delete.id)
        .await
        .unwrap()
        .unwrap();
    db.delete_image(pending_delete.id, read.version, pd, at(2, 0))
        .await
        .unwrap();
}

const A_DEFAULT: &[&str] = &[
    "pub_a",
    "pub_noowner",
    "com_a",
    "priv_a",
    "shr_a",
    "shr_b_acc",
];

#[tokio::test]
async fn a_project_lists_public_its_own_and_accepted_shared_images() {
    on_every_db(|db| async move {
        visibility_catalogue(&db).await;
        assert_eq!(names(&db, &[], &user("A")).await, set(A_DEFAULT));
    })
    .await;
}

#[tokio::test]
async fn member_status_selects_which_shared_images_a_member_sees() {
    on_every_db(|db| async move {
        visibility_catalogue(&db).await;
        let a = user("A");
        let own = ["pub_a", "pub_noowner", "com_a", "priv_a", "shr_a"];
        let with = |extra: &[&str]| set(&[&own[..], extra].concat());
        let pending = names(&db, &[("member_status", "pending")], &a).await;
        assert_eq!(pending, with(&["shr_b_pend"]));
        let rejected = names(&db, &[("member_status", "rejected")], &a).await;
        assert_eq!(rejected, with(&["shr_b_rej"]));
        let all = names(&db, &[("member_status", "all")], &a).await;
        assert_eq!(all, with(&["shr_b_acc", "shr_b_pend", "shr_b_rej"]));
    })
    .await;
}

#[tokio::test]
async fn the_visibility_parameter_restricts_a_projects_list() {
    on_every_db(|db| async move {
        visibility_catalogue(&db).await;
        let a = user("A");
        let by = |v: &'static str| [("visibility", v)];
        assert_eq!(
            names(&db, &by("community"), &a).await,
            set(&["com_a", "com_b"])
        );
        assert_eq!(
            names(&db, &by("public"), &a).await,
            set(&["pub_a", "pub_noowner"])
        );
        assert_eq!(names(&db, &by("private"), &a).await, set(&["priv_a"]));
        assert_eq!(
            names(&db, &by("shared"), &a).await,
            set(&["shr_a", "shr_b_acc"])
        );
        let all = names(&db, &by("all"), &a).await;
        assert_eq!(all, set(&[A_DEFAULT, &["com_b"]].concat()));
    })
    .await;
}

#[tokio::test]
async fn another_project_sees_only_public_and_what_is_shared_with_it() {
    on_every_db(|db| async move {
        visibility_catalogue(&db).await;
        let c = user("C");
        assert_eq!(
            names(&db, &[], &c).await,
            set(&["pub_a", "pub_noowner", "shr_b_c"])
        );
        let community = names(&db, &[("visibility", "community")], &c).await;
        assert_eq!(community, set(&["com_a", "com_b"]));
    })
    .await;
}

#[tokio::test]
async fn a_viewer_without_project_sees_public_images_and_no_community_by_default() {
    on_every_db(|db| async move {
        visibility_catalogue(&db).await;
        let anonymous = Viewer::default();
        assert_eq!(
            names(&db, &[], &anonymous).await,
            set(&["pub_a", "pub_noowner"])
        );
        let community = names(&db, &[("visibility", "community")], &anonymous).await;
        assert_eq!(community, set(&["com_a", "com_b"]));
    })
    .await;
}

#[tokio::test]
async fn an_admin_sees_everything_but_others_community_images_by_default() {
    on_every_db(|db| async move {
        visibility_catalogue(&db).await;
        let everything_live = [
            "pub_a",
            "pub_noowner",
            "com_a",
            "priv_a",
            "priv_b",
            "shr_a",
            "shr_b_acc",
            "shr_b_pend",
            "shr_b_rej",
            "shr_b_c",
            "shr_b_removed",
            "priv_b_member",
        ];
        let with_project = names(&db, &[], &admin(Some("A"))).await;
        assert_eq!(with_project, set(&everything_live));
        let without_project = names(&db, &[], &admin(None)).await;
        let mut expected = set(&everything_live);
        expected.remove("com_a");
        assert_eq!(without_project, expected);
        let all = names(&db, &[("visibility", "all")], &admin(None)).await;
        assert_eq!(all, set(&[&everything_live[..], &["com_b"]].concat()));
        let shared = names(&db, &[("visibility", "shared")], &admin(None)).await;
        let shared_expected = set(&[
            "shr_a",
            "shr_b_acc",
            "shr_b_pend",
            "shr_b_rej",
            "shr_b_c",
            "shr_b_removed",
        ]);
        assert_eq!(shared, shared_expected);
    })
    .await;
}

#[tokio::test]
async fn hidden_images_are_listed_only_when_asked_for() {
    on_every_db(|db| async move {
        visibility_catalogue(&db).await;
        let hidden = names(&db, &[("os_hidden", "true")], &user("A")).await;
        assert_eq!(hidden, set(&["hidden_pub"]));
        assert!(!names(&db, &[], &admin(None)).await.contains("hidden_pub"));
    })
    .await;
}
