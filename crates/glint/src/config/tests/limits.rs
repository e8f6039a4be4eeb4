use std::time::Duration;

use glint_api::auth::{EndpointChoice, NameOrId, Scope};

use super::{config, error, warnings};

/// Glance's install guide's `[oslo_limit]`, as written there.
const GUIDE: &str = "[DEFAULT]\nuse_keystone_limits = True\n\
                     [oslo_limit]\nauth_url = http://controller:5000\nauth_type = password\n\
                     user_domain_id = default\nusername = glance\nsystem_scope = all\n\
                     password = GLANCE_PASS\nendpoint_id = 340be3625e9b4239a6415d034e98aace\n";

#[test]
fn keystone_limits_are_off_by_default() {
    let config = config("");
    assert!(!config.keystone_limits.use_keystone_limits);
    assert_eq!(config.keystone_limits.limits_config(), None);
    assert_eq!(config.keystone_limits.cache_time, Duration::from_secs(5));
}

#[test]
fn glances_install_guide_section_reads_a_system_scoped_user_and_the_endpoint() {
    let limits = config(GUIDE).keystone_limits.limits_config().unwrap();
    assert_eq!(limits.auth_url.as_str(), "http://controller:5000/");
    assert_eq!(limits.user, NameOrId::Name("glance".into()));
    assert_eq!(limits.user_domain, Some(NameOrId::Id("default".into())));
    assert_eq!(limits.password, "GLANCE_PASS");
    assert_eq!(limits.scope, Scope::System);
    assert_eq!(
        limits.endpoint,
        EndpointChoice::Id("340be3625e9b4239a6415d034e98aace".into())
    );
    assert!(!format!("{limits:?}").contains("GLANCE_PASS"));
}

#[test]
fn a_project_scope_and_an_endpoint_lookup_are_read_too() {
    let text = "[DEFAULT]\nuse_keystone_limits = true\n\
                [oslo_limit]\nauth_url = http://k/v3\nauth_type = v3password\nuser_id = u1\n\
                password = pw\nproject_name = service\nproject_domain_name = Default\n\
                endpoint_service_type = image\nendpoint_region_name = RegionOne\n\
                endpoint_interface = internalURL\ntimeout = 3\nconnect_retries = 2\n\
                [glint]\nkeystone_limits_cache_time = 0\n";
    let config = config(text);
    assert_eq!(config.keystone_limits.cache_time, Duration::ZERO);
    let limits = config.keystone_limits.limits_config().unwrap();
    assert_eq!(
        limits.scope,
        Scope::Project {
            project: NameOrId::Name("service".into()),
            domain: Some(NameOrId::Name("Default".into())),
        }
    );
    assert_eq!(
        limits.endpoint,
        EndpointChoice::Lookup {
            service_type: Some("image".into()),
            service_name: None,
            region_name: Some("RegionOne".into()),
            interface: "internalURL".into(),
        }
    );
    assert_eq!(limits.http_timeout, Duration::from_secs(3));
    assert_eq!(limits.http_max_retries, 2);
}

#[test]
fn use_keystone_limits_needs_a_complete_oslo_limit_section() {
    assert_eq!(
        error("[DEFAULT]\nuse_keystone_limits = true\n"),
        "missing options in [oslo_limit]: auth_url, auth_type, username (or user_id), \
         password, system_scope (or project_name, project_id, domain_name, domain_id), \
         endpoint_id (or endpoint_service_type, endpoint_service_name) ([DEFAULT] \
         use_keystone_limits is on)"
    );
    let token = GUIDE.replace("auth_type = password", "auth_type = token");
    assert!(
        error(&token).starts_with("invalid value 'token' for option [oslo_limit] auth_type"),
        "{}",
        error(&token)
    );
    let scope = GUIDE.replace("system_scope = all", "system_scope = some");
    assert!(error(&scope).contains("the only system scope is all"));
    let interface = format!("{GUIDE}endpoint_interface = private\n");
    assert!(error(&interface).contains("[oslo_limit] endpoint_interface"));
    assert!(error("[DEFAULT]\nuse_keystone_limits = maybe\n").contains("not a boolean"));
}

#[test]
fn user_storage_quota_is_reported_ignored_under_keystone_limits() {
    let text = GUIDE.replace("[oslo_limit]", "user_storage_quota = 5GB\n[oslo_limit]");
    assert_eq!(
        warnings(&text),
        [
            "option [DEFAULT] user_storage_quota is ignored: use_keystone_limits is on, so the \
          image_size_total limit in Keystone applies instead (as in Glance)"
        ]
    );
    assert_eq!(
        warnings(&format!("{GUIDE}region_name = RegionOne\n")),
        ["option [oslo_limit] region_name is not supported by glint and is ignored"]
    );
}
