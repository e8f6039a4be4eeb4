//! What glint notifies: Glance's event types and priorities.

use std::fmt;

/// The events Glance sends, named as on the wire (`image.create`, …).
///
/// The `task.*` events exist for the task use cases; nothing emits them
/// until glint has tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    ImageCreate,
    ImageUpdate,
    ImageDelete,
    ImagePrepare,
    ImageUpload,
    ImageActivate,
    ImageSend,
    ImageMemberCreate,
    ImageMemberUpdate,
    ImageMemberDelete,
    TaskCreate,
    TaskRun,
    TaskProcessing,
    TaskSuccess,
    TaskFailure,
    TaskDelete,
    MetadefNamespaceCreate,
    MetadefNamespaceUpdate,
    MetadefNamespaceDelete,
    MetadefNamespaceDeleteObjects,
    MetadefNamespaceDeleteProperties,
    MetadefNamespaceDeleteTags,
    MetadefObjectCreate,
    MetadefObjectUpdate,
    MetadefObjectDelete,
    MetadefPropertyCreate,
    MetadefPropertyUpdate,
    MetadefPropertyDelete,
    MetadefResourceTypeCreate,
    MetadefResourceTypeDelete,
    MetadefTagCreate,
    MetadefTagUpdate,
    MetadefTagDelete,
}

impl EventType {
    pub const ALL: [EventType; 33] = [
        EventType::ImageCreate,
        EventType::ImageUpdate,
        EventType::ImageDelete,
        EventType::ImagePrepare,
        EventType::ImageUpload,
        EventType::ImageActivate,
        EventType::ImageSend,
        EventType::ImageMemberCreate,
        EventType::ImageMemberUpdate,
        EventType::ImageMemberDelete,
        EventType::TaskCreate,
        EventType::TaskRun,
        EventType::TaskProcessing,
        EventType::TaskSuccess,
        EventType::TaskFailure,
        EventType::TaskDelete,
        EventType::MetadefNamespaceCreate,
        EventType::MetadefNamespaceUpdate,
        EventType::MetadefNamespaceDelete,
        EventType::MetadefNamespaceDeleteObjects,
        EventType::MetadefNamespaceDeleteProperties,
        EventType::MetadefNamespaceDeleteTags,
        EventType::MetadefObjectCreate,
        EventType::MetadefObjectUpdate,
        EventType::MetadefObjectDelete,
        EventType::MetadefPropertyCreate,
        EventType::MetadefPropertyUpdate,
        EventType::MetadefPropertyDelete,
        EventType::MetadefResourceTypeCreate,
        EventType::MetadefResourceTypeDelete,
        EventType::MetadefTagCreate,
        EventType::MetadefTagUpdate,
        EventType::MetadefTagDelete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ImageCreate => "image.create",
            EventType::ImageUpdate => "image.update",
            EventType::ImageDelete => "image.delete",
            EventType::ImagePrepare => "image.prepare",
            EventType::ImageUpload => "image.upload",
            EventType::ImageActivate => "image.activate",
            EventType::ImageSend => "image.send",
            EventType::ImageMemberCreate => "image.member.create",
            EventType::ImageMemberUpdate => "image.member.update",
            EventType::ImageMemberDelete => "image.member.delete",
            EventType::TaskCreate => "task.create",
            EventType::TaskRun => "task.run",
            EventType::TaskProcessing => "task.processing",
            EventType::TaskSuccess => "task.success",
            EventType::TaskFailure => "task.failure",
            EventType::TaskDelete => "task.delete",
            EventType::MetadefNamespaceCreate => "metadef_namespace.create",
            EventType::MetadefNamespaceUpdate => "metadef_namespace.update",
            EventType::MetadefNamespaceDelete => "metadef_namespace.delete",
            EventType::MetadefNamespaceDeleteObjects => "metadef_namespace.delete_objects",
            EventType::MetadefNamespaceDeleteProperties => "metadef_namespace.delete_properties",
            EventType::MetadefNamespaceDeleteTags => "metadef_namespace.delete_tags",
            EventType::MetadefObjectCreate => "metadef_object.create",
            EventType::MetadefObjectUpdate => "metadef_object.update",
            EventType::MetadefObjectDelete => "metadef_object.delete",
            EventType::MetadefPropertyCreate => "metadef_property.create",
            EventType::MetadefPropertyUpdate => "metadef_property.update",
            EventType::MetadefPropertyDelete => "metadef_property.delete",
            EventType::MetadefResourceTypeCreate => "metadef_resource_type.create",
            EventType::MetadefResourceTypeDelete => "metadef_resource_type.delete",
            EventType::MetadefTagCreate => "metadef_tag.create",
            EventType::MetadefTagUpdate => "metadef_tag.update",
            EventType::MetadefTagDelete => "metadef_tag.delete",
        }
    }

    /// The group `disabled_notifications` may name instead of the event:
    /// what comes before the first dot, as Glance splits it (so the group
    /// of `image.member.create` is `image`, not `image.member`).
    pub fn group(self) -> &'static str {
        let name = self.as_str();
        name.split_once('.').map_or(name, |(group, _)| group)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// oslo.messaging's priorities; the lower-case name ends the routing key
/// (`notifications.info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    Info,
    Warn,
    Error,
}

impl Priority {
    /// As in the message's `priority` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Info => "INFO",
            Priority::Warn => "WARN",
            Priority::Error => "ERROR",
        }
    }

    /// As in the routing key.
    pub fn routing_suffix(self) -> &'static str {
        match self {
            Priority::Info => "info",
            Priority::Warn => "warn",
            Priority::Error => "error",
        }
    }
}

/// The events `disabled_notifications` turns off: each entry is an event
/// type or a group, compared exactly as Glance compares them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisabledEvents(Vec<String>);

impl DisabledEvents {
    pub fn new(entries: impl IntoIterator<Item = String>) -> Self {
        DisabledEvents(entries.into_iter().collect())
    }

    pub fn disables(&self, event: EventType) -> bool {
        self.0
            .iter()
            .any(|entry| entry == event.as_str() || entry == event.group())
    }

    /// Entries that name neither an event type nor a group glint knows
    /// (harmless, but most likely a typo).
    pub fn unknown(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str).filter(|entry| {
            !EventType::ALL
                .iter()
                .any(|e| e.as_str() == *entry || e.group() == *entry)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_what_comes_before_the_first_dot() {
        assert_eq!(EventType::ImageMemberCreate.group(), "image");
        assert_eq!(EventType::TaskSuccess.group(), "task");
    }

    #[test]
    fn disabled_notifications_match_an_event_or_its_group_exactly() {
        let d = DisabledEvents::new(["image.update".to_owned(), "task".to_owned()]);
        assert!(d.disables(EventType::ImageUpdate));
        assert!(!d.disables(EventType::ImageCreate));
        assert!(d.disables(EventType::TaskRun));
        // As in Glance, "image.member" is not a group: only the part before
        // the first dot is.
        let d = DisabledEvents::new(["image.member".to_owned(), "image.*".to_owned()]);
        assert!(!d.disables(EventType::ImageMemberCreate));
        assert!(!d.disables(EventType::ImageCreate));
        assert_eq!(d.unknown().collect::<Vec<_>>(), ["image.member", "image.*"]);
        let d = DisabledEvents::new(["image".to_owned()]);
        assert!(d.disables(EventType::ImageMemberDelete));
        assert!(d.disables(EventType::ImageSend));
    }
}
