//! JSON API handlers, one file per area, collected into one OpenAPI-described router.

pub mod admin;
pub mod ai;
pub mod analytics;
pub mod auth;
pub mod canned;
pub mod categories;
pub mod comments;
pub mod customers;
pub mod email;
pub mod groups;
pub mod integrations;
pub mod kb;
pub mod openapi;
pub mod portal;
pub mod rules;
pub mod sla;
pub mod tickets;
pub mod users;
pub mod webhooks;
pub mod workflow;
pub mod workspaces;

use std::collections::HashMap;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::{Error, FieldError};

#[derive(OpenApi)]
#[openapi(
    info(title = "Ferrodesk API", description = "Self-hosted customer-support helpdesk. Errors are RFC 9457 problem+json."),
    modifiers(&BearerAuth),
    components(schemas(crate::http::problem::Problem))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every API route with its OpenAPI description.
// Long: the route table, one line per route.
pub fn routes() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::create_token, auth::list_tokens))
        .routes(routes!(auth::delete_token))
        .routes(routes!(auth::me))
        .routes(routes!(tickets::list_tickets, tickets::create_ticket))
        .routes(routes!(tickets::queue_stats))
        .routes(routes!(tickets::incremental_tickets))
        .routes(routes!(analytics::overview))
        .routes(routes!(analytics::volume))
        .routes(routes!(analytics::distribution))
        .routes(routes!(analytics::agents))
        .routes(routes!(analytics::sla_detailed))
        .routes(routes!(analytics::csat))
        .routes(routes!(analytics::peak_hours))
        .routes(routes!(analytics::export))
        .routes(routes!(analytics::send_daily_queue))
        .routes(routes!(
            analytics::get_report_settings,
            analytics::put_report_settings
        ))
        .routes(routes!(
            categories::list_categories,
            categories::create_category
        ))
        .routes(routes!(categories::order_categories))
        .routes(routes!(canned::list_canned, canned::create_canned))
        .routes(routes!(
            canned::get_canned,
            canned::update_canned,
            canned::patch_canned,
            canned::delete_canned
        ))
        .routes(routes!(ai::get_summary))
        .routes(routes!(ai::refresh_summary))
        .routes(routes!(ai::list_summaries))
        .routes(routes!(ai::conversation_summary))
        .routes(routes!(ai::draft_response))
        .routes(routes!(ai::similar_tickets))
        .routes(routes!(ai::ticket_suggestions))
        .routes(routes!(ai::usage))
        .routes(routes!(ai::get_ai_settings, ai::put_ai_settings))
        .routes(routes!(kb::list_articles, kb::create_article))
        .routes(routes!(
            kb::get_article,
            kb::update_article,
            kb::patch_article,
            kb::delete_article
        ))
        .routes(routes!(kb::article_versions))
        .routes(routes!(kb::public_search))
        .routes(routes!(kb::public_article))
        .routes(routes!(rules::list_rules, rules::create_rule))
        .routes(routes!(
            rules::get_rule,
            rules::replace_rule,
            rules::patch_rule,
            rules::delete_rule
        ))
        .routes(routes!(workflow::list_watchers, workflow::add_watcher))
        .routes(routes!(workflow::remove_watcher))
        .routes(routes!(workflow::merge_tickets))
        .routes(routes!(workflow::list_notifications))
        .routes(routes!(canned::use_canned))
        .routes(routes!(canned::render_canned))
        .routes(routes!(
            categories::get_category,
            categories::update_category,
            categories::patch_category,
            categories::archive_category
        ))
        .routes(routes!(
            tickets::get_ticket,
            tickets::update_ticket,
            tickets::replace_ticket,
            tickets::delete_ticket
        ))
        .routes(routes!(tickets::set_status))
        .routes(routes!(tickets::resolve_ticket))
        .routes(routes!(tickets::close_ticket))
        .routes(routes!(tickets::reopen_ticket))
        .routes(routes!(tickets::assign_ticket, tickets::assign_ticket_put))
        .routes(routes!(tickets::unassign_ticket))
        .routes(routes!(tickets::mark_read))
        .routes(routes!(tickets::list_events))
        .routes(routes!(comments::list_comments, comments::create_comment))
        .routes(routes!(comments::list_messages, comments::create_message))
        .routes(routes!(comments::list_responses, comments::create_response))
        .routes(routes!(comments::update_comment, comments::delete_comment))
        .routes(routes!(
            customers::list_customers,
            customers::create_customer
        ))
        .routes(routes!(customers::get_customer, customers::update_customer))
        .routes(routes!(customers::customer_tickets))
        .routes(routes!(customers::export_customer))
        .routes(routes!(customers::erase_customer))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(users::get_user, users::update_user))
        .routes(routes!(users::list_user_tokens))
        .routes(routes!(users::revoke_user_token))
        .routes(routes!(groups::list_groups, groups::create_group))
        .routes(routes!(groups::get_group, groups::update_group))
        .routes(routes!(sla::list_policies, sla::create_policy))
        .routes(routes!(
            sla::get_policy,
            sla::update_policy,
            sla::delete_policy
        ))
        .routes(routes!(sla::get_business_hours, sla::put_business_hours))
        .routes(routes!(sla::get_escalation, sla::put_escalation))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(admin::list_jobs))
        .routes(routes!(admin::audit_log))
        .routes(routes!(admin::retry_job))
        .routes(routes!(email::inbound_email))
        .routes(routes!(
            email::get_email_settings,
            email::put_email_settings
        ))
        .routes(routes!(email::poll_imap))
        .routes(routes!(email::download_attachment))
        .merge(
            // Uploads are streamed and limited by FERRODESK_MAX_ATTACHMENT_BYTES in the handler,
            // not by the JSON body limit.
            OpenApiRouter::new()
                .routes(routes!(email::upload_attachment))
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .routes(routes!(portal::submit))
        .routes(routes!(portal::lookup))
        .routes(routes!(portal::magic_link))
        .routes(routes!(portal::create_session, portal::delete_session))
        .routes(routes!(portal::my_tickets))
        .routes(routes!(portal::view))
        .routes(routes!(portal::attachment))
        .routes(routes!(portal::reply))
        .routes(routes!(portal::satisfaction))
        .routes(routes!(portal::from_chat))
        .routes(routes!(portal::escalate))
        .routes(routes!(portal::rotate_token))
        .routes(routes!(integrations::thulium_webhook))
        .routes(routes!(
            integrations::wecom_verify,
            integrations::wecom_message
        ))
        .routes(routes!(
            integrations::get_settings,
            integrations::put_settings
        ))
        .routes(routes!(integrations::escalate_ticket))
        .routes(routes!(integrations::list_escalations))
        .routes(routes!(integrations::cancel_escalation))
        .routes(routes!(workspaces::create_workspace))
        .routes(routes!(
            workspaces::get_settings,
            workspaces::update_settings
        ));
    let mut doc = serde_json::to_value(router.get_openapi()).unwrap_or_default();
    openapi::conform(&mut doc);
    let json = doc.to_string();
    router.route(
        "/api/openapi.json",
        axum::routing::get(move || {
            let json = json.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    json,
                )
            }
        }),
    )
}

/// Query parameters as a map (a key given twice is refused).
pub type Params = HashMap<String, String>;

/// Refuses query parameters a route does not read (docs/api.md: unknown parameters are
/// reported, not ignored), every one at once, in name order.
pub fn only(p: &Params, known: &[&str]) -> Result<(), Error> {
    let mut unknown: Vec<&String> = p.keys().filter(|k| !known.contains(&k.as_str())).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort();
    Err(Error::Validation(
        unknown
            .into_iter()
            .map(|k| FieldError::new(k.clone(), "unknown query parameter"))
            .collect(),
    ))
}

/// Parses `page` and `limit` for simple offset lists.
pub fn page_params(p: &Params) -> Result<(u64, u64), Error> {
    let page = crate::validate::page_number(p.get("page").map(String::as_str));
    let limit = crate::validate::page_limit(p.get("limit").map(String::as_str));
    match (page, limit) {
        (Ok(page), Ok(limit)) => Ok((page, limit)),
        (page, limit) => Err(Error::Validation(
            [page.err(), limit.err()].into_iter().flatten().collect(),
        )),
    }
}

/// The `pagination` object of offset lists. The ticket list adds `total_is_exact`: its
/// counts stop at `store::tickets::COUNT_CAP`.
#[must_use]
pub fn pagination(page: u64, limit: u64, total: i64) -> serde_json::Value {
    let total_u = u64::try_from(total).unwrap_or(0);
    serde_json::json!({"page": page, "limit": limit, "total": total, "totalPages": total_u.div_ceil(limit)})
}

/// Query-string extractor whose failures are problem documents.
pub struct Query(pub Params);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Query {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let _ = state;
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
                .map_err(|_| Error::bad_request("the query string could not be parsed"))?;
        let mut q = Params::with_capacity(pairs.len());
        let mut bad: Vec<FieldError> = Vec::new();
        for (k, v) in pairs {
            // PostgreSQL text cannot hold NUL; refuse it here instead of failing in the database.
            if k.contains('\0') || v.contains('\0') {
                bad.push(FieldError::new(
                    k.replace('\0', ""),
                    "must not contain NUL characters",
                ));
                continue;
            }
            match q.entry(k) {
                std::collections::hash_map::Entry::Occupied(e) => bad.push(FieldError::new(
                    e.key().clone(),
                    "is given more than once; send one value (lists are comma separated)",
                )),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(v);
                }
            }
        }
        if bad.is_empty() {
            Ok(Query(q))
        } else {
            bad.dedup_by(|a, b| a.field == b.field);
            Err(Error::Validation(bad))
        }
    }
}

/// Path-parameter extractor whose failures are problem documents (404 for a bad id).
pub struct Path<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S>
    for Path<T>
{
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|_| Error::NotFound)
    }
}
