//! The `[import_filtering_opts]` URL check of web-download never panics;
//! a URL it lets through is an http(s) URL with a host, passes again as
//! it serializes, and is refused once its host is disallowed; an address
//! and its IPv4-mapped IPv6 form get the same verdict; and no message
//! shows the password a URL carries.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::LazyLock;

use glint_store::{FetchError, ImportFilter, ImportFilterLists, special_purpose};

/// Glance's defaults, and a filter whose lists are all empty.
static FILTERS: LazyLock<[ImportFilter; 2]> = LazyLock::new(|| {
    let open = ImportFilterLists {
        allowed_schemes: Vec::new(),
        allowed_ports: Vec::new(),
        ..ImportFilterLists::default()
    };
    [ImportFilter::default(), ImportFilter::new(&open).unwrap()]
});

pub fn import_url(input: &[u8]) {
    if let Ok(bytes) = <[u8; 4]>::try_from(input.get(..4).unwrap_or_default()) {
        let v4 = Ipv4Addr::from(bytes);
        let mapped = IpAddr::V6(v4.to_ipv6_mapped());
        assert_eq!(special_purpose(v4.into()), special_purpose(mapped), "{v4}");
    }
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let password = url::Url::parse(text)
        .ok()
        .and_then(|u| u.password().map(|p| format!(":{p}@")));
    for filter in FILTERS.iter() {
        match filter.check_url(text) {
            Ok(url) => passed(filter, &url),
            Err(e) => {
                let message = e.to_string();
                if let Some(userinfo) = &password {
                    assert!(!message.contains(userinfo.as_str()), "{message}");
                }
            }
        }
    }
}

fn passed(filter: &ImportFilter, url: &url::Url) {
    assert!(matches!(url.scheme(), "http" | "https"), "{url}");
    let host = url.host_str().expect("a URL that passes has a host");
    let again = filter.check_url(url.as_str());
    assert_eq!(again.as_ref().ok(), Some(url), "{url}: {again:?}");
    let denied = ImportFilter::new(&ImportFilterLists {
        allowed_hosts: Vec::new(),
        disallowed_hosts: vec![host.trim_matches(['[', ']']).to_owned()],
        allowed_schemes: Vec::new(),
        allowed_ports: Vec::new(),
        ..ImportFilterLists::default()
    });
    // Some hosts the URL parser accepts are not names a list may hold.
    if let Ok(denied) = denied {
        let refused = denied.check_url(url.as_str());
        assert!(
            matches!(
                refused,
                Err(FetchError::Refused {
                    list: "disallowed_hosts",
                    ..
                })
            ),
            "{url}: {refused:?}"
        );
    }
}
