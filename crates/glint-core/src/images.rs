//! Image metadata use cases: create, show, list, update, delete,
//! deactivate and reactivate.

use std::sync::Arc;

use glint_db::{CountLimit, Database, DbError, Versioned, Viewer};
use glint_model::properties::{self, PropertyAccess, PropertyOperation};
use glint_model::query::ImageListQuery;
use glint_model::{Image, ImageId, Location};
use glint_notify::{EventType, Notifier};
use glint_policy::{Enforcer, Target};
use glint_store::{Store, StoreRegistry};
use serde_json::Value;

use crate::authz::{self, Authz};
use crate::config::ImageConfig;
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::input::NewImageRequest;
use crate::limits::Resource;
use crate::protections::CallerAccess;
use crate::transfers::TransferStats;
use crate::turns::WriteTurns;

/// One page of an image list.
#[derive(Debug)]
pub struct ImagePage {
    pub images: Vec<Image>,
    /// Set when the database returned a full page, so more may follow.
    pub next_marker: Option<ImageId>,
}

/// The image use cases. Cheap to clone; shared by every request.
#[derive(Debug, Clone)]
pub struct ImageService {
    pub(crate) db: Database,
    pub(crate) stores: Arc<StoreRegistry>,
    pub(crate) authz: Authz,
    pub(crate) config: Arc<ImageConfig>,
    /// Identifies this run of the process (upload leases).
    instance: uuid::Uuid,
    /// Changes of one image made by this process take turns.
    pub(crate) write_turns: Arc<WriteTurns>,
    /// Where the events of the use cases go (off by default).
    pub(crate) notifier: Notifier,
    /// This node's image cache, when `image_cache_dir` is set.
    pub(crate) cache: Option<Arc<crate::cache::CacheService>>,
    /// Uploads and downloads in progress.
    pub(crate) transfers: Arc<TransferStats>,
    /// Keystone's per-project limits, when `use_keystone_limits` is on.
    pub(crate) limits: Option<Arc<crate::limits::UnifiedLimits>>,
    /// Where `PUT /v2/images/{id}/stage` puts data, when staging is on.
    pub(crate) staging: Option<Arc<crate::intake::Staging>>,
    /// The import methods served, and the downloader of `web-download`.
    pub(crate) imports: Option<Arc<crate::intake::ImportSettings>>,
    /// Wakes the import worker when an import is queued.
    pub(crate) import_wake: Arc<tokio::sync::Notify>,
    /// Credentials lent to this process's `glance-download` tasks.
    pub(crate) delegations: Arc<crate::lent::Delegations>,
}

impl ImageService {
    pub fn new(
        db: Database,
        stores: Arc<StoreRegistry>,
        policy: Arc<Enforcer>,
        config: ImageConfig,
    ) -> Self {
        ImageService {
            db,
            stores,
            authz: Authz::new(policy),
            config: Arc::new(config),
            instance: uuid::Uuid::new_v4(),
            write_turns: Arc::new(WriteTurns::new()),
            notifier: Notifier::off(),
            cache: None,
            transfers: Arc::default(),
            limits: None,
            staging: None,
            imports: None,
            import_wake: Arc::default(),
            delegations: Arc::default(),
        }
    }

    /// Sends the events of the use cases (`image.create`, …) to `notifier`.
    pub fn with_notifier(mut self, notifier: Notifier) -> Self {
        self.notifier = notifier;
        self
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Sends the policy's `http:`/`https:` checks to `remote` (without it
    /// they deny).
    pub fn with_remote_policy(mut self, remote: authz::SharedRemoteCheck) -> Self {
        self.authz = self.authz.with_remote(remote);
        self
    }

    pub fn instance_id(&self) -> uuid::Uuid {
        self.instance
    }

    pub fn config(&self) -> &ImageConfig {
        &self.config
    }

    pub fn stores(&self) -> &StoreRegistry {
        &self.stores
    }

    /// The store of a location: the one its metadata names when that store
    /// recognises the URL, else the first that does.
    pub(crate) fn store_for(&self, location: &Location) -> Option<&Arc<dyn Store>> {
        location
            .store_id()
            .and_then(|id| self.stores.get(id))
            .filter(|s| s.owns(&location.url))
            .or_else(|| self.stores.for_url(&location.url))
    }

    /// Whether the caller may see an image's locations
    /// (`get_image_location`); Glance shows no `locations` or `direct_url`
    /// to one who may not.
    pub async fn may_read_locations(&self, ctx: &RequestContext, image: &Image) -> bool {
        self.authz
            .enforce_image(ctx, image, "get_image_location")
            .await
            .is_ok()
    }

    pub fn policy(&self) -> &Enforcer {
        self.authz.enforcer()
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The property protections as they apply to this caller, if any are
    /// configured.
    pub(crate) fn property_access<'a>(
        &'a self,
        ctx: &'a RequestContext,
    ) -> Option<CallerAccess<'a>> {
        let protections = self.config.property_protections.as_deref()?;
        Some(CallerAccess::new(
            protections,
            ctx.credentials(),
            self.authz.enforcer(),
        ))
    }

    /// The image as this caller may see it: without the additional
    /// properties protections keep from them.
    pub(crate) fn readable_view(&self, ctx: &RequestContext, mut image: Image) -> Image {
        if let Some(access) = self.property_access(ctx) {
            access.hide_unreadable(&mut image);
        }
        image
    }

    /// Loads an image the caller may see (Glance's `is_image_visible`);
    /// any other is missing for the request `by`.
    pub(crate) async fn load_visible(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        by: Lookup,
    ) -> Result<Image, CoreError> {
        Ok(self.load_visible_versioned(ctx, id, by).await?.image)
    }

    /// [`ImageService::load_visible`], with the version a change of the
    /// image is saved against.
    pub(crate) async fn load_visible_versioned(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        by: Lookup,
    ) -> Result<Versioned, CoreError> {
        let missing = || CoreError::image_not_found(id, by);
        let stored = self.db.get_image_versioned(id).await?.ok_or_else(missing)?;
        if !self.visible(ctx, &stored.image).await? {
            return Err(missing());
        }
        Ok(stored)
    }

    /// Stricter than Glance's `is_image_visible` for images without an
    /// owner, which Glance shows to everyone: they follow the rule of
    /// Glance's list, so only admins, members, and anyone for a public or
    /// community image see one.
    pub(crate) async fn visible(
        &self,
        ctx: &RequestContext,
        image: &Image,
    ) -> Result<bool, CoreError> {
        use glint_model::Visibility::*;
        if ctx.is_admin() {
            return Ok(true);
        }
        if matches!(image.visibility, Public | Community) {
            return Ok(true);
        }
        let Some(project) = ctx.project_id() else {
            return Ok(false);
        };
        if image.owner.as_deref() == Some(project) {
            return Ok(true);
        }
        if image.visibility == Shared {
            return Ok(self.db.get_member(image.id, project).await?.is_some());
        }
        Ok(false)
    }

    /// `GET /v2/images/{id}`.
    pub async fn get(&self, ctx: &RequestContext, id: ImageId) -> Result<Image, CoreError> {
        let image = self.load_visible(ctx, id, Lookup::Image).await?;
        self.authz.enforce_image(ctx, &image, "get_image").await?;
        Ok(self.readable_view(ctx, image))
    }

    /// `POST /v2/images`.
    pub async fn create(
        &self,
        ctx: &RequestContext,
        request: NewImageRequest,
    ) -> Result<Image, CoreError> {
        let NewImageRequest {
            image: new,
            property_order,
        } = request;
        let visibility = new.visibility.unwrap_or_default();
        let owner = new.owner.as_ref().map(Option::as_deref);
        self.authorize_create(ctx, owner, visibility).await?;
        let image = new.into_image(ctx.project_id().map(str::to_string));
        self.authz
            .enforce_visibility(ctx, &image, visibility)
            .await?;
        self.check_create_protections(ctx, &property_order)?;
        self.check_limits(None, &image)?;
        self.save_new_image(ctx, &image).await?;
        tracing::info!(image.id = %image.id, "image created");
        self.notify_image(EventType::ImageCreate, &image);
        Ok(self.readable_view(ctx, image))
    }

    /// Stores a new image; with Keystone limits, only if the caller's
    /// project may have one more (`image_count_total`, counted as Glance
    /// does: the caller's project, whoever owns the image).
    async fn save_new_image(&self, ctx: &RequestContext, image: &Image) -> Result<(), CoreError> {
        let project = ctx.project_id();
        let limits = self.project_limits(project).await?;
        let limit = limits.and_then(|l| l.bound(Resource::ImageCountTotal));
        let count = limit.map(|limit| CountLimit { project, limit });
        match self.db.create_image_counted(image, count.as_ref()).await {
            Err(DbError::Duplicate) => Err(CoreError::ImageExists { id: image.id }),
            Err(DbError::CountLimitExceeded { usage }) => Err(CoreError::LimitExceeded {
                project: project.map(str::to_owned),
                resource: Resource::ImageCountTotal,
                limit: limit.unwrap_or(0),
                usage,
                delta: 1,
            }),
            other => other.map_err(CoreError::from),
        }
    }

    /// Refuses the first additional property of the request body (in body
    /// order, as Glance reports it) that the caller may not create.
    fn check_create_protections(
        &self,
        ctx: &RequestContext,
        names: &[String],
    ) -> Result<(), CoreError> {
        let Some(access) = self.property_access(ctx) else {
            return Ok(());
        };
        match names
            .iter()
            .find(|name| !access.allows(name, PropertyOperation::Create))
        {
            Some(name) => Err(properties::reserved(name).into()),
            None => Ok(()),
        }
    }

    /// `GET /v2/images`.
    pub async fn list(
        &self,
        ctx: &RequestContext,
        query: &ImageListQuery,
    ) -> Result<ImagePage, CoreError> {
        let mut target = glint_policy::Target::new();
        let project = ctx
            .project_id()
            .map(|p| Value::String(p.to_string()))
            .unwrap_or(Value::Null);
        target.insert("project_id".into(), project);
        self.authz.enforce(ctx, "get_images", &target).await?;
        let limit = query
            .limit
            .unwrap_or(self.config.limit_param_default)
            .min(self.config.api_limit_max);
        let marker = match &query.marker {
            Some(m) => Some(self.load_marker(ctx, m).await?),
            None => None,
        };
        let viewer = Viewer {
            project_id: ctx.project_id().map(str::to_string),
            is_admin: ctx.is_admin(),
        };
        let rows = self
            .db
            .list_images(query, limit, marker.as_ref(), &viewer)
            .await?;
        let full_page = limit > 0 && rows.len() as u64 == limit;
        let mut images = Vec::with_capacity(rows.len());
        for image in rows {
            if self.authz.can_get_image(ctx, &image).await {
                images.push(image);
            }
        }
        if let Some(access) = self.property_access(ctx) {
            images
                .iter_mut()
                .for_each(|img| access.hide_unreadable(img));
        }
        let next_marker = images.last().filter(|_| full_page).map(|img| img.id);
        Ok(ImagePage {
            images,
            next_marker,
        })
    }
}

impl ImageService {
    /// The transfers in progress, for metrics.
    pub fn transfers(&self) -> &TransferStats {
        &self.transfers
    }

    /// Whether the caller may read the service's metrics (`GET /metrics`),
    /// by the glint rule `glint:metrics`.
    pub async fn authorize_metrics(&self, ctx: &RequestContext) -> Result<(), CoreError> {
        self.authz
            .enforce(ctx, "glint:metrics", &Target::new())
            .await
    }
}
