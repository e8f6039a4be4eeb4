//! Helpers shared by the list tests.

use std::collections::BTreeSet;

use glint_db::{Database, Viewer};
use glint_model::query::ImageListQuery;
use glint_model::{Image, ImageStatus, Member, MemberStatus, Visibility};

use super::{at, bare_image};

pub fn query(pairs: &[(&str, &str)]) -> ImageListQuery {
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ImageListQuery::from_pairs(&owned).expect("valid list query")
}

pub fn user(project: &str) -> Viewer {
    Viewer {
        project_id: Some(project.into()),
        is_admin: false,
    }
}

pub fn admin(project: Option<&str>) -> Viewer {
    Viewer {
        project_id: project.map(str::to_string),
        is_admin: true,
    }
}

pub async fn names(db: &Database, pairs: &[(&str, &str)], viewer: &Viewer) -> BTreeSet<String> {
    db.list_images(&query(pairs), 1000, None, viewer)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name.unwrap_or_default())
        .collect()
}

pub fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

pub async fn add(db: &Database, name: &str, owner: Option<&str>, visibility: Visibility) -> Image {
    let n = i64::try_from(name.len()).unwrap();
    let mut image = bare_image(owner, visibility, at(n, n));
    image.name = Some(name.into());
    image.status = ImageStatus::Active;
    db.create_image(&image).await.unwrap();
    image
}

pub async fn share(db: &Database, image: &Image, project: &str, status: MemberStatus) {
    let member = Member {
        image_id: image.id,
        member_id: project.into(),
        status,
        created_at: at(0, 0),
        updated_at: at(0, 0),
    };
    db.add_member(&member, None).await.unwrap();
}

/// Walks the whole list in pages of `page`, each after the previous page's
/// last image.
pub async fn walk(db: &Database, q: &ImageListQuery, page: u64, viewer: &Viewer) -> Vec<Image> {
    let mut out: Vec<Image> = Vec::new();
    loop {
        let marker = out.last().cloned();
        let next = db
            .list_images(q, page, marker.as_ref(), viewer)
            .await
            .unwrap();
        let done = (next.len() as u64) < page;
        out.extend(next);
        if done {
            return out;
        }
        assert!(out.len() < 10_000, "pagination does not end");
    }
}

pub fn ids(images: &[Image]) -> Vec<String> {
    images
        .iter()
        .map(|i| format!("{:?}/{:?}", i.name, i.id))
        .collect()
}
