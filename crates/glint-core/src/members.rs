//! Image members: the owner of a `shared` image shares it with other
//! projects, and each of those projects accepts or rejects it
//! (`/v2/images/{id}/members`).
//!
//! The checks come in Glance's order, which decides what a client is told
//! when several things are wrong at once: the shape of the request body
//! (read by the API layer), then the image (visible to the caller, else
//! missing), then `shared`, then the policy rules (a caller failing
//! `get_image` finds the image missing), then the membership itself, and
//! last the member id or status the body asked for.

use glint_db::DbError;
use glint_model::member::{self, MemberStatus};
use glint_model::{Image, ImageId, Member, Visibility, time};
use glint_notify::EventType;

use crate::authz::image_target;
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup, MemberOp};
use crate::images::ImageService;
use crate::input::RequestedStatus;

fn member_not_found(member_id: &str, image: &Image) -> CoreError {
    CoreError::MemberNotFound {
        id: image.id,
        member: member_id.to_owned(),
    }
}

/// Other images than `shared` ones have no members.
fn require_shared(image: &Image, op: MemberOp) -> Result<(), CoreError> {
    if image.visibility == Visibility::Shared {
        Ok(())
    } else {
        Err(CoreError::NotShared { id: image.id, op })
    }
}

/// Admins and the owner's project see every membership of an image; any
/// other project sees only its own (Glance's member query filter).
fn sees_every_member(ctx: &RequestContext, image: &Image) -> bool {
    ctx.is_admin() || (ctx.project_id().is_some() && ctx.project_id() == image.owner.as_deref())
}

fn sees_member(ctx: &RequestContext, image: &Image, member_id: &str) -> bool {
    sees_every_member(ctx, image) || ctx.project_id() == Some(member_id)
}

impl ImageService {
    /// The image of a member request, if the caller may see it (a member
    /// sees it whatever its membership status).
    async fn member_image(&self, ctx: &RequestContext, id: ImageId) -> Result<Image, CoreError> {
        self.load_visible(ctx, id, Lookup::Members).await
    }

    /// One membership the caller may see, after the `get_member` rule.
    async fn lookup_member(
        &self,
        ctx: &RequestContext,
        image: &Image,
        member_id: &str,
    ) -> Result<Member, CoreError> {
        self.authz
            .enforce_member_rule(ctx, image, "get_member")
            .await?;
        // An id no membership can have (NUL, too long) is not looked up:
        // PostgreSQL would fail on the NUL instead of finding nothing.
        let storable = member::validate_member_id(member_id).is_ok();
        let found = if storable && sees_member(ctx, image, member_id) {
            self.db.get_member(image.id, member_id).await?
        } else {
            None
        };
        found.ok_or_else(|| member_not_found(member_id, image))
    }

    /// `GET /v2/images/{id}/members`: every member for the owner and
    /// admins, only the caller's own membership for a member.
    pub async fn list_members(
        &self,
        ctx: &RequestContext,
        id: ImageId,
    ) -> Result<Vec<Member>, CoreError> {
        let image = self.member_image(ctx, id).await?;
        require_shared(&image, MemberOp::List)?;
        self.authz
            .enforce_member_rule(ctx, &image, "get_members")
            .await?;
        // Glance checks `get_member` for every listed member, but against
        // the image's target, so it is one decision for the whole list.
        if !self
            .authz
            .check(ctx, "get_member", &image_target(ctx, &image))
            .await
        {
            return Ok(Vec::new());
        }
        let mut members = self.db.list_members(image.id).await?;
        members.retain(|m| sees_member(ctx, &image, &m.member_id));
        Ok(members)
    }

    /// `GET /v2/images/{id}/members/{member_id}`. Glance answers every
    /// refusal as a missing membership, so that the answer tells nothing
    /// about images the caller cannot use.
    pub async fn get_member(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        member_id: &str,
    ) -> Result<Member, CoreError> {
        let image = self.member_image(ctx, id).await?;
        require_shared(&image, MemberOp::Show)?;
        self.lookup_member(ctx, &image, member_id)
            .await
            .map_err(|e| match e {
                CoreError::PolicyDenied { rule } => CoreError::HiddenByPolicy { rule },
                other => other,
            })
    }

    /// `POST /v2/images/{id}/members` with `{"member": "<project id>"}`:
    /// shares the image with that project, whose membership starts
    /// `pending`.
    pub async fn add_member(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        member_id: String,
    ) -> Result<Member, CoreError> {
        let image = self.member_image(ctx, id).await?;
        require_shared(&image, MemberOp::Add)?;
        self.authz
            .enforce_member_rule(ctx, &image, "add_member")
            .await?;
        self.check_member_quota(&image).await?;
        member::validate_member_id(&member_id)?;
        let now = time::now();
        let member = Member {
            image_id: image.id,
            member_id,
            status: MemberStatus::Pending,
            created_at: now,
            updated_at: now,
        };
        // Counted again with the image locked: members added at the same
        // time must not together pass the quota.
        let quota = self.config.image_member_quota;
        match self.db.add_member(&member, quota).await {
            Ok(()) => {}
            Err(DbError::TooManyMembers { attempted }) => {
                return Err(CoreError::MemberQuotaExceeded {
                    id,
                    attempted,
                    maximum: quota.unwrap_or(0),
                });
            }
            Err(DbError::Duplicate) => {
                return Err(CoreError::MemberExists {
                    id,
                    member: member.member_id,
                });
            }
            Err(DbError::NotFound) => return Err(CoreError::image_not_found(id, Lookup::Members)),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(image.id = %image.id, member.id = %member.member_id, "image member added");
        self.notify_member(EventType::ImageMemberCreate, &member);
        Ok(member)
    }

    /// `image_member_quota`: one more member must still fit.
    async fn check_member_quota(&self, image: &Image) -> Result<(), CoreError> {
        let Some(maximum) = self.config.image_member_quota else {
            return Ok(());
        };
        let attempted = self.db.count_members(image.id).await? + 1;
        if attempted > maximum {
            return Err(CoreError::MemberQuotaExceeded {
                id: image.id,
                attempted,
                maximum,
            });
        }
        Ok(())
    }

    /// `PUT /v2/images/{id}/members/{member_id}` with `{"status": …}`: the
    /// member project accepts or rejects the image (or an admin does for
    /// it); the owner may not.
    pub async fn update_member(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        member_id: &str,
        requested: RequestedStatus,
    ) -> Result<Member, CoreError> {
        let image = self.member_image(ctx, id).await?;
        require_shared(&image, MemberOp::Update)?;
        let mut member = self.lookup_member(ctx, &image, member_id).await?;
        self.authz
            .enforce_member_rule(ctx, &image, "modify_member")
            .await?;
        member.status = requested?;
        member.updated_at = time::now();
        match self.db.update_member(&member).await {
            Err(DbError::NotFound) => return Err(member_not_found(member_id, &image)),
            other => other?,
        }
        tracing::info!(
            image.id = %image.id,
            member.id = %member.member_id,
            member.status = %member.status,
            "image member status changed"
        );
        self.notify_member(EventType::ImageMemberUpdate, &member);
        Ok(member)
    }

    /// `DELETE /v2/images/{id}/members/{member_id}`: the owner (or an
    /// admin) stops sharing the image with a project.
    pub async fn delete_member(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        member_id: &str,
    ) -> Result<(), CoreError> {
        let image = self.member_image(ctx, id).await?;
        require_shared(&image, MemberOp::Delete)?;
        let member = self.lookup_member(ctx, &image, member_id).await?;
        self.authz
            .enforce_member_rule(ctx, &image, "delete_member")
            .await?;
        match self.db.delete_member(image.id, &member.member_id).await {
            Err(DbError::NotFound) => return Err(member_not_found(member_id, &image)),
            other => other?,
        }
        tracing::info!(image.id = %image.id, member.id = %member.member_id, "image member removed");
        self.notify_member_deleted(&member, time::now());
        Ok(())
    }
}
