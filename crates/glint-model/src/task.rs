//! Tasks: the record of an import (or a legacy task) as Glance keeps it,
//! and their status machine.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;
use uuid::Uuid;

use crate::error::ModelError;
use crate::ids::ImageId;
use crate::time::Timestamp;

/// A task id: a UUID, shown hyphenated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(Uuid);

impl TaskId {
    pub fn new_random() -> Self {
        TaskId(Uuid::new_v4())
    }

    /// The hyphenated form only, as for image ids.
    pub fn parse(s: &str) -> Option<Self> {
        ImageId::parse(s).map(|id| TaskId(*id.as_uuid()))
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    Pending,
    Processing,
    Success,
    Failure,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 4] = [
        TaskStatus::Pending,
        TaskStatus::Processing,
        TaskStatus::Success,
        TaskStatus::Failure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Processing => "processing",
            TaskStatus::Success => "success",
            TaskStatus::Failure => "failure",
        }
    }

    /// Glance's moves: pending → processing | failure, processing →
    /// success | failure.
    pub fn can_move_to(self, to: TaskStatus) -> bool {
        use TaskStatus::*;
        matches!(
            (self, to),
            (Pending, Processing) | (Pending, Failure) | (Processing, Success | Failure)
        )
    }

    pub fn check_move(self, to: TaskStatus) -> Result<(), ModelError> {
        if self.can_move_to(to) {
            Ok(())
        } else {
            Err(ModelError::invalid(format!(
                "Status transition from {self} to {to} is not allowed"
            )))
        }
    }

    /// Finished: the task's expiry runs from now on.
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Success | TaskStatus::Failure)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| ModelError::invalid(format!("Invalid status value: {s}")))
    }
}

/// The task types of Glance's schema.
pub const TASK_TYPES: [&str; 3] = ["import", "api_image_import", "location_import"];

/// The type of the tasks that run `POST /v2/images/{id}/import`.
pub const API_IMAGE_IMPORT: &str = "api_image_import";

/// A task as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: TaskId,
    /// `type` in Glance's views.
    pub kind: String,
    pub status: TaskStatus,
    pub owner: Option<String>,
    pub input: Option<Value>,
    pub result: Option<Value>,
    pub message: String,
    /// Set when the task ends: its end plus `task_time_to_live`; after it
    /// the task is gone.
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub image_id: Option<ImageId>,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
}

impl Task {
    /// A new pending task.
    pub fn pending(kind: &str, input: Value, at: Timestamp) -> Task {
        Task {
            id: TaskId::new_random(),
            kind: kind.to_owned(),
            status: TaskStatus::Pending,
            owner: None,
            input: Some(input),
            result: None,
            message: String::new(),
            expires_at: None,
            created_at: at,
            updated_at: at,
            image_id: None,
            request_id: None,
            user_id: None,
        }
    }

    /// Moves the task to `to` at `at`; a final status starts its expiry
    /// (`ttl` later).
    pub fn transition(
        &mut self,
        to: TaskStatus,
        at: Timestamp,
        ttl: std::time::Duration,
    ) -> Result<(), ModelError> {
        self.status.check_move(to)?;
        self.status = to;
        self.updated_at = at;
        if to.is_final() {
            self.expires_at = Some(at + ttl);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_moves_follow_glance() {
        use TaskStatus::*;
        assert!(Pending.can_move_to(Processing));
        assert!(Pending.can_move_to(Failure));
        assert!(!Pending.can_move_to(Success));
        assert!(Processing.can_move_to(Success));
        assert!(!Success.can_move_to(Failure));
        assert!(!Failure.can_move_to(Processing));
    }

    #[test]
    fn a_final_status_starts_the_expiry() {
        let at = crate::time::now();
        let mut task = Task::pending(API_IMAGE_IMPORT, Value::Null, at);
        let ttl = std::time::Duration::from_secs(3600);
        task.transition(TaskStatus::Processing, at, ttl).unwrap();
        assert_eq!(task.expires_at, None);
        task.transition(TaskStatus::Failure, at, ttl).unwrap();
        assert_eq!(task.expires_at, Some(at + ttl));
    }

    #[test]
    fn status_names_round_trip() {
        for st in TaskStatus::ALL {
            assert_eq!(st.as_str().parse::<TaskStatus>().unwrap(), st);
        }
        assert!("done".parse::<TaskStatus>().is_err());
    }
}
