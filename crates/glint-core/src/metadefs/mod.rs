//! The metadata definitions catalogue (`/v2/metadefs`): namespaces
//! (`namespaces`), their properties, objects and tags (`entries`), resource
//! types and associations (`resource_types`), and the operator's load,
//! unload and export of catalogue files (`catalogue`).
//!
//! Access follows Glance. A caller sees a namespace if it is an admin, the
//! namespace is public, or its project owns it; any other namespace is
//! missing to it. Each call then asks its policy rule with the namespace's
//! owner as `project_id` and its visibility as target; a denied rule on a
//! namespace the caller may not `get_metadef_namespace` is answered as
//! missing too, otherwise as forbidden. Writes are admin-only by default.

mod catalogue;
mod entries;
mod namespaces;
mod notify;
mod resource_types;

use glint_db::Database;
use glint_model::metadef::Namespace;
use glint_notify::Notifier;
use glint_policy::Target;
use serde_json::Value;

use crate::authz::Authz;
use crate::context::RequestContext;
use crate::error::{CoreError, MetadefMissing};
use crate::images::ImageService;

pub use catalogue::LoadReport;
pub use entries::TagListRequest;
pub use namespaces::{NamespaceDetail, NamespaceListRequest, NamespacePage};

/// The metadefs use cases; cheap to clone.
#[derive(Debug, Clone)]
pub struct MetadefService {
    db: Database,
    authz: Authz,
    notifier: Notifier,
    limit_default: u64,
    limit_max: u64,
}

/// Which words a missing or hidden namespace gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// Showing the namespace itself.
    Show,
    /// Any request on what it holds, or changing or deleting it.
    Of,
}

impl MetadefService {
    /// The catalogue alone, for the operator's commands on it (load,
    /// unload, export), which ask no policy and send no notification.
    pub fn for_operator(db: Database) -> Self {
        let enforcer = glint_policy::Enforcer::with_glance_defaults();
        MetadefService {
            db,
            authz: Authz::new(std::sync::Arc::new(enforcer)),
            notifier: Notifier::off(),
            limit_default: 25,
            limit_max: 1000,
        }
    }

    /// The catalogue of the service's database, with its policy and
    /// notifier.
    pub fn new(images: &ImageService) -> Self {
        MetadefService {
            db: images.database().clone(),
            authz: images.authz.clone(),
            notifier: images.notifier().clone(),
            limit_default: images.config().limit_param_default,
            limit_max: images.config().api_limit_max,
        }
    }

    fn target(ctx: &RequestContext, ns: Option<&Namespace>) -> Target {
        let mut t = Target::new();
        let project = match ns {
            Some(ns) => ns.owner.as_deref(),
            None => ctx.project_id(),
        };
        t.insert(
            "project_id".into(),
            project.map_or(Value::Null, |p| Value::String(p.into())),
        );
        if let Some(ns) = ns {
            t.insert(
                "visibility".into(),
                Value::String(ns.visibility.as_str().into()),
            );
        }
        t
    }

    async fn check(&self, ctx: &RequestContext, rule: &str, ns: Option<&Namespace>) -> bool {
        let target = Self::target(ctx, ns);
        self.authz.check(ctx, rule, &target).await
    }

    /// Asks `rule`; a denial is a missing namespace when the caller may
    /// not even get the namespace, as Glance answers.
    async fn enforce(
        &self,
        ctx: &RequestContext,
        rule: &'static str,
        ns: Option<&Namespace>,
    ) -> Result<(), CoreError> {
        if self.check(ctx, rule, ns).await {
            return Ok(());
        }
        let hidden = rule == "get_metadef_namespace"
            || (ns.is_some() && !self.check(ctx, "get_metadef_namespace", ns).await);
        if hidden {
            Err(CoreError::MetadefNotFound(MetadefMissing::Hidden))
        } else {
            Err(CoreError::PolicyDenied { rule })
        }
    }

    /// Glance's own visibility check of a namespace read from the database.
    fn visible(ctx: &RequestContext, ns: &Namespace) -> bool {
        ctx.is_admin()
            || ns.visibility == glint_model::metadef::NamespaceVisibility::Public
            || (ns.owner.is_some() && ns.owner.as_deref() == ctx.project_id())
    }

    /// The namespace `name` if the caller may see it.
    async fn namespace(
        &self,
        ctx: &RequestContext,
        name: &str,
        lookup: Lookup,
    ) -> Result<Namespace, CoreError> {
        let found = self.db.metadef_namespace(name).await?;
        let missing = || match lookup {
            Lookup::Show => MetadefMissing::Namespace {
                namespace: name.to_owned(),
            },
            Lookup::Of => MetadefMissing::NamespaceOf {
                namespace: name.to_owned(),
            },
        };
        let ns = found.ok_or_else(|| CoreError::MetadefNotFound(missing()))?;
        if Self::visible(ctx, &ns) {
            return Ok(ns);
        }
        Err(CoreError::MetadefNotFound(match lookup {
            Lookup::Show => MetadefMissing::Hidden,
            Lookup::Of => missing(),
        }))
    }

    /// A page size from `limit`, bounded by `api_limit_max`.
    fn limit(&self, limit: Option<&str>, strictly_positive: bool) -> Result<u64, CoreError> {
        let Some(l) = limit else {
            return Ok(self.limit_default.min(self.limit_max));
        };
        let invalid = |m: &str| CoreError::Model(glint_model::ModelError::invalid(m));
        let n: i64 = l
            .trim()
            .parse()
            .map_err(|_| invalid("limit param must be an integer"))?;
        if n < 0 || (strictly_positive && n == 0) {
            return Err(invalid("limit param must be positive"));
        }
        Ok((n as u64).min(self.limit_max))
    }
}

fn sort_dir(dir: Option<&str>) -> Result<bool, CoreError> {
    match dir.unwrap_or("desc") {
        "asc" => Ok(true),
        "desc" => Ok(false),
        other => Err(CoreError::Model(glint_model::ModelError::invalid(format!(
            "Invalid sort direction: {}",
            glint_model::limits::clip(other)
        )))),
    }
}

fn sort_key(key: Option<&str>, allowed: &[&'static str]) -> Result<&'static str, CoreError> {
    let key = key.unwrap_or("created_at");
    allowed.iter().copied().find(|k| *k == key).ok_or_else(|| {
        CoreError::Model(glint_model::ModelError::invalid(format!(
            "Invalid sort key: {}. It must be one of the following: {}.",
            glint_model::limits::clip(key),
            allowed.join(", ")
        )))
    })
}
