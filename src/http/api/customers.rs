//! `/api/customers`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Path, Query, page_params, pagination};
use crate::app::AppState;
use crate::clock::now_micros;
use crate::error::Result;
use crate::http::etag;
use crate::http::extract::{Auth, IfMatch, Json};
use crate::ids::CustomerId;
use crate::store;
use crate::tickets::model::TicketView;
use crate::workspace::customers::{self, CustomerPatch, CustomerView, NewCustomer};
use crate::workspace::privacy::{self, CustomerExport, ErasureReport};

fn customer_response(status: StatusCode, c: &store::customers::CustomerRow) -> Response {
    let mut res = (status, axum::Json(CustomerView::from(c))).into_response();
    res.headers_mut().insert(header::ETAG, etag(c.version));
    res
}

/// Customers, newest first; `q` matches email or name.
#[utoipa::path(get, path = "/api/customers", tag = "customers", security(("bearer" = [])),
    params(("q" = Option<String>, Query), ("page" = Option<u64>, Query), ("limit" = Option<u64>, Query)),
    responses((status = 200, description = "`{customers, pagination}`")))]
pub async fn list_customers(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Query(p): Query,
) -> Result<axum::Json<serde_json::Value>> {
    super::only(&p, &["page", "limit", "q"])?;
    let (page, limit) = page_params(&p)?;
    let (rows, total) = customers::list(
        &app.store,
        &actor,
        p.get("q").map(String::as_str),
        limit,
        (page - 1) * limit,
    )
    .await?;
    Ok(axum::Json(
        json!({"customers": rows.iter().map(CustomerView::from).collect::<Vec<_>>(), "pagination": pagination(page, limit, total)}),
    ))
}

/// Creates a customer (409 `duplicate` for a known email).
#[utoipa::path(post, path = "/api/customers", tag = "customers", request_body = NewCustomer, security(("bearer" = [])),
    responses((status = 201, body = CustomerView), (status = 409, body = crate::http::problem::Problem)))]
pub async fn create_customer(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Json(body): Json<NewCustomer>,
) -> Result<Response> {
    let c = customers::create(&app.store, &actor, body).await?;
    Ok(customer_response(StatusCode::CREATED, &c))
}

/// One customer.
#[utoipa::path(get, path = "/api/customers/{id}", tag = "customers", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = CustomerView), (status = 404, body = crate::http::problem::Problem)))]
pub async fn get_customer(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CustomerId>,
) -> Result<Response> {
    let c = customers::get(&app.store, &actor, id).await?;
    Ok(customer_response(StatusCode::OK, &c))
}

/// Updates a customer.
#[utoipa::path(patch, path = "/api/customers/{id}", tag = "customers", request_body = CustomerPatch, security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)), responses((status = 200, body = CustomerView)))]
pub async fn update_customer(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CustomerId>,
    IfMatch(v): IfMatch,
    Json(body): Json<CustomerPatch>,
) -> Result<Response> {
    let c = customers::update(&app.store, &actor, id, body, v).await?;
    Ok(customer_response(StatusCode::OK, &c))
}

/// The customer's tickets, newest first.
#[utoipa::path(get, path = "/api/customers/{id}/tickets", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path), ("page" = Option<u64>, Query), ("limit" = Option<u64>, Query)),
    responses((status = 200, description = "`{tickets}`")))]
pub async fn customer_tickets(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CustomerId>,
    Query(p): Query,
) -> Result<axum::Json<CustomerTickets>> {
    super::only(&p, &["page", "limit"])?;
    let (page, limit) = page_params(&p)?;
    let c = customers::get(&app.store, &actor, id).await?;
    let mut tx = app.store.read().await?;
    let rows =
        store::tickets::of_customer(&mut tx, actor.workspace_id, c.id, limit, (page - 1) * limit)
            .await?;
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    let tags = store::tickets::tags_of(&mut tx, actor.workspace_id, &ids).await?;
    let now = now_micros();
    let views: Vec<TicketView> = rows
        .iter()
        .map(|r| {
            TicketView::from_row(
                r,
                tags.iter()
                    .filter(|(t, _)| *t == r.id)
                    .map(|(_, g)| g.clone())
                    .collect(),
                now,
            )
        })
        .collect();
    Ok(axum::Json(CustomerTickets { tickets: views }))
}

/// A page of [`customer_tickets`], written straight to the response like the ticket list's
/// (not through a JSON value of every ticket's fields).
#[derive(serde::Serialize)]
pub struct CustomerTickets {
    tickets: Vec<TicketView>,
}

/// Everything held about the customer (GDPR article 15, admin only): profile, tickets with
/// their messages and attachment lists, ratings, their messages elsewhere, mail sent to them.
/// Internal notes only with `include_internal=true`. Recorded in the audit log.
#[utoipa::path(get, path = "/api/customers/{id}/export", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path), ("include_internal" = Option<bool>, Query)),
    responses((status = 200, body = CustomerExport), (status = 403, body = crate::http::problem::Problem),
        (status = 404, body = crate::http::problem::Problem)))]
pub async fn export_customer(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CustomerId>,
    Query(p): Query,
) -> Result<Response> {
    super::only(&p, &["include_internal"])?;
    let internal = match p.get("include_internal").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(crate::error::Error::field(
                "include_internal",
                "must be true or false",
            ));
        }
    };
    let doc = privacy::export(&app.store, &actor, id, internal).await?;
    let mut res = axum::Json(doc).into_response();
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        header::HeaderValue::from_str(&format!(
            "attachment; filename=\"customer-{}.json\"",
            id.0.simple()
        ))
        .map_err(anyhow::Error::from)?,
    );
    Ok(res)
}

/// Erases the customer's personal data (GDPR article 17, admin only, irreversible): name,
/// email, phone, company, notes, the text of their tickets and messages, their files and
/// stored mail; the tickets' skeleton stays for statistics. Recorded in the audit log.
#[utoipa::path(post, path = "/api/customers/{id}/erase", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ErasureReport), (status = 403, body = crate::http::problem::Problem),
        (status = 404, body = crate::http::problem::Problem), (status = 409, body = crate::http::problem::Problem)))]
pub async fn erase_customer(
    State(app): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<CustomerId>,
) -> Result<axum::Json<ErasureReport>> {
    Ok(axum::Json(privacy::erase(&app, &actor, id).await?))
}
