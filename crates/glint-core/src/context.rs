//! Who is asking.

use glint_policy::Credentials;

/// The caller of one request, as the auth layer established it.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// `req-<uuid>`, echoed in `x-openstack-request-id` and in logs.
    pub request_id: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    /// Role names, lower-cased.
    pub roles: Vec<String>,
    /// Whether `context_is_admin` holds for this caller.
    pub is_admin: bool,
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
        let roles: Vec<String> = roles.into_iter().map(|r| r.to_lowercase()).collect();
        let mut ctx = RequestContext {
            request_id,
            user_id,
            project_id,
            roles,
            is_admin: false,
        };
        let creds = ctx.credentials();
        ctx.is_admin = policy.enforce(
            "context_is_admin",
            &Default::default(),
            &creds,
            &glint_policy::NoRemote,
        );
        ctx
    }

    pub fn credentials(&self) -> Credentials {
        Credentials {
            roles: self.roles.clone(),
            project_id: self.project_id.clone(),
            user_id: self.user_id.clone(),
            is_admin: self.is_admin,
            ..Credentials::default()
        }
    }
}
