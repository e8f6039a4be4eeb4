//! A small Keystone v3 for tests: issues password tokens, validates tokens
//! with `GET /v3/auth/tokens`, counts the calls, and can be told to revoke
//! tokens, refuse the service token, fail with a status, answer slowly, or
//! stop listening.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::oneshot;

/// The service user glint authenticates as.
pub const SERVICE_USER: &str = "glint";
pub const SERVICE_PASSWORD: &str = "service-secret";
pub const SERVICE_PROJECT: &str = "service";

/// What a token stands for.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub user_id: String,
    pub project_id: String,
    pub roles: Vec<String>,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Default)]
struct Behaviour {
    /// Status every validation answers with instead of looking the token up.
    fail_with: Option<StatusCode>,
    /// Pause before answering a validation.
    delay: Duration,
    /// Refuse every service token, even fresh ones.
    refuse_service_tokens: bool,
    /// Lifetime of the service tokens issued (an hour when zero).
    service_token_ttl: Duration,
}

#[derive(Debug, Default)]
struct Inner {
    user_tokens: Mutex<HashMap<String, TokenInfo>>,
    service_tokens: Mutex<HashSet<String>>,
    behaviour: Mutex<Behaviour>,
    queries: Mutex<Vec<Option<String>>>,
    password_auths: AtomicUsize,
    validations: AtomicUsize,
    limits: Mutex<Limits>,
    /// The image endpoints of the catalog sent with validations: (region,
    /// interface, url).
    catalog: Mutex<Vec<(String, String, String)>>,
}

/// The unified limits of this Keystone: one image service (`svc-image`)
/// with a public and an internal endpoint in `RegionOne`, and a compute
/// service; registered and project limits as the test sets them.
#[derive(Debug, Default)]
struct Limits {
    /// The enforcement model, `flat` unless set.
    model: Option<String>,
    /// (service id, region id, resource, default limit).
    registered: Vec<(String, String, String, i64)>,
    /// (service id, region id, project, resource, limit).
    projects: Vec<(String, String, String, String, i64)>,
    /// Answer reads of limits and endpoints with 403.
    forbidden: bool,
    /// Reads of registered and project limits.
    reads: usize,
}

/// The image service's public endpoint in the fake's catalog.
pub const IMAGE_ENDPOINT_ID: &str = "ep-image-public";
pub const IMAGE_SERVICE_ID: &str = "svc-image";
pub const REGION: &str = "RegionOne";

/// (endpoint id, service id, region id, interface).
const ENDPOINTS: [(&str, &str, &str, &str); 3] = [
    (IMAGE_ENDPOINT_ID, IMAGE_SERVICE_ID, REGION, "public"),
    ("ep-image-internal", IMAGE_SERVICE_ID, REGION, "internal"),
    ("ep-compute-public", "svc-compute", REGION, "public"),
];

/// (service id, type, name).
const SERVICES: [(&str, &str, &str); 2] = [
    (IMAGE_SERVICE_ID, "image", "glance"),
    ("svc-compute", "compute", "nova"),
];

/// A running fake Keystone; stops when dropped.
pub struct FakeKeystone {
    addr: SocketAddr,
    inner: Arc<Inner>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl FakeKeystone {
    pub async fn start() -> FakeKeystone {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/v3/auth/tokens", get(validate).post(authenticate))
            .route("/v3/limits/model", get(limit_model))
            .route("/v3/endpoints", get(list_endpoints))
            .route("/v3/endpoints/{id}", get(show_endpoint))
            .route("/v3/services", get(list_services))
            .route("/v3/regions/{id}", get(show_region))
            .route("/v3/registered_limits", get(registered_limits))
            .route("/v3/limits", get(project_limits))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake keystone");
        let addr = listener.local_addr().expect("fake keystone address");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        FakeKeystone {
            addr,
            inner,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// `http://127.0.0.1:<port>`, to use as `auth_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Lists an image service endpoint in the catalog of every token
    /// validated without `nocatalog`.
    pub fn add_image_endpoint(&self, region: &str, interface: &str, url: &str) {
        self.inner
            .catalog
            .lock()
            .unwrap()
            .push((region.into(), interface.into(), url.into()));
    }

    /// A token of `user_id` on `project_id` with `roles`, valid for `ttl`.
    pub fn issue(&self, user_id: &str, project_id: &str, roles: &[&str], ttl: Duration) -> String {
        let token = format!("user-{}", uuid::Uuid::new_v4().simple());
        let info = TokenInfo {
            user_id: user_id.into(),
            project_id: project_id.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            expires_at: OffsetDateTime::now_utc() + ttl,
        };
        self.inner
            .user_tokens
            .lock()
            .unwrap()
            .insert(token.clone(), info);
        token
    }

    /// A token whose `expires_at` is already past, which this fake (unlike
    /// a real Keystone) still describes with 200.
    pub fn issue_expired(&self, user_id: &str, project_id: &str) -> String {
        let token = self.issue(user_id, project_id, &["member"], Duration::ZERO);
        if let Some(info) = self.inner.user_tokens.lock().unwrap().get_mut(&token) {
            info.expires_at = OffsetDateTime::now_utc() - Duration::from_secs(60);
        }
        token
    }

    /// Makes `token` unknown, as `DELETE /v3/auth/tokens` does.
    pub fn revoke(&self, token: &str) {
        self.inner.user_tokens.lock().unwrap().remove(token);
    }

    /// Forgets every service token issued so far (glint's next validation
    /// is answered 401 and glint must authenticate again).
    pub fn revoke_service_tokens(&self) {
        self.inner.service_tokens.lock().unwrap().clear();
    }

    /// Answers every validation with 401, whatever the service token.
    pub fn refuse_service_tokens(&self) {
        self.inner.behaviour.lock().unwrap().refuse_service_tokens = true;
    }

    /// Issues service tokens that expire `ttl` after they are issued.
    pub fn service_token_ttl(&self, ttl: Duration) {
        self.inner.behaviour.lock().unwrap().service_token_ttl = ttl;
    }

    /// Answers every validation with `status`.
    pub fn fail_with(&self, status: StatusCode) {
        self.inner.behaviour.lock().unwrap().fail_with = Some(status);
    }

    /// Waits `delay` before answering each validation.
    pub fn slow_down(&self, delay: Duration) {
        self.inner.behaviour.lock().unwrap().delay = delay;
    }

    /// Stops listening; later connections are refused.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Registers `resource`'s default limit for `service` in `region`.
    pub fn register_limit(&self, service: &str, region: &str, resource: &str, limit: i64) {
        let mut limits = self.inner.limits.lock().unwrap();
        limits
            .registered
            .retain(|(s, r, n, _)| !(s == service && r == region && n == resource));
        limits
            .registered
            .push((service.into(), region.into(), resource.into(), limit));
    }

    /// Sets `project`'s limit of `resource` for the image service.
    pub fn set_project_limit(&self, project: &str, resource: &str, limit: i64) {
        let mut limits = self.inner.limits.lock().unwrap();
        limits
            .projects
            .retain(|(_, _, p, n, _)| !(p == project && n == resource));
        limits.projects.push((
            IMAGE_SERVICE_ID.into(),
            REGION.into(),
            project.into(),
            resource.into(),
            limit,
        ));
    }

    /// Sets the enforcement model `GET /v3/limits/model` names.
    pub fn set_limit_model(&self, model: &str) {
        self.inner.limits.lock().unwrap().model = Some(model.into());
    }

    /// Answers reads of limits and endpoints with 403.
    pub fn forbid_limit_reads(&self) {
        self.inner.limits.lock().unwrap().forbidden = true;
    }

    /// Reads of registered and project limits so far.
    pub fn limit_reads(&self) -> usize {
        self.inner.limits.lock().unwrap().reads
    }

    /// Password authentications (service tokens issued or refused).
    pub fn password_auths(&self) -> usize {
        self.inner.password_auths.load(Ordering::SeqCst)
    }

    /// Token validations received.
    pub fn validations(&self) -> usize {
        self.inner.validations.load(Ordering::SeqCst)
    }

    /// The query string of every validation, in order.
    pub fn validation_queries(&self) -> Vec<Option<String>> {
        self.inner.queries.lock().unwrap().clone()
    }
}

impl Drop for FakeKeystone {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An unused loopback address: nothing listens there.
pub async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn token_body(info: &TokenInfo) -> Value {
    json!({"token": {
        "methods": ["password"],
        "expires_at": info.expires_at.format(&Rfc3339).unwrap(),
        "issued_at": OffsetDateTime::now_utc().format(&Rfc3339).unwrap(),
        "audit_ids": ["a1"],
        "user": {"id": info.user_id, "name": info.user_id,
                 "domain": {"id": "default", "name": "Default"}},
        "project": {"id": info.project_id, "name": info.project_id,
                    "domain": {"id": "default", "name": "Default"}},
        "roles": info.roles.iter().map(|r| json!({"id": format!("id-{r}"), "name": r}))
            .collect::<Vec<_>>(),
    }})
}

async fn authenticate(State(inner): State<Arc<Inner>>, body: axum::Json<Value>) -> Response {
    inner.password_auths.fetch_add(1, Ordering::SeqCst);
    let user = &body["auth"]["identity"]["password"]["user"];
    let project = &body["auth"]["scope"]["project"];
    let valid = user["name"] == SERVICE_USER
        && user["domain"]["name"] == "Default"
        && user["password"] == SERVICE_PASSWORD
        && project["name"] == SERVICE_PROJECT
        && project["domain"]["name"] == "Default";
    if !valid {
        return (StatusCode::UNAUTHORIZED, "{\"error\": {\"code\": 401}}").into_response();
    }
    let token = format!("svc-{}", uuid::Uuid::new_v4().simple());
    inner.service_tokens.lock().unwrap().insert(token.clone());
    let ttl = match inner.behaviour.lock().unwrap().service_token_ttl {
        ttl if ttl.is_zero() => Duration::from_secs(3600),
        ttl => ttl,
    };
    let info = TokenInfo {
        user_id: SERVICE_USER.into(),
        project_id: SERVICE_PROJECT.into(),
        roles: vec!["service".into(), "admin".into()],
        expires_at: OffsetDateTime::now_utc() + ttl,
    };
    (
        StatusCode::CREATED,
        [("X-Subject-Token", token)],
        axum::Json(token_body(&info)),
    )
        .into_response()
}

async fn validate(
    State(inner): State<Arc<Inner>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    inner.validations.fetch_add(1, Ordering::SeqCst);
    let with_catalog = !query.contains_key("nocatalog");
    let query = (!query.is_empty()).then(|| {
        let mut keys: Vec<_> = query.keys().cloned().collect();
        keys.sort();
        keys.join("&")
    });
    inner.queries.lock().unwrap().push(query);
    let (fail_with, delay, refuse) = {
        let b = inner.behaviour.lock().unwrap();
        (b.fail_with, b.delay, b.refuse_service_tokens)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(status) = fail_with {
        return status.into_response();
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let service = header("x-auth-token");
    if refuse || !inner.service_tokens.lock().unwrap().contains(&service) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let found = inner
        .user_tokens
        .lock()
        .unwrap()
        .get(&header("x-subject-token"))
        .cloned();
    match found {
        Some(info) => {
            let mut body = token_body(&info);
            if with_catalog {
                let endpoints: Vec<Value> = inner
                    .catalog
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(region, interface, url)| {
                        json!({"id": format!("ep-{region}-{interface}"), "interface": interface,
                               "region_id": region, "region": region, "url": url})
                    })
                    .collect();
                body["token"]["catalog"] = json!([
                    {"id": "svc-compute", "type": "compute", "name": "nova", "endpoints": []},
                    {"id": IMAGE_SERVICE_ID, "type": "image", "name": "glance",
                     "endpoints": endpoints},
                ]);
            }
            axum::Json(body).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Refuses a read of the catalog or of limits unless it carries a service
/// token, and allowed.
fn check_reader(inner: &Inner, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !inner.service_tokens.lock().unwrap().contains(token) {
        return Some(StatusCode::UNAUTHORIZED.into_response());
    }
    if inner.limits.lock().unwrap().forbidden {
        return Some(StatusCode::FORBIDDEN.into_response());
    }
    None
}

/// Whether `value` passes the filter `name` of `query` (absent: any).
fn passes(query: &HashMap<String, String>, name: &str, value: &str) -> bool {
    query.get(name).is_none_or(|wanted| wanted == value)
}

async fn limit_model(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    if let Some(refused) = check_reader(&inner, &headers) {
        return refused;
    }
    let model = inner.limits.lock().unwrap().model.clone();
    let name = model.unwrap_or_else(|| "flat".into());
    axum::Json(json!({"model": {"name": name, "description": "test"}})).into_response()
}

fn endpoint_doc(e: &(&str, &str, &str, &str)) -> Value {
    json!({"id": e.0, "service_id": e.1, "region_id": e.2, "region": e.2,
           "interface": e.3, "url": "http://image.example.com", "enabled": true})
}

async fn list_endpoints(
    State(inner): State<Arc<Inner>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = check_reader(&inner, &headers) {
        return refused;
    }
    let found: Vec<Value> = ENDPOINTS
        .iter()
        .filter(|e| {
            passes(&query, "service_id", e.1)
                && passes(&query, "region_id", e.2)
                && passes(&query, "interface", e.3)
        })
        .map(endpoint_doc)
        .collect();
    axum::Json(json!({ "endpoints": found })).into_response()
}

async fn show_endpoint(
    State(inner): State<Arc<Inner>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = check_reader(&inner, &headers) {
        return refused;
    }
    match ENDPOINTS.iter().find(|e| e.0 == id) {
        Some(e) => axum::Json(json!({ "endpoint": endpoint_doc(e) })).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn list_services(
    State(inner): State<Arc<Inner>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = check_reader(&inner, &headers) {
        return refused;
    }
    let found: Vec<Value> = SERVICES
        .iter()
        .filter(|s| passes(&query, "type", s.1) && passes(&query, "name", s.2))
        .map(|s| json!({"id": s.0, "type": s.1, "name": s.2, "enabled": true}))
        .collect();
    axum::Json(json!({ "services": found })).into_response()
}

async fn show_region(
    State(inner): State<Arc<Inner>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = check_reader(&inner, &headers) {
        return refused;
    }
    if id != REGION {
        return StatusCode::NOT_FOUND.into_response();
    }
    axum::Json(json!({"region": {"id": REGION, "description": ""}})).into_response()
}

async fn registered_limits(
    State(inner): State<Arc<Inner>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = check_reader(&inner, &headers) {
        return refused;
    }
    let mut limits = inner.limits.lock().unwrap();
    limits.reads += 1;
    let found: Vec<Value> = limits
        .registered
        .iter()
        .filter(|(s, r, _, _)| passes(&query, "service_id", s) && passes(&query, "region_id", r))
        .map(|(s, r, n, l)| {
            json!({"id": format!("rl-{n}"), "service_id": s, "region_id": r,
                   "resource_name": n, "default_limit": l, "description": null})
        })
        .collect();
    axum::Json(json!({ "registered_limits": found })).into_response()
}

async fn project_limits(
    State(inner): State<Arc<Inner>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = check_reader(&inner, &headers) {
        return refused;
    }
    let mut limits = inner.limits.lock().unwrap();
    limits.reads += 1;
    let found: Vec<Value> = limits
        .projects
        .iter()
        .filter(|(s, r, p, _, _)| {
            passes(&query, "service_id", s)
                && passes(&query, "region_id", r)
                && passes(&query, "project_id", p)
        })
        .map(|(s, r, p, n, l)| {
            json!({"id": format!("l-{p}-{n}"), "service_id": s, "region_id": r,
                   "project_id": p, "domain_id": null, "resource_name": n,
                   "resource_limit": l, "description": null})
        })
        .collect();
    axum::Json(json!({ "limits": found })).into_response()
}

/// Keystone settings of a test server, with short timeouts and no retries.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub delay_auth_decision: bool,
    pub allow_anonymous_access: bool,
    pub token_cache_time: Option<Duration>,
    pub token_cache_size: usize,
    pub http_timeout: Duration,
    pub http_max_retries: u32,
    pub include_service_catalog: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            delay_auth_decision: false,
            allow_anonymous_access: false,
            token_cache_time: Some(Duration::from_secs(300)),
            token_cache_size: 100,
            http_timeout: Duration::from_secs(2),
            http_max_retries: 0,
            include_service_catalog: false,
        }
    }
}

/// The fake's service user.
pub fn fake_service_credentials() -> glint_api::auth::ServiceCredentials {
    use glint_api::auth::NameOrId;
    glint_api::auth::ServiceCredentials {
        user: NameOrId::Name(SERVICE_USER.into()),
        user_domain: Some(NameOrId::Name("Default".into())),
        password: SERVICE_PASSWORD.into(),
        project: NameOrId::Name(SERVICE_PROJECT.into()),
        project_domain: Some(NameOrId::Name("Default".into())),
    }
}

/// The `AuthMode` of a glint validating tokens against `auth_url` as the
/// fake's service user.
pub fn keystone_mode(auth_url: &str, settings: AuthSettings) -> glint_api::AuthMode {
    keystone_mode_as(auth_url, fake_service_credentials(), settings)
}

/// The `AuthMode` of a glint validating tokens against `auth_url` as the
/// service user of `credentials`.
pub fn keystone_mode_as(
    auth_url: &str,
    credentials: glint_api::auth::ServiceCredentials,
    settings: AuthSettings,
) -> glint_api::AuthMode {
    use glint_api::auth::{KeystoneAuth, KeystoneConfig, KeystoneValidator};
    let validator = KeystoneValidator::new(KeystoneConfig {
        auth_url: auth_url.parse().expect("auth_url"),
        credentials,
        include_service_catalog: settings.include_service_catalog,
        token_cache_time: settings.token_cache_time,
        token_cache_size: settings.token_cache_size,
        http_timeout: settings.http_timeout,
        http_max_retries: settings.http_max_retries,
    })
    .expect("validator");
    glint_api::AuthMode::Keystone(KeystoneAuth {
        validator,
        delay_auth_decision: settings.delay_auth_decision,
        allow_anonymous_access: settings.allow_anonymous_access,
        www_authenticate_uri: WWW_AUTHENTICATE_URI.into(),
    })
}

/// The identity endpoint test servers announce in `WWW-Authenticate`.
pub const WWW_AUTHENTICATE_URI: &str = "https://keystone.example.com/identity";
