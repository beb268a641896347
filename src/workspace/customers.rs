//! Customers (requesters): list and search, create, update, their tickets.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::error::{Code, Error, FieldError, Result};
use crate::ids::CustomerId;
use crate::store::customers::CustomerRow;
use crate::store::{self, Store};
use crate::validate;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: CustomerId,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub notes: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    /// When the customer's personal data was erased (`POST /api/customers/{id}/erase`).
    pub erased_at: Option<String>,
}

impl From<&CustomerRow> for CustomerView {
    fn from(c: &CustomerRow) -> Self {
        CustomerView {
            id: c.id,
            email: c.email.clone(),
            name: c.name.clone(),
            phone: c.phone.clone(),
            company: c.company.clone(),
            notes: c.notes.clone(),
            version: c.version,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            erased_at: c.erased_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub notes: Option<String>,
}

fn opt(
    field: &str,
    v: Option<&String>,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    v.and_then(|s| {
        validate::bounded(field, s, max)
            .map_err(|e| errors.push(e))
            .ok()
    })
    .filter(|s| !s.is_empty())
}

pub async fn create(store: &Store, actor: &Actor, input: NewCustomer) -> Result<CustomerRow> {
    actor.require(Permission::ManageCustomers)?;
    let mut errors = Vec::new();
    let email = validate::email("email", &input.email)
        .map_err(|e| errors.push(e))
        .ok();
    let name = opt("name", input.name.as_ref(), 255, &mut errors);
    let phone = opt("phone", input.phone.as_ref(), 50, &mut errors);
    let company = opt("company", input.company.as_ref(), 255, &mut errors);
    let notes = opt("notes", input.notes.as_ref(), 10_000, &mut errors);
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let now = now_micros();
    let c = CustomerRow {
        id: CustomerId::new(),
        workspace_id: actor.workspace_id,
        name: name.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned()),
        email,
        phone,
        company,
        notes: notes.unwrap_or_default(),
        version: 1,
        created_at: now,
        updated_at: now,
        erased_at: None,
    };
    let mut tx = store.begin().await?;
    store::customers::insert(&mut tx, &c).await?;
    tx.commit().await?;
    Ok(c)
}

pub async fn update(
    store: &Store,
    actor: &Actor,
    id: CustomerId,
    patch: CustomerPatch,
    if_match: Option<i64>,
) -> Result<CustomerRow> {
    actor.require(Permission::ManageCustomers)?;
    let mut tx = store.begin().await?;
    let mut c = store::customers::find(&mut tx, actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    if c.erased_at.is_some() {
        return Err(Error::conflict(
            "the customer's personal data was erased; create a new customer",
        ));
    }
    if let Some(v) = if_match.filter(|v| *v != c.version) {
        return Err(Error::Client(
            Code::PreconditionFailed,
            format!("the customer is at version {}, not {v}", c.version),
        ));
    }
    let mut errors = Vec::new();
    if let Some(e) = &patch.email {
        match validate::email("email", e) {
            Ok(e) => c.email = e,
            Err(e) => errors.push(e),
        }
    }
    if let Some(n) = &patch.name {
        match validate::required_text("name", n, 255) {
            Ok(n) => c.name = n,
            Err(e) => errors.push(e),
        }
    }
    if patch.phone.is_some() {
        c.phone = opt("phone", patch.phone.as_ref(), 50, &mut errors);
    }
    if patch.company.is_some() {
        c.company = opt("company", patch.company.as_ref(), 255, &mut errors);
    }
    if patch.notes.is_some() {
        c.notes = opt("notes", patch.notes.as_ref(), 10_000, &mut errors).unwrap_or_default();
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    c.updated_at = now_micros();
    if !store::customers::update(&mut tx, &c).await? {
        return Err(Error::conflict("the customer was changed by someone else"));
    }
    c.version += 1;
    tx.commit().await?;
    Ok(c)
}

pub async fn get(store: &Store, actor: &Actor, id: CustomerId) -> Result<CustomerRow> {
    actor.require(Permission::ViewCustomers)?;
    let mut tx = store.read().await?;
    store::customers::find(&mut tx, actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)
}

pub async fn list(
    store: &Store,
    actor: &Actor,
    q: Option<&str>,
    limit: u64,
    offset: u64,
) -> Result<(Vec<CustomerRow>, i64)> {
    actor.require(Permission::ViewCustomers)?;
    let mut tx = store.read().await?;
    store::customers::list(
        &mut tx,
        actor.workspace_id,
        q.map(str::trim).filter(|s| !s.is_empty()),
        limit,
        offset,
    )
    .await
}
