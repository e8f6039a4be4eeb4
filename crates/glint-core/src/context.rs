//! Who is asking.

use std::sync::Arc;

use glint_model::time::Timestamp;
use glint_policy::Credentials;

use crate::remote::RemoteVerdicts;

/// One endpoint of the image service in the caller's service catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEndpoint {
    pub region: String,
    /// `public`, `internal` or `admin`.
    pub interface: String,
    pub url: String,
}

/// What a caller lends glint so that an import can act for them at another
/// image service (`glance-download`): their token, until it expires, and
/// the image service's endpoints of their catalog. Never written anywhere:
/// it lives in the memory of the process that took the request.
#[derive(Clone)]
pub struct Delegation {
    token: String,
    endpoints: Vec<ImageEndpoint>,
    expires_at: Option<Timestamp>,
}

impl Delegation {
    pub fn new(
        token: String,
        endpoints: Vec<ImageEndpoint>,
        expires_at: Option<Timestamp>,
    ) -> Self {
        Delegation {
            token,
            endpoints,
            expires_at,
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// When the token stops being valid, when known.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.expires_at
    }

    pub fn endpoints(&self) -> &[ImageEndpoint] {
        &self.endpoints
    }

    /// The URL of the image service of `region` (compared without regard
    /// to case, as Glance does) at `interface`.
    pub fn image_endpoint(&self, region: &str, interface: &str) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|e| e.region.eq_ignore_ascii_case(region) && e.interface == interface)
            .map(|e| e.url.as_str())
    }
}

impl std::fmt::Debug for Delegation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delegation")
            .field("token", &"***")
            .field("endpoints", &self.endpoints)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

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
    /// The caller's token and catalog, when the auth layer has them.
    delegation: Option<Arc<Delegation>>,
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
            delegation: None,
        }
    }

    /// Lends the caller's token and catalog to the use cases that act for
    /// them elsewhere.
    pub fn with_delegation(mut self, delegation: Delegation) -> Self {
        self.delegation = Some(Arc::new(delegation));
        self
    }

    pub fn delegation(&self) -> Option<&Arc<Delegation>> {
        self.delegation.as_ref()
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
