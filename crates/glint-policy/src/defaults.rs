//! Glance's default rules (secure RBAC, project scope), from
//! `glance/policies/{base,image,tasks,discovery,cache,metadef}.py`, and
//! glint's own rules (named `glint:…`), which Glance does not have.

use std::fmt::Write as _;

/// A rule registered in code, which an operator file may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleDefault {
    pub name: &'static str,
    pub check_str: &'static str,
    pub description: &'static str,
    /// Token scopes the rule may be used with; empty means any.
    pub scope_types: &'static [&'static str],
}

const PROJECT: &[&str] = &["project"];

macro_rules! admin {
    () => {
        "rule:context_is_admin"
    };
}
macro_rules! project_member {
    () => {
        "role:member and project_id:%(project_id)s"
    };
}
macro_rules! project_reader {
    () => {
        "role:reader and project_id:%(project_id)s"
    };
}
macro_rules! visible_image {
    () => {
        "(project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s \
         or 'public':%(visibility)s or 'shared':%(visibility)s)"
    };
}

const ADMIN: &str = admin!();
const ADMIN_OR_MEMBER: &str = concat!(admin!(), " or (", project_member!(), ")");
const ADMIN_OR_READER: &str = concat!(admin!(), " or (", project_reader!(), ")");
const GET_IMAGE: &str = concat!(admin!(), " or (role:reader and ", visible_image!(), ")");
const DOWNLOAD_IMAGE: &str = concat!(admin!(), " or (role:member and ", visible_image!(), ")");
const CREATE_IMAGE: &str = concat!(
    admin!(),
    " or (",
    project_member!(),
    " and project_id:%(owner)s)"
);
const SERVICE_OR_MEMBER: &str = concat!(
    "rule:service_api or (",
    project_member!(),
    " and project_id:%(owner)s)"
);
const READER_OR_SHARED_MEMBER: &str = concat!(
    admin!(),
    " or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)"
);
const SHARED_MEMBER: &str = concat!(admin!(), " or (role:member and project_id:%(member_id)s)");
const GET_NAMESPACE: &str = concat!(
    admin!(),
    " or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))"
);
const ADMIN_OR_SERVICE: &str = concat!(admin!(), " or rule:service_api");
const METADEF_ADMIN: &str = "rule:metadef_admin";

const fn base(
    name: &'static str,
    check_str: &'static str,
    description: &'static str,
) -> RuleDefault {
    RuleDefault {
        name,
        check_str,
        description,
        scope_types: &[],
    }
}

const fn rule(
    name: &'static str,
    check_str: &'static str,
    description: &'static str,
) -> RuleDefault {
    RuleDefault {
        name,
        check_str,
        description,
        scope_types: PROJECT,
    }
}

/// Every default rule, in the order Glance registers them.
#[rustfmt::skip]
pub const GLANCE_DEFAULTS: &[RuleDefault] = &[
    base("default", "", "Rule used for policies not named in the policy file."),
    base("context_is_admin", "role:admin", "Who counts as an administrator (is_admin:True)."),
    base("service_api", "role:service or role:admin", "Service-to-service calls."),
    // Images.
    rule("add_image", CREATE_IMAGE, "Create an image (POST /v2/images)."),
    rule("delete_image", ADMIN_OR_MEMBER, "Delete an image."),
    rule("get_image", GET_IMAGE, "Show one image."),
    rule("get_images", ADMIN_OR_READER, "List images."),
    rule("modify_image", ADMIN_OR_MEMBER, "Update an image (PATCH)."),
    rule("publicize_image", ADMIN, "Make an image public."),
    rule("communitize_image", ADMIN_OR_MEMBER, "Make an image community."),
    rule("download_image", DOWNLOAD_IMAGE, "Download image data."),
    rule("download_from_store", DOWNLOAD_IMAGE, "Download image data from a given store."),
    rule("upload_image", ADMIN_OR_MEMBER, "Upload image data."),
    rule("delete_image_location", ADMIN, "Remove a location from an image."),
    rule("get_image_location", ADMIN_OR_READER, "Read image locations."),
    rule("set_image_location", ADMIN_OR_MEMBER, "Set an image location."),
    rule("add_image_location", SERVICE_OR_MEMBER, "Add a location to an image."),
    rule("fetch_image_location", "rule:service_api", "List every location of an image."),
    // Members.
    rule("add_member", ADMIN_OR_MEMBER, "Share an image with a project."),
    rule("delete_member", ADMIN_OR_MEMBER, "Stop sharing an image with a project."),
    rule("get_member", READER_OR_SHARED_MEMBER, "Show one image member."),
    rule("get_members", READER_OR_SHARED_MEMBER, "List image members."),
    rule("modify_member", SHARED_MEMBER, "Accept or reject a shared image."),
    // Image actions and cache.
    rule("manage_image_cache", ADMIN, "Manage the image cache."),
    rule("deactivate", ADMIN_OR_MEMBER, "Deactivate an image."),
    rule("reactivate", ADMIN_OR_MEMBER, "Reactivate an image."),
    rule("copy_image", ADMIN, "Copy an existing image into more stores."),
    rule("list_cached_nodes", ADMIN, "List the nodes caching an image."),
    rule("cache_image", ADMIN, "Queue an image for caching."),
    rule("cache_list", ADMIN, "List cached and queued images."),
    rule("cache_delete", ADMIN, "Remove images from the cache or queue."),
    rule("cache_clean", ADMIN, "Clean invalid and stalled cache entries."),
    rule("cache_prune", ADMIN, "Prune the cache down to its size limit."),
    // Tasks and discovery.
    rule("get_task", "rule:default", "Show a task (also used internally, e.g. by import)."),
    rule("get_tasks", "rule:default", "List tasks (also used internally)."),
    rule("add_task", "rule:default", "Create a task (also used internally)."),
    rule("modify_task", "rule:default", "Not enforced anywhere; kept for old policy files."),
    rule("tasks_api_access", ADMIN, "Access to the tasks API as a whole."),
    rule("stores_info_detail", ADMIN_OR_SERVICE, "Show store details."),
    // Metadata definitions.
    base("metadef_default", "", "Base rule for metadata definition reads."),
    base("metadef_admin", ADMIN, "Base rule for metadata definition changes."),
    rule("get_metadef_namespace", GET_NAMESPACE, "Show a namespace."),
    rule("get_metadef_namespaces", ADMIN_OR_READER, "List namespaces."),
    rule("modify_metadef_namespace", METADEF_ADMIN, "Update a namespace."),
    rule("add_metadef_namespace", METADEF_ADMIN, "Create a namespace."),
    rule("delete_metadef_namespace", METADEF_ADMIN, "Delete a namespace."),
    rule("get_metadef_object", GET_NAMESPACE, "Show a namespace object."),
    rule("get_metadef_objects", GET_NAMESPACE, "List namespace objects."),
    rule("modify_metadef_object", METADEF_ADMIN, "Update a namespace object."),
    rule("add_metadef_object", METADEF_ADMIN, "Create a namespace object."),
    rule("delete_metadef_object", METADEF_ADMIN, "Delete a namespace object."),
    rule("list_metadef_resource_types", GET_NAMESPACE, "List resource types."),
    rule("get_metadef_resource_type", GET_NAMESPACE, "Show resource type associations."),
    rule("add_metadef_resource_type_association", METADEF_ADMIN, "Associate a resource type."),
    rule("remove_metadef_resource_type_association", METADEF_ADMIN, "Dissociate a resource type."),
    rule("get_metadef_property", GET_NAMESPACE, "Show a namespace property."),
    rule("get_metadef_properties", GET_NAMESPACE, "List namespace properties."),
    rule("modify_metadef_property", METADEF_ADMIN, "Update a namespace property."),
    rule("add_metadef_property", METADEF_ADMIN, "Create a namespace property."),
    rule("remove_metadef_property", METADEF_ADMIN, "Delete a namespace property."),
    rule("get_metadef_tag", GET_NAMESPACE, "Show a tag."),
    rule("get_metadef_tags", GET_NAMESPACE, "List tags."),
    rule("modify_metadef_tag", METADEF_ADMIN, "Update a tag."),
    rule("add_metadef_tag", METADEF_ADMIN, "Create a tag."),
    rule("add_metadef_tags", METADEF_ADMIN, "Create several tags."),
    rule("delete_metadef_tag", METADEF_ADMIN, "Delete a tag."),
    rule("delete_metadef_tags", METADEF_ADMIN, "Delete all tags of a namespace."),
    // glint's own.
    base("glint:metrics", ADMIN, "Read the Prometheus metrics (GET /metrics); glint only."),
];

/// A sample policy file listing every default, commented out, in the style
/// of `oslopolicy-sample-generator`.
pub fn sample_policy_yaml() -> String {
    let mut out = String::new();
    for default in GLANCE_DEFAULTS {
        let check = serde_json::Value::from(default.check_str);
        let _ = writeln!(
            out,
            "# {}\n#\"{}\": {}\n",
            default.description, default.name, check
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::parse_rule;

    #[test]
    fn every_default_parses_and_names_are_unique() {
        let mut names = BTreeSet::new();
        for default in GLANCE_DEFAULTS {
            assert!(names.insert(default.name), "duplicate {}", default.name);
            assert!(
                parse_rule(default.check_str).is_ok(),
                "{} does not parse",
                default.name
            );
        }
    }

    #[test]
    fn check_strings_match_glance_text() {
        let find = |name: &str| {
            GLANCE_DEFAULTS
                .iter()
                .find(|d| d.name == name)
                .map(|d| d.check_str)
        };
        assert_eq!(
            find("get_image"),
            Some(
                "rule:context_is_admin or (role:reader and (project_id:%(project_id)s or \
                 project_id:%(member_id)s or 'community':%(visibility)s or \
                 'public':%(visibility)s or 'shared':%(visibility)s))"
            )
        );
        assert_eq!(
            find("add_image"),
            Some(
                "rule:context_is_admin or (role:member and project_id:%(project_id)s and \
                 project_id:%(owner)s)"
            )
        );
        assert_eq!(
            find("get_members"),
            Some(
                "rule:context_is_admin or role:reader and (project_id:%(project_id)s or \
                 project_id:%(member_id)s)"
            )
        );
        assert_eq!(
            find("stores_info_detail"),
            Some("rule:context_is_admin or rule:service_api")
        );
    }

    #[test]
    fn sample_lists_every_rule_commented_out() {
        let sample = sample_policy_yaml();
        for default in GLANCE_DEFAULTS {
            assert!(sample.contains(&format!("#\"{}\": ", default.name)));
        }
        assert!(sample.lines().all(|l| l.is_empty() || l.starts_with('#')));
    }
}
