//! Who is asking.

use glint_policy::Credentials;

use crate::remote::RemoteVerdicts;

/// The caller of one request, as the auth layer established it. The
/// identity is kept once, in the form the policy engine reads, so that a
/// list of many images does not rebuild it for every decision.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// `req-<uuid>`, echoed in `x-openstack-request-id` and in logs.
    pub request_id: String,
    credentials: Credentials,
    /// Answers of the remote policy checks this request has asked.
    remote_verdicts: RemoteVerdicts,
}

impl RequestContext {
    /// Builds a context and decides `is_admin` with the policy engine, as
    /// Glance's context middleware does.
    pub fn new(
        request_id: String,
        user_id: Option<String>,
        project_id: Option<String>,
        roles: Vec<String>,
        policy: &glint_policy::Enforcer,
    ) -> Self {
        let credentials = Credentials {
            project_id,
            user_id,
            ..Credentials::default()
        }
        .with_roles(roles);
        Self::from_credentials(request_id, credentials, policy)
    }

    /// Builds a context from everything an authenticated token carries
    /// (domains, scope, `is_admin_project`, ...); `is_admin` is decided by
    /// the policy engine whatever `credentials` says.
    pub fn from_credentials(
        request_id: String,
        mut credentials: Credentials,
        policy: &glint_policy::Enforcer,
    ) -> Self {
        credentials.is_admin = false;
        credentials.is_admin = policy.enforce(
            "context_is_admin",
            &Default::default(),
            &credentials,
            &glint_policy::NoRemote,
        );
        RequestContext {
            request_id,
            credentials,
            remote_verdicts: RemoteVerdicts::default(),
        }
    }

    pub fn remote_verdicts(&self) -> &RemoteVerdicts {
        &self.remote_verdicts
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn project_id(&self) -> Option<&str> {
        self.credentials.project_id.as_deref()
    }

    pub fn user_id(&self) -> Option<&str> {
        self.credentials.user_id.as_deref()
    }

    pub fn roles(&self) -> &[String] {
        &self.credentials.roles
    }

    /// Whether `context_is_admin` holds for this caller.
    pub fn is_admin(&self) -> bool {
        self.credentials.is_admin
    }
}
