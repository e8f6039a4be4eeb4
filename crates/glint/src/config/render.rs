//! Layer defaults written as a configuration file would write them: the
//! inverse of the conversions in `values.rs`, so that a rendered default
//! read back gives the layer's value.

use std::time::Duration;

/// Whole seconds as an integer, fractions as a decimal.
pub(super) fn seconds(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        duration.as_secs().to_string()
    } else {
        duration.as_secs_f64().to_string()
    }
}

/// A timeout where 0 means none.
pub(super) fn timeout(duration: Option<Duration>) -> String {
    duration.map_or_else(|| "0".to_owned(), seconds)
}

/// keystonemiddleware's `token_cache_time`, where -1 disables the cache.
pub(super) fn cache_time(duration: Option<Duration>) -> String {
    duration.map_or_else(|| "-1".to_owned(), seconds)
}

/// Glance's count quotas, where -1 is unlimited.
pub(super) fn quota(limit: Option<u64>) -> String {
    limit.map_or_else(|| "-1".to_owned(), |n| n.to_string())
}

/// `user_storage_quota` in bytes, where 0 is no quota.
pub(super) fn storage_quota(limit: Option<u64>) -> String {
    limit.unwrap_or(0).to_string()
}

/// A list option.
pub(super) fn list(items: &[String]) -> String {
    items.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::values;

    #[test]
    fn rendered_values_read_back_unchanged() {
        for d in [Duration::from_secs(30), Duration::from_millis(2500)] {
            let read = values::parse_seconds(&seconds(d));
            assert_eq!(read, Ok(d), "{d:?}");
        }
        assert_eq!(timeout(None), "0");
        assert_eq!(cache_time(None), "-1");
        for limit in [None, Some(0), Some(128)] {
            assert_eq!(values::parse_quota(&quota(limit)), Ok(limit));
        }
        for limit in [None, Some(1), Some(5 << 30)] {
            assert_eq!(
                values::parse_storage_quota(&storage_quota(limit)),
                Ok(limit)
            );
        }
        let items = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(values::parse_list(&list(&items)), Ok(items));
        assert_eq!(values::parse_list(&list(&[])), Ok(vec![]));
    }
}
