//! `/v2/images/{id}/members` and `/v2/images/{id}/members/{member_id}`.

use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::routing::get;
use glint_core::{Lookup, RequestedStatus};
use glint_model::member::{self, MemberStatus};
use http::StatusCode;
use serde_json::Value;

use crate::body::AnyJsonBody;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Json;
use crate::path::{ImageItemPath, ImagePath};
use crate::state::AppState;
use crate::views;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/images/{id}/members",
            get(list_members).post(add_member),
        )
        .route(
            "/v2/images/{id}/members/{member_id}",
            get(show_member).put(update_member).delete(delete_member),
        )
}

pub async fn list_members(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
) -> Result<Json<Value>, ApiError> {
    let id = path.image(Lookup::Members)?;
    let members = state.images.list_members(&ctx, id).await?;
    Ok(Json(views::member_list(&members)))
}

/// Answers 200, not 201, as Glance does.
pub async fn add_member(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
    MemberBody(member_id): MemberBody,
) -> Result<Json<Value>, ApiError> {
    let id = path.image(Lookup::Members)?;
    let member = state.images.add_member(&ctx, id, member_id).await?;
    Ok(Json(views::member(&member)))
}

pub async fn show_member(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImageItemPath,
) -> Result<Json<Value>, ApiError> {
    let id = path.image(Lookup::Members)?;
    let member = state.images.get_member(&ctx, id, &path.item).await?;
    Ok(Json(views::member(&member)))
}

pub async fn update_member(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImageItemPath,
    StatusBody(status): StatusBody,
) -> Result<Json<Value>, ApiError> {
    let id = path.image(Lookup::Members)?;
    let member = (state.images)
        .update_member(&ctx, id, &path.item, status)
        .await?;
    Ok(Json(views::member(&member)))
}

pub async fn delete_member(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImageItemPath,
) -> Result<StatusCode, ApiError> {
    let id = path.image(Lookup::Members)?;
    state.images.delete_member(&ctx, id, &path.item).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The project a `POST …/members` body (`{"member": …}`) names, checked
/// for its shape; whether a membership can hold it is checked later, in
/// Glance's order.
#[derive(Debug)]
pub struct MemberBody(pub String);

impl FromRequest<AppState> for MemberBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let AnyJsonBody(body) = AnyJsonBody::from_request(req, state).await?;
        Ok(MemberBody(member::member_from_body(&body)?))
    }
}

/// The status a `PUT …/members/{member_id}` body (`{"status": …}`) asks
/// for. A body without one is refused at once; a value that is not a
/// status is reported later, as Glance reports it (see
/// [`RequestedStatus`]).
#[derive(Debug)]
pub struct StatusBody(pub RequestedStatus);

impl FromRequest<AppState> for StatusBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let AnyJsonBody(body) = AnyJsonBody::from_request(req, state).await?;
        let value = member::status_from_body(&body)?;
        Ok(StatusBody(MemberStatus::from_request(value)))
    }
}
