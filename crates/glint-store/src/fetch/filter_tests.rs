//! The rules of `[import_filtering_opts]`, case by case.

use std::net::IpAddr;
use std::time::Duration;

use super::{FetchError, ImportFilter, ImportFilterLists};

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Glance's defaults with `change` applied.
fn filter(change: impl FnOnce(&mut ImportFilterLists)) -> ImportFilter {
    let mut lists = ImportFilterLists::default();
    change(&mut lists);
    ImportFilter::new(&lists).unwrap()
}

/// Which list refused `url`; `None` when it passes.
fn refused_by(f: &ImportFilter, url: &str) -> Option<&'static str> {
    match f.check_url(url) {
        Ok(_) => None,
        Err(FetchError::Refused { list, .. }) => Some(list),
        Err(other) => panic!("{url}: {other}"),
    }
}

#[test]
fn defaults_allow_http_and_https_on_ports_80_and_443() {
    let f = ImportFilter::default();
    for url in [
        "http://images.example/a.qcow2",
        "https://images.example/a.qcow2",
        "HTTP://images.example:80/a",
        "https://images.example:443/a",
    ] {
        assert_eq!(refused_by(&f, url), None, "{url}");
    }
    assert_eq!(
        refused_by(&f, "ftp://images.example/a"),
        Some("allowed_schemes")
    );
    assert_eq!(
        refused_by(&f, "http://images.example:8080/a"),
        Some("allowed_ports")
    );
    assert_eq!(refused_by(&f, "https://images.example:80/a"), None);
}

#[test]
fn allowed_schemes_win_over_disallowed_schemes() {
    let f = filter(|l| {
        l.allowed_schemes = strs(&["https"]);
        l.disallowed_schemes = strs(&["https", "http"]);
    });
    assert_eq!(refused_by(&f, "https://a.example/"), None);
    assert_eq!(refused_by(&f, "http://a.example/"), Some("allowed_schemes"));
    assert_eq!(f.ignored_lists(), ["disallowed_schemes"]);
}

#[test]
fn disallowed_schemes_apply_when_allowed_schemes_is_empty() {
    let f = filter(|l| {
        l.allowed_schemes = Vec::new();
        l.disallowed_schemes = strs(&["HTTP"]);
        l.allowed_ports = Vec::new();
    });
    assert_eq!(
        refused_by(&f, "http://a.example/"),
        Some("disallowed_schemes")
    );
    assert_eq!(refused_by(&f, "https://a.example/"), None);
    // Passes the lists, but glint only downloads over HTTP(S).
    assert!(matches!(
        f.check_url("ftp://a.example/x"),
        Err(FetchError::UnsupportedScheme { scheme }) if scheme == "ftp"
    ));
}

#[test]
fn allowed_hosts_win_over_disallowed_hosts() {
    let f = filter(|l| {
        l.allowed_hosts = strs(&["images.example", "192.0.2.7", "[2001:db8::7]"]);
        l.disallowed_hosts = strs(&["images.example"]);
    });
    for url in [
        "http://images.example/",
        "http://IMAGES.Example./",
        "http://192.0.2.7/",
        "http://[::ffff:192.0.2.7]/",
        "http://[2001:db8:0::7]/",
    ] {
        assert_eq!(refused_by(&f, url), None, "{url}");
    }
    for url in [
        "http://other.example/",
        "http://192.0.2.8/",
        "http://sub.images.example/",
    ] {
        assert_eq!(refused_by(&f, url), Some("allowed_hosts"), "{url}");
    }
    assert_eq!(f.ignored_lists(), ["disallowed_hosts"]);
}

#[test]
fn disallowed_hosts_apply_when_allowed_hosts_is_empty() {
    let f = filter(|l| l.disallowed_hosts = strs(&["bad.example", "198.51.100.1", "::1"]));
    for url in [
        "http://bad.example/",
        "http://BAD.EXAMPLE./",
        "http://198.51.100.1/",
        "http://[::ffff:198.51.100.1]/",
        "http://[0::1]/",
    ] {
        assert_eq!(refused_by(&f, url), Some("disallowed_hosts"), "{url}");
    }
    assert_eq!(refused_by(&f, "http://good.example/"), None);
    assert!(f.ignored_lists().is_empty());
}

#[test]
fn allowed_ports_win_over_disallowed_ports() {
    let f = filter(|l| {
        l.allowed_ports = vec![8080];
        l.disallowed_ports = vec![8080, 80];
    });
    assert_eq!(refused_by(&f, "http://a.example:8080/"), None);
    assert_eq!(
        refused_by(&f, "http://a.example:8081/"),
        Some("allowed_ports")
    );
    // The port connected to counts, written or not.
    assert_eq!(refused_by(&f, "http://a.example/"), Some("allowed_ports"));
    assert_eq!(f.ignored_lists(), ["disallowed_ports"]);
}

#[test]
fn disallowed_ports_apply_when_allowed_ports_is_empty() {
    let f = filter(|l| {
        l.allowed_ports = Vec::new();
        l.disallowed_ports = vec![22, 443];
    });
    assert_eq!(
        refused_by(&f, "http://a.example:22/"),
        Some("disallowed_ports")
    );
    assert_eq!(
        refused_by(&f, "https://a.example/"),
        Some("disallowed_ports")
    );
    assert_eq!(refused_by(&f, "http://a.example:8080/"), None);
}

#[test]
fn empty_lists_let_every_http_url_through() {
    let f = ImportFilter::new(&ImportFilterLists {
        allowed_schemes: Vec::new(),
        allowed_ports: Vec::new(),
        ..ImportFilterLists::default()
    })
    .unwrap();
    assert_eq!(refused_by(&f, "http://a.example:1/"), None);
}

#[test]
fn scheme_is_checked_before_host_and_host_before_port() {
    let f = filter(|l| l.allowed_hosts = strs(&["a.example"]));
    assert_eq!(
        refused_by(&f, "ftp://b.example:21/"),
        Some("allowed_schemes")
    );
    assert_eq!(
        refused_by(&f, "http://b.example:21/"),
        Some("allowed_hosts")
    );
    assert_eq!(
        refused_by(&f, "http://a.example:21/"),
        Some("allowed_ports")
    );
}

#[test]
fn ipv4_addresses_in_other_notations_are_refused() {
    let f = filter(|l| l.allowed_hosts = strs(&["127.0.0.1"]));
    for url in [
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0x7f.0.0.1/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://127.0.1/",
        "http://%31%32%37.0.0.1/",
        "http://user@017700000001:80/",
    ] {
        assert!(
            matches!(f.check_url(url), Err(FetchError::NonStandardAddress { .. })),
            "{url}"
        );
    }
    assert!(f.check_url("http://127.0.0.1/").is_ok());
    assert!(f.check_url("http://u:p@127.0.0.1:80/x").is_ok());
}

#[test]
fn urls_that_do_not_parse_or_name_no_host_are_invalid() {
    let f = filter(|l| l.allowed_schemes = strs(&["http", "https", "file", "data"]));
    for url in [
        "",
        "not a url",
        "http://",
        "http://[::1/",
        "file:///etc/passwd",
        "data:,x",
    ] {
        assert!(
            matches!(f.check_url(url), Err(FetchError::InvalidUrl(_))),
            "{url}"
        );
    }
}

#[test]
fn messages_never_show_credentials() {
    let f = ImportFilter::default();
    for url in [
        "http://user:hunter2@a.example:8080/",
        "ftp://user:hunter2@a.example/",
        "http://user:hunter2@0x7f000001/",
        "http://user:hunter2@[::1/",
    ] {
        let message = f.check_url(url).unwrap_err().to_string();
        assert!(!message.contains("hunter2"), "{message}");
    }
}

#[test]
fn bad_list_values_are_refused() {
    let bad = |change: fn(&mut ImportFilterLists)| {
        let mut lists = ImportFilterLists::default();
        change(&mut lists);
        ImportFilter::new(&lists).unwrap_err()
    };
    assert_eq!(
        bad(|l| l.allowed_schemes = strs(&["ht tp"])).option,
        "allowed_schemes"
    );
    assert_eq!(
        bad(|l| l.disallowed_schemes = strs(&["1http"])).option,
        "disallowed_schemes"
    );
    for host in [
        "exa mple",
        "-a.example",
        "a..example",
        "1.2.3",
        "http://a",
        "é.example",
    ] {
        let err = bad_host(host);
        assert_eq!(err.value, host);
    }
    assert_eq!(bad(|l| l.allowed_ports = vec![0]).option, "allowed_ports");
    assert_eq!(
        bad(|l| l.disallowed_ports = vec![0]).option,
        "disallowed_ports"
    );
}

fn bad_host(host: &str) -> super::InvalidFilter {
    let lists = ImportFilterLists {
        disallowed_hosts: strs(&[host]),
        ..ImportFilterLists::default()
    };
    ImportFilter::new(&lists).unwrap_err()
}

#[test]
fn good_list_values_are_accepted() {
    let lists = ImportFilterLists {
        allowed_schemes: strs(&["HTTPS", "git+ssh"]),
        allowed_hosts: strs(&[
            "::1",
            "[fe80::1]",
            "10.0.0.1",
            "Images.Example.",
            "my_host",
            "xn--bcher-kva.example",
        ]),
        allowed_ports: vec![1, 65535],
        ..ImportFilterLists::default()
    };
    ImportFilter::new(&lists).unwrap();
}

const TIMEOUT: Duration = Duration::from_secs(10);

async fn resolve(f: &ImportFilter, url: &str) -> Result<Vec<std::net::SocketAddr>, FetchError> {
    f.resolve(&f.check_url(url).unwrap(), TIMEOUT).await
}

fn refused_kind(result: Result<Vec<std::net::SocketAddr>, FetchError>) -> &'static str {
    match result {
        Err(FetchError::AddressRefused { kind, .. }) => kind,
        other => panic!("not refused for its address: {other:?}"),
    }
}

#[tokio::test]
async fn special_addresses_written_in_the_url_are_refused() {
    let f = filter(|l| l.allowed_ports = Vec::new());
    for (url, kind) in [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.0.0.1:9292/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:a9fe:a9fe]/", "link-local"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://10.0.0.1/", "private"),
        ("http://192.168.0.1/", "private"),
        ("http://[fd00::1]/", "private (unique local)"),
        ("http://100.64.0.1/", "shared (carrier-grade NAT)"),
        ("http://224.0.0.1/", "multicast"),
        ("http://255.255.255.255/", "broadcast"),
        ("http://192.0.2.1/", "documentation"),
    ] {
        assert_eq!(refused_kind(resolve(&f, url).await), kind, "{url}");
    }
    assert_eq!(resolve(&f, "http://8.8.8.8/").await.unwrap(), []);
    assert_eq!(resolve(&f, "http://[2606:4700::1111]/").await.unwrap(), []);
}

#[tokio::test]
async fn names_that_resolve_to_loopback_are_refused() {
    let f = ImportFilter::default();
    assert_eq!(
        refused_kind(resolve(&f, "http://localhost/").await),
        "loopback"
    );
    assert_eq!(
        refused_kind(resolve(&f, "http://LOCALHOST/x").await),
        "loopback"
    );
    let message = resolve(&f, "http://localhost/")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("localhost") && message.contains("allowed_hosts"),
        "{message}"
    );
}

#[tokio::test]
async fn hosts_listed_in_allowed_hosts_may_be_special_addresses() {
    let f = filter(|l| l.allowed_hosts = strs(&["localhost", "10.0.0.1", "::1"]));
    let addrs = resolve(&f, "http://localhost/").await.unwrap();
    assert!(!addrs.is_empty());
    assert!(
        addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80),
        "{addrs:?}"
    );
    assert_eq!(resolve(&f, "http://10.0.0.1/").await.unwrap(), []);
    assert_eq!(resolve(&f, "http://[::1]/").await.unwrap(), []);
}

#[tokio::test]
async fn disallowed_addresses_are_refused_whatever_name_leads_there() {
    let f = filter(|l| l.disallowed_hosts = strs(&["127.0.0.1", "::1"]));
    match resolve(&f, "http://localhost/").await {
        Err(FetchError::Refused { list, what }) => {
            assert_eq!(list, "disallowed_hosts");
            assert!(what.contains("localhost"), "{what}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn names_that_do_not_resolve_are_refused() {
    let f = ImportFilter::default();
    let err = resolve(&f, "http://no-such-host.invalid/")
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Resolve { .. }), "{err}");
}

#[test]
fn mapped_addresses_compare_equal_in_lists() {
    let ip: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
    let f = filter(|l| l.allowed_hosts = strs(&[&ip.to_string()]));
    assert_eq!(refused_by(&f, "http://10.1.2.3/"), None);
}
