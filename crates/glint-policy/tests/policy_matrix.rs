//! Decisions of Glance's default rules for typical callers and every image
//! visibility, written out from Glance's secure-RBAC defaults.

use glint_policy::{Credentials, Enforcer, NoRemote, Target};
use serde_json::json;

const OWNER: &str = "owner-project";
const VISIBILITIES: [&str; 4] = ["public", "community", "shared", "private"];

/// Callers, in the column order of [`MATRIX`].
#[derive(Debug, Clone, Copy)]
enum Caller {
    /// Admin (with the implied member and reader roles) of another project.
    AdminElsewhere,
    OwnerMember,
    OwnerReader,
    /// Member of another project the image is not shared with.
    OtherMember,
    /// Member of another project that is an image member.
    ImageMember,
    /// No roles and no project.
    Anonymous,
}

const CALLERS: [Caller; 6] = [
    Caller::AdminElsewhere,
    Caller::OwnerMember,
    Caller::OwnerReader,
    Caller::OtherMember,
    Caller::ImageMember,
    Caller::Anonymous,
];

impl Caller {
    fn credentials(self) -> Credentials {
        let (roles, project): (&[&str], Option<&str>) = match self {
            Caller::AdminElsewhere => (&["admin", "member", "reader"], Some("admin-project")),
            Caller::OwnerMember => (&["member", "reader"], Some(OWNER)),
            Caller::OwnerReader => (&["reader"], Some(OWNER)),
            Caller::OtherMember => (&["member", "reader"], Some("other-project")),
            Caller::ImageMember => (&["member", "reader"], Some("sharee-project")),
            Caller::Anonymous => (&[], None),
        };
        Credentials {
            project_id: project.map(str::to_owned),
            is_admin: matches!(self, Caller::AdminElsewhere),
            ..Credentials::default()
        }
        .with_roles(roles)
    }

    /// The image target as Glance builds it: `project_id` is the owner and
    /// `member_id` is present only when the caller's project is a member.
    fn target(self, visibility: &str) -> Target {
        let mut target: Target = [
            ("id", json!("1d0e8d8a-5e1c-4b07-9a53-5e8f6c1f0a11")),
            ("project_id", json!(OWNER)),
            ("owner", json!(OWNER)),
            ("visibility", json!(visibility)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if matches!(self, Caller::ImageMember) {
            target.insert("member_id".to_owned(), json!("sharee-project"));
        }
        target
    }
}

/// Per rule, one cell per caller (see [`CALLERS`]); each cell holds the
/// decision for public, community, shared and private images: `Y` allow,
/// `n` deny.
#[rustfmt::skip]
const MATRIX: &[(&str, [&str; 6])] = &[
    //                          admin   o-mem   o-read  other   imgmem  anon
    ("add_image",             ["YYYY", "YYYY", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("get_image",             ["YYYY", "YYYY", "YYYY", "YYYn", "YYYY", "nnnn"]),
    ("get_images",            ["YYYY", "YYYY", "YYYY", "nnnn", "nnnn", "nnnn"]),
    ("modify_image",          ["YYYY", "YYYY", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("delete_image",          ["YYYY", "YYYY", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("upload_image",          ["YYYY", "YYYY", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("download_image",        ["YYYY", "YYYY", "nnnn", "YYYn", "YYYY", "nnnn"]),
    ("download_from_store",   ["YYYY", "YYYY", "nnnn", "YYYn", "YYYY", "nnnn"]),
    ("deactivate",            ["YYYY", "YYYY", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("reactivate",            ["YYYY", "YYYY", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("publicize_image",       ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("communitize_image",     ["YYYY", "YYYY", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("copy_image",            ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("set_image_location",    ["YYYY", "YYYY", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("delete_image_location", ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("get_image_location",    ["YYYY", "YYYY", "YYYY", "nnnn", "nnnn", "nnnn"]),
    ("add_image_location",    ["YYYY", "YYYY", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("fetch_image_location",  ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("add_member",            ["YYYY", "YYYY", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("delete_member",         ["YYYY", "YYYY", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("get_member",            ["YYYY", "YYYY", "YYYY", "nnnn", "YYYY", "nnnn"]),
    ("get_members",           ["YYYY", "YYYY", "YYYY", "nnnn", "YYYY", "nnnn"]),
    ("modify_member",         ["YYYY", "nnnn", "nnnn", "nnnn", "YYYY", "nnnn"]),
    ("manage_image_cache",    ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("list_cached_nodes",     ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("cache_image",           ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("cache_list",            ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("cache_delete",          ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("cache_clean",           ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("cache_prune",           ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("tasks_api_access",      ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
    ("get_task",              ["YYYY", "YYYY", "YYYY", "YYYY", "YYYY", "YYYY"]),
    ("get_tasks",             ["YYYY", "YYYY", "YYYY", "YYYY", "YYYY", "YYYY"]),
    ("add_task",              ["YYYY", "YYYY", "YYYY", "YYYY", "YYYY", "YYYY"]),
    ("stores_info_detail",    ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
    // glint's own: the Prometheus metrics.
    ("glint:metrics",         ["YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"]),
];

#[test]
fn default_image_and_member_rules_decide_as_glance_does() {
    let enforcer = Enforcer::with_glance_defaults();
    let mut mismatches = Vec::new();
    for (rule, cells) in MATRIX {
        for (caller, cell) in CALLERS.iter().zip(cells) {
            let creds = caller.credentials();
            for (visibility, expected) in VISIBILITIES.iter().zip(cell.chars()) {
                let allowed = enforcer.enforce(rule, &caller.target(visibility), &creds, &NoRemote);
                if allowed != (expected == 'Y') {
                    mismatches.push(format!("{rule} {caller:?} {visibility}: got {allowed}"));
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn matrix_covers_every_image_member_cache_and_task_default() {
    let enforcer = Enforcer::with_glance_defaults();
    let untested: Vec<&str> = enforcer
        .rules()
        .map(|(name, _)| name)
        .filter(|name| !name.contains("metadef") && *name != "modify_task")
        .filter(|name| !["default", "context_is_admin", "service_api"].contains(name))
        .filter(|name| MATRIX.iter().all(|(rule, _)| rule != name))
        .collect();
    assert!(untested.is_empty(), "{untested:?}");
}

#[test]
fn service_role_may_fetch_and_add_locations_but_not_modify_images() {
    let enforcer = Enforcer::with_glance_defaults();
    let service = Credentials::default()
        .with_roles(["service"])
        .with_project("service-project");
    let target = Caller::OtherMember.target("private");
    for rule in [
        "fetch_image_location",
        "add_image_location",
        "stores_info_detail",
    ] {
        assert!(
            enforcer.enforce(rule, &target, &service, &NoRemote),
            "{rule}"
        );
    }
    for rule in ["modify_image", "get_image", "publicize_image"] {
        assert!(
            !enforcer.enforce(rule, &target, &service, &NoRemote),
            "{rule}"
        );
    }
}

#[test]
fn member_cannot_create_image_for_another_owner() {
    let enforcer = Enforcer::with_glance_defaults();
    let creds = Caller::OwnerMember.credentials();
    let mut target = Caller::OwnerMember.target("private");
    target.insert("owner".to_owned(), json!("someone-else"));
    assert!(!enforcer.enforce("add_image", &target, &creds, &NoRemote));
}

#[test]
fn metadef_reads_follow_visibility_and_writes_need_admin() {
    let enforcer = Enforcer::with_glance_defaults();
    let namespace = |owner: &str, visibility: &str| -> Target {
        [
            ("project_id", json!(owner)),
            ("visibility", json!(visibility)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    };
    let reader = Caller::OwnerReader.credentials();
    let other = Caller::OtherMember.credentials();
    let admin = Caller::AdminElsewhere.credentials();
    let private = namespace(OWNER, "private");
    let public = namespace(OWNER, "public");
    for rule in [
        "get_metadef_namespace",
        "get_metadef_objects",
        "get_metadef_tag",
        "list_metadef_resource_types",
    ] {
        assert!(
            enforcer.enforce(rule, &private, &reader, &NoRemote),
            "{rule}"
        );
        assert!(
            !enforcer.enforce(rule, &private, &other, &NoRemote),
            "{rule}"
        );
        assert!(enforcer.enforce(rule, &public, &other, &NoRemote), "{rule}");
    }
    assert!(enforcer.enforce("get_metadef_namespaces", &private, &reader, &NoRemote));
    for rule in [
        "add_metadef_namespace",
        "modify_metadef_object",
        "remove_metadef_property",
        "delete_metadef_tags",
    ] {
        assert!(
            enforcer.enforce(rule, &private, &admin, &NoRemote),
            "{rule}"
        );
        assert!(
            !enforcer.enforce(rule, &private, &reader, &NoRemote),
            "{rule}"
        );
        assert!(
            !enforcer.enforce(
                rule,
                &private,
                &Caller::OwnerMember.credentials(),
                &NoRemote
            ),
            "{rule}"
        );
    }
}

#[test]
fn overriding_context_is_admin_changes_every_admin_rule() {
    let mut enforcer = Enforcer::with_glance_defaults();
    enforcer
        .load_overrides("context_is_admin: \"role:cloud_admin\"\n", "policy.yaml")
        .unwrap();
    let admin = Caller::AdminElsewhere.credentials();
    let target = Caller::AdminElsewhere.target("private");
    assert!(!enforcer.enforce("publicize_image", &target, &admin, &NoRemote));
    let cloud_admin = Credentials::default().with_roles(["Cloud_Admin"]);
    assert!(enforcer.enforce("publicize_image", &target, &cloud_admin, &NoRemote));
}
