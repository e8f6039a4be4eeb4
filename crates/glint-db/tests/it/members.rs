use crate::common;

use common::{at, bare_image, full_image, on_every_db};
use glint_db::DbError;
use glint_model::{ImageId, ImageStatus, Member, MemberStatus, Visibility};

fn member(image: ImageId, project: &str, status: MemberStatus, seconds: i64) -> Member {
    Member {
        image_id: image,
        member_id: project.into(),
        status,
        created_at: at(seconds, 1),
        updated_at: at(seconds, 2),
    }
}

#[tokio::test]
async fn added_members_are_read_back_and_listed_oldest_first() {
    on_every_db(|db| async move {
        let image = bare_image(Some("owner"), Visibility::Shared, at(0, 0));
        db.create_image(&image).await.unwrap();
        let second = member(image.id, "p2", MemberStatus::Pending, 20);
        let first = member(image.id, "p1", MemberStatus::Accepted, 10);
        db.add_member(&second, None).await.unwrap();
        db.add_member(&first, None).await.unwrap();
        assert_eq!(
            db.get_member(image.id, "p2").await.unwrap(),
            Some(second.clone())
        );
        assert_eq!(db.get_member(image.id, "nobody").await.unwrap(), None);
        assert_eq!(
            db.list_members(image.id).await.unwrap(),
            vec![first, second]
        );
        assert_eq!(db.count_members(image.id).await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn adding_an_existing_member_is_a_duplicate() {
    on_every_db(|db| async move {
        let image = bare_image(Some("owner"), Visibility::Shared, at(0, 0));
        db.create_image(&image).await.unwrap();
        db.add_member(&member(image.id, "p1", MemberStatus::Pending, 1), None)
            .await
            .unwrap();
        let again = db
            .add_member(&member(image.id, "p1", MemberStatus::Accepted, 2), None)
            .await;
        assert!(matches!(again, Err(DbError::Duplicate)), "{again:?}");
    })
    .await;
}

#[tokio::test]
async fn adding_a_member_to_a_missing_image_is_not_found() {
    on_every_db(|db| async move {
        let result = db
            .add_member(
                &member(ImageId::new_random(), "p1", MemberStatus::Pending, 1),
                None,
            )
            .await;
        assert!(matches!(result, Err(DbError::NotFound)), "{result:?}");
    })
    .await;
}

#[tokio::test]
async fn updating_a_member_changes_its_status_and_updated_at() {
    on_every_db(|db| async move {
        let image = bare_image(Some("owner"), Visibility::Shared, at(0, 0));
        db.create_image(&image).await.unwrap();
        let mut m = member(image.id, "p1", MemberStatus::Pending, 1);
        db.add_member(&m, None).await.unwrap();
        m.status = MemberStatus::Rejected;
        m.updated_at = at(50, 0);
        db.update_member(&m).await.unwrap();
        assert_eq!(db.get_member(image.id, "p1").await.unwrap(), Some(m));
        let missing = member(image.id, "p9", MemberStatus::Accepted, 1);
        assert!(matches!(
            db.update_member(&missing).await,
            Err(DbError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn a_deleted_member_is_gone_and_can_be_added_again() {
    on_every_db(|db| async move {
        let image = bare_image(Some("owner"), Visibility::Shared, at(0, 0));
        db.create_image(&image).await.unwrap();
        db.add_member(&member(image.id, "p1", MemberStatus::Accepted, 1), None)
            .await
            .unwrap();
        db.delete_member(image.id, "p1").await.unwrap();
        assert_eq!(db.get_member(image.id, "p1").await.unwrap(), None);
        assert!(db.list_members(image.id).await.unwrap().is_empty());
        assert_eq!(db.count_members(image.id).await.unwrap(), 0);
        let second_delete = db.delete_member(image.id, "p1").await;
        assert!(matches!(second_delete, Err(DbError::NotFound)));
        assert!(matches!(
            db.update_member(&member(image.id, "p1", MemberStatus::Pending, 3))
                .await,
            Err(DbError::NotFound)
        ));

        let revived = member(image.id, "p1", MemberStatus::Pending, 5);
        db.add_member(&revived, None).await.unwrap();
        assert_eq!(db.get_member(image.id, "p1").await.unwrap(), Some(revived));
    })
    .await;
}

#[tokio::test]
async fn deleting_an_image_removes_its_members() {
    on_every_db(|db| async move {
        let image = full_image("owner");
        db.create_image(&image).await.unwrap();
        db.add_member(&member(image.id, "p1", MemberStatus::Accepted, 1), None)
            .await
            .unwrap();
        db.add_member(&member(image.id, "p2", MemberStatus::Pending, 2), None)
            .await
            .unwrap();
        let read = db.get_image_versioned(image.id).await.unwrap().unwrap();
        db.delete_image(image.id, read.version, ImageStatus::Deleted, at(9, 0))
            .await
            .unwrap();
        assert_eq!(db.count_members(image.id).await.unwrap(), 0);
        assert!(db.list_members(image.id).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn members_of_one_image_do_not_leak_to_another() {
    on_every_db(|db| async move {
        let one = bare_image(Some("owner"), Visibility::Shared, at(0, 0));
        let two = bare_image(Some("owner"), Visibility::Shared, at(1, 0));
        db.create_image(&one).await.unwrap();
        db.create_image(&two).await.unwrap();
        db.add_member(&member(one.id, "p1", MemberStatus::Accepted, 1), None)
            .await
            .unwrap();
        assert_eq!(db.get_member(two.id, "p1").await.unwrap(), None);
        assert_eq!(db.count_members(two.id).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn members_added_at_once_never_exceed_the_quota() {
    on_every_db(|db| async move {
        let image = bare_image(Some("owner"), Visibility::Shared, at(0, 0));
        db.create_image(&image).await.unwrap();
        let adds: Vec<_> = (0..16)
            .map(|i| {
                let db = db.clone();
                let m = member(image.id, &format!("p{i}"), MemberStatus::Pending, i);
                tokio::spawn(async move { db.add_member(&m, Some(5)).await })
            })
            .collect();
        let mut added = 0;
        for add in adds {
            match add.await.unwrap() {
                Ok(()) => added += 1,
                Err(DbError::TooManyMembers { attempted }) => assert_eq!(attempted, 6),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(added, 5);
        assert_eq!(db.count_members(image.id).await.unwrap(), 5);
    })
    .await;
}
