//! The credentials callers lend to the `glance-download` tasks of this
//! process (see `glance_download.rs`), held in memory only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use glint_model::time;

use crate::context::Delegation;

/// The credentials lent to the `glance-download` tasks of this process,
/// by task id. An entry leaves when its task runs, or once expired.
#[derive(Debug, Default)]
pub(crate) struct Delegations {
    lent: Mutex<HashMap<String, (Arc<Delegation>, time::Timestamp)>>,
}

impl Delegations {
    /// Keeps `delegation` for the task `task_id` until `until`.
    pub(crate) fn lend(&self, task_id: &str, delegation: Arc<Delegation>, until: time::Timestamp) {
        if let Ok(mut lent) = self.lent.lock() {
            let now = time::now();
            lent.retain(|_, (_, until)| *until > now);
            lent.insert(task_id.to_owned(), (delegation, until));
        }
    }

    pub(crate) fn holds(&self, task_id: &str) -> bool {
        self.lent
            .lock()
            .is_ok_and(|lent| lent.get(task_id).is_some_and(|(_, u)| *u > time::now()))
    }

    pub(crate) fn take(&self, task_id: &str) -> Option<Arc<Delegation>> {
        let (delegation, until) = self.lent.lock().ok()?.remove(task_id)?;
        (until > time::now()).then_some(delegation)
    }
}
