//! JSON shapes of the responses, key order as Glance writes them.
//!
//! Images, the bulk of every list, are written straight into the response
//! buffer by `Serialize` impls instead of being built as `serde_json`
//! values first: a page of 100 used to cost a map per image.

use glint_core::ImagePage;
use glint_model::time::format_iso;
use glint_model::{Image, ImageId, Member};
use glint_store::StoreRegistry;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

/// The base attributes of an image view, in Glance's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    DiskFormat,
    ContainerFormat,
    Visibility,
    Size,
    VirtualSize,
    Status,
    Checksum,
    Protected,
    MinRam,
    MinDisk,
    Owner,
    OsHidden,
    OsHashAlgo,
    OsHashValue,
    Id,
    CreatedAt,
    UpdatedAt,
    Tags,
    SelfLink,
    File,
    Schema,
}

const FIELDS: [(&str, Field); 22] = [
    ("name", Field::Name),
    ("disk_format", Field::DiskFormat),
    ("container_format", Field::ContainerFormat),
    ("visibility", Field::Visibility),
    ("size", Field::Size),
    ("virtual_size", Field::VirtualSize),
    ("status", Field::Status),
    ("checksum", Field::Checksum),
    ("protected", Field::Protected),
    ("min_ram", Field::MinRam),
    ("min_disk", Field::MinDisk),
    ("owner", Field::Owner),
    ("os_hidden", Field::OsHidden),
    ("os_hash_algo", Field::OsHashAlgo),
    ("os_hash_value", Field::OsHashValue),
    ("id", Field::Id),
    ("created_at", Field::CreatedAt),
    ("updated_at", Field::UpdatedAt),
    ("tags", Field::Tags),
    ("self", Field::SelfLink),
    ("file", Field::File),
    ("schema", Field::Schema),
];

/// What an image view tells about where the image's data is, beyond
/// Glance's base attributes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Placement<'a> {
    /// Multi-store: the image's `stores`, and the weights that order
    /// `direct_url`.
    pub stores: Option<&'a StoreRegistry>,
    /// `direct_url`: the best location (`show_image_direct_url`, and the
    /// caller may read locations).
    pub direct_url: bool,
    /// `locations` (`show_multiple_locations`, and the caller may read them).
    pub locations: bool,
}

/// One image: extra properties first, then the base attributes and links.
#[derive(Debug, Clone, Copy)]
pub struct ImageView<'a>(pub &'a Image, pub Placement<'a>);

/// The view of an image with nothing about its locations.
pub fn image(image: &Image) -> ImageView<'_> {
    ImageView(image, Placement::default())
}

/// The view of an image, showing of its locations what `placement` allows.
pub fn image_placed<'a>(image: &'a Image, placement: Placement<'a>) -> ImageView<'a> {
    ImageView(image, placement)
}

impl Serialize for ImageView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let image = self.0;
        let mut map = serializer.serialize_map(None)?;
        // An extra property named like a base attribute (none can be set
        // through the API) takes its place and is replaced by its value,
        // as inserting into one JSON object would do; bit i marks FIELDS[i]
        // as written there.
        let mut written = 0_u32;
        for (key, value) in image.visible_properties() {
            match FIELDS.iter().position(|(name, _)| name == key) {
                Some(i) => {
                    write_field(&mut map, image, FIELDS[i])?;
                    written |= 1 << i;
                }
                None => map.serialize_entry(key, value)?,
            }
        }
        for (i, field) in FIELDS.into_iter().enumerate() {
            if written & (1 << i) == 0 {
                write_field(&mut map, image, field)?;
            }
            if field.1 == Field::UpdatedAt {
                write_locations(&mut map, image, self.1)?;
            }
        }
        if self.1.stores.is_some() {
            let stores: Vec<&str> = image
                .active_locations()
                .filter_map(|l| l.store_id())
                .collect();
            if !stores.is_empty() {
                map.serialize_entry("stores", &stores.join(","))?;
            }
        }
        map.end()
    }
}

/// `locations` and `direct_url`, where Glance puts them: after
/// `updated_at`.
fn write_locations<M: SerializeMap>(
    map: &mut M,
    image: &Image,
    placement: Placement<'_>,
) -> Result<(), M::Error> {
    if placement.locations {
        let list: Vec<Value> = image
            .active_locations()
            .map(|l| json!({"url": l.url, "metadata": l.metadata}))
            .collect();
        map.serialize_entry("locations", &list)?;
    }
    if placement.direct_url {
        let mut locations: Vec<_> = image.active_locations().collect();
        if let Some(registry) = placement.stores {
            registry.sort_by_weight(&mut locations, |l| l.store_id());
        }
        if let Some(best) = locations.first() {
            map.serialize_entry("direct_url", &best.url)?;
        }
    }
    Ok(())
}

fn write_field<M: SerializeMap>(
    map: &mut M,
    image: &Image,
    (key, field): (&str, Field),
) -> Result<(), M::Error> {
    match field {
        Field::Name => map.serialize_entry(key, &image.name),
        Field::DiskFormat => map.serialize_entry(key, &image.disk_format),
        Field::ContainerFormat => map.serialize_entry(key, &image.container_format),
        Field::Visibility => map.serialize_entry(key, image.visibility.as_str()),
        Field::Size => map.serialize_entry(key, &image.size),
        Field::VirtualSize => map.serialize_entry(key, &image.virtual_size),
        Field::Status => map.serialize_entry(key, image.status.as_str()),
        Field::Checksum => map.serialize_entry(key, &image.checksum),
        Field::Protected => map.serialize_entry(key, &image.protected),
        Field::MinRam => map.serialize_entry(key, &image.min_ram),
        Field::MinDisk => map.serialize_entry(key, &image.min_disk),
        Field::Owner => map.serialize_entry(key, &image.owner),
        Field::OsHidden => map.serialize_entry(key, &image.os_hidden),
        Field::OsHashAlgo => map.serialize_entry(key, &image.os_hash_algo),
        Field::OsHashValue => map.serialize_entry(key, &image.os_hash_value),
        Field::Id => map.serialize_entry(key, &Link(image.id, "", "")),
        Field::CreatedAt => map.serialize_entry(key, &format_iso(image.created_at)),
        Field::UpdatedAt => map.serialize_entry(key, &format_iso(image.updated_at)),
        Field::Tags => map.serialize_entry(key, &image.tags),
        Field::SelfLink => map.serialize_entry(key, &Link(image.id, IMAGES, "")),
        Field::File => map.serialize_entry(key, &Link(image.id, IMAGES, "/file")),
        Field::Schema => map.serialize_entry(key, "/v2/schemas/image"),
    }
}

const IMAGES: &str = "/v2/images/";

/// `<prefix><id><suffix>`, put together on the stack: every image shown
/// writes its id three times.
struct Link(ImageId, &'static str, &'static str);

impl Serialize for Link {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut id = [0_u8; uuid::fmt::Hyphenated::LENGTH];
        let id = self.0.as_uuid().hyphenated().encode_lower(&mut id);
        let (prefix, suffix) = (self.1, self.2);
        if prefix.is_empty() && suffix.is_empty() {
            return serializer.serialize_str(id);
        }
        let mut text = String::with_capacity(prefix.len() + id.len() + suffix.len());
        text.push_str(prefix);
        text.push_str(id);
        text.push_str(suffix);
        serializer.serialize_str(&text)
    }
}

/// A page of images with its `first` and `next` links.
#[derive(Debug)]
pub struct ImageListView<'a> {
    images: &'a [Image],
    first: String,
    next: Option<String>,
    /// What each image shows of its locations (all alike when one).
    placements: Vec<Placement<'a>>,
}

/// The view of `page`. `params` are the request's query pairs; the links
/// repeat them, minus the old marker.
pub fn image_list<'a>(page: &'a ImagePage, params: &[(String, String)]) -> ImageListView<'a> {
    let kept: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "marker").collect();
    let encode = |pairs: &[&(String, String)], marker: Option<String>| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            ser.append_pair(k, v);
        }
        if let Some(m) = marker {
            ser.append_pair("marker", &m);
        }
        ser.finish()
    };
    let first_query = encode(&kept, None);
    let first = if first_query.is_empty() {
        "/v2/images".to_string()
    } else {
        format!("/v2/images?{first_query}")
    };
    let next = page
        .next_marker
        .map(|next| format!("/v2/images?{}", encode(&kept, Some(next.to_string()))));
    ImageListView {
        images: &page.images,
        first,
        next,
        placements: Vec::new(),
    }
}

impl<'a> ImageListView<'a> {
    /// Shows of each image's locations what its placement allows: one
    /// placement per image, in page order.
    pub fn placed(mut self, placements: Vec<Placement<'a>>) -> Self {
        self.placements = placements;
        self
    }
}

impl Serialize for ImageListView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("images", &Images(self.images, &self.placements))?;
        map.serialize_entry("first", &self.first)?;
        map.serialize_entry("schema", "/v2/schemas/images")?;
        if let Some(next) = &self.next {
            map.serialize_entry("next", next)?;
        }
        map.end()
    }
}

struct Images<'a>(&'a [Image], &'a [Placement<'a>]);

impl Serialize for Images<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let placement = |i: usize| self.1.get(i).copied().unwrap_or_default();
        serializer.collect_seq(
            self.0
                .iter()
                .enumerate()
                .map(|(i, image)| ImageView(image, placement(i))),
        )
    }
}

/// One image member, keys in Glance's order.
pub fn member(member: &Member) -> Value {
    let mut m = Map::new();
    m.insert("member_id".into(), json!(member.member_id));
    m.insert("image_id".into(), json!(member.image_id.to_string()));
    m.insert("status".into(), json!(member.status.as_str()));
    m.insert("created_at".into(), json!(format_iso(member.created_at)));
    m.insert("updated_at".into(), json!(format_iso(member.updated_at)));
    m.insert("schema".into(), json!("/v2/schemas/member"));
    Value::Object(m)
}

/// The members of an image.
pub fn member_list(members: &[Member]) -> Value {
    let mut m = Map::new();
    m.insert(
        "members".into(),
        Value::Array(members.iter().map(member).collect()),
    );
    m.insert("schema".into(), json!("/v2/schemas/members"));
    Value::Object(m)
}

#[cfg(test)]
mod tests {

    use glint_model::time::from_micros;
    use glint_model::{ImageStatus, Location, Visibility};

    use super::*;
    use crate::json::to_vec;

    /// The views as they were built before, one `serde_json::Map` per
    /// image: the reference the streamed views must match byte for byte.
    fn image_as_map(image: &Image) -> Value {
        let opt_str = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
        let opt_u64 = |v: Option<u64>| v.map(Value::from).unwrap_or(Value::Null);
        let mut m = Map::new();
        for (k, v) in image.visible_properties() {
            m.insert(k.clone(), Value::String(v.clone()));
        }
        let id = image.id.to_string();
        m.insert("name".into(), opt_str(&image.name));
        m.insert("disk_format".into(), opt_str(&image.disk_format));
        m.insert("container_format".into(), opt_str(&image.container_format));
        m.insert("visibility".into(), json!(image.visibility.as_str()));
        m.insert("size".into(), opt_u64(image.size));
        m.insert("virtual_size".into(), opt_u64(image.virtual_size));
        m.insert("status".into(), json!(image.status.as_str()));
        m.insert("checksum".into(), opt_str(&image.checksum));
        m.insert("protected".into(), json!(image.protected));
        m.insert("min_ram".into(), json!(image.min_ram));
        m.insert("min_disk".into(), json!(image.min_disk));
        m.insert("owner".into(), opt_str(&image.owner));
        m.insert("os_hidden".into(), json!(image.os_hidden));
        m.insert("os_hash_algo".into(), opt_str(&image.os_hash_algo));
        m.insert("os_hash_value".into(), opt_str(&image.os_hash_value));
        m.insert("id".into(), json!(id));
        m.insert("created_at".into(), json!(format_iso(image.created_at)));
        m.insert("updated_at".into(), json!(format_iso(image.updated_at)));
        m.insert("tags".into(), json!(image.tags));
        m.insert("self".into(), json!(format!("/v2/images/{id}")));
        m.insert("file".into(), json!(format!("/v2/images/{id}/file")));
        m.insert("schema".into(), json!("/v2/schemas/image"));
        Value::Object(m)
    }

    fn list_as_map(view: &ImageListView<'_>) -> Value {
        let mut m = Map::new();
        let images = view.images.iter().map(image_as_map).collect();
        m.insert("images".into(), Value::Array(images));
        m.insert("first".into(), json!(view.first));
        m.insert("schema".into(), json!("/v2/schemas/images"));
        if let Some(next) = &view.next {
            m.insert("next".into(), json!(next));
        }
        Value::Object(m)
    }

    fn bare() -> Image {
        Image {
            visibility: Visibility::Private,
            updated_at: from_micros(1_767_225_600_123_456),
            ..Image::queued(ImageId::new_random(), from_micros(0))
        }
    }

    fn full() -> Image {
        let mut image = bare();
        image.name = Some("ünïcode \"quoted\" \\ back\tslash \u{1} ✓".into());
        image.status = ImageStatus::Active;
        image.visibility = Visibility::Public;
        image.protected = true;
        image.os_hidden = true;
        image.checksum = Some("d41d8cd98f00b204e9800998ecf8427e".into());
        image.os_hash_algo = Some("sha512".into());
        image.os_hash_value = Some("ab".repeat(64));
        image.owner = Some("project".into());
        image.size = Some(u64::MAX);
        image.virtual_size = Some(0);
        image.container_format = Some("bare".into());
        image.disk_format = Some("qcow2".into());
        image.min_ram = -1;
        image.min_disk = i64::MAX;
        image.tags = vec!["z".into(), "a".into(), "é\n".into()];
        for (k, v) in [
            ("os_distro", "cirros"),
            ("a", ""),
            ("zz\"", "\u{7f}</script>"),
        ] {
            image.properties.insert(k.into(), v.into());
        }
        image
            .properties
            .insert("os_glance_upload_lease".into(), "hidden".into());
        image.locations = vec![Location::new("file:///x", "fast")];
        image
    }

    /// Properties no API call can create, but that the views must still
    /// place as a single JSON object would.
    fn colliding() -> Image {
        let mut image = full();
        for key in ["status", "self", "tags", "aaa", "name", "schema", "zzz"] {
            image
                .properties
                .insert(key.into(), format!("property {key}"));
        }
        image
    }

    #[test]
    fn image_views_match_the_map_built_views_byte_for_byte() {
        for image in [bare(), full(), colliding()] {
            let streamed = to_vec(&ImageView(&image, Placement::default())).unwrap();
            let reference = to_vec(&image_as_map(&image)).unwrap();
            assert_eq!(
                String::from_utf8(streamed).unwrap(),
                String::from_utf8(reference).unwrap()
            );
        }
    }

    #[test]
    fn list_views_match_the_map_built_views_byte_for_byte() {
        let images = vec![full(), bare(), colliding()];
        let next_marker = Some(images[2].id);
        let params = [
            ("limit", "3"),
            ("marker", "old"),
            ("name", "a b&c=ü"),
            ("tag", "x"),
        ];
        let params: Vec<(String, String)> = (params.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (images, next_marker, params) in [
            (images.clone(), next_marker, &params[..]),
            (images, None, &[][..]),
            (Vec::new(), None, &params[..1]),
        ] {
            let page = ImagePage {
                images,
                next_marker,
            };
            let view = image_list(&page, params);
            let streamed = to_vec(&view).unwrap();
            let reference = to_vec(&list_as_map(&view)).unwrap();
            assert_eq!(
                String::from_utf8(streamed).unwrap(),
                String::from_utf8(reference).unwrap()
            );
        }
    }
}
