//! Resource types and the associations of namespaces with them.

use glint_db::DbError;
use glint_model::metadef::validate;
use glint_model::metadef::{Association, ResourceType};
use glint_model::time;
use serde_json::Value;

use super::{Lookup, MetadefService};
use crate::context::RequestContext;
use crate::error::{CoreError, MetadefClash, MetadefMissing, MetadefProtection};

impl MetadefService {
    /// `GET /v2/metadefs/resource_types`.
    pub async fn list_resource_types(
        &self,
        ctx: &RequestContext,
    ) -> Result<Vec<ResourceType>, CoreError> {
        self.enforce(ctx, "list_metadef_resource_types", None)
            .await?;
        Ok(self.db.metadef_resource_types().await?)
    }

    /// `GET /v2/metadefs/namespaces/{ns}/resource_types`.
    pub async fn list_associations(
        &self,
        ctx: &RequestContext,
        namespace: &str,
    ) -> Result<Vec<Association>, CoreError> {
        let ns = self.namespace(ctx, namespace, Lookup::Of).await?;
        self.enforce(ctx, "list_metadef_resource_types", Some(&ns))
            .await?;
        let found = self.db.metadef_associations(&ns.id).await?;
        if self
            .check(ctx, "get_metadef_resource_type", Some(&ns))
            .await
        {
            Ok(found)
        } else {
            Ok(Vec::new())
        }
    }

    /// `POST /v2/metadefs/namespaces/{ns}/resource_types`.
    pub async fn create_association(
        &self,
        ctx: &RequestContext,
        namespace: &str,
        body: &Value,
    ) -> Result<Association, CoreError> {
        let input = validate::association_body(body).map_err(CoreError::Model)?;
        let ns = self.namespace(ctx, namespace, Lookup::Of).await?;
        self.enforce(ctx, "add_metadef_resource_type_association", Some(&ns))
            .await?;
        let now = time::now();
        let assoc = Association {
            resource_type: input.name,
            prefix: input.prefix,
            properties_target: input.properties_target,
            created_at: now,
            updated_at: now,
        };
        match self.db.insert_metadef_association(&ns.id, &assoc).await {
            Ok(()) => {}
            Err(DbError::Duplicate) => {
                return Err(CoreError::MetadefExists(MetadefClash::Association {
                    namespace: ns.namespace,
                    resource_type: assoc.resource_type,
                }));
            }
            Err(DbError::NotFound) => {
                return Err(CoreError::MetadefNotFound(MetadefMissing::NamespaceOf {
                    namespace: ns.namespace,
                }));
            }
            Err(e) => return Err(e.into()),
        }
        self.notify_association(&ns, &assoc, None);
        Ok(assoc)
    }

    /// `DELETE /v2/metadefs/namespaces/{ns}/resource_types/{rt}`.
    pub async fn delete_association(
        &self,
        ctx: &RequestContext,
        namespace: &str,
        resource_type: &str,
    ) -> Result<(), CoreError> {
        let ns = self.namespace(ctx, namespace, Lookup::Of).await?;
        self.enforce(ctx, "remove_metadef_resource_type_association", Some(&ns))
            .await?;
        let missing = || {
            CoreError::MetadefNotFound(MetadefMissing::AssociationToDelete {
                resource_type: resource_type.to_owned(),
            })
        };
        let found = self.db.metadef_associations(&ns.id).await?;
        let assoc = found
            .into_iter()
            .find(|a| a.resource_type == resource_type)
            .ok_or_else(missing)?;
        if ns.protected {
            return Err(CoreError::MetadefProtected(
                MetadefProtection::Association {
                    resource_type: resource_type.to_owned(),
                },
            ));
        }
        if !self
            .db
            .delete_metadef_association(&ns.id, resource_type)
            .await?
        {
            return Err(missing());
        }
        self.notify_association(&ns, &assoc, Some(time::now()));
        Ok(())
    }
}
