//! The legacy location operations of `PATCH /v2/images/{id}` (with
//! `show_multiple_locations`): `add` of `/locations/N` or `/locations/-`,
//! `remove` of `/locations/N`, `replace` of `/locations`, with Glance's
//! restrictions. Each new location is checked against the stores (and its
//! size read) before the change is applied; the data of a removed location
//! leaves its store once the change is saved.

use glint_model::limits::QuotaKind;
use glint_model::patch::{PatchOp, PatchOpKind};
use glint_model::{Image, ImageStatus, Location, ModelError};
use serde_json::{Map, Value};

use crate::context::RequestContext;
use crate::error::CoreError;
use crate::images::ImageService;

/// A location a PATCH brings, checked against the stores.
#[derive(Debug, Clone)]
pub(crate) struct NewLocation {
    pub location: Location,
    pub size: u64,
    /// `checksum`, `os_hash_algo`, `os_hash_value` vouched for.
    pub validation: Map<String, Value>,
}

/// A location operation with what it brings resolved.
#[derive(Debug, Clone)]
pub(crate) enum LocationOp {
    Add { position: String, new: NewLocation },
    Remove { position: String },
    Replace(Vec<NewLocation>),
}

fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::Model(ModelError::invalid(msg))
}

fn conflict(msg: impl Into<String>) -> CoreError {
    CoreError::Model(ModelError::conflict(msg))
}

impl ImageService {
    /// Checks the location operations of a PATCH and reads what they need
    /// from the stores; the other operations are left to the model.
    pub(crate) async fn resolve_location_ops(
        &self,
        ctx: &RequestContext,
        image: &Image,
        ops: &[PatchOp],
    ) -> Result<Vec<LocationOp>, CoreError> {
        let mut out = Vec::new();
        for op in ops.iter().filter(|op| op.root() == "locations") {
            let rule = match op.kind {
                PatchOpKind::Remove => "delete_image_location",
                _ => "set_image_location",
            };
            self.authz.enforce_image(ctx, image, rule).await?;
            let position = op.path.get(1).cloned().unwrap_or_default();
            out.push(match op.kind {
                PatchOpKind::Add => LocationOp::Add {
                    position,
                    new: self.check_new_location(op.value.as_ref()).await?,
                },
                PatchOpKind::Remove => LocationOp::Remove { position },
                PatchOpKind::Replace => {
                    let Some(Value::Array(values)) = &op.value else {
                        return Err(invalid("Invalid locations"));
                    };
                    let current: Vec<&str> =
                        image.active_locations().map(|l| l.url.as_str()).collect();
                    let mut news = Vec::with_capacity(values.len());
                    for value in values {
                        // Locations already there are not checked again.
                        let url = value.get("url").and_then(Value::as_str);
                        if let Some(url) = url.filter(|u| current.contains(u)) {
                            let kept = image
                                .active_locations()
                                .find(|l| l.url == url)
                                .cloned()
                                .ok_or_else(|| invalid("Invalid locations"))?;
                            let mut kept = NewLocation {
                                location: kept,
                                size: image.size.unwrap_or(0),
                                validation: Map::new(),
                            };
                            if let Some(Value::Object(meta)) = value.get("metadata") {
                                let store = kept.location.store_id().map(str::to_owned);
                                kept.location.metadata = meta.clone();
                                if let Some(store) = store {
                                    kept.location
                                        .metadata
                                        .insert("store".into(), Value::String(store));
                                }
                            }
                            news.push(kept);
                        } else {
                            news.push(self.check_new_location(Some(value)).await?);
                        }
                    }
                    LocationOp::Replace(news)
                }
            });
        }
        Ok(out)
    }

    /// A location value `{"url", "metadata", "validation_data"?}` whose URL a
    /// store recognises and holds data at.
    async fn check_new_location(&self, value: Option<&Value>) -> Result<NewLocation, CoreError> {
        let Some(Value::Object(value)) = value else {
            return Err(invalid("Invalid location"));
        };
        let Some(Value::String(url)) = value.get("url") else {
            return Err(invalid("Invalid location"));
        };
        let metadata = match value.get("metadata") {
            Some(Value::Object(m)) => m.clone(),
            None => Map::new(),
            Some(_) => return Err(invalid("Invalid location")),
        };
        let validation = match value.get("validation_data") {
            None => Map::new(),
            Some(Value::Object(v)) => {
                let allowed = ["checksum", "os_hash_algo", "os_hash_value"];
                if v.keys().any(|k| !allowed.contains(&k.as_str()))
                    || v.values().any(|x| !x.is_string())
                {
                    return Err(invalid("Invalid validation_data"));
                }
                v.clone()
            }
            Some(_) => return Err(invalid("Invalid validation_data")),
        };
        let store = self.location_store(url)?;
        let size = store.size(url).await.map_err(|e| match e {
            glint_store::StoreError::Unavailable(_) => CoreError::from(e),
            _ => invalid("Invalid location"),
        })?;
        if size == 0 {
            return Err(invalid("Invalid location"));
        }
        let mut location = Location::new(url.clone(), store.id());
        for (k, v) in metadata {
            if k != "store" {
                location.metadata.insert(k, v);
            }
        }
        Ok(NewLocation {
            location,
            size,
            validation,
        })
    }

    /// Applies resolved location operations to the image as read; returns
    /// the URLs whose data must leave their store once the image is saved.
    pub(crate) fn apply_location_ops(
        &self,
        image: &mut Image,
        ops: &[LocationOp],
    ) -> Result<Vec<Location>, CoreError> {
        let mut removed = Vec::new();
        for op in ops {
            match op {
                LocationOp::Add { position, new } => {
                    if !matches!(image.status, ImageStatus::Active | ImageStatus::Queued) {
                        return Err(conflict(format!(
                            "It's not allowed to add locations if image status is {}.",
                            image.status
                        )));
                    }
                    let len = image.locations.len();
                    let pos = match position.as_str() {
                        "-" => Some(len),
                        p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                            p.parse::<usize>().ok().filter(|p| *p <= len)
                        }
                        _ => None,
                    }
                    .ok_or_else(|| invalid("Invalid position for adding a location."))?;
                    if image
                        .locations
                        .iter()
                        .any(|l| l.url == new.location.url && l.metadata == new.location.metadata)
                    {
                        return Err(invalid(format!(
                            "The location {} already exists",
                            glint_model::limits::clip(&new.location.url)
                        )));
                    }
                    image.locations.insert(pos, new.location.clone());
                    self.check_location_quota(image)?;
                    self.activate_with(image, std::slice::from_ref(new))?;
                }
                LocationOp::Remove { position } => {
                    if image.status != ImageStatus::Active {
                        return Err(conflict(format!(
                            "It's not allowed to remove locations if image status is {}.",
                            image.status
                        )));
                    }
                    let len = image.locations.len();
                    if len == 1 {
                        return Err(CoreError::Model(ModelError::forbidden(
                            "Cannot remove last location in the image.",
                        )));
                    }
                    let pos = match position.as_str() {
                        "-" => len.checked_sub(1),
                        p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                            p.parse::<usize>().ok().filter(|p| *p < len)
                        }
                        _ => None,
                    }
                    .ok_or_else(|| invalid("Invalid position for removing a location."))?;
                    removed.push(image.locations.remove(pos));
                }
                LocationOp::Replace(news) => {
                    if !matches!(image.status, ImageStatus::Active | ImageStatus::Queued) {
                        return Err(conflict(format!(
                            "It's not allowed to replace locations if image status is {}.",
                            image.status
                        )));
                    }
                    let mut wanted: Vec<&str> =
                        news.iter().map(|n| n.location.url.as_str()).collect();
                    let mut current: Vec<&str> =
                        image.locations.iter().map(|l| l.url.as_str()).collect();
                    wanted.sort_unstable();
                    current.sort_unstable();
                    if !current.is_empty() && wanted != current {
                        return Err(invalid(format!(
                            "Original locations is not empty: {}",
                            current.join(", ")
                        )));
                    }
                    for (i, new) in news.iter().enumerate() {
                        if news[..i].iter().any(|o| {
                            o.location.url == new.location.url
                                && o.location.metadata == new.location.metadata
                        }) {
                            return Err(invalid(format!(
                                "The location {} already exists",
                                glint_model::limits::clip(&new.location.url)
                            )));
                        }
                    }
                    image.locations = news.iter().map(|n| n.location.clone()).collect();
                    self.check_location_quota(image)?;
                    if !news.is_empty() {
                        self.activate_with(image, news)?;
                    }
                }
            }
        }
        Ok(removed)
    }

    /// `image_location_quota`: 413 past it, as Glance.
    fn check_location_quota(&self, image: &Image) -> Result<(), CoreError> {
        let attempted = image.locations.len() as u64;
        self.quotas()
            .check(QuotaKind::Locations, attempted)
            .map_err(|maximum| CoreError::QuotaExceeded {
                kind: QuotaKind::Locations,
                attempted,
                maximum,
                image: None,
            })
    }

    /// New `validation_data` values must be what an upload would have
    /// computed: md5 hex for `checksum`, the configured `hashing_algorithm`
    /// and a hex digest of its size (409 otherwise, as Glance).
    fn check_validation_values(&self, fresh: &[(String, String)]) -> Result<(), CoreError> {
        let get = |key: &str| {
            fresh
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let hex_of = |key: &str, value: &str, algo: &str, want: usize| {
            let shown = glint_model::limits::clip(value);
            if !value.len().is_multiple_of(2) || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(conflict(format!(
                    "{key} ({shown}) is not a valid hexadecimal value"
                )));
            }
            if value.len() / 2 != want {
                return Err(conflict(format!(
                    "{key} ({shown}) is not the correct size for {algo} (should be {want} bytes)"
                )));
            }
            Ok(())
        };
        if let Some(checksum) = get("checksum") {
            hex_of("checksum", checksum, "md5", 16)?;
        }
        let configured = self.config.hashing_algorithm;
        if let Some(algo) = get("os_hash_algo")
            && algo != configured.as_str()
        {
            return Err(conflict(format!(
                "os_hash_algo must be {}, not {}",
                configured.as_str(),
                glint_model::limits::clip(algo)
            )));
        }
        if let Some(value) = get("os_hash_value") {
            let want = crate::locations::digest_size(configured);
            hex_of("os_hash_value", value, configured.as_str(), want)?;
        }
        Ok(())
    }

    /// Takes the size of new locations when the image has none, applies the
    /// validation data of a queued image and activates it, as Glance does.
    fn activate_with(&self, image: &mut Image, news: &[NewLocation]) -> Result<(), CoreError> {
        if image.size.is_none() {
            image.size = news.first().map(|n| n.size);
        }
        let mut values: Map<String, Value> = Map::new();
        for new in news {
            for (k, v) in &new.validation {
                if values.get(k).is_some_and(|seen| seen != v) {
                    return Err(conflict(format!("Conflicting values for {k}")));
                }
                values.insert(k.clone(), v.clone());
            }
        }
        let mut fresh = Vec::new();
        for (k, v) in &values {
            let current = match k.as_str() {
                "checksum" => image.checksum.as_deref(),
                "os_hash_algo" => image.os_hash_algo.as_deref(),
                _ => image.os_hash_value.as_deref(),
            };
            let v = v.as_str().unwrap_or_default();
            match current {
                Some(c) if c == v => {}
                Some(_) => {
                    return Err(conflict(format!(
                        "{k} is already set with a different value"
                    )));
                }
                None => fresh.push((k.clone(), v.to_owned())),
            }
        }
        if !fresh.is_empty() && image.status != ImageStatus::Queued {
            let names: Vec<&str> = fresh.iter().map(|(k, _)| k.as_str()).collect();
            return Err(conflict(format!(
                "New value(s) for {} may only be provided when image status is 'queued'",
                names.join(", ")
            )));
        }
        self.check_validation_values(&fresh)?;
        for (k, v) in fresh {
            match k.as_str() {
                "checksum" => image.checksum = Some(v),
                "os_hash_algo" => image.os_hash_algo = Some(v),
                _ => image.os_hash_value = Some(v),
            }
        }
        if image.status == ImageStatus::Queued {
            image.status.check_move(ImageStatus::Active)?;
            image.status = ImageStatus::Active;
        }
        Ok(())
    }
}
