use glint_store::{ImportFilter, ImportFilterLists};

use super::{config, error, warnings};

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn import_filtering_defaults_as_in_glance() {
    assert_eq!(config("").import_filtering, ImportFilter::default());
    assert!(warnings("[import_filtering_opts]\n").is_empty());
}

#[test]
fn import_filtering_lists_are_read() {
    let text = "[import_filtering_opts]\n\
                allowed_schemes = [https]\n\
                disallowed_schemes =\n\
                allowed_hosts = mirror.example, 10.0.0.5, '::1'\n\
                allowed_ports = 443, 8443\n";
    let expected = ImportFilter::new(&ImportFilterLists {
        allowed_schemes: strs(&["https"]),
        allowed_hosts: strs(&["mirror.example", "10.0.0.5", "::1"]),
        allowed_ports: vec![443, 8443],
        ..ImportFilterLists::default()
    })
    .unwrap();
    assert_eq!(config(text).import_filtering, expected);
    assert!(warnings(text).is_empty(), "{:?}", warnings(text));
}

#[test]
fn an_empty_allowed_list_lets_the_disallowed_list_count() {
    let text = "[import_filtering_opts]\nallowed_ports =\ndisallowed_ports = 22\n";
    let expected = ImportFilter::new(&ImportFilterLists {
        allowed_ports: Vec::new(),
        disallowed_ports: vec![22],
        ..ImportFilterLists::default()
    })
    .unwrap();
    assert_eq!(config(text).import_filtering, expected);
    assert!(warnings(text).is_empty());
}

#[test]
fn a_disallowed_list_beside_its_allowed_list_is_warned_about() {
    let text = "[import_filtering_opts]\ndisallowed_ports = 22\ndisallowed_schemes = ftp\n";
    assert_eq!(
        warnings(text),
        [
            "option [import_filtering_opts] disallowed_schemes is ignored: allowed_schemes is \
             set, and then only allowed_schemes counts, as in Glance; set allowed_schemes to \
             an empty value to use disallowed_schemes",
            "option [import_filtering_opts] disallowed_ports is ignored: allowed_ports is set, \
             and then only allowed_ports counts, as in Glance; set allowed_ports to an empty \
             value to use disallowed_ports",
        ]
    );
}

#[test]
fn bad_import_filtering_values_stop_the_start() {
    for (line, option) in [
        ("allowed_ports = 80, 0", "allowed_ports"),
        ("disallowed_ports = 70000", "disallowed_ports"),
        ("allowed_ports = http", "allowed_ports"),
        ("allowed_hosts = images example", "allowed_hosts"),
        ("disallowed_hosts = http://evil.example", "disallowed_hosts"),
        ("allowed_schemes = 1http", "allowed_schemes"),
        ("disallowed_schemes = ht tp", "disallowed_schemes"),
    ] {
        let message = error(&format!("[import_filtering_opts]\n{line}\n"));
        assert!(message.starts_with("invalid value '"), "{line}: {message}");
        assert!(
            message.contains(&format!("[import_filtering_opts] {option}:")),
            "{line}: {message}"
        );
    }
}

#[test]
fn glance_download_properties_and_parallel_stores_as_in_glance() {
    let conf = config("");
    assert_eq!(
        conf.download_properties,
        strs(&["hw_", "trait:", "os_distro", "os_secure_boot", "os_type"])
    );
    assert_eq!(conf.max_parallel_stores, 1);
    let text = "[glance_download_properties]\nextra_properties = os_, architecture\n\
                [image_import_opts]\nmax_parallel_stores = 4\n";
    let conf = config(text);
    assert_eq!(conf.download_properties, strs(&["os_", "architecture"]));
    assert_eq!(conf.max_parallel_stores, 4);
    assert!(warnings(text).is_empty(), "{:?}", warnings(text));
    for bad in ["0", "-1", "many", "65"] {
        let text = format!("[image_import_opts]\nmax_parallel_stores = {bad}\n");
        assert!(error(&text).contains("max_parallel_stores"), "{bad}");
    }
}
