//! Policy decisions about images, with Glance's conventions: a denied
//! action on an image the caller cannot even see is reported as a missing
//! image.

use std::sync::Arc;

use glint_model::{Image, Visibility};
use glint_policy::{Enforcer, Target, TargetKeys};
use serde_json::Value;

use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::remote::{self, AsyncRemoteCheck, DenyRemote};

/// Asks `http:`/`https:` checks of the policy; shared by all requests.
pub type SharedRemoteCheck = Arc<dyn AsyncRemoteCheck>;

/// Asks the policy engine; owns the rule-to-error conventions.
#[derive(Clone)]
pub struct Authz {
    enforcer: Arc<Enforcer>,
    remote: SharedRemoteCheck,
    /// What of an image the rules may read: only that goes into an
    /// image's target (every list builds one per image).
    image_keys: Arc<TargetKeys>,
}

impl std::fmt::Debug for Authz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authz")
            .field("enforcer", &self.enforcer)
            .finish_non_exhaustive()
    }
}

impl Authz {
    /// Policy decisions without remote checks: every `http:` check denies.
    pub fn new(enforcer: Arc<Enforcer>) -> Self {
        Authz {
            image_keys: Arc::new(enforcer.target_keys()),
            enforcer,
            remote: Arc::new(DenyRemote),
        }
    }

    /// Sends `http:`/`https:` checks to `remote`.
    pub fn with_remote(mut self, remote: SharedRemoteCheck) -> Self {
        self.remote = remote;
        self
    }

    pub fn enforcer(&self) -> &Enforcer {
        &self.enforcer
    }

    /// [`image_target`] with only what the rules may read.
    pub fn image_target(&self, ctx: &RequestContext, image: &Image) -> Target {
        target_of(ctx, image, &self.image_keys)
    }

    /// Soft check of a rule against a target. Remote checks the decision
    /// waits for are asked on this task, once per request (see
    /// [`crate::remote`]); a rule without them is decided at once.
    pub async fn check(&self, ctx: &RequestContext, rule: &str, target: &Target) -> bool {
        remote::decide(
            &self.enforcer,
            self.remote.as_ref(),
            ctx.remote_verdicts(),
            rule,
            target,
            ctx.credentials(),
        )
        .await
    }

    /// Hard check: [`CoreError::PolicyDenied`] when denied.
    pub async fn enforce(
        &self,
        ctx: &RequestContext,
        rule: &'static str,
        target: &Target,
    ) -> Result<(), CoreError> {
        if self.check(ctx, rule, target).await {
            Ok(())
        } else {
            Err(CoreError::PolicyDenied { rule })
        }
    }

    /// Enforces `rule` on an existing image. When the caller may not even
    /// `get_image` it, the image is reported missing instead of forbidden.
    pub async fn enforce_image(
        &self,
        ctx: &RequestContext,
        image: &Image,
        rule: &'static str,
    ) -> Result<(), CoreError> {
        let target = self.image_target(ctx, image);
        if self.check(ctx, rule, &target).await {
            return Ok(());
        }
        if rule == "get_image" || !self.check(ctx, "get_image", &target).await {
            return Err(CoreError::image_not_found(image.id, Lookup::Image));
        }
        Err(CoreError::PolicyDenied { rule })
    }

    /// Enforces a member rule (`get_members`, `add_member`, …) the way
    /// Glance's member API does: the caller must first pass `get_image`,
    /// whose failure makes the image missing, then the rule itself.
    pub async fn enforce_member_rule(
        &self,
        ctx: &RequestContext,
        image: &Image,
        rule: &'static str,
    ) -> Result<(), CoreError> {
        let target = self.image_target(ctx, image);
        if !self.check(ctx, "get_image", &target).await {
            return Err(CoreError::image_not_found(image.id, Lookup::MemberPolicy));
        }
        self.enforce(ctx, rule, &target).await
    }

    pub async fn can_get_image(&self, ctx: &RequestContext, image: &Image) -> bool {
        self.check(ctx, "get_image", &self.image_target(ctx, image))
            .await
    }

    /// Making an image public or community needs its own rule.
    pub async fn enforce_visibility(
        &self,
        ctx: &RequestContext,
        image: &Image,
        visibility: Visibility,
    ) -> Result<(), CoreError> {
        let rule = match visibility {
            Visibility::Public => "publicize_image",
            Visibility::Community => "communitize_image",
            _ => return Ok(()),
        };
        self.enforce(ctx, rule, &self.image_target(ctx, image))
            .await
    }
}

/// The policy target of an image: its attributes and extra properties, with
/// Glance's aliases (`project_id` is the owner, `member_id` the caller's
/// project when the caller reached a shared image as a member).
pub fn image_target(ctx: &RequestContext, image: &Image) -> Target {
    target_of(ctx, image, &TargetKeys::All)
}

/// The keys of [`image_target`] that `keys` wants.
fn target_of(ctx: &RequestContext, image: &Image, keys: &TargetKeys) -> Target {
    let TargetKeys::Only(keys) = keys else {
        let mut t: Target = image
            .visible_properties()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        for key in IMAGE_KEYS {
            if let Some(value) = image_value(ctx, image, key) {
                t.insert(key.to_string(), value);
            }
        }
        return t;
    };
    keys.iter()
        .filter_map(|key| {
            let value = image_value(ctx, image, key).or_else(|| {
                let (_, v) = image.visible_properties().find(|(k, _)| *k == key)?;
                Some(Value::String(v.clone()))
            })?;
            Some((key.clone(), value))
        })
        .collect()
}

/// The keys of an image's target that are not its extra properties; each
/// takes the place of a property of its name.
const IMAGE_KEYS: [&str; 10] = [
    "id",
    "project_id",
    "owner",
    "visibility",
    "status",
    "protected",
    "os_hidden",
    "name",
    "member_id",
    "member",
];

fn image_value(ctx: &RequestContext, image: &Image, key: &str) -> Option<Value> {
    let text = |s: &str| Value::String(s.to_string());
    Some(match key {
        "id" => Value::String(image.id.to_string()),
        "project_id" | "owner" => image.owner.as_deref().map_or(Value::Null, text),
        "visibility" => text(image.visibility.as_str()),
        "status" => text(image.status.as_str()),
        "protected" => Value::Bool(image.protected),
        "os_hidden" => Value::Bool(image.os_hidden),
        "name" => text(image.name.as_deref()?),
        "member_id" | "member" => {
            let is_member = image.visibility == Visibility::Shared
                && ctx.project_id().is_some()
                && ctx.project_id() != image.owner.as_deref();
            match ctx.project_id() {
                Some(project) if is_member => text(project),
                _ => Value::Null,
            }
        }
        _ => return None,
    })
}

/// The target of a create request: the proposed owner and visibility. An
/// owner not given is the caller's project; `Some(None)` asks for none.
pub fn create_target(
    ctx: &RequestContext,
    owner: Option<Option<&str>>,
    visibility: Visibility,
) -> Target {
    let owner = owner
        .unwrap_or(ctx.project_id())
        .map(|o| Value::String(o.to_string()))
        .unwrap_or(Value::Null);
    let mut t = Target::new();
    t.insert("project_id".into(), owner.clone());
    t.insert("owner".into(), owner);
    t.insert(
        "visibility".into(),
        Value::String(visibility.as_str().into()),
    );
    t
}
