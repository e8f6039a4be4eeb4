//! Request bodies of the metadefs API, checked against the rules of
//! Glance's metadef schemas (`/v2/schemas/metadefs/…`) by hand, so that a
//! refusal reads like the jsonschema message Glance answers with. A valid
//! definition is kept in a normal form: only the attributes Glance's models
//! know, in their order.

use serde_json::{Map, Value};

use super::{EntryKind, NamespaceVisibility};
use super::{MAX_DESCRIPTION_CHARS, MAX_ENTRIES_PER_REQUEST, MAX_NAME_CHARS, MAX_OWNER_CHARS};
use crate::error::ModelError;
use crate::limits;
use crate::schema::py_repr;

/// The JSON types a property definition (and its `items`) may declare.
pub const PROPERTY_TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];

/// The attributes of a property definition, in the order Glance writes them.
const PROPERTY_KEYS: [&str; 17] = [
    "type",
    "title",
    "description",
    "operators",
    "default",
    "readonly",
    "minimum",
    "maximum",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "items",
    "uniqueItems",
    "minItems",
    "maxItems",
    "additionalItems",
];

/// A definition (of a property or an object) without its name.
pub type Definition = Map<String, Value>;
/// A name and its definition.
pub type Named = (String, Definition);

/// A namespace as a create or replace body gives it.
#[derive(Debug, Clone, Default)]
pub struct NamespaceInput {
    pub namespace: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<NamespaceVisibility>,
    pub protected: Option<bool>,
    pub owner: Option<String>,
    pub properties: Vec<Named>,
    pub objects: Vec<Named>,
    pub tags: Vec<String>,
    pub associations: Vec<AssociationInput>,
}

/// A resource type association as a body gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociationInput {
    pub name: String,
    pub prefix: Option<String>,
    pub properties_target: Option<String>,
}

/// A schema refused the body; `schema` is its name.
pub fn schema_error(schema: &str, detail: String) -> ModelError {
    ModelError::invalid(format!(
        "Provided object does not match schema '{schema}': {detail}"
    ))
}

/// Refuses a body that sets one of `read_only` (403, as Glance does).
pub fn check_read_only(body: &Value, read_only: &[&str]) -> Result<(), ModelError> {
    if let Some(map) = body.as_object() {
        for key in read_only {
            if map.contains_key(*key) {
                return Err(ModelError::forbidden(format!(
                    "Attribute '{key}' is read-only."
                )));
            }
        }
    }
    Ok(())
}

struct Checker<'a> {
    schema: &'a str,
}

impl Checker<'_> {
    fn err(&self, detail: String) -> ModelError {
        schema_error(self.schema, detail)
    }

    fn object<'v>(&self, v: &'v Value) -> Result<&'v Map<String, Value>, ModelError> {
        v.as_object()
            .ok_or_else(|| self.err(format!("{} is not of type 'object'", py_repr(v))))
    }

    fn only(&self, map: &Map<String, Value>, allowed: &[&str]) -> Result<(), ModelError> {
        let extra: Vec<String> = map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| py_repr(&Value::String(k.clone())))
            .collect();
        match extra.len() {
            0 => Ok(()),
            1 => Err(self.err(format!(
                "Additional properties are not allowed ({} was unexpected)",
                extra[0]
            ))),
            _ => Err(self.err(format!(
                "Additional properties are not allowed ({} were unexpected)",
                extra.join(", ")
            ))),
        }
    }

    fn required(&self, map: &Map<String, Value>, keys: &[&str]) -> Result<(), ModelError> {
        match keys.iter().find(|k| !map.contains_key(**k)) {
            Some(k) => Err(self.err(format!("'{k}' is a required property"))),
            None => Ok(()),
        }
    }

    fn string(&self, v: &Value, max: Option<usize>) -> Result<String, ModelError> {
        let Value::String(s) = v else {
            return Err(self.err(format!("{} is not of type 'string'", py_repr(v))));
        };
        if max.is_some_and(|max| s.chars().nth(max).is_some()) {
            return Err(self.err(format!("{} is too long", py_repr(v))));
        }
        if limits::has_nul(s) {
            return Err(ModelError::invalid(
                "Metadata definition values may not contain NUL characters.",
            ));
        }
        Ok(s.clone())
    }

    fn opt_string(
        &self,
        map: &Map<String, Value>,
        key: &str,
        max: Option<usize>,
    ) -> Result<Option<String>, ModelError> {
        map.get(key).map(|v| self.string(v, max)).transpose()
    }

    fn boolean(&self, v: &Value) -> Result<bool, ModelError> {
        v.as_bool()
            .ok_or_else(|| self.err(format!("{} is not of type 'boolean'", py_repr(v))))
    }

    fn array<'v>(&self, v: &'v Value) -> Result<&'v Vec<Value>, ModelError> {
        let items = v
            .as_array()
            .ok_or_else(|| self.err(format!("{} is not of type 'array'", py_repr(v))))?;
        if items.len() > MAX_ENTRIES_PER_REQUEST {
            return Err(ModelError::invalid(format!(
                "At most {MAX_ENTRIES_PER_REQUEST} items may be given in one request."
            )));
        }
        Ok(items)
    }

    fn string_array(&self, v: &Value, unique: bool) -> Result<(), ModelError> {
        let items = self.array(v)?;
        for item in items {
            self.string(item, None)?;
        }
        if unique && !all_unique(items) {
            return Err(self.err(format!("{} has non-unique elements", py_repr(v))));
        }
        Ok(())
    }

    fn number(&self, v: &Value) -> Result<(), ModelError> {
        if v.is_number() {
            Ok(())
        } else {
            Err(self.err(format!("{} is not of type 'number'", py_repr(v))))
        }
    }

    fn count(&self, v: &Value) -> Result<(), ModelError> {
        match v.as_i64() {
            Some(n) if n < 0 => Err(self.err(format!("{n} is less than the minimum of 0"))),
            Some(_) => Ok(()),
            None if v.as_u64().is_some() => Ok(()),
            None => Err(self.err(format!("{} is not of type 'integer'", py_repr(v)))),
        }
    }

    fn type_name(&self, v: &Value) -> Result<(), ModelError> {
        if v.is_null() || v.as_str().is_some_and(|s| PROPERTY_TYPES.contains(&s)) {
            return Ok(());
        }
        if !v.is_string() {
            return Err(self.err(format!("{} is not of type 'string'", py_repr(v))));
        }
        let names: Vec<String> = PROPERTY_TYPES.iter().map(|t| format!("'{t}'")).collect();
        Err(self.err(format!(
            "{} is not one of [{}, None]",
            py_repr(v),
            names.join(", ")
        )))
    }

    /// A property definition; its normal form, without `name`.
    fn property(&self, v: &Value, strict: bool) -> Result<Map<String, Value>, ModelError> {
        let map = self.object(v)?;
        if strict {
            let mut allowed = PROPERTY_KEYS.to_vec();
            allowed.extend(["name", "required"]);
            self.only(map, &allowed)?;
        }
        self.required(map, &["title", "type"])?;
        for (key, value) in map {
            match key.as_str() {
                "name" => drop(self.string(value, Some(MAX_NAME_CHARS))?),
                "title" | "description" | "pattern" => drop(self.string(value, None)?),
                "type" => self.type_name(value)?,
                "operators" => self.string_array(value, false)?,
                "required" => self.string_array(value, true)?,
                "minimum" | "maximum" => self.number(value)?,
                "maxLength" | "minLength" | "maxItems" | "minItems" => self.count(value)?,
                "enum" => drop(self.array(value)?),
                "readonly" | "uniqueItems" | "additionalItems" => drop(self.boolean(value)?),
                "items" => self.items(value)?,
                _ => {}
            }
        }
        if map.get("type").is_some_and(Value::is_null) {
            return Err(ModelError::invalid(
                "Invalid input for field/attribute type. Value: None. Mandatory field missing.",
            ));
        }
        let mut out = Map::new();
        for key in PROPERTY_KEYS {
            if let Some(value) = map.get(key) {
                out.insert(key.to_owned(), value.clone());
            }
        }
        Ok(out)
    }

    fn items(&self, v: &Value) -> Result<(), ModelError> {
        let map = self.object(v)?;
        if let Some(t) = map.get("type") {
            self.type_name(t)?;
        }
        if let Some(e) = map.get("enum") {
            self.array(e)?;
        }
        Ok(())
    }

    fn properties(&self, v: &Value, strict: bool) -> Result<Vec<Named>, ModelError> {
        let map = self.object(v)?;
        if map.len() > MAX_ENTRIES_PER_REQUEST {
            return Err(ModelError::invalid(format!(
                "At most {MAX_ENTRIES_PER_REQUEST} properties may be given in one request."
            )));
        }
        let mut out = Vec::with_capacity(map.len());
        for (name, def) in map {
            self.string(&Value::String(name.clone()), Some(MAX_NAME_CHARS))?;
            out.push((name.clone(), self.property(def, strict)?));
        }
        Ok(out)
    }

    /// An object; its name and normal form (`description`, `required`,
    /// `properties`).
    fn object_def(&self, v: &Value, strict: bool) -> Result<Named, ModelError> {
        let map = self.object(v)?;
        if strict {
            self.only(
                map,
                &[
                    "name",
                    "description",
                    "required",
                    "properties",
                    "schema",
                    "self",
                    "created_at",
                    "updated_at",
                ],
            )?;
        }
        self.required(map, &["name"])?;
        let name = self.string(&map["name"], Some(MAX_NAME_CHARS))?;
        let mut out = Map::new();
        if let Some(d) = map.get("description") {
            out.insert("description".into(), Value::String(self.string(d, None)?));
        }
        if let Some(r) = map.get("required") {
            self.string_array(r, true)?;
            out.insert("required".into(), r.clone());
        }
        if let Some(p) = map.get("properties") {
            let props = self.properties(p, true)?;
            let props: Map<String, Value> = props
                .into_iter()
                .map(|(k, v)| (k, Value::Object(v)))
                .collect();
            out.insert("properties".into(), Value::Object(props));
        }
        Ok((name, out))
    }

    fn association(&self, v: &Value, strict: bool) -> Result<AssociationInput, ModelError> {
        let map = self.object(v)?;
        if strict {
            self.only(
                map,
                &[
                    "name",
                    "prefix",
                    "properties_target",
                    "created_at",
                    "updated_at",
                ],
            )?;
        }
        self.required(map, &["name"])?;
        Ok(AssociationInput {
            name: self.string(&map["name"], Some(MAX_NAME_CHARS))?,
            prefix: self.opt_string(map, "prefix", Some(MAX_NAME_CHARS))?,
            properties_target: self.opt_string(map, "properties_target", Some(MAX_NAME_CHARS))?,
        })
    }
}

fn all_unique(items: &[Value]) -> bool {
    items
        .iter()
        .enumerate()
        .all(|(i, a)| items[..i].iter().all(|b| a != b))
}

/// `POST`/`PUT /v2/metadefs/namespaces[/{ns}]`.
pub fn namespace_body(body: &Value) -> Result<NamespaceInput, ModelError> {
    check_read_only(body, &["self", "schema", "created_at", "updated_at"])?;
    let c = Checker {
        schema: "namespace",
    };
    let map = c.object(body)?;
    c.only(
        map,
        &[
            "namespace",
            "display_name",
            "description",
            "visibility",
            "protected",
            "owner",
            "resource_type_associations",
            "properties",
            "objects",
            "tags",
        ],
    )?;
    c.required(map, &["namespace"])?;
    let mut input = NamespaceInput {
        namespace: c.string(&map["namespace"], Some(MAX_NAME_CHARS))?,
        display_name: c.opt_string(map, "display_name", Some(MAX_NAME_CHARS))?,
        description: c.opt_string(map, "description", Some(MAX_DESCRIPTION_CHARS))?,
        owner: c.opt_string(map, "owner", Some(MAX_OWNER_CHARS))?,
        ..NamespaceInput::default()
    };
    if let Some(v) = map.get("visibility") {
        let s = c.string(v, None)?;
        input.visibility = Some(NamespaceVisibility::parse(&s).ok_or_else(|| {
            c.err(format!(
                "{} is not one of ['public', 'private']",
                py_repr(v)
            ))
        })?);
    }
    if let Some(v) = map.get("protected") {
        input.protected = Some(c.boolean(v)?);
    }
    if let Some(v) = map.get("properties") {
        input.properties = c.properties(v, false)?;
    }
    if let Some(v) = map.get("objects") {
        for item in c.array(v)? {
            input.objects.push(c.object_def(item, false)?);
        }
    }
    if let Some(v) = map.get("tags") {
        for item in c.array(v)? {
            let tag = c.object(item)?;
            c.required(tag, &["name"])?;
            input
                .tags
                .push(c.string(&tag["name"], Some(MAX_NAME_CHARS))?);
        }
    }
    if let Some(v) = map.get("resource_type_associations") {
        for item in c.array(v)? {
            input.associations.push(c.association(item, false)?);
        }
    }
    Ok(input)
}

/// `POST`/`PUT …/properties[/{name}]`: the name and the definition.
pub fn property_body(body: &Value) -> Result<Named, ModelError> {
    check_read_only(body, &["created_at", "updated_at"])?;
    let c = Checker { schema: "property" };
    let map = c.object(body)?;
    let mut allowed = PROPERTY_KEYS.to_vec();
    allowed.extend(["name", "required"]);
    c.only(map, &allowed)?;
    c.required(map, &["title", "type", "name"])?;
    let name = c.string(&map["name"], Some(MAX_NAME_CHARS))?;
    Ok((name, c.property(body, true)?))
}

/// `POST`/`PUT …/objects[/{name}]`: the name and the definition.
pub fn object_body(body: &Value) -> Result<Named, ModelError> {
    check_read_only(body, &["self", "schema", "created_at", "updated_at"])?;
    Checker { schema: "object" }.object_def(body, true)
}

/// `POST …/resource_types`.
pub fn association_body(body: &Value) -> Result<AssociationInput, ModelError> {
    check_read_only(body, &["created_at", "updated_at"])?;
    Checker {
        schema: "resource_type_association",
    }
    .association(body, true)
}

/// A tag name, from a URL or a `PUT …/tags/{name}` body.
pub fn tag_name(name: &str) -> Result<String, ModelError> {
    Checker { schema: "tag" }.string(&Value::String(name.to_owned()), Some(MAX_NAME_CHARS))
}

/// `PUT …/tags/{name}`: the new name.
pub fn tag_body(body: &Value) -> Result<String, ModelError> {
    check_read_only(body, &["created_at", "updated_at"])?;
    let c = Checker { schema: "tag" };
    let map = c.object(body)?;
    c.only(map, &["name", "created_at", "updated_at"])?;
    c.required(map, &["name"])?;
    c.string(&map["name"], Some(MAX_NAME_CHARS))
}

/// `POST …/tags`: `{"tags": [{"name": …}, …]}`.
pub fn tags_body(body: &Value) -> Result<Vec<String>, ModelError> {
    let c = Checker { schema: "tags" };
    let map = c.object(body)?;
    c.only(map, &["tags"])?;
    let mut names = Vec::new();
    if let Some(v) = map.get("tags") {
        for item in c.array(v)? {
            let tag = c.object(item)?;
            c.only(tag, &["name"])?;
            c.required(tag, &["name"])?;
            names.push(c.string(&tag["name"], Some(MAX_NAME_CHARS))?);
        }
    }
    Ok(names)
}

/// The first name that repeats an earlier one (tags compared without
/// case).
pub fn first_duplicate<'a>(
    kind: EntryKind,
    names: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut seen = std::collections::HashSet::new();
    names.into_iter().find(|n| !seen.insert(kind.name_key(n)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(e: ModelError) -> String {
        e.to_string()
    }

    #[test]
    fn a_namespace_needs_its_name_and_refuses_unknown_keys() {
        let e = namespace_body(&json!({"display_name": "x"})).unwrap_err();
        assert_eq!(
            message(e),
            "Provided object does not match schema 'namespace': 'namespace' is a required property"
        );
        let e = namespace_body(&json!({"namespace": "a", "bogus": 1})).unwrap_err();
        assert!(
            message(e).ends_with("Additional properties are not allowed ('bogus' was unexpected)")
        );
        let e = namespace_body(&json!({"namespace": "a", "created_at": "x"})).unwrap_err();
        assert!(matches!(e, ModelError::Forbidden(_)));
    }

    #[test]
    fn property_definitions_follow_the_schema_subset() {
        let (name, def) = property_body(&json!({
            "name": "hw_rng", "title": "RNG", "type": "string", "enum": ["a", "b"],
            "default": "a"
        }))
        .unwrap();
        assert_eq!(name, "hw_rng");
        assert_eq!(
            Value::Object(def),
            json!({"type": "string", "title": "RNG", "default": "a", "enum": ["a", "b"]})
        );
        let e = property_body(&json!({"name": "p", "title": "t", "type": "str"})).unwrap_err();
        assert_eq!(
            message(e),
            "Provided object does not match schema 'property': 'str' is not one of ['array', 'boolean', 'integer', 'number', 'object', 'string', None]"
        );
        let e = property_body(&json!({"name": "p", "title": "t", "type": "string", "format": "x"}))
            .unwrap_err();
        assert!(message(e).contains("('format' was unexpected)"));
        let e =
            property_body(&json!({"name": "p", "title": "t", "type": "string", "minLength": -1}))
                .unwrap_err();
        assert!(message(e).ends_with("-1 is less than the minimum of 0"));
        let e = property_body(&json!({"name": "p", "type": "string"})).unwrap_err();
        assert!(message(e).ends_with("'title' is a required property"));
    }

    #[test]
    fn names_longer_than_80_characters_are_refused() {
        let long = "x".repeat(81);
        assert!(tag_name(&long).is_err());
        assert!(tag_name(&"x".repeat(80)).is_ok());
        assert!(association_body(&json!({"name": long})).is_err());
    }

    #[test]
    fn bulk_tags_are_named_objects() {
        assert_eq!(
            tags_body(&json!({"tags": [{"name": "a"}, {"name": "b"}]})).unwrap(),
            ["a", "b"]
        );
        assert!(tags_body(&json!({"tags": [{"nom": "a"}]})).is_err());
        assert!(tags_body(&json!({"tags": "a"})).is_err());
    }
}
