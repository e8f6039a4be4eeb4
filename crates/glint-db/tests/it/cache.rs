//! The image cache's records and prefetch queue (Glance's centralized_db
//! tables) on every dialect.

use crate::common;

use common::{at, on_every_db};
use glint_db::{CachedData, Database};
use glint_model::ImageId;

const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

fn data(size: u64) -> CachedData<'static> {
    CachedData {
        size,
        checksum: Some(MD5),
    }
}

fn node_url() -> String {
    format!("http://node-{}:9292", uuid_suffix())
}

fn uuid_suffix() -> String {
    ImageId::new_random().to_string()[..8].to_owned()
}

#[tokio::test]
async fn a_node_reference_is_registered_once() {
    on_every_db(|db: Database| async move {
        let url = node_url();
        let first = db.register_cache_node(&url).await.unwrap();
        let again = db.register_cache_node(&url).await.unwrap();
        let other = db.register_cache_node(&node_url()).await.unwrap();
        assert_eq!(first, again);
        assert_ne!(first, other);
    })
    .await;
}

#[tokio::test]
async fn cached_images_list_least_recently_served_first_with_their_hits() {
    on_every_db(|db: Database| async move {
        let node = db.register_cache_node(&node_url()).await.unwrap();
        let (a, b) = (ImageId::new_random(), ImageId::new_random());
        db.record_cached_image(node, a, data(10), at(1, 0))
            .await
            .unwrap();
        db.record_cached_image(node, b, data(20), at(2, 0))
            .await
            .unwrap();
        let listed: Vec<ImageId> = db
            .cached_images(node)
            .await
            .unwrap()
            .iter()
            .map(|c| c.image_id)
            .collect();
        assert_eq!(listed, [a, b]);

        assert!(
            db.touch_cached_image(node, a, data(10), at(3, 5))
                .await
                .unwrap()
        );
        assert!(
            db.touch_cached_image(node, a, data(10), at(4, 5))
                .await
                .unwrap()
        );
        let cached = db.cached_images(node).await.unwrap();
        assert_eq!(cached[0].image_id, b);
        let a_row = &cached[1];
        assert_eq!(a_row.image_id, a);
        assert_eq!(a_row.hits, 2);
        assert_eq!(a_row.size, 10);
        assert_eq!(a_row.checksum.as_deref(), Some(MD5));
        assert_eq!(a_row.last_accessed, at(4, 5));
        assert_eq!(a_row.last_modified, at(1, 0));
        assert_eq!(
            db.cached_image(node, a).await.unwrap().as_ref(),
            Some(a_row)
        );
        assert_eq!(
            db.cached_image(node, ImageId::new_random()).await.unwrap(),
            None
        );
    })
    .await;
}

#[tokio::test]
async fn a_hit_counts_only_while_the_record_matches_the_data() {
    on_every_db(|db: Database| async move {
        let node = db.register_cache_node(&node_url()).await.unwrap();
        let other_node = db.register_cache_node(&node_url()).await.unwrap();
        let image = ImageId::new_random();
        db.record_cached_image(node, image, data(10), at(1, 0))
            .await
            .unwrap();
        let other_sum = CachedData {
            size: 10,
            checksum: Some("0123456789abcdef0123456789abcdef"),
        };
        let no_sum = CachedData {
            size: 10,
            checksum: None,
        };
        for stale in [data(11), other_sum, no_sum] {
            assert!(
                !db.touch_cached_image(node, image, stale, at(2, 0))
                    .await
                    .unwrap()
            );
        }
        assert!(
            !db.touch_cached_image(other_node, image, data(10), at(2, 0))
                .await
                .unwrap()
        );
        assert!(
            !db.touch_cached_image(node, ImageId::new_random(), data(10), at(2, 0))
                .await
                .unwrap()
        );
        assert_eq!(db.cached_images(node).await.unwrap()[0].hits, 0);

        let unsummed = ImageId::new_random();
        db.record_cached_image(node, unsummed, no_sum, at(1, 0))
            .await
            .unwrap();
        assert!(
            db.touch_cached_image(node, unsummed, no_sum, at(2, 0))
                .await
                .unwrap()
        );
        assert!(
            !db.touch_cached_image(node, unsummed, data(10), at(2, 0))
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn recording_an_image_again_replaces_its_record_and_pops_the_queue() {
    on_every_db(|db: Database| async move {
        let node = db.register_cache_node(&node_url()).await.unwrap();
        let image = ImageId::new_random();
        db.queue_prefetch(node, image, at(0, 0)).await.unwrap();
        db.record_cached_image(node, image, data(10), at(1, 0))
            .await
            .unwrap();
        db.touch_cached_image(node, image, data(10), at(2, 0))
            .await
            .unwrap();
        db.record_cached_image(node, image, data(12), at(3, 0))
            .await
            .unwrap();
        let cached = db.cached_images(node).await.unwrap();
        assert_eq!(cached.len(), 1);
        assert_eq!((cached[0].size, cached[0].hits), (12, 0));
        assert!(db.queued_prefetches(node).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn records_are_per_node_and_an_image_is_forgotten_everywhere() {
    on_every_db(|db: Database| async move {
        let (url_a, url_b) = (node_url(), node_url());
        let a = db.register_cache_node(&url_a).await.unwrap();
        let b = db.register_cache_node(&url_b).await.unwrap();
        let (image, kept) = (ImageId::new_random(), ImageId::new_random());
        db.record_cached_image(a, image, data(1), at(1, 0))
            .await
            .unwrap();
        db.record_cached_image(b, image, data(1), at(1, 0))
            .await
            .unwrap();
        db.record_cached_image(b, kept, data(1), at(1, 0))
            .await
            .unwrap();
        db.queue_prefetch(a, image, at(1, 0)).await.unwrap();

        let mut expected = vec![url_a.clone(), url_b.clone()];
        expected.sort();
        assert_eq!(db.cached_image_nodes(image).await.unwrap(), expected);
        assert_eq!(
            db.cached_image_nodes(kept).await.unwrap(),
            std::slice::from_ref(&url_b)
        );
        assert!(
            db.cached_image_nodes(ImageId::new_random())
                .await
                .unwrap()
                .is_empty()
        );

        assert!(db.forget_cached_image(a, image).await.unwrap());
        assert!(!db.forget_cached_image(a, image).await.unwrap());
        assert_eq!(
            db.cached_image_nodes(image).await.unwrap(),
            std::slice::from_ref(&url_b)
        );

        db.record_cached_image(a, image, data(1), at(1, 0))
            .await
            .unwrap();
        db.forget_image_in_caches(image).await.unwrap();
        assert!(db.cached_image_nodes(image).await.unwrap().is_empty());
        assert!(db.queued_prefetches(a).await.unwrap().is_empty());
        assert_eq!(db.cached_image_nodes(kept).await.unwrap(), [url_b]);

        assert_eq!(db.forget_cached_images(b).await.unwrap(), 1);
        assert!(db.cached_images(b).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn the_queue_is_idempotent_ordered_and_per_node() {
    on_every_db(|db: Database| async move {
        let node = db.register_cache_node(&node_url()).await.unwrap();
        let other = db.register_cache_node(&node_url()).await.unwrap();
        let (first, second) = (ImageId::new_random(), ImageId::new_random());
        db.queue_prefetch(node, second, at(2, 0)).await.unwrap();
        db.queue_prefetch(node, first, at(1, 0)).await.unwrap();
        db.queue_prefetch(node, second, at(3, 0)).await.unwrap();
        assert_eq!(db.queued_prefetches(node).await.unwrap(), [first, second]);
        assert!(db.queued_prefetches(other).await.unwrap().is_empty());

        assert!(db.dequeue_prefetch(node, first).await.unwrap());
        assert!(!db.dequeue_prefetch(node, first).await.unwrap());
        db.queue_prefetch(other, first, at(1, 0)).await.unwrap();
        assert_eq!(db.clear_prefetch_queue(node).await.unwrap(), 1);
        assert!(db.queued_prefetches(node).await.unwrap().is_empty());
        assert_eq!(db.queued_prefetches(other).await.unwrap(), [first]);
    })
    .await;
}

#[tokio::test]
async fn a_prefetch_is_claimed_by_one_holder_until_its_lease_expires() {
    on_every_db(|db: Database| async move {
        let node = db.register_cache_node(&node_url()).await.unwrap();
        let (first, second) = (ImageId::new_random(), ImageId::new_random());
        db.queue_prefetch(node, first, at(1, 0)).await.unwrap();
        db.queue_prefetch(node, second, at(2, 0)).await.unwrap();

        let claim = |holder: &'static str, now, until| {
            let db = db.clone();
            async move {
                db.claim_prefetch(node, holder, at(now, 0), at(until, 0))
                    .await
                    .unwrap()
            }
        };
        assert_eq!(claim("p1", 10, 70).await, Some(first));
        assert_eq!(claim("p2", 11, 71).await, Some(second));
        assert_eq!(claim("p3", 12, 72).await, None);

        assert!(
            db.renew_prefetch(node, first, "p1", at(100, 0))
                .await
                .unwrap()
        );
        assert!(
            !db.renew_prefetch(node, first, "p2", at(100, 0))
                .await
                .unwrap()
        );
        // p2 died: its lease runs out, and another holder takes the image.
        assert_eq!(claim("p3", 80, 140).await, Some(second));
        assert!(!db.end_prefetch(node, second, "p2").await.unwrap());
        assert!(db.end_prefetch(node, second, "p3").await.unwrap());
        assert_eq!(db.queued_prefetches(node).await.unwrap(), [first]);
        // Still queued (and listed) while claimed, until its holder ends it.
        assert!(db.end_prefetch(node, first, "p1").await.unwrap());
        assert!(db.queued_prefetches(node).await.unwrap().is_empty());
    })
    .await;
}
