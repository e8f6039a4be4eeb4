//! `http:`/`https:` policy checks, asked asynchronously and at most once
//! per request.
//!
//! The policy engine decides without calling out ([`Enforcer::decide`]);
//! when the outcome waits for remote checks, they are asked here, on the
//! request's own task (no worker thread blocks on the network), and their
//! answers are kept in the request's [`RemoteVerdicts`], so every later
//! decision of the same request (each image of a list page) reuses them.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use glint_policy::{Credentials, Decision, Enforcer, KnownRemote, RemoteQuery, Target};

/// The most rounds of asking before a decision is given up as a denial.
/// Each round answers at least one new check, so this only bounds rules
/// that chain more remote checks than any sensible policy does.
const MAX_ROUNDS: usize = 8;

/// Asks one `http:` check; true only when the service allowed it. Failures
/// (unreachable, timeout, other answers) are denials.
pub trait AsyncRemoteCheck: Send + Sync {
    fn ask<'a>(
        &'a self,
        query: &'a RemoteQuery,
        target: &'a Target,
        creds: &'a Credentials,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>>;
}

/// For deployments without remote policy: every `http:` check is denied.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyRemote;

impl AsyncRemoteCheck for DenyRemote {
    fn ask<'a>(
        &'a self,
        _query: &'a RemoteQuery,
        _target: &'a Target,
        _creds: &'a Credentials,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(std::future::ready(false))
    }
}

/// The answers of the remote checks one request has asked, by rule and
/// URL. The target of the first decision that needed a check is the one
/// sent; later decisions of the request reuse the answer.
#[derive(Debug, Clone, Default)]
pub struct RemoteVerdicts {
    answers: Arc<Mutex<HashMap<RemoteQuery, bool>>>,
}

impl RemoteVerdicts {
    fn record(&self, query: RemoteQuery, allowed: bool) {
        if let Ok(mut answers) = self.answers.lock() {
            answers.insert(query, allowed);
        }
    }

    /// How many checks this request has asked.
    pub fn asked(&self) -> usize {
        self.answers.lock().map(|a| a.len()).unwrap_or(0)
    }
}

impl KnownRemote for RemoteVerdicts {
    fn verdict(&self, rule: Option<&str>, url: &str) -> Option<bool> {
        let answers = self.answers.lock().ok()?;
        let query = RemoteQuery {
            rule: rule.map(str::to_owned),
            url: url.to_owned(),
        };
        answers.get(&query).copied()
    }
}

/// Decides `rule`, asking the remote checks it waits for (concurrently) and
/// remembering their answers in `verdicts`.
pub async fn decide(
    enforcer: &Enforcer,
    remote: &dyn AsyncRemoteCheck,
    verdicts: &RemoteVerdicts,
    rule: &str,
    target: &Target,
    creds: &Credentials,
) -> bool {
    for _ in 0..MAX_ROUNDS {
        let queries = match enforcer.decide(rule, target, creds, verdicts) {
            Decision::Allowed => return true,
            Decision::Denied => return false,
            Decision::Pending(queries) => queries,
        };
        let answers =
            futures::future::join_all(queries.iter().map(|query| remote.ask(query, target, creds)))
                .await;
        for (query, allowed) in queries.into_iter().zip(answers) {
            verdicts.record(query, allowed);
        }
    }
    tracing::warn!(
        rule,
        "policy decision needed too many remote checks; denying"
    );
    false
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use glint_policy::parse_rule;
    use serde_json::json;

    use super::*;

    /// Allows URLs ending in `/yes`; counts the calls.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl AsyncRemoteCheck for Counting {
        fn ask<'a>(
            &'a self,
            query: &'a RemoteQuery,
            _target: &'a Target,
            _creds: &'a Credentials,
        ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(std::future::ready(query.url.ends_with("/yes")))
        }
    }

    fn enforcer(rule: &str) -> Enforcer {
        let mut e = Enforcer::new();
        e.set_rule("r", parse_rule(rule).unwrap());
        e
    }

    fn target(id: &str) -> Target {
        [("id".to_owned(), json!(id))].into()
    }

    #[tokio::test]
    async fn a_remote_check_is_asked_once_per_request() {
        let e = enforcer("http://p/yes");
        let remote = Counting::default();
        let verdicts = RemoteVerdicts::default();
        let creds = Credentials::default();
        for id in ["a", "b", "c"] {
            assert!(decide(&e, &remote, &verdicts, "r", &target(id), &creds).await);
        }
        assert_eq!(remote.0.load(Ordering::SeqCst), 1);
        // A new request asks again.
        let next = RemoteVerdicts::default();
        assert!(decide(&e, &remote, &next, "r", &target("a"), &creds).await);
        assert_eq!(remote.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn checks_that_cannot_matter_are_not_asked() {
        let e = enforcer("role:admin or http://p/no");
        let remote = Counting::default();
        let admin = Credentials::default().with_roles(["admin"]);
        let verdicts = RemoteVerdicts::default();
        assert!(decide(&e, &remote, &verdicts, "r", &target("a"), &admin).await);
        assert_eq!(remote.0.load(Ordering::SeqCst), 0);
        let member = Credentials::default().with_roles(["member"]);
        assert!(!decide(&e, &remote, &verdicts, "r", &target("a"), &member).await);
        assert_eq!(verdicts.asked(), 1);
    }

    #[tokio::test]
    async fn urls_filled_from_different_targets_are_different_checks() {
        let e = enforcer("http://p/%(id)s");
        let remote = Counting::default();
        let verdicts = RemoteVerdicts::default();
        let creds = Credentials::default();
        assert!(decide(&e, &remote, &verdicts, "r", &target("yes"), &creds).await);
        assert!(!decide(&e, &remote, &verdicts, "r", &target("no"), &creds).await);
        assert_eq!(verdicts.asked(), 2);
    }
}
