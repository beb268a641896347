//! `/api/tickets/{id}/comments` and its aliases `/messages` (seed 000) and `/responses` (seed 001).

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::Path;
use crate::app::AppState;
use crate::error::Result;
use crate::http::extract::{Auth, Json};
use crate::ids::CommentId;
use crate::tickets::comments;
use crate::tickets::model::{CommentEdit, CommentView, NewComment};

async fn list(app: &AppState, auth: Auth, id: &str) -> Result<axum::Json<serde_json::Value>> {
    let views = comments::list(&app.store, &auth.0, id).await?;
    Ok(axum::Json(json!({ "comments": views })))
}

async fn create(
    app: &AppState,
    auth: Auth,
    id: &str,
    body: NewComment,
) -> Result<(StatusCode, axum::Json<CommentView>)> {
    let c = comments::add(
        &app.store,
        &auth.0,
        id,
        &body.body,
        body.is_internal,
        &body.attachment_ids,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

macro_rules! thread_routes {
    ($list:ident, $create:ident, $path:literal) => {
        /// The thread, oldest first (internal notes included for staff).
        #[utoipa::path(get, path = $path, tag = "comments", security(("bearer" = [])), params(("id" = String, Path)),
            responses((status = 200, description = "`{comments: [...]}`")))]
        pub async fn $list(State(app): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<serde_json::Value>> {
            list(&app, auth, &id).await
        }

        /// Adds a public reply or an internal note (`is_internal`, alias `internal`).
        #[utoipa::path(post, path = $path, tag = "comments", request_body = NewComment, security(("bearer" = [])), params(("id" = String, Path)),
            responses((status = 201, body = CommentView), (status = 403, body = crate::http::problem::Problem)))]
        pub async fn $create(State(app): State<AppState>, auth: Auth, Path(id): Path<String>, Json(body): Json<NewComment>) -> Result<(StatusCode, axum::Json<CommentView>)> {
            create(&app, auth, &id, body).await
        }
    };
}

thread_routes!(list_comments, create_comment, "/api/tickets/{id}/comments");
thread_routes!(list_messages, create_message, "/api/tickets/{id}/messages");
thread_routes!(
    list_responses,
    create_response,
    "/api/tickets/{id}/responses"
);

/// Edits a comment (author or admin); the old body stays in the timeline.
#[utoipa::path(put, path = "/api/tickets/{id}/comments/{comment_id}", tag = "comments", request_body = CommentEdit, security(("bearer" = [])),
    params(("id" = String, Path), ("comment_id" = String, Path)), responses((status = 200, body = CommentView)))]
pub async fn update_comment(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path((id, cid)): Path<(String, CommentId)>,
    Json(body): Json<CommentEdit>,
) -> Result<axum::Json<CommentView>> {
    let c = comments::edit(&app.store, &actor, &id, cid, &body.body).await?;
    Ok(axum::Json(CommentView::from(&c)))
}

/// Deletes a comment (author or admin); the body stays in the timeline.
#[utoipa::path(delete, path = "/api/tickets/{id}/comments/{comment_id}", tag = "comments", security(("bearer" = [])),
    params(("id" = String, Path), ("comment_id" = String, Path)), responses((status = 204)))]
pub async fn delete_comment(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path((id, cid)): Path<(String, CommentId)>,
) -> Result<StatusCode> {
    comments::delete(&app.store, &actor, &id, cid).await?;
    Ok(StatusCode::NO_CONTENT)
}
