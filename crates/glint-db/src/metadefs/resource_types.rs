//! Resource types (`metadef_resource_types`) and the associations of
//! namespaces with them (`metadef_namespace_resource_types`). A resource
//! type comes into being with its first association and stays listed
//! after its last one goes, as in Glance.

use glint_model::metadef::{Association, ResourceType};
use glint_model::time::{from_micros, to_micros};
use sea_query::{Expr, ExprTrait, OnConflict, Order, Query};

use super::{ASSOCIATIONS, RESOURCE_TYPES, association_from_row, bad, lock_namespace};
use crate::exec::WriteTx;
use crate::rows::RowRead;
use crate::{Database, DbError, Dialect};

const ASSOCIATION_COLUMNS: [&str; 6] = [
    "namespace_id",
    "resource_type",
    "prefix",
    "properties_target",
    "created_at",
    "updated_at",
];

fn resource_type_from_row(row: &dyn RowRead) -> Result<ResourceType, DbError> {
    let time = |i| row.int(i)?.map(from_micros).ok_or_else(|| bad("time"));
    Ok(ResourceType {
        name: row.text(0)?.ok_or_else(|| bad("resource type"))?.to_owned(),
        created_at: time(1)?,
        updated_at: time(2)?,
    })
}

/// Associates a namespace with a resource type, creating the type if it
/// is new (in `tx`); `Duplicate` if already associated.
pub(super) async fn associate(
    tx: &mut WriteTx<'_>,
    dialect: Dialect,
    namespace_id: &str,
    assoc: &Association,
) -> Result<(), DbError> {
    let created = to_micros(assoc.created_at);
    let resource_type = Query::insert()
        .into_table(RESOURCE_TYPES)
        .columns(["name", "created_at", "updated_at"])
        .values([
            Expr::val(assoc.resource_type.as_str()),
            Expr::val(created),
            Expr::val(created),
        ])
        .map_err(|e| DbError::internal(e.to_string()))?
        .on_conflict(
            OnConflict::column("name")
                .do_nothing_on(["name"])
                .to_owned(),
        )
        .take();
    tx.execute(dialect, &resource_type).await?;
    let insert = Query::insert()
        .into_table(ASSOCIATIONS)
        .columns(ASSOCIATION_COLUMNS)
        .values([
            Expr::val(namespace_id),
            Expr::val(assoc.resource_type.as_str()),
            Expr::val(assoc.prefix.clone()),
            Expr::val(assoc.properties_target.clone()),
            Expr::val(created),
            Expr::val(to_micros(assoc.updated_at)),
        ])
        .map_err(|e| DbError::internal(e.to_string()))?
        .take();
    tx.execute(dialect, &insert).await?;
    Ok(())
}

impl Database {
    /// Every resource type, by name.
    pub async fn metadef_resource_types(&self) -> Result<Vec<ResourceType>, DbError> {
        let query = Query::select()
            .columns(["name", "created_at", "updated_at"])
            .from(RESOURCE_TYPES)
            .order_by("name", Order::Asc)
            .take();
        self.read_rows(&query, resource_type_from_row).await
    }

    /// The associations of one namespace, by resource type.
    pub async fn metadef_associations(
        &self,
        namespace_id: &str,
    ) -> Result<Vec<Association>, DbError> {
        let found = self
            .metadef_associations_of(std::slice::from_ref(&namespace_id.to_owned()))
            .await?;
        Ok(found.into_iter().map(|(_, a)| a).collect())
    }

    /// The associations of several namespaces (a list page), as pairs of
    /// namespace id and association, by namespace and resource type.
    pub async fn metadef_associations_of(
        &self,
        namespace_ids: &[String],
    ) -> Result<Vec<(String, Association)>, DbError> {
        if namespace_ids.is_empty() {
            return Ok(Vec::new());
        }
        let query = Query::select()
            .columns(ASSOCIATION_COLUMNS.map(|c| (ASSOCIATIONS, c)))
            .from(ASSOCIATIONS)
            .and_where(Expr::col((ASSOCIATIONS, "namespace_id")).is_in(namespace_ids.to_vec()))
            .order_by((ASSOCIATIONS, "namespace_id"), Order::Asc)
            .order_by((ASSOCIATIONS, "resource_type"), Order::Asc)
            .take();
        self.read_rows(&query, association_from_row).await
    }

    /// Associates a namespace with a resource type; `Duplicate` if it
    /// already is, `NotFound` if the namespace is gone.
    pub async fn insert_metadef_association(
        &self,
        namespace_id: &str,
        assoc: &Association,
    ) -> Result<(), DbError> {
        let dialect = self.dialect();
        let mut tx = self.begin_write().await?;
        lock_namespace(&mut tx, dialect, namespace_id).await?;
        associate(&mut tx, dialect, namespace_id, assoc).await?;
        tx.commit().await
    }

    /// Dissociates a namespace from a resource type; `false` if it was not.
    pub async fn delete_metadef_association(
        &self,
        namespace_id: &str,
        resource_type: &str,
    ) -> Result<bool, DbError> {
        let delete = Query::delete()
            .from_table(ASSOCIATIONS)
            .and_where(Expr::col("namespace_id").eq(namespace_id))
            .and_where(Expr::col("resource_type").eq(resource_type))
            .take();
        let mut tx = self.begin_write().await?;
        let gone = tx.execute(self.dialect(), &delete).await?;
        tx.commit().await?;
        Ok(gone > 0)
    }
}
