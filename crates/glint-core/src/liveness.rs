//! Whether the process that holds an upload lease is still running, when
//! it ran on this very machine.
//!
//! An upload lease names its holder: the node, the run of the process, and
//! the process itself as the kernel knows it (pid and start time, the boot
//! and the pid namespace it ran in). A lease whose process ran in this boot
//! and pid namespace, and that no longer runs (no such pid, or a pid now
//! used by a process started at another time), cannot be renewed any more:
//! its upload is interrupted, whatever the lease's expiry says. So a node
//! restarted after a crash resets its own interrupted uploads at once,
//! instead of waiting out their leases. Holders on other machines, in other
//! containers or from other boots are judged by expiry alone.

use std::sync::OnceLock;

/// The kernel's view of one process: enough to tell it apart from any
/// process that ran before or elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProcessIdentity {
    pid: u32,
    /// Clock ticks after boot at which the process started.
    start: u64,
    boot: String,
    pid_namespace: String,
}

impl ProcessIdentity {
    fn current() -> Option<ProcessIdentity> {
        let pid = std::process::id();
        Some(ProcessIdentity {
            pid,
            start: start_time(pid)?,
            boot: read_trimmed("/proc/sys/kernel/random/boot_id")?,
            pid_namespace: pid_namespace()?,
        })
    }

    /// `pid.start@boot:namespace`, the last segment of a lease holder.
    fn token(&self) -> String {
        format!(
            "{}.{}@{}:{}",
            self.pid, self.start, self.boot, self.pid_namespace
        )
    }

    fn parse(token: &str) -> Option<ProcessIdentity> {
        let (process, place) = token.split_once('@')?;
        let (pid, start) = process.split_once('.')?;
        let (boot, pid_namespace) = place.split_once(':')?;
        Some(ProcessIdentity {
            pid: pid.parse().ok()?,
            start: start.parse().ok()?,
            boot: boot.to_owned(),
            pid_namespace: pid_namespace.to_owned(),
        })
    }

    /// Whether this process, seen from `here` (the same boot and pid
    /// namespace, else nothing can be said), has ended.
    fn has_ended(&self, here: &ProcessIdentity) -> bool {
        if self.boot != here.boot || self.pid_namespace != here.pid_namespace {
            return false;
        }
        start_time(self.pid) != Some(self.start)
    }
}

fn current() -> Option<&'static ProcessIdentity> {
    static CURRENT: OnceLock<Option<ProcessIdentity>> = OnceLock::new();
    CURRENT.get_or_init(ProcessIdentity::current).as_ref()
}

/// The last segment of this process's lease holders; empty where the
/// kernel does not tell (then only expiry frees its leases).
pub(crate) fn process_token() -> String {
    current().map(ProcessIdentity::token).unwrap_or_default()
}

/// The holders among `holders` whose process ran on this node, in this
/// boot and pid namespace, and has ended.
pub(crate) fn ended_holders(node: &str, holders: Vec<String>) -> Vec<String> {
    let Some(here) = current() else {
        return Vec::new();
    };
    holders
        .into_iter()
        .filter(|holder| {
            let Some((holder_node, rest)) = holder.split_once('/') else {
                return false;
            };
            let token = rest.rsplit('/').next().unwrap_or_default();
            holder_node == node
                && ProcessIdentity::parse(token).is_some_and(|process| process.has_ended(here))
        })
        .collect()
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// `pid:[4026531836]` as the inode number alone.
fn pid_namespace() -> Option<String> {
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let text = link.to_str()?;
    let inode = text.strip_prefix("pid:[")?.strip_suffix(']')?;
    Some(inode.to_owned())
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, in clock
/// ticks after boot. Read after the command name, which may hold spaces
/// and parentheses.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_process_has_not_ended() {
        let token = process_token();
        assert!(
            !token.is_empty(),
            "this platform tells the process identity"
        );
        let holder = format!("node-a/run/{token}");
        assert!(ended_holders("node-a", vec![holder]).is_empty());
    }

    #[test]
    fn a_process_that_ran_here_and_ended_is_found() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_time(pid);
        child.wait().unwrap();
        let here = current().unwrap();
        let ended = ProcessIdentity {
            pid,
            start: start.unwrap_or(1),
            ..here.clone()
        };
        let holder = format!("node-a/run/{}", ended.token());
        assert_eq!(ended_holders("node-a", vec![holder.clone()]), [holder]);
    }

    #[test]
    fn holders_elsewhere_or_unreadable_are_left_to_expiry() {
        let here = current().unwrap();
        let gone = ProcessIdentity {
            pid: u32::MAX,
            ..here.clone()
        };
        let other_boot = ProcessIdentity {
            boot: "another-boot".into(),
            ..gone.clone()
        };
        let holders = vec![
            format!("node-b/run/{}", gone.token()),
            format!("node-a/run/{}", other_boot.token()),
            "node-a/run".to_owned(),
            "node-a/run/reclaim".to_owned(),
        ];
        assert!(ended_holders("node-a", holders).is_empty());
        let mine = format!("node-a/run/{}", gone.token());
        assert_eq!(ended_holders("node-a", vec![mine.clone()]), [mine]);
    }

    #[test]
    fn a_pid_reused_by_a_later_process_counts_as_ended() {
        let here = current().unwrap();
        let earlier = ProcessIdentity {
            start: here.start.saturating_sub(1),
            ..here.clone()
        };
        let holder = format!("node-a/run/{}", earlier.token());
        assert_eq!(ended_holders("node-a", vec![holder.clone()]), [holder]);
    }
}
