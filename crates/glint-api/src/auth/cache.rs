//! The in-process cache of validated tokens.
//!
//! Entries are keyed by the SHA-256 of the token, so the cache never holds a
//! usable credential. An entry lives for `token_cache_time` or until the
//! token expires, whichever comes first; a token revoked in Keystone is
//! therefore still accepted until its entry ages out, exactly as with
//! keystonemiddleware's cache. Only successful validations are stored.
//!
//! The cache is bounded: when it is full, the oldest entries are evicted
//! first. Concurrent requests with the same uncached token share one
//! validation instead of each asking Keystone ([`TokenCache::get_or_validate`]).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// The cache key of a token.
pub type TokenKey = [u8; 32];

/// Hashes a token into its cache key.
pub fn token_key(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
}

/// A validation shared by every request waiting for the same token.
type Flight<V, E> = Arc<OnceCell<Result<(V, Instant), E>>>;

/// A bounded map from token hashes to validated identities, with one
/// validation in flight per token.
#[derive(Debug)]
pub struct TokenCache<V, E> {
    capacity: usize,
    state: Mutex<State<V>>,
    in_flight: Mutex<HashMap<TokenKey, Flight<V, E>>>,
}

#[derive(Debug)]
struct State<V> {
    entries: HashMap<TokenKey, Cached<V>>,
    /// Insertion order, for eviction; an item whose `seq` no longer matches
    /// its entry refers to a replaced or removed entry and is skipped.
    order: VecDeque<(TokenKey, u64)>,
    next_seq: u64,
}

#[derive(Debug)]
struct Cached<V> {
    value: V,
    valid_until: Instant,
    seq: u64,
}

impl<V: Clone, E: Clone> TokenCache<V, E> {
    /// A cache of at most `capacity` entries; 0 disables caching (every
    /// request is validated, concurrent ones still share a validation).
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            capacity,
            state: Mutex::new(State {
                entries: HashMap::new(),
                order: VecDeque::new(),
                next_seq: 0,
            }),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// The cached value of `key`, if it has not aged out.
    pub fn get(&self, key: &TokenKey) -> Option<V> {
        let now = Instant::now();
        let mut state = self.lock_state();
        match state.entries.get(key) {
            Some(cached) if cached.valid_until > now => Some(cached.value.clone()),
            Some(_) => {
                state.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value` until `valid_until`, evicting the oldest entries when
    /// the cache is full.
    pub fn insert(&self, key: TokenKey, value: V, valid_until: Instant) {
        if self.capacity == 0 || valid_until <= Instant::now() {
            return;
        }
        let mut state = self.lock_state();
        let seq = state.next_seq;
        state.next_seq += 1;
        let cached = Cached {
            value,
            valid_until,
            seq,
        };
        if state.entries.insert(key, cached).is_none() {
            while state.entries.len() > self.capacity {
                state.evict_oldest();
            }
        }
        state.order.push_back((key, seq));
        if state.order.len() > self.capacity.saturating_mul(2).max(16) {
            state.compact();
        }
    }

    /// Forgets `key`.
    pub fn remove(&self, key: &TokenKey) {
        self.lock_state().entries.remove(key);
    }

    /// Number of entries held (aged-out ones included until touched).
    pub fn len(&self) -> usize {
        self.lock_state().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cached value of `key`, or the result of `validate`, which runs
    /// at most once at a time per key: requests arriving while it runs wait
    /// for its result instead of starting their own. A success is cached
    /// until the instant it returns (capped by `max_age`); a failure is
    /// handed to the waiting requests and never cached.
    pub async fn get_or_validate<F, Fut>(
        &self,
        key: TokenKey,
        max_age: Duration,
        validate: F,
    ) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(V, Instant), E>>,
    {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        let flight = self.join_flight(key);
        let outcome = flight
            .get_or_init(|| async {
                let outcome = validate().await;
                if let Ok((value, expires)) = &outcome {
                    let until = (*expires).min(Instant::now() + max_age);
                    self.insert(key, value.clone(), until);
                }
                outcome
            })
            .await
            .clone();
        self.leave_flight(&key, &flight);
        outcome.map(|(value, _)| value)
    }

    fn join_flight(&self, key: TokenKey) -> Flight<V, E> {
        let mut flights = self.lock_flights();
        match flights.entry(key) {
            Entry::Occupied(e) => e.get().clone(),
            Entry::Vacant(e) => e.insert(Arc::new(OnceCell::new())).clone(),
        }
    }

    fn leave_flight(&self, key: &TokenKey, flight: &Flight<V, E>) {
        let mut flights = self.lock_flights();
        if flights.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            flights.remove(key);
        }
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, State<V>> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (every update is a single insert or remove), so keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_flights(&self) -> std::sync::MutexGuard<'_, HashMap<TokenKey, Flight<V, E>>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<V> State<V> {
    fn evict_oldest(&mut self) {
        while let Some((key, seq)) = self.order.pop_front() {
            if self.entries.get(&key).is_some_and(|c| c.seq == seq) {
                self.entries.remove(&key);
                return;
            }
        }
    }

    /// Drops order items of replaced or removed entries.
    fn compact(&mut self) {
        let entries = &self.entries;
        self.order
            .retain(|(key, seq)| entries.get(key).is_some_and(|c| c.seq == *seq));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn later(secs: u64) -> Instant {
        Instant::now() + Duration::from_secs(secs)
    }

    #[test]
    fn full_cache_evicts_the_oldest_entries() {
        let cache: TokenCache<u32, ()> = TokenCache::new(3);
        for (n, token) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            cache.insert(token_key(token), n as u32, later(60));
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&token_key("a")), None);
        assert_eq!(cache.get(&token_key("b")), None);
        assert_eq!(cache.get(&token_key("c")), Some(2));
        assert_eq!(cache.get(&token_key("e")), Some(4));
    }

    #[test]
    fn replacing_an_entry_does_not_evict_others_and_refreshes_its_age() {
        let cache: TokenCache<u32, ()> = TokenCache::new(2);
        cache.insert(token_key("a"), 1, later(60));
        cache.insert(token_key("b"), 2, later(60));
        cache.insert(token_key("a"), 3, later(60));
        assert_eq!(cache.len(), 2);
        cache.insert(token_key("c"), 4, later(60));
        assert_eq!(cache.get(&token_key("b")), None, "b is now the oldest");
        assert_eq!(cache.get(&token_key("a")), Some(3));
        assert_eq!(cache.get(&token_key("c")), Some(4));
    }

    #[test]
    fn repeated_replacements_keep_the_order_queue_bounded() {
        let cache: TokenCache<u32, ()> = TokenCache::new(4);
        for n in 0..1000 {
            cache.insert(token_key("same"), n, later(60));
        }
        assert!(cache.lock_state().order.len() <= 16);
        assert_eq!(cache.get(&token_key("same")), Some(999));
    }

    #[test]
    fn aged_out_entries_are_not_returned() {
        let cache: TokenCache<u32, ()> = TokenCache::new(8);
        cache.insert(
            token_key("a"),
            1,
            Instant::now() + Duration::from_millis(20),
        );
        assert_eq!(cache.get(&token_key("a")), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&token_key("a")), None);
        assert!(cache.is_empty());
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let cache: TokenCache<u32, ()> = TokenCache::new(0);
        cache.insert(token_key("a"), 1, later(60));
        assert_eq!(cache.get(&token_key("a")), None);
    }

    #[test]
    fn keys_are_hashes_not_tokens() {
        let key = token_key("gAAAAAB-secret");
        assert_eq!(key.len(), 32);
        assert_ne!(&key[..], &b"gAAAAAB-secret"[..]);
        assert_eq!(key, token_key("gAAAAAB-secret"));
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_validation_and_failures_are_not_cached() {
        let cache: Arc<TokenCache<u32, String>> = Arc::new(TokenCache::new(8));
        let calls = Arc::new(AtomicUsize::new(0));
        let validate = |result: Result<u32, String>| {
            let calls = calls.clone();
            move || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                result.map(|v| (v, later(60)))
            }
        };
        let key = token_key("bad");
        let (a, b) = tokio::join!(
            cache.get_or_validate(key, Duration::from_secs(60), validate(Err("no".into()))),
            cache.get_or_validate(key, Duration::from_secs(60), validate(Err("no".into()))),
        );
        assert_eq!((a, b), (Err("no".into()), Err("no".into())));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let again = cache
            .get_or_validate(key, Duration::from_secs(60), validate(Ok(7)))
            .await;
        assert_eq!(again, Ok(7), "a failure must not be remembered");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let cached = cache
            .get_or_validate(key, Duration::from_secs(60), validate(Ok(8)))
            .await;
        assert_eq!(cached, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn entries_live_no_longer_than_max_age() {
        let cache: TokenCache<u32, ()> = TokenCache::new(8);
        let key = token_key("t");
        let got = cache
            .get_or_validate(key, Duration::from_millis(20), || async {
                Ok((1, later(3600)))
            })
            .await;
        assert_eq!(got, Ok(1));
        assert_eq!(cache.get(&key), Some(1));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(cache.get(&key), None);
    }
}
