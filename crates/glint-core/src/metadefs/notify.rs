//! The `metadef_*` notifications, sent once the change they report is
//! saved, with Glance's payloads (`glint_notify::metadef_payload`).

use glint_model::metadef::{Association, Entry, EntryKind, Namespace, NamespaceDocument};
use glint_model::time::Timestamp;
use glint_notify::EventType;
use glint_notify::metadef_payload as payload;

use super::MetadefService;

impl MetadefService {
    pub(super) fn notify_namespace(
        &self,
        event: EventType,
        ns: &Namespace,
        old_name: Option<&str>,
        deleted_at: Option<Timestamp>,
    ) {
        self.notifier
            .info(event, || payload::namespace(ns, old_name, deleted_at));
    }

    /// A property, object or tag created (`created`), updated (with its
    /// old name) or deleted (`deleted_at`).
    pub(super) fn notify_entry(
        &self,
        kind: EntryKind,
        ns: &Namespace,
        entry: &Entry,
        old_name: Option<&str>,
        deleted_at: Option<Timestamp>,
        created: bool,
    ) {
        use EventType::*;
        let event = match (kind, created, deleted_at.is_some()) {
            (EntryKind::Property, true, _) => MetadefPropertyCreate,
            (EntryKind::Property, _, true) => MetadefPropertyDelete,
            (EntryKind::Property, _, _) => MetadefPropertyUpdate,
            (EntryKind::Object, true, _) => MetadefObjectCreate,
            (EntryKind::Object, _, true) => MetadefObjectDelete,
            (EntryKind::Object, _, _) => MetadefObjectUpdate,
            (EntryKind::Tag, true, _) => MetadefTagCreate,
            (EntryKind::Tag, _, true) => MetadefTagDelete,
            (EntryKind::Tag, _, _) => MetadefTagUpdate,
        };
        let name = ns.namespace.as_str();
        self.notifier.info(event, || match kind {
            EntryKind::Property => payload::property(name, entry, old_name, deleted_at),
            EntryKind::Object => payload::object(name, entry, old_name, deleted_at),
            EntryKind::Tag => payload::tag(name, entry, old_name, deleted_at),
        });
    }

    pub(super) fn notify_association(
        &self,
        ns: &Namespace,
        assoc: &Association,
        deleted_at: Option<Timestamp>,
    ) {
        let event = if deleted_at.is_some() {
            EventType::MetadefResourceTypeDelete
        } else {
            EventType::MetadefResourceTypeCreate
        };
        self.notifier.info(event, || {
            payload::association(&ns.namespace, assoc, deleted_at)
        });
    }

    /// A namespace created with what it holds: its own event, then one per
    /// association, object, tag and property, in Glance's order.
    pub(super) fn notify_created(&self, doc: &NamespaceDocument) {
        let ns = &doc.namespace;
        self.notify_namespace(EventType::MetadefNamespaceCreate, ns, None, None);
        for assoc in &doc.associations {
            self.notify_association(ns, assoc, None);
        }
        for entry in doc.objects.iter().chain(&doc.tags).chain(&doc.properties) {
            self.notify_entry(entry.kind, ns, entry, None, None, true);
        }
    }
}
