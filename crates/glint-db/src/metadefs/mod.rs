//! The metadata definitions catalogue: namespaces (this module), what they
//! hold (`entries`: properties, objects and tags, one table) and their
//! resource type associations (`resource_types`).
//!
//! Every change runs in one write transaction that first locks its
//! namespace's row, so a change racing a delete of the namespace either
//! lands before it (and goes with it) or finds it gone (`NotFound`).
//! Names are unique per namespace (tags without regard to case, through
//! `name_key`); a clash is `DbError::Duplicate`.

mod entries;
mod resource_types;

pub use entries::{TAG_SORT_KEYS, TagListQuery};

use glint_model::metadef::{Association, Entry, Namespace, NamespaceDocument, NamespaceVisibility};
use glint_model::time::{from_micros, to_micros};
use sea_query::{Cond, Expr, ExprTrait, LockType, Order, Query, SelectStatement};

use crate::exec::WriteTx;
use crate::rows::{RowRead, flag};
use crate::{Database, DbError, Dialect};

pub(crate) const NAMESPACES: &str = "metadef_namespaces";
pub(crate) const ENTRIES: &str = "metadef_entries";
pub(crate) const RESOURCE_TYPES: &str = "metadef_resource_types";
pub(crate) const ASSOCIATIONS: &str = "metadef_namespace_resource_types";

const NAMESPACE_COLUMNS: [&str; 9] = [
    "id",
    "namespace",
    "display_name",
    "description",
    "visibility",
    "protected",
    "owner",
    "created_at",
    "updated_at",
];

/// The keys a namespace list may be sorted by.
pub const NAMESPACE_SORT_KEYS: [&str; 3] = ["created_at", "updated_at", "namespace"];

/// A page of namespaces as asked for (already validated by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceListQuery {
    /// Only namespaces that are public or owned by this project (`None`:
    /// every namespace, for admins).
    pub visible_to: Option<Option<String>>,
    pub visibility: Option<NamespaceVisibility>,
    /// Only namespaces associated with one of these resource types.
    pub resource_types: Vec<String>,
    /// One of [`NAMESPACE_SORT_KEYS`].
    pub sort_key: &'static str,
    pub ascending: bool,
    pub marker: Option<Namespace>,
    pub limit: u64,
}

fn bad(what: &str) -> DbError {
    DbError::internal(format!("bad metadef {what} stored"))
}

fn namespace_from_row(row: &dyn RowRead) -> Result<Namespace, DbError> {
    let text = |i| row.text(i).map(|t| t.map(str::to_owned));
    let time = |i| {
        row.int(i)?
            .map(from_micros)
            .ok_or_else(|| bad("namespace time"))
    };
    let visibility = text(4)?.ok_or_else(|| bad("visibility"))?;
    Ok(Namespace {
        id: text(0)?.ok_or_else(|| bad("namespace id"))?,
        namespace: text(1)?.ok_or_else(|| bad("namespace"))?,
        display_name: text(2)?,
        description: text(3)?,
        visibility: NamespaceVisibility::parse(&visibility).ok_or_else(|| bad("visibility"))?,
        protected: row.int(5)?.unwrap_or(0) != 0,
        owner: text(6)?,
        created_at: time(7)?,
        updated_at: time(8)?,
    })
}

fn select_namespaces() -> SelectStatement {
    Query::select()
        .columns(NAMESPACE_COLUMNS.map(|c| (NAMESPACES, c)))
        .from(NAMESPACES)
        .take()
}

fn sort_value(ns: &Namespace, key: &str) -> sea_query::Value {
    match key {
        "namespace" => ns.namespace.clone().into(),
        "updated_at" => to_micros(ns.updated_at).into(),
        _ => to_micros(ns.created_at).into(),
    }
}

/// Rows after `marker` in the order (key, namespace).
fn after(marker: &Namespace, key: &'static str, ascending: bool) -> Cond {
    let beyond = |col: &'static str, v: sea_query::Value| {
        let c = Expr::col((NAMESPACES, col));
        if ascending { c.gt(v) } else { c.lt(v) }
    };
    let name = marker.namespace.clone();
    if key == "namespace" {
        return Cond::all().add(beyond("namespace", name.into()));
    }
    Cond::any().add(beyond(key, sort_value(marker, key))).add(
        Cond::all()
            .add(Expr::col((NAMESPACES, key)).eq(sort_value(marker, key)))
            .add(beyond("namespace", name.into())),
    )
}

fn namespace_values(ns: &Namespace) -> [Expr; 9] {
    [
        Expr::val(ns.id.as_str()),
        Expr::val(ns.namespace.as_str()),
        Expr::val(ns.display_name.clone()),
        Expr::val(ns.description.clone()),
        Expr::val(ns.visibility.as_str()),
        Expr::val(flag(ns.protected)),
        Expr::val(ns.owner.clone()),
        Expr::val(to_micros(ns.created_at)),
        Expr::val(to_micros(ns.updated_at)),
    ]
}

/// Locks the namespace `id` for the rest of `tx`; `NotFound` if gone.
pub(crate) async fn lock_namespace(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    id: &str,
) -> Result<(), DbError> {
    let query = Query::select()
        .column("id")
        .from(NAMESPACES)
        .and_where(Expr::col("id").eq(id))
        .lock(LockType::Update)
        .take();
    if tx.fetch_all(dialect, &query).await?.is_empty() {
        return Err(DbError::NotFound);
    }
    Ok(())
}

impl Database {
    /// Records a namespace with everything it holds, in one transaction.
    /// `Duplicate` if the namespace name (or a name inside it) is taken.
    pub async fn insert_namespace(&self, doc: &NamespaceDocument) -> Result<(), DbError> {
        let dialect = self.dialect();
        let mut tx = self.begin_write().await?;
        let insert = Query::insert()
            .into_table(NAMESPACES)
            .columns(NAMESPACE_COLUMNS)
            .values(namespace_values(&doc.namespace))
            .map_err(|e| DbError::internal(e.to_string()))?
            .take();
        tx.execute(dialect, &insert).await?;
        entries::insert_all(&mut tx, dialect, &doc.namespace.id, doc.entries()).await?;
        for assoc in &doc.associations {
            resource_types::associate(&mut tx, dialect, &doc.namespace.id, assoc).await?;
        }
        tx.commit().await
    }

    /// The namespace named `name`, whoever may see it.
    pub async fn metadef_namespace(&self, name: &str) -> Result<Option<Namespace>, DbError> {
        let query = select_namespaces()
            .and_where(Expr::col((NAMESPACES, "namespace")).eq(name))
            .take();
        Ok(self
            .read_rows(&query, namespace_from_row)
            .await?
            .into_iter()
            .next())
    }

    /// A page of namespaces.
    pub async fn list_metadef_namespaces(
        &self,
        q: &NamespaceListQuery,
    ) -> Result<Vec<Namespace>, DbError> {
        let mut query = select_namespaces();
        if let Some(project) = &q.visible_to {
            let mut visible = Cond::any().add(Expr::col((NAMESPACES, "visibility")).eq("public"));
            if let Some(project) = project {
                visible = visible.add(Expr::col((NAMESPACES, "owner")).eq(project.as_str()));
            }
            query.cond_where(visible);
        }
        if let Some(v) = q.visibility {
            query.and_where(Expr::col((NAMESPACES, "visibility")).eq(v.as_str()));
        }
        if !q.resource_types.is_empty() {
            let associated = Query::select()
                .column((ASSOCIATIONS, "namespace_id"))
                .from(ASSOCIATIONS)
                .and_where(
                    Expr::col((ASSOCIATIONS, "resource_type")).is_in(q.resource_types.clone()),
                )
                .take();
            query.and_where(Expr::col((NAMESPACES, "id")).in_subquery(associated));
        }
        if let Some(marker) = &q.marker {
            query.cond_where(after(marker, q.sort_key, q.ascending));
        }
        let order = if q.ascending { Order::Asc } else { Order::Desc };
        query.order_by((NAMESPACES, q.sort_key), order.clone());
        if q.sort_key != "namespace" {
            query.order_by((NAMESPACES, "namespace"), order);
        }
        query.limit(q.limit);
        self.read_rows(&query, namespace_from_row).await
    }

    /// Saves a namespace's own fields (a replace, possibly a rename);
    /// `NotFound` if it is gone, `Duplicate` if the new name is taken.
    pub async fn update_metadef_namespace(&self, ns: &Namespace) -> Result<(), DbError> {
        let dialect = self.dialect();
        let update = Query::update()
            .table(NAMESPACES)
            .value("namespace", ns.namespace.as_str())
            .value("display_name", ns.display_name.clone())
            .value("description", ns.description.clone())
            .value("visibility", ns.visibility.as_str())
            .value("protected", flag(ns.protected))
            .value("owner", ns.owner.clone())
            .value("updated_at", to_micros(ns.updated_at))
            .and_where(Expr::col("id").eq(ns.id.as_str()))
            .take();
        let mut tx = self.begin_write().await?;
        lock_namespace(&mut tx, dialect, &ns.id).await?;
        tx.execute(dialect, &update).await?;
        tx.commit().await
    }

    /// Deletes a namespace and everything it holds; `false` if it was gone.
    pub async fn delete_metadef_namespace(&self, id: &str) -> Result<bool, DbError> {
        let dialect = self.dialect();
        let mut tx = self.begin_write().await?;
        let gone = delete_namespace_rows(&mut tx, dialect, Some(id)).await?;
        tx.commit().await?;
        Ok(gone > 0)
    }

    /// Deletes every namespace, entry, association and resource type (the
    /// catalogue's unload); how many namespaces went.
    pub async fn delete_all_metadefs(&self) -> Result<u64, DbError> {
        let dialect = self.dialect();
        let mut tx = self.begin_write().await?;
        let gone = delete_namespace_rows(&mut tx, dialect, None).await?;
        let types = Query::delete().from_table(RESOURCE_TYPES).take();
        tx.execute(dialect, &types).await?;
        tx.commit().await?;
        Ok(gone)
    }

    /// How many namespaces the catalogue holds.
    pub async fn count_metadef_namespaces(&self) -> Result<u64, DbError> {
        let query = Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from(NAMESPACES)
            .take();
        let found = self.read_rows(&query, crate::rows::int_from_row).await?;
        let total = found.into_iter().next().flatten().unwrap_or(0);
        u64::try_from(total).map_err(|e| DbError::internal(e.to_string()))
    }

    /// Every namespace with everything it holds, in name order (export).
    pub async fn metadef_documents(&self) -> Result<Vec<NamespaceDocument>, DbError> {
        let query = select_namespaces()
            .order_by((NAMESPACES, "namespace"), Order::Asc)
            .take();
        let namespaces = self.read_rows(&query, namespace_from_row).await?;
        let mut docs = Vec::with_capacity(namespaces.len());
        for namespace in namespaces {
            let entries = self.metadef_entries(&namespace.id, None).await?;
            let associations = self.metadef_associations(&namespace.id).await?;
            let mut doc = NamespaceDocument {
                namespace,
                properties: Vec::new(),
                objects: Vec::new(),
                tags: Vec::new(),
                associations,
            };
            for entry in entries {
                split_entry(&mut doc, entry);
            }
            docs.push(doc);
        }
        Ok(docs)
    }
}

fn split_entry(doc: &mut NamespaceDocument, entry: Entry) {
    use glint_model::metadef::EntryKind;
    match entry.kind {
        EntryKind::Property => doc.properties.push(entry),
        EntryKind::Object => doc.objects.push(entry),
        EntryKind::Tag => doc.tags.push(entry),
    }
}

/// Deletes the namespace `id` (every namespace when `None`) and what it
/// holds; how many namespaces went.
async fn delete_namespace_rows(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    id: Option<&str>,
) -> Result<u64, DbError> {
    for table in [ENTRIES, ASSOCIATIONS] {
        let mut delete = Query::delete().from_table(table).take();
        if let Some(id) = id {
            delete.and_where(Expr::col("namespace_id").eq(id));
        }
        tx.execute(dialect, &delete).await?;
    }
    let mut delete = Query::delete().from_table(NAMESPACES).take();
    if let Some(id) = id {
        delete.and_where(Expr::col("id").eq(id));
    }
    tx.execute(dialect, &delete).await
}

/// The associations of several namespaces at once (a list page): pairs of
/// namespace id and association.
pub(crate) fn association_from_row(row: &dyn RowRead) -> Result<(String, Association), DbError> {
    let text = |i| row.text(i).map(|t| t.map(str::to_owned));
    let time = |i| {
        row.int(i)?
            .map(from_micros)
            .ok_or_else(|| bad("association time"))
    };
    Ok((
        text(0)?.ok_or_else(|| bad("association"))?,
        Association {
            resource_type: text(1)?.ok_or_else(|| bad("resource type"))?,
            prefix: text(2)?,
            properties_target: text(3)?,
            created_at: time(4)?,
            updated_at: time(5)?,
        },
    ))
}
