//! Workspaces (tenants): creation, settings, and the first start of an empty database.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Actor, Permission, password};
use crate::clock::now_micros;
use crate::error::{Code, Error, FieldError, Result};
use crate::ids::{UserId, WorkspaceId};
use crate::store::users::UserRow;
use crate::store::workspaces::WorkspaceRow;
use crate::store::{self, Store, Tx};
use crate::tickets::numbering::NumberFormat;
use crate::tickets::status::Role;
use crate::validate;

/// `{id,name,slug}` as embedded in `/api/me`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkspaceRef {
    pub id: WorkspaceId,
    pub name: String,
    pub slug: String,
}

impl From<&WorkspaceRow> for WorkspaceRef {
    fn from(w: &WorkspaceRow) -> Self {
        WorkspaceRef {
            id: w.id,
            name: w.name.clone(),
            slug: w.slug.clone(),
        }
    }
}

/// `POST /api/workspaces` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    pub name: String,
    pub admin_email: String,
    pub admin_password: String,
    pub admin_name: Option<String>,
}

/// Workspace settings (`GET/PUT /api/settings/workspace`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkspaceSettings {
    pub id: WorkspaceId,
    pub name: String,
    pub slug: String,
    pub ticket_number_format: String,
    pub ticket_number_start: i64,
    pub support_email: Option<String>,
    pub timezone: String,
    pub version: i64,
}

impl From<&WorkspaceRow> for WorkspaceSettings {
    fn from(w: &WorkspaceRow) -> Self {
        WorkspaceSettings {
            id: w.id,
            name: w.name.clone(),
            slug: w.slug.clone(),
            ticket_number_format: w.ticket_number_format.clone(),
            ticket_number_start: w.ticket_number_start,
            support_email: w.support_email.clone(),
            timezone: w.timezone.clone(),
            version: w.version,
        }
    }
}

/// `PUT /api/settings/workspace` body; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub name: Option<String>,
    pub ticket_number_format: Option<String>,
    pub ticket_number_start: Option<i64>,
    pub support_email: Option<String>,
    pub timezone: Option<String>,
}

/// A URL-safe slug from a name (`Acme Support` → `acme-support`).
#[must_use]
pub fn slugify(name: &str) -> String {
    let mut s = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-').to_owned();
    if s.is_empty() {
        "workspace".to_owned()
    } else {
        s.chars().take(48).collect()
    }
}

/// Inserts a workspace and its first admin in `tx`.
pub async fn create_with_admin(
    tx: &mut Tx,
    name: &str,
    slug: &str,
    email: &str,
    admin_name: &str,
    password_hash: String,
    owner: bool,
) -> Result<(WorkspaceRow, UserRow)> {
    let now = now_micros();
    let ws = WorkspaceRow {
        id: WorkspaceId::new(),
        name: name.to_owned(),
        slug: slug.to_owned(),
        ticket_number_format: "#{n}".into(),
        ticket_number_start: 1001,
        support_email: None,
        timezone: "UTC".into(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::workspaces::insert(tx, &ws).await?;
    let user = UserRow {
        id: UserId::new(),
        workspace_id: ws.id,
        email: email.to_owned(),
        name: admin_name.to_owned(),
        role: Role::Admin,
        password_hash: Some(password_hash),
        active: true,
        available: true,
        is_owner: owner,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::users::insert(tx, &user).await?;
    Ok((ws, user))
}

/// `POST /api/workspaces` (owner only).
pub async fn create(
    store: &Store,
    actor: &Actor,
    input: NewWorkspace,
) -> Result<(WorkspaceRow, UserRow)> {
    actor.require_owner()?;
    let mut errors = Vec::new();
    let name = validate::required_text("name", &input.name, 100)
        .map_err(|e| errors.push(e))
        .ok();
    let email = validate::email("admin_email", &input.admin_email)
        .map_err(|e| errors.push(e))
        .ok();
    if let Err(Error::Validation(mut e)) = password::validate(&input.admin_password) {
        e.iter_mut().for_each(|f| f.field = "admin_password".into());
        errors.extend(e);
    }
    let (Some(name), Some(email)) = (name, email) else {
        return Err(Error::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let hash = password::hash(input.admin_password).await?;
    let admin_name = match &input.admin_name {
        Some(n) => {
            validate::required_text("admin_name", n, 255).map_err(|e| Error::Validation(vec![e]))?
        }
        None => "Admin".into(),
    };
    let mut tx = store.begin().await?;
    let slug = slugify(&name);
    if store::workspaces::find_by_slug(&mut tx, &slug)
        .await?
        .is_some()
    {
        return Err(Error::duplicate(
            "a workspace with this name already exists",
        ));
    }
    let out = create_with_admin(&mut tx, &name, &slug, &email, &admin_name, hash, false).await?;
    tx.commit().await?;
    tracing::info!(workspace.id = %out.0.id, "Created workspace");
    Ok(out)
}

/// Reads the actor's workspace.
pub async fn get(store: &Store, actor: &Actor) -> Result<WorkspaceRow> {
    let mut tx = store.read().await?;
    store::workspaces::find(&mut tx, actor.workspace_id)
        .await?
        .ok_or(Error::NotFound)
}

/// `PUT /api/settings/workspace` (admin).
pub async fn update_settings(
    store: &Store,
    actor: &Actor,
    patch: SettingsPatch,
    if_match: Option<i64>,
) -> Result<WorkspaceRow> {
    actor.require(Permission::ManageSettings)?;
    let mut tx = store.begin().await?;
    let mut w = store::workspaces::find(&mut tx, actor.workspace_id)
        .await?
        .ok_or(Error::NotFound)?;
    if let Some(v) = if_match.filter(|v| *v != w.version) {
        return Err(Error::Client(
            Code::PreconditionFailed,
            format!("the settings are at version {}, not {v}", w.version),
        ));
    }
    let mut errors: Vec<FieldError> = Vec::new();
    if let Some(n) = &patch.name {
        match validate::required_text("name", n, 100) {
            Ok(n) => w.name = n,
            Err(e) => errors.push(e),
        }
    }
    if let Some(f) = &patch.ticket_number_format {
        match NumberFormat::parse(f) {
            Ok(f) => w.ticket_number_format = f.as_str().to_owned(),
            Err(e) => errors.push(e),
        }
    }
    if let Some(s) = patch.ticket_number_start {
        if (1..=1_000_000_000).contains(&s) {
            w.ticket_number_start = s;
        } else {
            errors.push(FieldError::new(
                "ticket_number_start",
                "must be from 1 to 1000000000",
            ));
        }
    }
    if let Some(e) = &patch.support_email {
        if e.trim().is_empty() {
            w.support_email = None;
        } else {
            match validate::email("support_email", e) {
                Ok(e) => w.support_email = Some(e),
                Err(e) => errors.push(e),
            }
        }
    }
    if let Some(tz) = &patch.timezone {
        if jiff::tz::TimeZone::get(tz).is_ok() {
            w.timezone = tz.clone();
        } else {
            errors.push(FieldError::new(
                "timezone",
                format!(
                    "`{}` is not an IANA time zone such as Europe/Warsaw",
                    tz.chars().take(64).collect::<String>()
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    w.updated_at = now_micros();
    if !store::workspaces::update(&mut tx, &w).await? {
        return Err(Error::conflict("the settings were changed by someone else"));
    }
    w.version += 1;
    let mut changes = serde_json::json!({
        "name": patch.name,
        "ticket_number_format": patch.ticket_number_format,
        "ticket_number_start": patch.ticket_number_start,
        "support_email": patch.support_email,
        "timezone": patch.timezone,
    });
    if let Some(m) = changes.as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    super::audit::record(
        &mut tx,
        actor,
        "workspace.updated",
        "workspace",
        Some(w.id.to_string()),
        changes,
    );
    tx.commit().await?;
    Ok(w)
}

/// What the first start did.
pub struct Bootstrap {
    /// The generated password, when none was configured (print it once).
    pub generated_password: Option<String>,
    pub admin_email: String,
}

/// On an empty database: workspace `Default` and its first admin, the instance owner.
pub async fn bootstrap(
    store: &Store,
    email: Option<&str>,
    password_in: Option<&str>,
) -> anyhow::Result<Option<Bootstrap>> {
    let mut tx = store.begin().await?;
    if store::users::any_exist(&mut tx).await? {
        return Ok(None);
    }
    let email = match email {
        Some(e) => validate::email("FERRODESK_ADMIN_EMAIL", e)
            .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?,
        None => "admin@localhost".to_owned(),
    };
    let (password, generated) = match password_in {
        Some(p) => {
            password::validate(p).map_err(|_| {
                anyhow::anyhow!("FERRODESK_ADMIN_PASSWORD must be 8 to 256 characters")
            })?;
            (p.to_owned(), None)
        }
        None => {
            let p = crate::auth::tokens::random_b64(18);
            (p.clone(), Some(p))
        }
    };
    let hash = password::hash(password).await?;
    create_with_admin(&mut tx, "Default", "default", &email, "Admin", hash, true).await?;
    tx.commit().await?;
    Ok(Some(Bootstrap {
        generated_password: generated,
        admin_email: email,
    }))
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slugify("Acme Support"), "acme-support");
        assert_eq!(slugify("  Ünïcode & Co. "), "n-code-co");
        assert_eq!(slugify("!!!"), "workspace");
    }
}
