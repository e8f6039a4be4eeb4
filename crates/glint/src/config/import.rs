//! `[import_filtering_opts]`: the URLs that `web-download` and
//! `glance-download` imports may fetch from.

use glint_store::{ImportFilter, ImportFilterLists};

use super::ConfigError;
use super::options::{
    ALLOWED_HOSTS, ALLOWED_PORTS, ALLOWED_SCHEMES, DISALLOWED_HOSTS, DISALLOWED_PORTS,
    DISALLOWED_SCHEMES, DOWNLOAD_EXTRA_PROPERTIES, MAX_PARALLEL_STORES, Opt,
};
use super::source::Source;
use super::values;

/// Reads and validates the section.
pub(super) fn read(src: &Source<'_>) -> Result<ImportFilter, ConfigError> {
    let lists = ImportFilterLists {
        allowed_schemes: src.list(&ALLOWED_SCHEMES)?,
        disallowed_schemes: src.list(&DISALLOWED_SCHEMES)?,
        allowed_hosts: src.list(&ALLOWED_HOSTS)?,
        disallowed_hosts: src.list(&DISALLOWED_HOSTS)?,
        allowed_ports: ports(src, &ALLOWED_PORTS)?,
        disallowed_ports: ports(src, &DISALLOWED_PORTS)?,
    };
    ImportFilter::new(&lists).map_err(|e| {
        let opt = OPTIONS
            .iter()
            .find(|o| o.name == e.option)
            .unwrap_or(&ALLOWED_SCHEMES);
        ConfigError::invalid(opt, &e.value, format!("{} in the list", e.reason))
    })
}

/// `[glance_download_properties] extra_properties`: the prefixes of the
/// properties a `glance-download` import copies from the remote image
/// (never Glance's reserved `os_glance` ones, whatever the prefixes).
pub(super) fn download_properties(src: &Source<'_>) -> Result<Vec<String>, ConfigError> {
    src.list(&DOWNLOAD_EXTRA_PROPERTIES)
}

/// `[image_import_opts] max_parallel_stores`: how many stores one import
/// writes to at the same time (1: one after the other).
pub(super) fn max_parallel_stores(src: &Source<'_>) -> Result<usize, ConfigError> {
    let n = src.u64_in(&MAX_PARALLEL_STORES, 1, 64)?;
    Ok(usize::try_from(n).unwrap_or(1))
}

const OPTIONS: [Opt; 6] = [
    ALLOWED_SCHEMES,
    DISALLOWED_SCHEMES,
    ALLOWED_HOSTS,
    DISALLOWED_HOSTS,
    ALLOWED_PORTS,
    DISALLOWED_PORTS,
];

/// A list of ports from 1 to 65535, as oslo.config's `Integer(min=1,
/// max=65535)` items.
fn ports(src: &Source<'_>, opt: &Opt) -> Result<Vec<u16>, ConfigError> {
    src.parse(opt, |value| {
        values::parse_list(value)?
            .iter()
            .map(|item| {
                values::parse_u64_in(item, 1, u64::from(u16::MAX))
                    .map(|port| port as u16)
                    .map_err(|why| format!("port {item}: {why}"))
            })
            .collect()
    })
}

/// The disallowed lists Glance's precedence makes ignored: set along with
/// their allowed list, which alone counts then.
pub(super) fn warnings(filter: &ImportFilter) -> Vec<String> {
    filter
        .ignored_lists()
        .into_iter()
        .map(|list| {
            let allowed = list.trim_start_matches("dis");
            format!(
                "option [import_filtering_opts] {list} is ignored: {allowed} is set, and then \
                 only {allowed} counts, as in Glance; set {allowed} to an empty value to use \
                 {list}"
            )
        })
        .collect()
}
