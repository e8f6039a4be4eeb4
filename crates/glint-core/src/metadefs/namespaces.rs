//! Namespaces: list, create (with what they hold), show, replace, delete,
//! and the deletion of all their properties, objects or tags.

use glint_db::{DbError, NAMESPACE_SORT_KEYS, NamespaceListQuery};
use glint_model::ModelError;
use glint_model::metadef::validate::{self, NamespaceInput};
use glint_model::metadef::{
    Association, Entry, EntryKind, Namespace, NamespaceDocument, NamespaceVisibility,
};
use glint_model::time::{self, Timestamp};
use serde_json::{Map, Value};

use super::{Lookup, MetadefService, sort_dir, sort_key};
use crate::context::RequestContext;
use crate::error::{CoreError, MetadefClash, MetadefMissing, MetadefProtection};

/// A namespace list as the client asked for it, before validation.
#[derive(Debug, Clone, Default)]
pub struct NamespaceListRequest {
    pub limit: Option<String>,
    pub marker: Option<String>,
    pub sort_key: Option<String>,
    pub sort_dir: Option<String>,
    pub visibility: Option<String>,
    /// Comma-separated resource type names.
    pub resource_types: Option<String>,
}

/// A page of namespaces with their associations; `next_marker` when the
/// page was full.
#[derive(Debug, Clone)]
pub struct NamespacePage {
    pub namespaces: Vec<(Namespace, Vec<Association>)>,
    pub next_marker: Option<String>,
}

/// A namespace with what it holds, as shown. `properties`, and the
/// properties and `required` of `objects`, carry the prefix of the
/// resource type the caller asked for.
#[derive(Debug, Clone)]
pub struct NamespaceDetail {
    pub namespace: Namespace,
    pub associations: Vec<Association>,
    pub properties: Vec<Entry>,
    pub objects: Vec<Entry>,
    pub tags: Vec<Entry>,
}

fn new_entry(kind: EntryKind, name: String, body: Map<String, Value>, now: Timestamp) -> Entry {
    Entry {
        kind,
        name,
        body,
        created_at: now,
        updated_at: now,
    }
}

/// The document a create body describes; a name repeated inside it
/// clashes as it would with a stored one.
pub(super) fn document(
    input: NamespaceInput,
    owner: Option<String>,
    now: Timestamp,
) -> Result<NamespaceDocument, CoreError> {
    let ns_name = input.namespace.clone();
    let clash = |kind: EntryKind, names: Vec<&str>| {
        validate::first_duplicate(kind, names).map(|name| {
            let (namespace, name) = (ns_name.clone(), name.to_owned());
            CoreError::MetadefExists(match kind {
                EntryKind::Property => MetadefClash::Property {
                    namespace,
                    name,
                    rename: false,
                },
                EntryKind::Object => MetadefClash::Object {
                    namespace,
                    name,
                    rename: false,
                },
                EntryKind::Tag => MetadefClash::Tag { namespace, name },
            })
        })
    };
    let objects: Vec<&str> = input.objects.iter().map(|(n, _)| n.as_str()).collect();
    if let Some(e) = clash(EntryKind::Object, objects) {
        return Err(e);
    }
    if let Some(e) = clash(
        EntryKind::Tag,
        input.tags.iter().map(String::as_str).collect(),
    ) {
        return Err(e);
    }
    let types: Vec<&str> = input.associations.iter().map(|a| a.name.as_str()).collect();
    if let Some(rt) = validate::first_duplicate(EntryKind::Property, types) {
        return Err(CoreError::MetadefExists(MetadefClash::Association {
            namespace: ns_name,
            resource_type: rt.to_owned(),
        }));
    }
    let namespace = Namespace {
        id: uuid::Uuid::new_v4().to_string(),
        namespace: input.namespace,
        display_name: input.display_name,
        description: input.description,
        visibility: input.visibility.unwrap_or(NamespaceVisibility::Private),
        protected: input.protected.unwrap_or(false),
        owner: input.owner.or(owner),
        created_at: now,
        updated_at: now,
    };
    Ok(NamespaceDocument {
        namespace,
        properties: (input.properties.into_iter())
            .map(|(n, b)| new_entry(EntryKind::Property, n, b, now))
            .collect(),
        objects: (input.objects.into_iter())
            .map(|(n, b)| new_entry(EntryKind::Object, n, b, now))
            .collect(),
        tags: (input.tags.into_iter())
            .map(|n| new_entry(EntryKind::Tag, n, Map::new(), now))
            .collect(),
        associations: (input.associations.into_iter())
            .map(|a| Association {
                resource_type: a.name,
                prefix: a.prefix,
                properties_target: a.properties_target,
                created_at: now,
                updated_at: now,
            })
            .collect(),
    })
}

/// Prefixes the names of properties, and of objects' properties and
/// `required`, with `prefix`.
fn prefixed(detail: &mut NamespaceDetail, prefix: &str) {
    for p in &mut detail.properties {
        p.name = format!("{prefix}{}", p.name);
    }
    for o in &mut detail.objects {
        if let Some(Value::Object(props)) = o.body.get_mut("properties") {
            let renamed: Map<String, Value> = std::mem::take(props)
                .into_iter()
                .map(|(k, v)| (format!("{prefix}{k}"), v))
                .collect();
            *props = renamed;
        }
        if let Some(Value::Array(required)) = o.body.get_mut("required") {
            for r in required.iter_mut() {
                if let Value::String(s) = r {
                    *s = format!("{prefix}{s}");
                }
            }
        }
    }
}

impl MetadefService {
    /// `GET /v2/metadefs/namespaces`.
    pub async fn list_namespaces(
        &self,
        ctx: &RequestContext,
        req: &NamespaceListRequest,
    ) -> Result<NamespacePage, CoreError> {
        let ascending = sort_dir(req.sort_dir.as_deref())?;
        let visibility = match req.visibility.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => Some(NamespaceVisibility::parse(v).ok_or_else(|| {
                CoreError::Model(ModelError::invalid(format!(
                    "Invalid visibility value: {}",
                    glint_model::limits::clip(v)
                )))
            })?),
            None => None,
        };
        let sort_key = sort_key(req.sort_key.as_deref(), &NAMESPACE_SORT_KEYS)?;
        let limit = self.limit(req.limit.as_deref(), false)?;
        self.enforce(ctx, "get_metadef_namespaces", None).await?;
        self.enforce(ctx, "list_metadef_resource_types", None)
            .await?;
        let marker = match &req.marker {
            Some(name) => {
                let ns = self.db.metadef_namespace(name).await?.ok_or_else(|| {
                    CoreError::MetadefNotFound(MetadefMissing::Namespace {
                        namespace: name.clone(),
                    })
                })?;
                if !Self::visible(ctx, &ns) {
                    return Err(CoreError::MetadefNotVisible {
                        namespace: name.clone(),
                    });
                }
                Some(ns)
            }
            None => None,
        };
        let resource_types: Vec<String> = req
            .resource_types
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .take(glint_model::metadef::MAX_ENTRIES_PER_REQUEST)
            .map(str::to_owned)
            .collect();
        let query = NamespaceListQuery {
            visible_to: (!ctx.is_admin()).then(|| ctx.project_id().map(str::to_owned)),
            visibility,
            resource_types,
            sort_key,
            ascending,
            marker,
            limit,
        };
        let found = self.db.list_metadef_namespaces(&query).await?;
        let full = limit > 0 && found.len() as u64 == limit;
        let next_marker = full
            .then(|| found.last().map(|n| n.namespace.clone()))
            .flatten();
        let mut shown = Vec::with_capacity(found.len());
        for ns in found {
            if self.check(ctx, "get_metadef_namespace", Some(&ns)).await {
                shown.push(ns);
            }
        }
        let ids: Vec<String> = shown.iter().map(|n| n.id.clone()).collect();
        let mut associations = self.db.metadef_associations_of(&ids).await?;
        let namespaces = shown
            .into_iter()
            .map(|ns| {
                let (mine, rest) = std::mem::take(&mut associations)
                    .into_iter()
                    .partition(|(id, _)| *id == ns.id);
                associations = rest;
                let mine: Vec<Association> = mine.into_iter().map(|(_, a)| a).collect();
                (ns, mine)
            })
            .collect();
        Ok(NamespacePage {
            namespaces,
            next_marker,
        })
    }

    /// `POST /v2/metadefs/namespaces`.
    pub async fn create_namespace(
        &self,
        ctx: &RequestContext,
        body: &Value,
    ) -> Result<NamespaceDetail, CoreError> {
        let input = validate::namespace_body(body).map_err(CoreError::Model)?;
        self.enforce(ctx, "add_metadef_namespace", None).await?;
        let asks = [
            (
                !input.associations.is_empty(),
                "add_metadef_resource_type_association",
            ),
            (!input.objects.is_empty(), "add_metadef_object"),
            (!input.properties.is_empty(), "add_metadef_property"),
            (!input.tags.is_empty(), "add_metadef_tag"),
        ];
        for (asked, rule) in asks {
            if asked {
                self.enforce(ctx, rule, None).await?;
            }
        }
        let doc = document(input, ctx.project_id().map(str::to_owned), time::now())?;
        match self.db.insert_namespace(&doc).await {
            Ok(()) => {}
            Err(DbError::Duplicate) => {
                return Err(CoreError::MetadefExists(MetadefClash::Namespace {
                    namespace: doc.namespace.namespace.clone(),
                    rename: false,
                }));
            }
            Err(e) => return Err(e.into()),
        }
        self.notify_created(&doc);
        Ok(NamespaceDetail {
            namespace: doc.namespace,
            associations: doc.associations,
            properties: doc.properties,
            objects: doc.objects,
            tags: doc.tags,
        })
    }

    /// `GET /v2/metadefs/namespaces/{ns}`, with property names prefixed as
    /// `resource_type`'s association says.
    pub async fn show_namespace(
        &self,
        ctx: &RequestContext,
        name: &str,
        resource_type: Option<&str>,
    ) -> Result<NamespaceDetail, CoreError> {
        let ns = self.namespace(ctx, name, Lookup::Show).await?;
        self.enforce(ctx, "get_metadef_namespace", Some(&ns))
            .await?;
        for rule in [
            "list_metadef_resource_types",
            "get_metadef_objects",
            "get_metadef_properties",
            "get_metadef_tags",
        ] {
            self.enforce(ctx, rule, Some(&ns)).await?;
        }
        let entries = self.db.metadef_entries(&ns.id, None).await?;
        let associations = self.db.metadef_associations(&ns.id).await?;
        let mut detail = NamespaceDetail {
            namespace: ns,
            associations,
            properties: Vec::new(),
            objects: Vec::new(),
            tags: Vec::new(),
        };
        for e in entries {
            match e.kind {
                EntryKind::Property => detail.properties.push(e),
                EntryKind::Object => detail.objects.push(e),
                EntryKind::Tag => detail.tags.push(e),
            }
        }
        let prefix = resource_type.filter(|rt| !rt.is_empty()).and_then(|rt| {
            detail
                .associations
                .iter()
                .find(|a| a.resource_type == rt)
                .and_then(|a| a.prefix.clone())
        });
        if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
            prefixed(&mut detail, &prefix);
        }
        Ok(detail)
    }

    /// `PUT /v2/metadefs/namespaces/{ns}`: every field of the namespace is
    /// replaced; those left out take their defaults.
    pub async fn update_namespace(
        &self,
        ctx: &RequestContext,
        name: &str,
        body: &Value,
    ) -> Result<Namespace, CoreError> {
        let input = validate::namespace_body(body).map_err(CoreError::Model)?;
        let old = self.namespace(ctx, name, Lookup::Of).await?;
        self.enforce(ctx, "modify_metadef_namespace", Some(&old))
            .await?;
        let ns = Namespace {
            id: old.id.clone(),
            namespace: input.namespace,
            display_name: input.display_name,
            description: input.description,
            visibility: input.visibility.unwrap_or(NamespaceVisibility::Private),
            protected: input.protected.unwrap_or(false),
            owner: input.owner.or_else(|| ctx.project_id().map(str::to_owned)),
            created_at: old.created_at,
            updated_at: time::now(),
        };
        match self.db.update_metadef_namespace(&ns).await {
            Ok(()) => {}
            Err(DbError::Duplicate) => {
                return Err(CoreError::MetadefExists(MetadefClash::Namespace {
                    namespace: ns.namespace.clone(),
                    rename: true,
                }));
            }
            Err(DbError::NotFound) => {
                return Err(CoreError::MetadefNotFound(MetadefMissing::NamespaceOf {
                    namespace: name.to_owned(),
                }));
            }
            Err(e) => return Err(e.into()),
        }
        self.notify_namespace(
            glint_notify::EventType::MetadefNamespaceUpdate,
            &ns,
            Some(&old.namespace),
            None,
        );
        Ok(ns)
    }

    /// The namespace to delete (or to empty), once the caller may and it
    /// is not protected.
    async fn deletable(
        &self,
        ctx: &RequestContext,
        name: &str,
        extra_rule: Option<&'static str>,
    ) -> Result<Namespace, CoreError> {
        let ns = self.namespace(ctx, name, Lookup::Of).await?;
        self.enforce(ctx, "delete_metadef_namespace", Some(&ns))
            .await?;
        if let Some(rule) = extra_rule {
            self.enforce(ctx, rule, Some(&ns)).await?;
        }
        if ns.protected {
            return Err(CoreError::MetadefProtected(MetadefProtection::Namespace {
                namespace: ns.namespace,
            }));
        }
        Ok(ns)
    }

    /// `DELETE /v2/metadefs/namespaces/{ns}`.
    pub async fn delete_namespace(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<(), CoreError> {
        let ns = self.deletable(ctx, name, None).await?;
        self.db.delete_metadef_namespace(&ns.id).await?;
        self.notify_namespace(
            glint_notify::EventType::MetadefNamespaceDelete,
            &ns,
            None,
            Some(time::now()),
        );
        Ok(())
    }

    /// `DELETE /v2/metadefs/namespaces/{ns}/{properties,objects,tags}`.
    pub async fn delete_namespace_entries(
        &self,
        ctx: &RequestContext,
        name: &str,
        kind: EntryKind,
    ) -> Result<(), CoreError> {
        let extra = (kind == EntryKind::Tag).then_some("delete_metadef_tags");
        let ns = self.deletable(ctx, name, extra).await?;
        self.db.delete_metadef_entries(&ns.id, kind).await?;
        let event = match kind {
            EntryKind::Property => glint_notify::EventType::MetadefNamespaceDeleteProperties,
            EntryKind::Object => glint_notify::EventType::MetadefNamespaceDeleteObjects,
            EntryKind::Tag => glint_notify::EventType::MetadefNamespaceDeleteTags,
        };
        self.notify_namespace(event, &ns, None, None);
        Ok(())
    }
}
