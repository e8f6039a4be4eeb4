//! The properties, objects and tags of a namespace: list, show, create,
//! replace (possibly renaming) and delete; tags also in bulk.

use glint_db::{DbError, TAG_SORT_KEYS, TagListQuery};
use glint_model::metadef::validate;
use glint_model::metadef::{Entry, EntryKind, Namespace};
use glint_model::time;
use serde_json::{Map, Value};

use super::{Lookup, MetadefService, sort_dir, sort_key};
use crate::context::RequestContext;
use crate::error::{CoreError, MetadefClash, MetadefMissing, MetadefProtection};

/// A tag list as the client asked for it, before validation.
#[derive(Debug, Clone, Default)]
pub struct TagListRequest {
    pub limit: Option<String>,
    pub marker: Option<String>,
    pub sort_key: Option<String>,
    pub sort_dir: Option<String>,
}

/// The policy rules of one kind of entry.
struct Rules {
    list: &'static str,
    show: &'static str,
    add: &'static str,
    modify: &'static str,
    delete: &'static str,
}

fn rules(kind: EntryKind) -> Rules {
    match kind {
        EntryKind::Property => Rules {
            list: "get_metadef_properties",
            show: "get_metadef_property",
            add: "add_metadef_property",
            modify: "modify_metadef_property",
            delete: "remove_metadef_property",
        },
        EntryKind::Object => Rules {
            list: "get_metadef_objects",
            show: "get_metadef_object",
            add: "add_metadef_object",
            modify: "modify_metadef_object",
            delete: "delete_metadef_object",
        },
        EntryKind::Tag => Rules {
            list: "get_metadef_tags",
            show: "get_metadef_tag",
            add: "add_metadef_tag",
            modify: "modify_metadef_tag",
            delete: "delete_metadef_tag",
        },
    }
}

fn missing(kind: EntryKind, ns: &Namespace, name: &str) -> CoreError {
    let (namespace, name) = (ns.namespace.clone(), name.to_owned());
    CoreError::MetadefNotFound(match kind {
        EntryKind::Property => MetadefMissing::Property { namespace, name },
        EntryKind::Object => MetadefMissing::Object { namespace, name },
        EntryKind::Tag => MetadefMissing::Tag { namespace, name },
    })
}

fn clash(kind: EntryKind, ns: &Namespace, name: &str, rename: bool) -> CoreError {
    let (namespace, name) = (ns.namespace.clone(), name.to_owned());
    CoreError::MetadefExists(match kind {
        EntryKind::Property => MetadefClash::Property {
            namespace,
            name,
            rename,
        },
        EntryKind::Object => MetadefClash::Object {
            namespace,
            name,
            rename,
        },
        EntryKind::Tag => MetadefClash::Tag { namespace, name },
    })
}

/// A namespace gone between its read and a write is missing too.
fn gone(e: DbError, ns: &Namespace) -> CoreError {
    match e {
        DbError::NotFound => CoreError::MetadefNotFound(MetadefMissing::NamespaceOf {
            namespace: ns.namespace.clone(),
        }),
        e => e.into(),
    }
}

impl MetadefService {
    async fn namespace_for(
        &self,
        ctx: &RequestContext,
        namespace: &str,
        rule: &'static str,
    ) -> Result<Namespace, CoreError> {
        let ns = self.namespace(ctx, namespace, Lookup::Of).await?;
        self.enforce(ctx, rule, Some(&ns)).await?;
        Ok(ns)
    }

    async fn entry(&self, ns: &Namespace, kind: EntryKind, name: &str) -> Result<Entry, CoreError> {
        self.db
            .metadef_entry(&ns.id, kind, name)
            .await?
            .ok_or_else(|| missing(kind, ns, name))
    }

    /// `GET …/properties` or `…/objects`: every one, by name.
    pub async fn list_entries(
        &self,
        ctx: &RequestContext,
        namespace: &str,
        kind: EntryKind,
    ) -> Result<Vec<Entry>, CoreError> {
        let ns = self.namespace_for(ctx, namespace, rules(kind).list).await?;
        Ok(self.db.metadef_entries(&ns.id, Some(kind)).await?)
    }

    /// `GET …/objects/{name}`, `…/tags/{name}`, or `…/properties/{name}`
    /// without a resource type.
    pub async fn show_entry(
        &self,
        ctx: &RequestContext,
        namespace: &str,
        kind: EntryKind,
        name: &str,
    ) -> Result<Entry, CoreError> {
        let ns = self.namespace_for(ctx, namespace, rules(kind).show).await?;
        self.entry(&ns, kind, name).await
    }

    /// `GET …/properties/{name}?resource_type=…`: `name` carries the
    /// prefix of the namespace's association with the resource type.
    pub async fn show_prefixed_property(
        &self,
        ctx: &RequestContext,
        namespace: &str,
        name: &str,
        resource_type: &str,
    ) -> Result<Entry, CoreError> {
        let ns = self
            .namespace_for(ctx, namespace, "get_metadef_property")
            .await?;
        self.enforce(ctx, "get_metadef_resource_type", Some(&ns))
            .await?;
        let associations = self.db.metadef_associations(&ns.id).await?;
        let assoc = associations
            .into_iter()
            .find(|a| a.resource_type == resource_type)
            .ok_or_else(|| {
                CoreError::MetadefNotFound(MetadefMissing::Association {
                    namespace: ns.namespace.clone(),
                    resource_type: resource_type.to_owned(),
                })
            })?;
        let prefix = assoc.prefix.unwrap_or_default();
        let bare = name
            .strip_prefix(prefix.as_str())
            .filter(|_| !prefix.is_empty())
            .ok_or_else(|| {
                CoreError::MetadefNotFound(MetadefMissing::PrefixMismatch {
                    name: name.to_owned(),
                    prefix: prefix.clone(),
                })
            })?;
        self.entry(&ns, EntryKind::Property, bare).await
    }

    /// `POST …/properties` or `…/objects`.
    pub async fn create_entry(
        &self,
        ctx: &RequestContext,
        namespace: &str,
        kind: EntryKind,
        body: &Value,
    ) -> Result<Entry, CoreError> {
        let (name, def) = parse(kind, body)?;
        let ns = self.namespace_for(ctx, namespace, rules(kind).add).await?;
        let now = time::now();
        let entry = Entry {
            kind,
            name,
            body: def,
            created_at: now,
            updated_at: now,
        };
        self.insert(&ns, std::slice::from_ref(&entry)).await?;
        self.notify_entry(kind, &ns, &entry, None, None, true);
        Ok(entry)
    }

    async fn insert(&self, ns: &Namespace, entries: &[Entry]) -> Result<(), CoreError> {
        match self.db.insert_metadef_entries(&ns.id, entries).await {
            Err(DbError::Duplicate) => {
                let name = entries.first().map_or("", |e| e.name.as_str());
                let kind = entries.first().map_or(EntryKind::Tag, |e| e.kind);
                Err(clash(kind, ns, name, false))
            }
            other => other.map_err(|e| gone(e, ns)),
        }
    }

    /// `PUT …/properties/{name}`, `…/objects/{name}` or `…/tags/{name}`:
    /// the whole definition is replaced, and the name may change.
    pub async fn update_entry(
        &self,
        ctx: &RequestContext,
        namespace: &str,
        kind: EntryKind,
        name: &str,
        body: &Value,
    ) -> Result<Entry, CoreError> {
        let (new_name, def) = parse(kind, body)?;
        let ns = self
            .namespace_for(ctx, namespace, rules(kind).modify)
            .await?;
        let old = self.entry(&ns, kind, name).await?;
        let entry = Entry {
            kind,
            name: new_name,
            body: def,
            created_at: old.created_at,
            updated_at: time::now(),
        };
        match self
            .db
            .update_metadef_entry(&ns.id, &old.name, &entry)
            .await
        {
            Ok(()) => {}
            Err(DbError::Duplicate) => return Err(clash(kind, &ns, &entry.name, true)),
            Err(DbError::NotFound) => return Err(missing(kind, &ns, name)),
            Err(e) => return Err(e.into()),
        }
        self.notify_entry(kind, &ns, &entry, Some(&old.name), None, false);
        Ok(entry)
    }

    /// `DELETE …/properties/{name}`, `…/objects/{name}` or `…/tags/{name}`.
    pub async fn delete_entry(
        &self,
        ctx: &RequestContext,
        namespace: &str,
        kind: EntryKind,
        name: &str,
    ) -> Result<(), CoreError> {
        let ns = self
            .namespace_for(ctx, namespace, rules(kind).delete)
            .await?;
        let entry = self.entry(&ns, kind, name).await?;
        if ns.protected {
            let name = entry.name.clone();
            return Err(CoreError::MetadefProtected(match kind {
                EntryKind::Property => MetadefProtection::Property { name },
                EntryKind::Object => MetadefProtection::Object { name },
                EntryKind::Tag => MetadefProtection::Tag { name },
            }));
        }
        if !self
            .db
            .delete_metadef_entry(&ns.id, kind, &entry.name)
            .await?
        {
            return Err(missing(kind, &ns, name));
        }
        self.notify_entry(kind, &ns, &entry, None, Some(time::now()), false);
        Ok(())
    }

    /// `GET …/tags`: a page of tags.
    pub async fn list_tags(
        &self,
        ctx: &RequestContext,
        namespace: &str,
        req: &TagListRequest,
    ) -> Result<Vec<Entry>, CoreError> {
        let ascending = sort_dir(req.sort_dir.as_deref())?;
        let sort_key = sort_key(req.sort_key.as_deref(), &TAG_SORT_KEYS)?;
        let limit = self.limit(req.limit.as_deref(), true)?;
        let ns = self
            .namespace_for(ctx, namespace, "get_metadef_tags")
            .await?;
        let query = TagListQuery {
            sort_key,
            ascending,
            marker: req.marker.clone(),
            limit,
        };
        match self.db.list_metadef_tags(&ns.id, &query).await {
            Err(DbError::NotFound) => Err(missing(
                EntryKind::Tag,
                &ns,
                req.marker.as_deref().unwrap_or_default(),
            )),
            other => Ok(other?),
        }
    }

    /// `POST …/tags/{name}`.
    pub async fn create_tag(
        &self,
        ctx: &RequestContext,
        namespace: &str,
        name: &str,
    ) -> Result<Entry, CoreError> {
        let ns = self.namespace(ctx, namespace, Lookup::Of).await?;
        let name = validate::tag_name(name).map_err(CoreError::Model)?;
        self.enforce(ctx, "add_metadef_tag", Some(&ns)).await?;
        let now = time::now();
        let tag = Entry {
            kind: EntryKind::Tag,
            name,
            body: Map::new(),
            created_at: now,
            updated_at: now,
        };
        self.insert(&ns, std::slice::from_ref(&tag)).await?;
        self.notify_entry(EntryKind::Tag, &ns, &tag, None, None, true);
        Ok(tag)
    }

    /// `POST …/tags`: the tags replace the namespace's, or with `append`
    /// join them.
    pub async fn create_tags(
        &self,
        ctx: &RequestContext,
        namespace: &str,
        body: &Value,
        append: bool,
    ) -> Result<Vec<Entry>, CoreError> {
        let names = validate::tags_body(body).map_err(CoreError::Model)?;
        let ns = self
            .namespace_for(ctx, namespace, "add_metadef_tags")
            .await?;
        if let Some(name) =
            validate::first_duplicate(EntryKind::Tag, names.iter().map(String::as_str))
        {
            return Err(clash(EntryKind::Tag, &ns, name, false));
        }
        let now = time::now();
        let tags: Vec<Entry> = names
            .into_iter()
            .map(|name| Entry {
                kind: EntryKind::Tag,
                name,
                body: Map::new(),
                created_at: now,
                updated_at: now,
            })
            .collect();
        if append {
            if let Err(e) = self.db.insert_metadef_entries(&ns.id, &tags).await {
                return Err(match e {
                    DbError::Duplicate => self.which_tag_clashes(&ns, &tags).await,
                    e => gone(e, &ns),
                });
            }
        } else {
            self.db
                .replace_metadef_tags(&ns.id, &tags)
                .await
                .map_err(|e| gone(e, &ns))?;
        }
        for tag in &tags {
            self.notify_entry(EntryKind::Tag, &ns, tag, None, None, true);
        }
        Ok(tags)
    }

    async fn which_tag_clashes(&self, ns: &Namespace, tags: &[Entry]) -> CoreError {
        for tag in tags {
            if let Ok(Some(_)) = self
                .db
                .metadef_entry(&ns.id, EntryKind::Tag, &tag.name)
                .await
            {
                return clash(EntryKind::Tag, ns, &tag.name, false);
            }
        }
        let name = tags.first().map_or("", |t| t.name.as_str());
        clash(EntryKind::Tag, ns, name, false)
    }
}

fn parse(kind: EntryKind, body: &Value) -> Result<validate::Named, CoreError> {
    let parsed = match kind {
        EntryKind::Property => validate::property_body(body),
        EntryKind::Object => validate::object_body(body),
        EntryKind::Tag => validate::tag_body(body).map(|name| (name, Map::new())),
    };
    parsed.map_err(CoreError::Model)
}
