//! Job leases of any kind: claimed by one holder at a time, renewed and
//! finished by that holder only, taken over once expired.

use crate::common;

use common::{at, on_every_db};
use glint_db::{DbError, JobLease};

fn lease(holder: &str, until: i64) -> JobLease {
    JobLease {
        holder: holder.into(),
        expires_at: at(until, 0),
    }
}

#[tokio::test]
async fn a_job_has_one_holder_who_alone_renews_and_finishes_it() {
    on_every_db(|db| async move {
        let (kind, key) = ("prefetch", "some-image");
        let a = lease("a", 100);
        assert!(db.claim_job(kind, key, &a, at(0, 0), &[]).await.unwrap());
        let b = lease("b", 300);
        assert!(!db.claim_job(kind, key, &b, at(50, 0), &[]).await.unwrap());
        // The same key of another kind is another job.
        assert!(
            db.claim_job("import", key, &b, at(50, 0), &[])
                .await
                .unwrap()
        );
        assert!(!db.renew_job(kind, key, "b", at(400, 0)).await.unwrap());
        assert!(db.renew_job(kind, key, "a", at(200, 0)).await.unwrap());
        // Renewed: still held past its first expiry.
        assert!(!db.claim_job(kind, key, &b, at(150, 0), &[]).await.unwrap());
        let dead = vec!["a".to_owned()];
        assert!(
            db.claim_job(kind, key, &b, at(150, 0), &dead)
                .await
                .unwrap()
        );
        let state = db.job(kind, key).await.unwrap().unwrap();
        assert_eq!((state.holder.as_str(), state.attempts), ("b", 0));
        assert_eq!(state.expires_at, at(300, 0));
        let lost = db.finish_job(kind, key, "a").await;
        assert!(matches!(lost, Err(DbError::LeaseLost)), "{lost:?}");
        db.finish_job(kind, key, "b").await.unwrap();
        assert_eq!(db.job(kind, key).await.unwrap(), None);
        let mut holders = db.job_holders("import").await.unwrap();
        holders.sort();
        assert_eq!(holders, ["b"]);
        assert!(db.job_holders(kind).await.unwrap().is_empty());
    })
    .await;
}
