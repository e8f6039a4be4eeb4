//! On a SQLite file, images shown by id are kept between reads while the
//! file is unchanged: every write, from this handle or another one on the
//! same file (as from another process), is seen by the next read.

use crate::common;

use common::{bare_image, full_image};
use glint_db::testing::shown_hits;
use glint_db::{Database, DbError};
use glint_model::{ImageStatus, Member, MemberStatus, Visibility};

#[tokio::test]
async fn a_kept_image_follows_every_write_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/glint.db", dir.path().display());
    let (a, b) = (
        Database::connect(&url).await.unwrap(),
        Database::connect(&url).await.unwrap(),
    );
    let image = full_image("p1");
    let id = image.id;
    b.create_image(&image).await.unwrap();

    // Read twice with nothing written between: the second is kept.
    let first = a.get_image_versioned(id).await.unwrap().unwrap();
    let hits = shown_hits(&a);
    let again = a.get_image_versioned(id).await.unwrap().unwrap();
    assert_eq!(again, first);
    assert_eq!(shown_hits(&a), hits + 1, "the second read was kept");

    // Another handle changes it: the next read shows the change, and the
    // version read is the new one (a save from the old fails).
    let mut renamed = first.image.clone();
    renamed.name = Some("renamed".into());
    renamed
        .properties
        .insert("os_distro".into(), "changed".into());
    let version = b.save_image(&renamed, first.version).await.unwrap();
    let read = a.get_image_versioned(id).await.unwrap().unwrap();
    assert_eq!(
        (read.image.clone(), read.version),
        (renamed.clone(), version)
    );
    assert!(matches!(
        a.save_image(&first.image, first.version).await,
        Err(DbError::Conflict)
    ));
    assert_eq!(a.get_image(id).await.unwrap(), Some(renamed.clone()));

    // A write elsewhere in the file (another image, a member) changes
    // nothing shown, but the read is still right.
    b.create_image(&bare_image(
        Some("p2"),
        Visibility::Private,
        common::at(1, 0),
    ))
    .await
    .unwrap();
    let now = glint_model::time::now();
    let member = Member {
        image_id: id,
        member_id: "p9".into(),
        status: MemberStatus::Pending,
        created_at: now,
        updated_at: now,
    };
    b.add_member(&member, None).await.unwrap();
    assert_eq!(a.get_image(id).await.unwrap(), Some(renamed.clone()));

    // Its status moves and it is deleted through the other handle.
    a.get_image(id).await.unwrap();
    assert!(
        b.set_status(id, ImageStatus::Active, ImageStatus::Deactivated, now)
            .await
            .unwrap()
    );
    let read = a.get_image_versioned(id).await.unwrap().unwrap();
    assert_eq!(read.image.status, ImageStatus::Deactivated);
    b.delete_image(id, read.version, ImageStatus::Deleted, now)
        .await
        .unwrap();
    assert_eq!(a.get_image(id).await.unwrap(), None);
    assert!(a.get_image_any(id).await.unwrap().is_some());

    // Closed, a handle answers nothing, kept or not.
    let other = full_image("p3");
    b.create_image(&other).await.unwrap();
    a.get_image(other.id).await.unwrap();
    a.close().await;
    assert!(a.get_image(other.id).await.is_err());
    b.close().await;
}
