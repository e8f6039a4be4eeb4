//! The multi-store use cases: what stores there are (`/v2/info/stores`) and
//! removing one store's copy of an image (`DELETE /v2/stores/{store}/{id}`).

use glint_model::{ImageId, ImageStatus, time};
use glint_policy::Target;
use glint_store::{StoreEntry, StoreError};
use serde_json::Value;

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;

impl ImageService {
    /// The stores of a multi-store deployment, the default first.
    pub fn list_stores(&self) -> Result<Vec<&StoreEntry>, CoreError> {
        if !self.stores.is_multi_store() {
            return Err(CoreError::MultiStoreDisabled);
        }
        Ok(self.stores.entries().collect())
    }

    /// The stores with their types, weights and settings, for those the
    /// `stores_info_detail` rule lets see them.
    pub async fn list_store_details(
        &self,
        ctx: &RequestContext,
    ) -> Result<Vec<&StoreEntry>, CoreError> {
        let stores = self.list_stores()?;
        let mut target = Target::new();
        let project = ctx
            .project_id()
            .map_or(Value::Null, |p| Value::String(p.to_owned()));
        target.insert("project_id".into(), project);
        self.authz
            .enforce(ctx, "stores_info_detail", &target)
            .await?;
        Ok(stores)
    }

    /// `DELETE /v2/stores/{store}/{id}`: removes the image's data from one
    /// store, as Glance does: only of an active image, never its last
    /// copy; the data goes first, then the location, so that a store that
    /// keeps the data (in use) leaves the image as it was.
    pub async fn delete_from_store(
        &self,
        ctx: &RequestContext,
        store_id: &str,
        id: ImageId,
    ) -> Result<(), CoreError> {
        if !self.stores.is_multi_store() {
            return Err(CoreError::MultiStoreDisabled);
        }
        let Some(store) = self.stores.get(store_id).cloned() else {
            return Err(CoreError::StoreNotOnNode {
                store: store_id.to_owned(),
            });
        };
        let stored = self.load_visible_versioned(ctx, id, Lookup::Image).await?;
        self.authz
            .enforce_image(ctx, &stored.image, "get_image_location")
            .await?;
        self.authz
            .enforce_image(ctx, &stored.image, "delete_image_location")
            .await?;
        let image = &stored.image;
        if image.status != ImageStatus::Active {
            return Err(CoreError::StoreDeleteNotActive);
        }
        let in_store = |loc: &glint_model::Location| loc.store_id() == Some(store_id);
        if image.active_locations().count() == 1 {
            return Err(CoreError::LastLocation);
        }
        let Some(location) = image.active_locations().find(|l| in_store(l)).cloned() else {
            return Err(CoreError::NotInStore {
                id,
                store: store_id.to_owned(),
            });
        };
        match store.delete(&location.url).await {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(StoreError::InUse(_)) => {
                return Err(CoreError::DataInUse {
                    id,
                    one_store: true,
                });
            }
            Err(e) => return Err(e.into()),
        }
        let reload = Reload::ForCaller {
            ctx,
            rule: "delete_image_location",
            by: Lookup::Image,
        };
        self.change_image(stored, reload, Save::Image, |image| {
            let before = image.locations.len();
            image.locations.retain(|l| l.url != location.url);
            if image.locations.len() == before {
                return Ok(Step::Keep);
            }
            image.updated_at = time::now();
            Ok(Step::Save)
        })
        .await?;
        tracing::info!(image.id = %id, store.id = store_id, "image data removed from a store");
        Ok(())
    }
}
