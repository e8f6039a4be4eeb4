use std::path::{Path, PathBuf};
use std::time::Duration;

use glint_store::{S3UrlFormat, SwiftAuthVersion};

use super::{config, error, load_text, temp_file, warnings};
use crate::config::{GlanceConfig, StoreSettings, StoreType};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../etc/glance-stores.conf");

fn ids(config: &GlanceConfig) -> Vec<(&str, StoreType)> {
    config
        .stores
        .stores
        .iter()
        .map(|s| (s.id.as_str(), s.kind))
        .collect()
}

#[test]
fn without_enabled_backends_the_legacy_single_store_applies() {
    let config = config("");
    assert!(!config.stores.multi);
    assert_eq!(
        ids(&config),
        [("file", StoreType::File), ("http", StoreType::Http)]
    );
}

#[test]
fn the_store_sample_loads_without_warnings_default_first() {
    let (config, warnings) = GlanceConfig::load(&[PathBuf::from(SAMPLE)]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(config.stores.multi);
    assert_eq!(
        ids(&config),
        [
            ("fast", StoreType::File),
            ("cold", StoreType::Swift),
            ("objects", StoreType::S3),
            ("ceph", StoreType::Rbd),
            ("web", StoreType::Http),
        ]
    );
    let fast = &config.stores.stores[0];
    assert_eq!(fast.weight, 100);
    assert_eq!(
        config.file_store_datadir(fast).unwrap(),
        Path::new("/var/lib/glint/images/fast")
    );
    let StoreSettings::Swift(swift) = &config.stores.stores[1].settings else {
        panic!("not swift")
    };
    assert_eq!(swift.auth_version, SwiftAuthVersion::V1);
    assert_eq!(swift.reference, "ref1");
    assert_eq!(swift.container, "glance");
    assert_eq!(swift.large_object_size, 5120 << 20);
    assert_eq!(swift.large_object_chunk_size, 200 << 20);
    assert_eq!(swift.key.expose(), "testing");
    let StoreSettings::S3(s3) = &config.stores.stores[2].settings else {
        panic!("not s3")
    };
    assert_eq!(s3.host, "http://127.0.0.1:7480");
    assert_eq!(s3.bucket_url_format, S3UrlFormat::Auto);
    assert_eq!(
        (
            s3.large_object_size,
            s3.large_object_chunk_size,
            s3.thread_pools
        ),
        (100 << 20, 10 << 20, 10)
    );
    let StoreSettings::Rbd(rbd) = &config.stores.stores[3].settings else {
        panic!("not rbd")
    };
    assert_eq!(
        (rbd.pool.as_str(), rbd.user.as_deref()),
        ("images", Some("glint"))
    );
    assert_eq!(rbd.chunk_size, 8 << 20);
    assert_eq!(rbd.connect_timeout, Duration::ZERO);
}

#[test]
fn secrets_never_show_in_debug_output() {
    let (config, _) = GlanceConfig::load(&[PathBuf::from(SAMPLE)]).unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("example-secret-key"), "{shown}");
    assert!(!shown.contains("= testing"), "{shown}");
}

#[test]
fn file_stores_without_a_directory_get_one_each() {
    let config = config(
        "[DEFAULT]\nenabled_backends = a:file, b:file\n[glance_store]\ndefault_backend = b\n",
    );
    assert_eq!(
        ids(&config),
        [("b", StoreType::File), ("a", StoreType::File)]
    );
    let dirs: Vec<PathBuf> = config
        .stores
        .stores
        .iter()
        .map(|s| config.file_store_datadir(s).unwrap())
        .collect();
    assert_eq!(
        dirs,
        [
            config.glint.data_dir.join("images/b"),
            config.glint.data_dir.join("images/a")
        ]
    );
}

#[test]
fn backend_defaults_fill_what_a_store_section_leaves_out() {
    let config = config(
        "[DEFAULT]\nenabled_backends = c:rbd\n[glance_store]\ndefault_backend = c\n\
         [backend_defaults]\nrbd_store_chunk_size = 4\nrbd_store_pool = shared\n\
         [c]\nrbd_store_pool = own\nrbd_thin_provisioning = yes\n",
    );
    let StoreSettings::Rbd(rbd) = &config.stores.stores[0].settings else {
        panic!("not rbd")
    };
    assert_eq!(rbd.pool, "own");
    assert_eq!(rbd.chunk_size, 4 << 20);
    assert!(rbd.thin_provisioning);
}

#[test]
fn the_legacy_form_reads_store_options_from_glance_store() {
    let config = config(
        "[glance_store]\nstores = s3, http\ndefault_store = s3\ns3_store_host = h:9000\n\
         s3_store_access_key = a\ns3_store_secret_key = s\ns3_store_bucket = b\n\
         s3_store_bucket_url_format = virtual\n",
    );
    assert!(!config.stores.multi);
    assert_eq!(
        ids(&config),
        [("s3", StoreType::S3), ("http", StoreType::Http)]
    );
    let StoreSettings::S3(s3) = &config.stores.stores[0].settings else {
        panic!("not s3")
    };
    assert_eq!(s3.bucket_url_format, S3UrlFormat::Virtual);
}

#[test]
fn swift_credentials_come_from_the_reference_file() {
    let refs = temp_file(
        "[ref1]\nauth_version = 1\nauth_address = http://a/auth/v1.0\nuser = t:u\nkey = k1\n\
         [ks]\nauth_version = 3\nauth_address = http://k/v3\nuser = service:glint\nkey = k2\n\
         user_domain_name = Users\n",
    );
    let text = format!(
        "[DEFAULT]\nenabled_backends = s:swift\n[glance_store]\ndefault_backend = s\n\
         [s]\nswift_store_config_file = {}\ndefault_swift_reference = ks\n",
        refs.display()
    );
    let config = config(&text);
    let StoreSettings::Swift(swift) = &config.stores.stores[0].settings else {
        panic!("not swift")
    };
    assert_eq!(swift.reference, "ks");
    assert_eq!(swift.auth_version, SwiftAuthVersion::V3);
    assert_eq!(swift.user, "service:glint");
    assert_eq!(swift.key.expose(), "k2");
    assert_eq!(swift.user_domain_name.as_deref(), Some("Users"));
    assert_eq!(swift.user_domain_id, None);
    assert_eq!(swift.project_domain_id.as_deref(), Some("default"));
    let missing = text.replace("= ks", "= nope");
    assert!(
        error(&missing).contains("has no section [nope]"),
        "{}",
        error(&missing)
    );
}

#[test]
fn bad_store_configurations_are_refused_with_the_option_named() {
    let cases = [
        (
            "[DEFAULT]\nenabled_backends = a:file\n",
            "missing options in [glance_store]: default_backend",
        ),
        (
            "[DEFAULT]\nenabled_backends = a:file\n[glance_store]\ndefault_backend = b\n",
            "[glance_store] default_backend: not one of the stores",
        ),
        (
            "[DEFAULT]\nenabled_backends = a:file, w:http\n[glance_store]\ndefault_backend = w\n",
            "the http store is read-only",
        ),
        (
            "[DEFAULT]\nenabled_backends = a:cinder\n[glance_store]\ndefault_backend = a\n",
            "unsupported store 'cinder'",
        ),
        (
            "[DEFAULT]\nenabled_backends = a:file, a:file\n[glance_store]\ndefault_backend = a\n",
            "store id 'a' appears twice",
        ),
        (
            "[DEFAULT]\nenabled_backends = os_glance_x:file\n",
            "reserved prefix os_glance_",
        ),
        (
            "[DEFAULT]\nenabled_backends = s:swift\n[glance_store]\ndefault_backend = s\n",
            "missing options in [s]: swift_store_auth_address, swift_store_user, swift_store_key",
        ),
        (
            "[DEFAULT]\nenabled_backends = s:swift\n[glance_store]\ndefault_backend = s\n[s]\n\
             swift_store_auth_address = x\nswift_store_user = u\nswift_store_key = k\n\
             swift_store_auth_version = 2\n",
            "[s] swift_store_auth_version: Keystone v2",
        ),
        (
            "[DEFAULT]\nenabled_backends = o:s3\n[glance_store]\ndefault_backend = o\n[o]\n\
             s3_store_host = h\ns3_store_access_key = a\ns3_store_secret_key = s\n\
             s3_store_bucket = b\ns3_store_large_object_chunk_size = 4\n",
            "[o] s3_store_large_object_chunk_size: must be at least 5",
        ),
        (
            "[DEFAULT]\nenabled_backends = c:rbd\n[glance_store]\ndefault_backend = c\n[c]\n\
             rbd_store_chunk_size = 6\n",
            "[c] rbd_store_chunk_size: must be a power of two",
        ),
    ];
    for (text, expected) in cases {
        let message = error(text);
        assert!(message.contains(expected), "{text}\n=> {message}");
        assert!(!message.contains("= s\n"), "{message}");
    }
}

#[test]
fn unknown_options_of_a_store_section_are_warned_about() {
    let text = "[DEFAULT]\nenabled_backends = a:file, c:rbd\n[glance_store]\ndefault_backend = a\n\
                [a]\nweight = 3\nrbd_store_pool = x\n[c]\nrbd_store_pool = y\nbogus = 1\n";
    assert_eq!(
        warnings(text),
        [
            "option [a] rbd_store_pool is not an option of a file store in glint and is ignored",
            "option [c] bogus is not an option of a rbd store in glint and is ignored",
        ]
    );
    assert!(load_text(text).is_ok());
}
