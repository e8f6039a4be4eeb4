//! Changes of one image made by one process take turns: optimistic saves
//! alone degrade under contention (see [`crate::change`]).

use glint_model::ImageId;

/// Stripes of the per-image turn: a change holds its image's stripe while it
/// applies and saves, so the changes one process makes to one image run one
/// after the other. Striped rather than per image so that the set stays
/// fixed; two images sharing a stripe only wait a save's time for each
/// other.
pub(crate) struct WriteTurns(Vec<tokio::sync::Mutex<()>>);

/// Stripes: plenty for the images changed at once by one process.
const TURN_STRIPES: usize = 256;

impl WriteTurns {
    pub(crate) fn new() -> WriteTurns {
        WriteTurns((0..TURN_STRIPES).map(|_| Default::default()).collect())
    }

    pub(crate) fn of(&self, id: ImageId) -> &tokio::sync::Mutex<()> {
        let bytes = id.as_uuid().as_bytes();
        let stripe = usize::from(bytes[14]) << 8 | usize::from(bytes[15]);
        &self.0[stripe % self.0.len()]
    }
}

impl std::fmt::Debug for WriteTurns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTurns").finish_non_exhaustive()
    }
}
