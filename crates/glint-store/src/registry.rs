//! The named stores of a deployment (`enabled_backends`), one of them the default.

use std::sync::Arc;

use crate::store::Store;

#[derive(Debug, Clone)]
pub struct StoreRegistry {
    default: Arc<dyn Store>,
    /// The others in the order they were added; a handful at most, so a linear
    /// search beats a map.
    others: Vec<Arc<dyn Store>>,
}

impl StoreRegistry {
    pub fn new(default: Arc<dyn Store>) -> Self {
        Self {
            default,
            others: Vec::new(),
        }
    }

    /// Adds a store; one with the same id replaces the earlier one, keeping its
    /// place (and so its default status).
    pub fn add(&mut self, store: Arc<dyn Store>) {
        if self.default.id() == store.id() {
            self.default = store;
        } else if let Some(slot) = self.others.iter_mut().find(|s| s.id() == store.id()) {
            *slot = store;
        } else {
            self.others.push(store);
        }
    }

    pub fn default_store(&self) -> &Arc<dyn Store> {
        &self.default
    }

    pub fn get(&self, id: &str) -> Option<&Arc<dyn Store>> {
        self.all().find(|s| s.id() == id)
    }

    /// The store a location belongs to.
    pub fn for_url(&self, url: &str) -> Option<&Arc<dyn Store>> {
        self.all().find(|s| s.owns(url))
    }

    /// Store ids, the default first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.all().map(|s| s.id())
    }

    fn all(&self) -> impl Iterator<Item = &Arc<dyn Store>> {
        std::iter::once(&self.default).chain(&self.others)
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
}
