//! Admin: the knowledge base — the article list with views and deflection counts, and the
//! article editor (Markdown with a rendered preview, status, category, tags, saved versions).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;

use super::*;
use crate::app::AppState;
use crate::http::ui::{Fields, Staff, StaffForm, UiResult, field};
use crate::ids::{ArticleId, CategoryId};
use crate::kb::{self, ArticlePatch, ArticleView, NewArticle, VersionView};
use crate::store::kb::ArticleFilter;
use crate::tickets::status::ArticleStatus;

#[derive(Template)]
#[template(path = "admin/kb.html")]
pub(super) struct KbPage {
    csrf: String,
    articles: Vec<ArticleView>,
    categories: Vec<(String, String, bool)>,
}

async fn category_choices(
    app: &AppState,
    staff: &Staff,
    current: Option<CategoryId>,
) -> Result<Vec<(String, String, bool)>, UiError> {
    let list = crate::workflow::categories::list(&app.store, &staff.actor, false).await?;
    Ok(list
        .into_iter()
        .map(|c| (c.id.to_string(), c.name, Some(c.id) == current))
        .collect())
}

pub(super) async fn kb_list(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let (articles, _) =
        kb::list(&app.store, &staff.actor, &ArticleFilter::default(), 1, 200).await?;
    let categories = category_choices(&app, &staff, None).await?;
    render(
        &staff,
        "kb",
        &q,
        &KbPage {
            csrf: staff.csrf.clone(),
            articles,
            categories,
        },
    )
}

fn tags(form: &Fields) -> Vec<String> {
    field(form, "tags")
        .split([',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn status(form: &Fields) -> Result<ArticleStatus, UiError> {
    ArticleStatus::parse(field(form, "status")).ok_or_else(|| {
        UiError(Error::field(
            "status",
            format!("must be one of: {}", ArticleStatus::expected()),
        ))
    })
}

pub(super) async fn kb_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    let form = &f.form;
    let new = NewArticle {
        title: field(form, "title").to_owned(),
        body: field(form, "body").to_owned(),
        status: Some(status(form)?),
        category_id: id(form, "category_id")?,
        tags: Some(tags(form)),
    };
    let a = kb::create(&app.store, &f.staff.actor, new).await?;
    Ok(go(&headers, &format!("/admin/kb/{}?done=saved", a.id)))
}

#[derive(Template)]
#[template(path = "admin/kb_edit.html")]
pub(super) struct KbEditPage {
    csrf: String,
    a: ArticleView,
    tags: String,
    categories: Vec<(String, String, bool)>,
    versions: Vec<VersionView>,
}

pub(super) async fn kb_edit(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<ArticleId>,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let a = kb::get(&app.store, &staff.actor, id).await?;
    let versions = kb::versions(&app.store, &staff.actor, id).await?;
    let categories = category_choices(&app, &staff, a.category_id).await?;
    render(
        &staff,
        "kb",
        &q,
        &KbEditPage {
            csrf: staff.csrf.clone(),
            tags: a.tags.join(", "),
            a,
            categories,
            versions,
        },
    )
}

pub(super) async fn kb_save(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<ArticleId>,
    f: StaffForm<Fields>,
) -> UiResult {
    let form = &f.form;
    if field(form, "action") == "delete" {
        kb::delete(&app.store, &f.staff.actor, id).await?;
        return done(&headers, "kb", "deleted");
    }
    let patch = ArticlePatch {
        title: Some(field(form, "title").to_owned()),
        body: Some(field(form, "body").to_owned()),
        status: Some(status(form)?),
        category_id: cleared(super::id(form, "category_id")?),
        tags: Some(tags(form)),
    };
    // The version the editor was opened at: a save over someone else's is refused (412).
    let version = field(form, "version").parse::<i64>().ok();
    kb::update(&app.store, &f.staff.actor, id, patch, version).await?;
    Ok(go(&headers, &format!("/admin/kb/{id}?done=saved")))
}
