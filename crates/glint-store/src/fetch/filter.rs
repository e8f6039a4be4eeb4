//! `[import_filtering_opts]`: which URLs an import may download from, by
//! Glance's rules (`validate_import_uri`), and the address rule glint adds.
//!
//! Glance's rules, in order: the scheme, then the host, then the port must
//! pass. For each of the three, when the allowed list is not empty only it
//! counts (a value must be in it) and the disallowed list is ignored;
//! otherwise a value in the disallowed list is refused. A host written as
//! an IP address must be in standard notation (no `2130706433`, `0x7f.1`
//! or `127.1`). glint then refuses special-purpose addresses (see
//! [`special_purpose`]), whether written in the URL or resolved from a
//! name, unless the URL's host is listed in `allowed_hosts`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use url::{Host, Url};

use super::address::special_purpose;
use super::error::{FetchError, InvalidFilter};

/// The lists of `[import_filtering_opts]` as written, with Glance's
/// defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFilterLists {
    pub allowed_schemes: Vec<String>,
    pub disallowed_schemes: Vec<String>,
    pub allowed_hosts: Vec<String>,
    pub disallowed_hosts: Vec<String>,
    pub allowed_ports: Vec<u16>,
    pub disallowed_ports: Vec<u16>,
}

impl Default for ImportFilterLists {
    fn default() -> Self {
        Self {
            allowed_schemes: vec!["http".to_owned(), "https".to_owned()],
            disallowed_schemes: Vec::new(),
            allowed_hosts: Vec::new(),
            disallowed_hosts: Vec::new(),
            allowed_ports: vec![80, 443],
            disallowed_ports: Vec::new(),
        }
    }
}

/// A host as compared with the lists: an address (IPv4-mapped IPv6 forms
/// folded to IPv4) or a lower-case name without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostKey {
    Ip(IpAddr),
    Name(String),
}

impl HostKey {
    fn of_url(host: &Host<&str>) -> Self {
        match host {
            Host::Ipv4(ip) => Self::Ip(IpAddr::V4(*ip)),
            Host::Ipv6(ip) => Self::Ip(IpAddr::V6(*ip).to_canonical()),
            Host::Domain(name) => Self::name(name),
        }
    }

    fn name(name: &str) -> Self {
        let name = name.strip_suffix('.').unwrap_or(name);
        Self::Name(name.to_ascii_lowercase())
    }

    /// Reads a configured host: an IP address (IPv6 with or without
    /// brackets) or an RFC 1123 host name, as oslo.config's `HostAddress`.
    fn parse(text: &str) -> Result<Self, String> {
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Self::Ip(ip.to_canonical()));
        }
        let name = text.strip_suffix('.').unwrap_or(text);
        let label_ok = |l: &str| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let last_numeric = name
            .rsplit('.')
            .next()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
        if name.len() > 253 || !name.split('.').all(label_ok) || last_numeric {
            return Err("not an IP address nor a host name (use the xn-- form of \
                        international names)"
                .to_owned());
        }
        Ok(Self::name(name))
    }
}

/// `[import_filtering_opts]`, validated: what [`super::WebFetcher`] and the
/// import API check every URL against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFilter {
    allowed_schemes: Vec<String>,
    disallowed_schemes: Vec<String>,
    allowed_hosts: Vec<HostKey>,
    disallowed_hosts: Vec<HostKey>,
    allowed_ports: Vec<u16>,
    disallowed_ports: Vec<u16>,
}

impl Default for ImportFilter {
    fn default() -> Self {
        Self::new(&ImportFilterLists::default()).expect("Glance's defaults are valid")
    }
}

impl ImportFilter {
    /// Validates the lists: schemes are RFC 3986 scheme names, hosts IP
    /// addresses or host names, ports from 1 to 65535.
    pub fn new(lists: &ImportFilterLists) -> Result<Self, InvalidFilter> {
        let schemes = |option: &'static str, items: &[String]| {
            items
                .iter()
                .map(|s| {
                    let valid = s.starts_with(|c: char| c.is_ascii_alphabetic())
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
                    if valid {
                        Ok(s.to_ascii_lowercase())
                    } else {
                        Err(InvalidFilter::new(option, s, "not a URL scheme name"))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let hosts = |option: &'static str, items: &[String]| {
            items
                .iter()
                .map(|h| HostKey::parse(h).map_err(|why| InvalidFilter::new(option, h, &why)))
                .collect::<Result<Vec<_>, _>>()
        };
        let ports = |option: &'static str, items: &[u16]| match items.iter().find(|p| **p == 0) {
            Some(_) => Err(InvalidFilter::new(option, "0", "ports go from 1 to 65535")),
            None => Ok(items.to_vec()),
        };
        Ok(Self {
            allowed_schemes: schemes("allowed_schemes", &lists.allowed_schemes)?,
            disallowed_schemes: schemes("disallowed_schemes", &lists.disallowed_schemes)?,
            allowed_hosts: hosts("allowed_hosts", &lists.allowed_hosts)?,
            disallowed_hosts: hosts("disallowed_hosts", &lists.disallowed_hosts)?,
            allowed_ports: ports("allowed_ports", &lists.allowed_ports)?,
            disallowed_ports: ports("disallowed_ports", &lists.disallowed_ports)?,
        })
    }

    /// The disallowed lists that Glance's precedence rule makes ignored
    /// (their allowed list is set too), for a start-up warning.
    pub fn ignored_lists(&self) -> Vec<&'static str> {
        let mut ignored = Vec::new();
        if !self.allowed_schemes.is_empty() && !self.disallowed_schemes.is_empty() {
            ignored.push("disallowed_schemes");
        }
        if !self.allowed_hosts.is_empty() && !self.disallowed_hosts.is_empty() {
            ignored.push("disallowed_hosts");
        }
        if !self.allowed_ports.is_empty() && !self.disallowed_ports.is_empty() {
            ignored.push("disallowed_ports");
        }
        ignored
    }

    /// Checks a URL against the lists, without resolving its host: the
    /// check the import API makes before accepting a request. The URL
    /// must also be `http` or `https`, the only schemes glint downloads.
    pub fn check_url(&self, text: &str) -> Result<Url, FetchError> {
        let url = Url::parse(text).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
        let scheme = url.scheme();
        if !pass(&self.allowed_schemes, &self.disallowed_schemes, scheme) {
            let list = which(
                &self.allowed_schemes,
                "allowed_schemes",
                "disallowed_schemes",
            );
            return Err(FetchError::refused(format!("scheme {scheme}"), list));
        }
        let Some(host) = url.host() else {
            return Err(FetchError::InvalidUrl("the URL names no host".to_owned()));
        };
        if let Host::Ipv4(ip) = host
            && raw_host(text) != Some(ip.to_string().as_str())
        {
            return Err(FetchError::NonStandardAddress { address: ip });
        }
        let key = HostKey::of_url(&host);
        if !pass(&self.allowed_hosts, &self.disallowed_hosts, &key) {
            let list = which(&self.allowed_hosts, "allowed_hosts", "disallowed_hosts");
            return Err(FetchError::refused(format!("host {host}"), list));
        }
        // Glance looks at a port written in the URL only; glint checks the
        // port it will connect to, so `http://host/` counts as port 80.
        if let Some(port) = url.port_or_known_default()
            && !pass(&self.allowed_ports, &self.disallowed_ports, &port)
        {
            let list = which(&self.allowed_ports, "allowed_ports", "disallowed_ports");
            return Err(FetchError::refused(format!("port {port}"), list));
        }
        if !matches!(scheme, "http" | "https") {
            return Err(FetchError::UnsupportedScheme {
                scheme: scheme.to_owned(),
            });
        }
        Ok(url)
    }

    /// The addresses to connect to for a URL that passed
    /// [`Self::check_url`]: its host resolved once, every address checked.
    /// Empty when the host is an address, which is checked itself.
    pub async fn resolve(
        &self,
        url: &Url,
        timeout: Duration,
    ) -> Result<Vec<SocketAddr>, FetchError> {
        let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
            return Err(FetchError::InvalidUrl("the URL names no host".to_owned()));
        };
        let shown = host.to_string();
        let key = HostKey::of_url(&host);
        let name = match host {
            Host::Ipv4(ip) => {
                return self
                    .check_address(&key, &shown, ip.into())
                    .map(|()| Vec::new());
            }
            Host::Ipv6(ip) => {
                return self
                    .check_address(&key, &shown, ip.into())
                    .map(|()| Vec::new());
            }
            Host::Domain(name) => name,
        };
        let unresolved = |reason: String| FetchError::Resolve {
            host: shown.clone(),
            reason,
        };
        let found = tokio::time::timeout(timeout, tokio::net::lookup_host((name, port)))
            .await
            .map_err(|_| unresolved(format!("no answer within {} s", timeout.as_secs_f32())))?
            .map_err(|e| unresolved(e.to_string()))?;
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for addr in found {
            self.check_address(&key, &shown, addr.ip())?;
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        if addrs.is_empty() {
            return Err(unresolved("no address".to_owned()));
        }
        Ok(addrs)
    }

    /// The address rule: the URL's host (`key`, shown as `host`) may lead
    /// to `ip`.
    fn check_address(&self, key: &HostKey, host: &str, ip: IpAddr) -> Result<(), FetchError> {
        if self.allowed_hosts.contains(key) {
            return Ok(());
        }
        let ip = ip.to_canonical();
        if self.allowed_hosts.is_empty() && self.disallowed_hosts.contains(&HostKey::Ip(ip)) {
            return Err(FetchError::refused(
                format!("host {host} (address {ip})"),
                "disallowed_hosts",
            ));
        }
        match special_purpose(ip) {
            Some(kind) => Err(FetchError::AddressRefused {
                host: host.to_owned(),
                address: ip,
                kind,
            }),
            None => Ok(()),
        }
    }
}

/// Glance's precedence: a set allowed list alone decides; otherwise the
/// disallowed list refuses.
fn pass<T: PartialEq + ?Sized, U: PartialEq<T>>(
    allowed: &[U],
    disallowed: &[U],
    value: &T,
) -> bool {
    if allowed.is_empty() {
        !disallowed.iter().any(|d| d == value)
    } else {
        allowed.iter().any(|a| a == value)
    }
}

fn which(allowed: &[impl Sized], yes: &'static str, no: &'static str) -> &'static str {
    if allowed.is_empty() { no } else { yes }
}

/// The host of a URL exactly as written, to tell `127.0.0.1` from the
/// other spellings the URL parser also reads as that address.
fn raw_host(text: &str) -> Option<&str> {
    let rest = text.split_once("://")?.1;
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Some(host_port.split(':').next().unwrap_or(host_port))
}
