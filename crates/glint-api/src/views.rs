//! JSON shapes of the responses, key order as Glance writes them.
//!
//! Images, the bulk of every list, are written by hand straight into the
//! response buffer (`crate::json::JsonOut`) instead of being built as
//! `serde_json` values first: a page of 100 used to cost a map per image,
//! and serde escapes every fixed key of every image.

use glint_core::ImagePage;
use glint_model::time::{format_iso, iso_digits};
use glint_model::{Image, ImageId, Member};
use glint_store::StoreRegistry;
use serde_json::{Map, Value, json};

use crate::json::{JsonOut, WriteJson, key};

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

/// Each base attribute's name, its key as the view writes it, and which
/// it is.
const FIELDS: [(&str, &str, Field); 22] = [
    ("name", key!("name"), Field::Name),
    ("disk_format", key!("disk_format"), Field::DiskFormat),
    (
        "container_format",
        key!("container_format"),
        Field::ContainerFormat,
    ),
    ("visibility", key!("visibility"), Field::Visibility),
    ("size", key!("size"), Field::Size),
    ("virtual_size", key!("virtual_size"), Field::VirtualSize),
    ("status", key!("status"), Field::Status),
    ("checksum", key!("checksum"), Field::Checksum),
    ("protected", key!("protected"), Field::Protected),
    ("min_ram", key!("min_ram"), Field::MinRam),
    ("min_disk", key!("min_disk"), Field::MinDisk),
    ("owner", key!("owner"), Field::Owner),
    ("os_hidden", key!("os_hidden"), Field::OsHidden),
    ("os_hash_algo", key!("os_hash_algo"), Field::OsHashAlgo),
    ("os_hash_value", key!("os_hash_value"), Field::OsHashValue),
    ("id", key!("id"), Field::Id),
    ("created_at", key!("created_at"), Field::CreatedAt),
    ("updated_at", key!("updated_at"), Field::UpdatedAt),
    ("tags", key!("tags"), Field::Tags),
    ("self", key!("self"), Field::SelfLink),
    ("file", key!("file"), Field::File),
    ("schema", key!("schema"), Field::Schema),
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

impl WriteJson for ImageView<'_> {
    fn write_json(&self, out: &mut JsonOut) -> serde_json::Result<()> {
        let image = self.0;
        let first = &mut true;
        out.raw("{");
        // An extra property named like a base attribute (none can be set
        // through the API) takes its place and is replaced by its value,
        // as inserting into one JSON object would do; bit i marks FIELDS[i]
        // as written there.
        let mut written = 0_u32;
        for (key, value) in image.visible_properties() {
            match FIELDS.iter().position(|(name, ..)| name == key) {
                Some(i) => {
                    write_field(out, first, image, FIELDS[i]);
                    written |= 1 << i;
                }
                None => {
                    out.key(first, key);
                    out.str(value);
                }
            }
        }
        for (i, field) in FIELDS.into_iter().enumerate() {
            if written & (1 << i) == 0 {
                write_field(out, first, image, field);
            }
            if field.2 == Field::UpdatedAt {
                write_locations(out, first, image, self.1)?;
            }
        }
        if self.1.stores.is_some() {
            let stores: Vec<&str> = image
                .active_locations()
                .filter_map(|l| l.store_id())
                .collect();
            if !stores.is_empty() {
                out.fixed_key(first, key!("stores"));
                out.str(&stores.join(","));
            }
        }
        out.raw("}");
        Ok(())
    }
}

/// `locations` and `direct_url`, where Glance puts them: after
/// `updated_at`.
fn write_locations(
    out: &mut JsonOut,
    first: &mut bool,
    image: &Image,
    placement: Placement<'_>,
) -> serde_json::Result<()> {
    if placement.locations {
        let list: Vec<Value> = image
            .active_locations()
            .map(|l| json!({"url": l.url, "metadata": l.metadata}))
            .collect();
        out.fixed_key(first, key!("locations"));
        out.serialized(&list)?;
    }
    if placement.direct_url {
        let mut locations: Vec<_> = image.active_locations().collect();
        if let Some(registry) = placement.stores {
            registry.sort_by_weight(&mut locations, |l| l.store_id());
        }
        if let Some(best) = locations.first() {
            out.fixed_key(first, key!("direct_url"));
            out.str(&best.url);
        }
    }
    Ok(())
}

fn write_field(
    out: &mut JsonOut,
    first: &mut bool,
    image: &Image,
    (_, key, field): (&str, &'static str, Field),
) {
    out.fixed_key(first, key);
    match field {
        Field::Name => out.opt_str(image.name.as_deref()),
        Field::DiskFormat => out.opt_str(image.disk_format.as_deref()),
        Field::ContainerFormat => out.opt_str(image.container_format.as_deref()),
        Field::Visibility => out.str(image.visibility.as_str()),
        Field::Size => out.opt_int(image.size),
        Field::VirtualSize => out.opt_int(image.virtual_size),
        Field::Status => out.str(image.status.as_str()),
        Field::Checksum => out.opt_str(image.checksum.as_deref()),
        Field::Protected => out.bool(image.protected),
        Field::MinRam => out.int(image.min_ram),
        Field::MinDisk => out.int(image.min_disk),
        Field::Owner => out.opt_str(image.owner.as_deref()),
        Field::OsHidden => out.bool(image.os_hidden),
        Field::OsHashAlgo => out.opt_str(image.os_hash_algo.as_deref()),
        Field::OsHashValue => out.opt_str(image.os_hash_value.as_deref()),
        Field::Id => link(out, image.id, "", ""),
        Field::CreatedAt => time(out, image.created_at),
        Field::UpdatedAt => time(out, image.updated_at),
        Field::Tags => {
            out.raw("[");
            let first = &mut true;
            for tag in &image.tags {
                out.separate(first);
                out.str(tag);
            }
            out.raw("]");
        }
        Field::SelfLink => link(out, image.id, IMAGES, ""),
        Field::File => link(out, image.id, IMAGES, "/file"),
        Field::Schema => out.raw("\"/v2/schemas/image\""),
    }
}

const IMAGES: &str = "/v2/images/";

/// `"<prefix><id><suffix>"`: every image shown writes its id three times.
fn link(out: &mut JsonOut, id: ImageId, prefix: &'static str, suffix: &'static str) {
    let mut text = [0_u8; uuid::fmt::Hyphenated::LENGTH];
    let id = id.as_uuid().hyphenated().encode_lower(&mut text);
    out.raw("\"");
    out.raw(prefix);
    out.raw(id);
    out.raw(suffix);
    out.raw("\"");
}

/// A time as Glance shows it.
fn time(out: &mut JsonOut, t: glint_model::time::Timestamp) {
    match iso_digits(t) {
        Some(text) => {
            out.raw("\"");
            out.raw(std::str::from_utf8(&text).unwrap_or_default());
            out.raw("\"");
        }
        None => out.str(&format_iso(t)),
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

impl WriteJson for ImageListView<'_> {
    fn write_json(&self, out: &mut JsonOut) -> serde_json::Result<()> {
        out.raw("{\"images\": [");
        let first = &mut true;
        for (i, image) in self.images.iter().enumerate() {
            out.separate(first);
            let placement = self.placements.get(i).copied().unwrap_or_default();
            ImageView(image, placement).write_json(out)?;
        }
        out.raw("], \"first\": ");
        out.str(&self.first);
        out.raw(", \"schema\": \"/v2/schemas/images\"");
        if let Some(next) = &self.next {
            out.raw(", \"next\": ");
            out.str(next);
        }
        out.raw("}");
        Ok(())
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
    use crate::json::{to_vec, written};

    /// The views as they were built before, one `serde_json::Map` per
    /// image: the reference the streamed views must match byte for byte.
    fn image_as_map(image: &Image) -> Value {
        image_as_map_placed(image, Placement::default())
    }

    fn image_as_map_placed(image: &Image, placement: Placement<'_>) -> Value {
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
        let active: Vec<_> = image.active_locations().collect();
        if placement.locations {
            let list: Vec<Value> = (active.iter())
                .map(|l| json!({"url": l.url, "metadata": l.metadata}))
                .collect();
            m.insert("locations".into(), Value::Array(list));
        }
        if let (true, Some(best)) = (placement.direct_url, active.first()) {
            m.insert("direct_url".into(), json!(best.url));
        }
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
            let streamed = written(&ImageView(&image, Placement::default())).unwrap();
            let reference = to_vec(&image_as_map(&image)).unwrap();
            assert_eq!(
                String::from_utf8(streamed).unwrap(),
                String::from_utf8(reference).unwrap()
            );
        }
    }

    #[test]
    fn locations_and_direct_url_are_placed_as_the_map_built_view_places_them() {
        let mut image = full();
        let mut second = Location::new("file:///y \"quoted\"", "fast");
        second.metadata.insert("a".into(), json!([1, "ü"]));
        second.metadata.insert("b\n".into(), json!({"c": null}));
        image.locations.push(second);
        for (locations, direct_url) in [(true, true), (true, false), (false, true)] {
            let placement = Placement {
                stores: None,
                direct_url,
                locations,
            };
            let streamed = written(&ImageView(&image, placement)).unwrap();
            let reference = to_vec(&image_as_map_placed(&image, placement)).unwrap();
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
            let streamed = written(&view).unwrap();
            let reference = to_vec(&list_as_map(&view)).unwrap();
            assert_eq!(
                String::from_utf8(streamed).unwrap(),
                String::from_utf8(reference).unwrap()
            );
        }
    }
}
