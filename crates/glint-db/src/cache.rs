//! The image cache's records (tables `node_reference`, `cached_images`,
//! `cache_queue`), kept in the main database as Glance's `centralized_db`
//! cache driver keeps them.
//!
//! The cached data itself lives in each node's cache directory; these rows
//! say which node holds which image, how often and how recently it was
//! served (what pruning orders by), the size and md5 of what was cached
//! (so a node never serves a file that no longer matches its image), and
//! which images wait to be prefetched on which node. Prefetches are claimed
//! with a lease, so a queue survives restarts and a prefetcher that died
//! leaves its row to be taken up again.

use glint_model::ImageId;
use glint_model::time::{Timestamp, from_micros, to_micros};
use sea_query::{Cond, Expr, ExprTrait, OnConflict, Order, Query};
use sqlx::Row;

use crate::rows::parse_id;
use crate::{Database, DbError};

const NODES: &str = "node_reference";
const CACHED: &str = "cached_images";
const QUEUE: &str = "cache_queue";
const NODE: &str = "node_reference_id";

/// A node of the image cache, as registered in `node_reference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheNode(i64);

/// One image held in a node's cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedImage {
    /// The row's own id (Glance lists it).
    pub id: i64,
    pub image_id: ImageId,
    pub last_accessed: Timestamp,
    pub last_modified: Timestamp,
    pub size: u64,
    pub hits: u64,
    /// md5 of the data cached, when the image had one.
    pub checksum: Option<String>,
}

/// What a cache entry holds: its size and md5. An entry is served only
/// while both still match the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedData<'a> {
    pub size: u64,
    pub checksum: Option<&'a str>,
}

fn size_value(size: u64) -> Result<i64, DbError> {
    i64::try_from(size).map_err(|_| DbError::internal("cached size out of range"))
}

fn node_and_image(node: CacheNode, image: ImageId) -> Cond {
    Cond::all()
        .add(Expr::col(NODE).eq(node.0))
        .add(Expr::col("image_id").eq(image.to_string()))
}

fn same_data(data: CachedData<'_>) -> Result<Cond, DbError> {
    let checksum = match data.checksum {
        Some(sum) => Expr::col("checksum").eq(sum),
        None => Expr::col("checksum").is_null(),
    };
    Ok(Cond::all()
        .add(Expr::col("size").eq(size_value(data.size)?))
        .add(checksum))
}

fn select_cached() -> sea_query::SelectStatement {
    Query::select()
        .columns([
            "id",
            "image_id",
            "last_accessed",
            "last_modified",
            "size",
            "hits",
            "checksum",
        ])
        .from(CACHED)
        .take()
}

impl Database {
    /// The node registered under `url`, registered now if it is new.
    pub async fn register_cache_node(&self, url: &str) -> Result<CacheNode, DbError> {
        let mut insert = Query::insert();
        insert
            .into_table(NODES)
            .columns(["node_reference_url"])
            .values([Expr::val(url)])
            .map_err(|e| DbError::internal(e.to_string()))?
            .on_conflict(
                OnConflict::column("node_reference_url")
                    .do_nothing_on(["node_reference_url"])
                    .to_owned(),
            );
        self.write_statement(&insert).await?;
        let query = Query::select()
            .column(NODE)
            .from(NODES)
            .and_where(Expr::col("node_reference_url").eq(url))
            .take();
        let found = self.fetch_all(&query).await?;
        let row = found
            .first()
            .ok_or_else(|| DbError::internal("node reference vanished after its insert"))?;
        Ok(CacheNode(row.try_get(0)?))
    }

    /// The images cached on `node`, least recently served first.
    pub async fn cached_images(&self, node: CacheNode) -> Result<Vec<CachedImage>, DbError> {
        let query = select_cached()
            .and_where(Expr::col(NODE).eq(node.0))
            .order_by("last_accessed", Order::Asc)
            .order_by("id", Order::Asc)
            .take();
        self.fetch_cached(&query).await
    }

    /// `node`'s record of `image`, if it has one.
    pub async fn cached_image(
        &self,
        node: CacheNode,
        image: ImageId,
    ) -> Result<Option<CachedImage>, DbError> {
        let query = select_cached()
            .cond_where(node_and_image(node, image))
            .take();
        Ok(self.fetch_cached(&query).await?.pop())
    }

    async fn fetch_cached(
        &self,
        query: &sea_query::SelectStatement,
    ) -> Result<Vec<CachedImage>, DbError> {
        let rows = self.fetch_all(query).await?;
        rows.iter()
            .map(|row| {
                let image_id: String = row.try_get(1)?;
                Ok(CachedImage {
                    id: row.try_get(0)?,
                    image_id: parse_id(&image_id)?,
                    last_accessed: from_micros(row.try_get(2)?),
                    last_modified: from_micros(row.try_get(3)?),
                    size: u64::try_from(row.try_get::<i64, _>(4)?).unwrap_or(0),
                    hits: u64::try_from(row.try_get::<i64, _>(5)?).unwrap_or(0),
                    checksum: row.try_get(6)?,
                })
            })
            .collect()
    }

    /// Records that `node` now caches `data` of `image` (replacing any
    /// older record of it there), as of `now`, and takes the image off the
    /// node's prefetch queue.
    pub async fn record_cached_image(
        &self,
        node: CacheNode,
        image: ImageId,
        data: CachedData<'_>,
        now: Timestamp,
    ) -> Result<(), DbError> {
        let dialect = self.dialect();
        let older = Query::delete()
            .from_table(CACHED)
            .cond_where(node_and_image(node, image))
            .take();
        let mut insert = Query::insert();
        insert
            .into_table(CACHED)
            .columns([
                "image_id",
                "last_accessed",
                "last_modified",
                "size",
                "hits",
                "checksum",
                NODE,
            ])
            .values([
                Expr::val(image.to_string()),
                Expr::val(to_micros(now)),
                Expr::val(to_micros(now)),
                Expr::val(size_value(data.size)?),
                Expr::val(0_i64),
                Expr::val(data.checksum),
                Expr::val(node.0),
            ])
            .map_err(|e| DbError::internal(e.to_string()))?;
        let dequeue = Query::delete()
            .from_table(QUEUE)
            .cond_where(node_and_image(node, image))
            .take();
        let mut tx = self.begin_write().await?;
        tx.execute(dialect, &older).await?;
        tx.execute(dialect, &insert).await?;
        tx.execute(dialect, &dequeue).await?;
        tx.commit().await
    }

    /// Counts one more hit of `image` on `node` at `now`, if the node's
    /// record says it holds `data`; `false` when it holds no record of the
    /// image or one of other data (the entry must not be served).
    pub async fn touch_cached_image(
        &self,
        node: CacheNode,
        image: ImageId,
        data: CachedData<'_>,
        now: Timestamp,
    ) -> Result<bool, DbError> {
        let update = Query::update()
            .table(CACHED)
            .value("hits", Expr::col("hits").add(1))
            .value("last_accessed", to_micros(now))
            .cond_where(node_and_image(node, image))
            .cond_where(same_data(data)?)
            .take();
        let mut tx = self.begin_write().await?;
        let touched = tx.execute(self.dialect(), &update).await? > 0;
        tx.commit().await?;
        Ok(touched)
    }

    /// Removes `node`'s record of `image`; `false` if it had none.
    pub async fn forget_cached_image(
        &self,
        node: CacheNode,
        image: ImageId,
    ) -> Result<bool, DbError> {
        let delete = Query::delete()
            .from_table(CACHED)
            .cond_where(node_and_image(node, image))
            .take();
        self.write_statement(&delete).await.map(|n| n > 0)
    }

    /// Removes every record and queue entry of `image`, on every node (the
    /// image is gone); nodes drop their files when they next reconcile.
    pub async fn forget_image_in_caches(&self, image: ImageId) -> Result<(), DbError> {
        let dialect = self.dialect();
        let id = image.to_string();
        let cached = Query::delete()
            .from_table(CACHED)
            .and_where(Expr::col("image_id").eq(id.as_str()))
            .take();
        let queued = Query::delete()
            .from_table(QUEUE)
            .and_where(Expr::col("image_id").eq(id.as_str()))
            .take();
        let mut tx = self.begin_write().await?;
        tx.execute(dialect, &cached).await?;
        tx.execute(dialect, &queued).await?;
        tx.commit().await
    }

    /// Removes every record of `node`; how many there were.
    pub async fn forget_cached_images(&self, node: CacheNode) -> Result<u64, DbError> {
        let delete = Query::delete()
            .from_table(CACHED)
            .and_where(Expr::col(NODE).eq(node.0))
            .take();
        self.write_statement(&delete).await
    }

    /// The references of the nodes caching `image`.
    pub async fn cached_image_nodes(&self, image: ImageId) -> Result<Vec<String>, DbError> {
        let query = Query::select()
            .column((NODES, "node_reference_url"))
            .from(CACHED)
            .inner_join(NODES, Expr::col((NODES, NODE)).equals((CACHED, NODE)))
            .and_where(Expr::col((CACHED, "image_id")).eq(image.to_string()))
            .order_by((NODES, "node_reference_url"), Order::Asc)
            .take();
        let rows = self.fetch_all(&query).await?;
        rows.iter()
            .map(|row| row.try_get::<String, _>(0).map_err(DbError::from))
            .collect()
    }

    /// Queues `image` for prefetching on `node` as of `now`; a no-op when
    /// it is queued there already.
    pub async fn queue_prefetch(
        &self,
        node: CacheNode,
        image: ImageId,
        now: Timestamp,
    ) -> Result<(), DbError> {
        let mut insert = Query::insert();
        insert
            .into_table(QUEUE)
            .columns([NODE, "image_id", "queued_at"])
            .values([
                Expr::val(node.0),
                Expr::val(image.to_string()),
                Expr::val(to_micros(now)),
            ])
            .map_err(|e| DbError::internal(e.to_string()))?
            .on_conflict(
                OnConflict::columns([NODE, "image_id"])
                    .do_nothing_on([NODE])
                    .to_owned(),
            );
        self.write_statement(&insert).await.map(drop)
    }

    /// The images queued on `node`, oldest first.
    pub async fn queued_prefetches(&self, node: CacheNode) -> Result<Vec<ImageId>, DbError> {
        let query = Query::select()
            .column("image_id")
            .from(QUEUE)
            .and_where(Expr::col(NODE).eq(node.0))
            .order_by("queued_at", Order::Asc)
            .order_by("image_id", Order::Asc)
            .take();
        let rows = self.fetch_all(&query).await?;
        rows.iter()
            .map(|row| parse_id(&row.try_get::<String, _>(0)?))
            .collect()
    }

    /// Takes the oldest image queued on `node` whose lease is free at
    /// `now`, leasing it to `holder` until `until`; `None` when there is
    /// none to take.
    pub async fn claim_prefetch(
        &self,
        node: CacheNode,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<ImageId>, DbError> {
        let free = || Expr::col("lease_expires").lt(to_micros(now));
        let candidates = Query::select()
            .column("image_id")
            .from(QUEUE)
            .and_where(Expr::col(NODE).eq(node.0))
            .and_where(free())
            .order_by("queued_at", Order::Asc)
            .order_by("image_id", Order::Asc)
            .limit(8)
            .take();
        for row in self.fetch_all(&candidates).await? {
            let image = parse_id(&row.try_get::<String, _>(0)?)?;
            let take = Query::update()
                .table(QUEUE)
                .value("holder", holder)
                .value("lease_expires", to_micros(until))
                .cond_where(node_and_image(node, image))
                .and_where(free())
                .take();
            if self.write_statement(&take).await? > 0 {
                return Ok(Some(image));
            }
        }
        Ok(None)
    }

    /// Extends `holder`'s lease on the prefetch of `image` to `until`;
    /// `false` when it no longer holds it (the entry was removed, or
    /// taken over after the lease expired).
    pub async fn renew_prefetch(
        &self,
        node: CacheNode,
        image: ImageId,
        holder: &str,
        until: Timestamp,
    ) -> Result<bool, DbError> {
        let update = Query::update()
            .table(QUEUE)
            .value("lease_expires", to_micros(until))
            .cond_where(node_and_image(node, image))
            .and_where(Expr::col("holder").eq(holder))
            .take();
        self.write_statement(&update).await.map(|n| n > 0)
    }

    /// Removes `image` from `node`'s queue if `holder` still holds it.
    pub async fn end_prefetch(
        &self,
        node: CacheNode,
        image: ImageId,
        holder: &str,
    ) -> Result<bool, DbError> {
        let delete = Query::delete()
            .from_table(QUEUE)
            .cond_where(node_and_image(node, image))
            .and_where(Expr::col("holder").eq(holder))
            .take();
        self.write_statement(&delete).await.map(|n| n > 0)
    }

    /// Removes `image` from `node`'s queue; `false` if it was not queued.
    pub async fn dequeue_prefetch(&self, node: CacheNode, image: ImageId) -> Result<bool, DbError> {
        let delete = Query::delete()
            .from_table(QUEUE)
            .cond_where(node_and_image(node, image))
            .take();
        self.write_statement(&delete).await.map(|n| n > 0)
    }

    /// Empties `node`'s queue; how many images it held.
    pub async fn clear_prefetch_queue(&self, node: CacheNode) -> Result<u64, DbError> {
        let delete = Query::delete()
            .from_table(QUEUE)
            .and_where(Expr::col(NODE).eq(node.0))
            .take();
        self.write_statement(&delete).await
    }

    /// One write statement in a transaction of its own (on SQLite, in
    /// turn with the other writers).
    async fn write_statement<S: sea_query::QueryStatementWriter>(
        &self,
        statement: &S,
    ) -> Result<u64, DbError> {
        let mut tx = self.begin_write().await?;
        let changed = tx.execute(self.dialect(), statement).await?;
        tx.commit().await?;
        Ok(changed)
    }
}
