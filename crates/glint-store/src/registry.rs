//! The named stores of a deployment, one of them the default.
//!
//! Two modes, as in Glance: the legacy single-store configuration
//! (`[glance_store] stores`/`default_store`), where store ids are the store
//! types and the API shows nothing about stores; and multi-store
//! (`enabled_backends = id:type, …`), where every store has an operator's id,
//! a description and a weight, and the API lists them (`/v2/info/stores`,
//! the image's `stores`, `X-Image-Meta-Store`).

use std::sync::Arc;

use crate::store::Store;

/// A value among a store's properties (`/v2/info/stores/detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyValue {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// What the API tells about a store, beside the store itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreMeta {
    /// The store type: `file`, `swift`, `s3`, `rbd`, `http`.
    pub kind: String,
    /// `store_description` of its section.
    pub description: Option<String>,
    /// `weight` of its section: downloads and `direct_url` prefer the
    /// location in the store of highest weight.
    pub weight: i64,
    /// The store only serves existing locations (http).
    pub read_only: bool,
    /// Driver settings shown to administrators, never a secret.
    pub properties: Vec<(String, PropertyValue)>,
}

/// One store and what is known about it.
#[derive(Debug, Clone)]
pub struct StoreEntry {
    pub store: Arc<dyn Store>,
    pub meta: StoreMeta,
}

impl StoreEntry {
    pub fn id(&self) -> &str {
        self.store.id()
    }
}

#[derive(Debug, Clone)]
pub struct StoreRegistry {
    default: StoreEntry,
    /// The others in the order they were added; a handful at most, so a linear
    /// search beats a map.
    others: Vec<StoreEntry>,
    multi: bool,
}

impl StoreRegistry {
    /// A single-store registry around its default store.
    pub fn new(default: Arc<dyn Store>) -> Self {
        Self::with_meta(default, StoreMeta::default())
    }

    pub fn with_meta(default: Arc<dyn Store>, meta: StoreMeta) -> Self {
        Self {
            default: StoreEntry {
                store: default,
                meta,
            },
            others: Vec::new(),
            multi: false,
        }
    }

    /// Marks the registry as configured through `enabled_backends`.
    pub fn multi_store(mut self) -> Self {
        self.multi = true;
        self
    }

    /// Whether stores are named by the operator (`enabled_backends`).
    pub fn is_multi_store(&self) -> bool {
        self.multi
    }

    /// Adds a store; one with the same id replaces the earlier one, keeping its
    /// place (and so its default status).
    pub fn add(&mut self, store: Arc<dyn Store>) {
        self.add_with_meta(store, StoreMeta::default());
    }

    pub fn add_with_meta(&mut self, store: Arc<dyn Store>, meta: StoreMeta) {
        let entry = StoreEntry { store, meta };
        if self.default.id() == entry.id() {
            self.default = entry;
        } else if let Some(slot) = self.others.iter_mut().find(|s| s.id() == entry.id()) {
            *slot = entry;
        } else {
            self.others.push(entry);
        }
    }

    pub fn default_store(&self) -> &Arc<dyn Store> {
        &self.default.store
    }

    pub fn get(&self, id: &str) -> Option<&Arc<dyn Store>> {
        self.entry(id).map(|e| &e.store)
    }

    pub fn entry(&self, id: &str) -> Option<&StoreEntry> {
        self.entries().find(|s| s.id() == id)
    }

    /// The store a location belongs to.
    pub fn for_url(&self, url: &str) -> Option<&Arc<dyn Store>> {
        self.entries().find(|s| s.store.owns(url)).map(|e| &e.store)
    }

    /// Store ids, the default first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.entries().map(|s| s.id())
    }

    /// Every store, the default first.
    pub fn entries(&self) -> impl Iterator<Item = &StoreEntry> {
        std::iter::once(&self.default).chain(&self.others)
    }

    /// The weight of a store id; 0 for one this node does not know.
    pub fn weight(&self, id: &str) -> i64 {
        self.entry(id).map_or(0, |e| e.meta.weight)
    }

    /// Sorts items by the weight of their store, highest first, keeping the
    /// order of equal weights (Glance sorts locations so before a download
    /// and for `direct_url`, in multi-store mode only).
    pub fn sort_by_weight<T>(&self, items: &mut [T], store_id: impl Fn(&T) -> Option<&str>) {
        if self.multi {
            items.sort_by_key(|item| {
                std::cmp::Reverse(store_id(item).map_or(0, |id| self.weight(id)))
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    fn registry() -> StoreRegistry {
        let mut registry = StoreRegistry::new(Arc::new(MemoryStore::new("local")));
        registry.add(Arc::new(MemoryStore::new("spare")));
        registry
    }

    #[test]
    fn default_store_comes_first() {
        let registry = registry();
        assert_eq!(registry.default_store().id(), "local");
        assert_eq!(registry.ids().collect::<Vec<_>>(), ["local", "spare"]);
    }

    #[test]
    fn stores_are_found_by_id_and_by_location() {
        let registry = registry();
        assert_eq!(registry.get("spare").map(|s| s.id()), Some("spare"));
        assert!(registry.get("missing").is_none());
        let owner = registry.for_url("memory://spare/43fdc94a-f59f-4c48-aec1-a3931591da4e");
        assert_eq!(owner.map(|s| s.id()), Some("spare"));
        assert!(
            registry
                .for_url("file:///var/lib/glance/images/x")
                .is_none()
        );
    }

    #[test]
    fn adding_a_known_id_replaces_it_in_place() {
        let mut registry = registry();
        registry.add(Arc::new(MemoryStore::new("local")));
        assert_eq!(registry.ids().collect::<Vec<_>>(), ["local", "spare"]);
    }

    #[test]
    fn heavier_stores_sort_first_only_in_multi_store_mode() {
        let meta = |weight| StoreMeta {
            weight,
            ..StoreMeta::default()
        };
        let mut single = StoreRegistry::with_meta(Arc::new(MemoryStore::new("a")), meta(1));
        single.add_with_meta(Arc::new(MemoryStore::new("b")), meta(5));
        let mut items = vec!["a", "x", "b"];
        single.sort_by_weight(&mut items, |s| Some(s));
        assert_eq!(items, ["a", "x", "b"]);
        let multi = single.multi_store();
        multi.sort_by_weight(&mut items, |s| Some(s));
        // b (5), a (1), then x: unknown stores weigh 0.
        assert_eq!(items, ["b", "a", "x"]);
    }
}
