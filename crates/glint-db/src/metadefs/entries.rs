//! The properties, objects and tags of namespaces (table
//! `metadef_entries`, one row per definition, `kind` telling which).

use glint_model::metadef::{Entry, EntryKind};
use glint_model::time::{from_micros, to_micros};
use sea_query::{Cond, Expr, ExprTrait, InsertStatement, Order, Query};
use serde_json::{Map, Value};

use super::{ENTRIES, bad, lock_namespace};
use crate::exec::WriteTx;
use crate::rows::RowRead;
use crate::{Database, DbError, Dialect};

/// Rows per INSERT statement: a big catalogue file goes in several, each
/// well under every dialect's limit on bound values.
const ROWS_PER_INSERT: usize = 200;

const ENTRY_COLUMNS: [&str; 5] = ["kind", "name", "body", "created_at", "updated_at"];

/// The keys a tag list may be sorted by.
pub const TAG_SORT_KEYS: [&str; 3] = ["created_at", "updated_at", "name"];

/// A page of a namespace's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagListQuery {
    /// One of [`TAG_SORT_KEYS`].
    pub sort_key: &'static str,
    pub ascending: bool,
    /// The tag to start after, by name.
    pub marker: Option<String>,
    pub limit: u64,
}

fn entry_from_row(row: &dyn RowRead) -> Result<Entry, DbError> {
    let kind = row.text(0)?.and_then(EntryKind::parse);
    let body: Map<String, Value> = match row.text(2)? {
        Some(text) => serde_json::from_str(text).map_err(|_| bad("definition"))?,
        None => Map::new(),
    };
    let time = |i| row.int(i)?.map(from_micros).ok_or_else(|| bad("time"));
    Ok(Entry {
        kind: kind.ok_or_else(|| bad("kind"))?,
        name: row.text(1)?.ok_or_else(|| bad("name"))?.to_owned(),
        body,
        created_at: time(3)?,
        updated_at: time(4)?,
    })
}

fn entry_values(namespace_id: &str, entry: &Entry) -> [Expr; 7] {
    [
        Expr::val(namespace_id),
        Expr::val(entry.kind.as_str()),
        Expr::val(entry.kind.name_key(&entry.name)),
        Expr::val(entry.name.as_str()),
        Expr::val(Value::Object(entry.body.clone()).to_string()),
        Expr::val(to_micros(entry.created_at)),
        Expr::val(to_micros(entry.updated_at)),
    ]
}

fn new_insert() -> InsertStatement {
    Query::insert()
        .into_table(ENTRIES)
        .columns([
            "namespace_id",
            "kind",
            "name_key",
            "name",
            "body",
            "created_at",
            "updated_at",
        ])
        .take()
}

/// Inserts `entries` into the namespace `namespace_id` (in `tx`), at most
/// [`ROWS_PER_INSERT`] rows per statement.
pub(super) async fn insert_all<'a>(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    namespace_id: &str,
    entries: impl IntoIterator<Item = &'a Entry>,
) -> Result<(), DbError> {
    let mut insert = new_insert();
    let mut rows = 0;
    for entry in entries {
        insert
            .values(entry_values(namespace_id, entry))
            .map_err(|e| DbError::internal(e.to_string()))?;
        rows += 1;
        if rows == ROWS_PER_INSERT {
            tx.execute(dialect, &insert).await?;
            insert = new_insert();
            rows = 0;
        }
    }
    if rows > 0 {
        tx.execute(dialect, &insert).await?;
    }
    Ok(())
}

fn of_namespace(namespace_id: &str, kind: Option<EntryKind>) -> Cond {
    let mut cond = Cond::all().add(Expr::col((ENTRIES, "namespace_id")).eq(namespace_id));
    if let Some(kind) = kind {
        cond = cond.add(Expr::col((ENTRIES, "kind")).eq(kind.as_str()));
    }
    cond
}

impl Database {
    /// The entries of a namespace (of one kind, or all), by kind and name.
    pub async fn metadef_entries(
        &self,
        namespace_id: &str,
        kind: Option<EntryKind>,
    ) -> Result<Vec<Entry>, DbError> {
        let query = Query::select()
            .columns(ENTRY_COLUMNS.map(|c| (ENTRIES, c)))
            .from(ENTRIES)
            .cond_where(of_namespace(namespace_id, kind))
            .order_by((ENTRIES, "kind"), Order::Asc)
            .order_by((ENTRIES, "name_key"), Order::Asc)
            .take();
        self.read_rows(&query, entry_from_row).await
    }

    /// One entry of a namespace, by name (tags: without regard to case).
    pub async fn metadef_entry(
        &self,
        namespace_id: &str,
        kind: EntryKind,
        name: &str,
    ) -> Result<Option<Entry>, DbError> {
        let query = Query::select()
            .columns(ENTRY_COLUMNS.map(|c| (ENTRIES, c)))
            .from(ENTRIES)
            .cond_where(of_namespace(namespace_id, Some(kind)))
            .and_where(Expr::col((ENTRIES, "name_key")).eq(kind.name_key(name)))
            .take();
        Ok(self
            .read_rows(&query, entry_from_row)
            .await?
            .into_iter()
            .next())
    }

    /// A page of a namespace's tags.
    pub async fn list_metadef_tags(
        &self,
        namespace_id: &str,
        q: &TagListQuery,
    ) -> Result<Vec<Entry>, DbError> {
        let mut query = Query::select()
            .columns(ENTRY_COLUMNS.map(|c| (ENTRIES, c)))
            .from(ENTRIES)
            .cond_where(of_namespace(namespace_id, Some(EntryKind::Tag)))
            .take();
        let key = if q.sort_key == "name" {
            "name_key"
        } else {
            q.sort_key
        };
        if let Some(marker) = &q.marker {
            let found = self
                .metadef_entry(namespace_id, EntryKind::Tag, marker)
                .await?
                .ok_or(DbError::NotFound)?;
            let name_key = EntryKind::Tag.name_key(&found.name);
            let value: sea_query::Value = match key {
                "name_key" => name_key.clone().into(),
                "updated_at" => to_micros(found.updated_at).into(),
                _ => to_micros(found.created_at).into(),
            };
            let beyond = |col: &'static str, v: sea_query::Value| {
                let c = Expr::col((ENTRIES, col));
                if q.ascending { c.gt(v) } else { c.lt(v) }
            };
            let mut cond = Cond::any().add(beyond(key, value.clone()));
            if key != "name_key" {
                cond = cond.add(
                    Cond::all()
                        .add(Expr::col((ENTRIES, key)).eq(value))
                        .add(beyond("name_key", name_key.into())),
                );
            }
            query.cond_where(cond);
        }
        let order = if q.ascending { Order::Asc } else { Order::Desc };
        query.order_by((ENTRIES, key), order.clone());
        if key != "name_key" {
            query.order_by((ENTRIES, "name_key"), order);
        }
        query.limit(q.limit);
        self.read_rows(&query, entry_from_row).await
    }

    /// Adds entries to a namespace; `Duplicate` if a name is taken,
    /// `NotFound` if the namespace is gone.
    pub async fn insert_metadef_entries(
        &self,
        namespace_id: &str,
        entries: &[Entry],
    ) -> Result<(), DbError> {
        let dialect = self.dialect();
        let mut tx = self.begin_write().await?;
        lock_namespace(&mut tx, dialect, namespace_id).await?;
        insert_all(&mut tx, dialect, namespace_id, entries).await?;
        tx.commit().await
    }

    /// Replaces a namespace's tags by `tags` (in one transaction).
    pub async fn replace_metadef_tags(
        &self,
        namespace_id: &str,
        tags: &[Entry],
    ) -> Result<(), DbError> {
        let dialect = self.dialect();
        let mut tx = self.begin_write().await?;
        lock_namespace(&mut tx, dialect, namespace_id).await?;
        let delete = Query::delete()
            .from_table(ENTRIES)
            .cond_where(of_namespace(namespace_id, Some(EntryKind::Tag)))
            .take();
        tx.execute(dialect, &delete).await?;
        insert_all(&mut tx, dialect, namespace_id, tags).await?;
        tx.commit().await
    }

    /// Replaces the entry `old_name` by `entry` (which may be renamed);
    /// `NotFound` if it is gone, `Duplicate` if the new name is taken.
    pub async fn update_metadef_entry(
        &self,
        namespace_id: &str,
        old_name: &str,
        entry: &Entry,
    ) -> Result<(), DbError> {
        let dialect = self.dialect();
        let update = Query::update()
            .table(ENTRIES)
            .value("name_key", entry.kind.name_key(&entry.name))
            .value("name", entry.name.as_str())
            .value("body", Value::Object(entry.body.clone()).to_string())
            .value("updated_at", to_micros(entry.updated_at))
            .cond_where(of_namespace(namespace_id, Some(entry.kind)))
            .and_where(Expr::col("name_key").eq(entry.kind.name_key(old_name)))
            .take();
        let mut tx = self.begin_write().await?;
        lock_namespace(&mut tx, dialect, namespace_id).await?;
        if tx.execute(dialect, &update).await? == 0 {
            return Err(DbError::NotFound);
        }
        tx.commit().await
    }

    /// Deletes one entry; `false` if it was not there.
    pub async fn delete_metadef_entry(
        &self,
        namespace_id: &str,
        kind: EntryKind,
        name: &str,
    ) -> Result<bool, DbError> {
        let delete = Query::delete()
            .from_table(ENTRIES)
            .cond_where(of_namespace(namespace_id, Some(kind)))
            .and_where(Expr::col("name_key").eq(kind.name_key(name)))
            .take();
        let mut tx = self.begin_write().await?;
        let gone = tx.execute(self.dialect(), &delete).await?;
        tx.commit().await?;
        Ok(gone > 0)
    }

    /// Deletes every entry of `kind` of a namespace.
    pub async fn delete_metadef_entries(
        &self,
        namespace_id: &str,
        kind: EntryKind,
    ) -> Result<u64, DbError> {
        let delete = Query::delete()
            .from_table(ENTRIES)
            .cond_where(of_namespace(namespace_id, Some(kind)))
            .take();
        let mut tx = self.begin_write().await?;
        let gone = tx.execute(self.dialect(), &delete).await?;
        tx.commit().await?;
        Ok(gone)
    }
}
