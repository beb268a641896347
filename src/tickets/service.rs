//! Ticket use cases: validate → store → record events, all in one transaction.

use serde_json::json;

use super::model::{Links, NewTicket, Patch, TicketPatch, TicketView};
use super::numbering::NumberFormat;
use super::status::{Channel, Kind, Priority, Role, Status};
use crate::app::App;
use crate::auth::{Actor, Permission};
use crate::clock::now_micros;
use crate::error::{Code, Error, FieldError, Result};
use crate::ids::{CustomerId, EventId, TicketId, UserId, WorkspaceId};
use crate::store::customers::CustomerRow;
use crate::store::events::{DomainEventRow, EventRow};
use crate::store::tickets::TicketRow;
use crate::store::{self, Tx, dialect};
use crate::validate;
use crate::workflow::rules::model::Trigger;

/// Who caused a change, for the timeline.
#[derive(Debug, Clone, Copy)]
pub struct Author {
    pub kind: &'static str,
    pub id: Option<uuid::Uuid>,
}

impl Author {
    #[must_use]
    pub fn user(a: &Actor) -> Self {
        Author {
            kind: "agent",
            id: Some(a.user_id.0),
        }
    }
    pub const SYSTEM: Author = Author {
        kind: "system",
        id: None,
    };
}

/// Writes a timeline entry.
pub async fn record(
    tx: &mut Tx,
    t: &TicketRow,
    by: Author,
    event_type: &str,
    from: Option<&str>,
    to: Option<&str>,
    metadata: serde_json::Value,
) -> Result<()> {
    store::events::insert(
        tx,
        &EventRow {
            id: EventId::new(),
            workspace_id: t.workspace_id,
            ticket_id: t.id,
            event_type: event_type.to_owned(),
            actor_type: by.kind.to_owned(),
            actor_id: by.id,
            from_status: from.map(str::to_owned),
            to_status: to.map(str::to_owned),
            metadata: metadata.to_string(),
            created_at: now_micros(),
        },
    )
    .await
}

/// Writes a domain event of the catalog (SPEC §5 Webhooks) to the outbox, in the same
/// transaction as the change. `data` carries the ticket as it is after the change.
pub async fn publish(
    tx: &mut Tx,
    t: &TicketRow,
    tags: &[String],
    event_type: &str,
    extra: serde_json::Value,
) -> Result<()> {
    let now = now_micros();
    let internal = extra["comment"]["is_internal"] == serde_json::Value::Bool(true);
    let mut data = json!({ "ticket": TicketView::from_row(t, tags.to_vec(), now) });
    if let (Some(obj), serde_json::Value::Object(more)) = (data.as_object_mut(), extra) {
        obj.extend(more);
    }
    let payload =
        json!({ "event": event_type, "timestamp": crate::clock::rfc3339(now), "data": data })
            .to_string();
    crate::webhooks::fan_out(tx, t.workspace_id, event_type, t.id.0, &payload, internal).await?;
    crate::integrations::crm::on_event(tx, t, event_type).await?;
    store::events::publish(
        tx,
        &DomainEventRow {
            id: EventId::new(),
            workspace_id: t.workspace_id,
            event_type: event_type.to_owned(),
            subject_id: t.id.0,
            payload,
            created_at: now,
        },
    )
    .await
}

pub fn document_head(t: &TicketRow) -> String {
    // The email also goes in as its parts: PostgreSQL's parser keeps an address as one word,
    // and a search for the domain should find it on both backends.
    let parts = t.requester_email.replace(['@', '.'], " ");
    format!(
        "{} {} {} {} {} {} {}",
        t.ticket_number,
        t.number,
        t.subject,
        t.description,
        t.requester_email,
        parts,
        t.requester_name
    )
}

/// Rebuilds the search document of a ticket from its fields and thread.
pub async fn reindex(tx: &mut Tx, t: &TicketRow) -> Result<()> {
    let comments = store::comments::list(tx, t.workspace_id, t.id, true).await?;
    let mut doc = document_head(t);
    for c in comments {
        if doc.len() > 512 * 1024 {
            break;
        }
        doc.push('\n');
        doc.push_str(&c.body);
    }
    dialect::index_ticket(tx, t.workspace_id, t.id, &doc, false).await
}

/// Finds the requester by id, or by email (creating the customer when new).
pub async fn find_or_create_customer(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: Option<CustomerId>,
    email: Option<&str>,
    name: Option<&str>,
) -> Result<CustomerRow> {
    if let Some(id) = id {
        return store::customers::find(tx, ws, id)
            .await?
            .ok_or_else(|| Error::field("requester_id", "no such customer"));
    }
    let email = validate::email("requester_email", email.unwrap_or_default())
        .map_err(|e| Error::Validation(vec![e]))?;
    if let Some(c) = store::customers::find_by_email(tx, ws, &email).await? {
        return Ok(c);
    }
    let now = now_micros();
    let name = match name {
        Some(n) => {
            validate::bounded("requester_name", n, 255).map_err(|e| Error::Validation(vec![e]))?
        }
        None => String::new(),
    };
    let name = if name.is_empty() {
        email.split('@').next().unwrap_or_default().to_owned()
    } else {
        name
    };
    let c = CustomerRow {
        id: CustomerId::new(),
        workspace_id: ws,
        email,
        name,
        phone: None,
        company: None,
        notes: String::new(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::customers::insert_or_get(tx, &c).await
}

/// Keeps a valid value, or records its error and gives `None` (to report every field at once).
fn keep<T>(r: Result<T, FieldError>, errors: &mut Vec<FieldError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

/// A new ticket row with the defaults of SPEC §5 (status `new`, priority `medium`, kind
/// `support`, no assignee or SLA yet); callers set what differs.
#[must_use]
pub fn new_row(
    requester: &CustomerRow,
    number: i64,
    ticket_number: String,
    subject: String,
    description: String,
    created: i64,
) -> TicketRow {
    TicketRow {
        id: TicketId::new(),
        workspace_id: requester.workspace_id,
        number,
        ticket_number,
        subject,
        description,
        status: Status::New.as_str().to_owned(),
        priority: Priority::Medium.rank(),
        kind: Kind::Support.as_str().to_owned(),
        channel: Channel::Api.as_str().to_owned(),
        category_id: None,
        group_id: None,
        requester_id: requester.id,
        assignee_id: None,
        custom_fields: "{}".into(),
        external_ref: None,
        links: "{}".into(),
        sla_policy_id: None,
        first_response_due_at: None,
        resolution_due_at: None,
        sla_due_at: None,
        first_response_at: None,
        resolved_at: None,
        closed_at: None,
        unread_by_agent: 0,
        unread_by_customer: 0,
        last_message_at: created,
        merged_into_id: None,
        follow_up_of_id: None,
        satisfaction_rating: None,
        satisfaction_feedback: None,
        first_response_risk_at: None,
        resolution_risk_at: None,
        last_agent_reply_at: None,
        customer_replies_since_agent: 0,
        version: 1,
        created_at: created,
        updated_at: created,
        requester_email: requester.email.clone(),
        requester_name: requester.name.clone(),
    }
}

fn links_json(l: &Links) -> Result<String, FieldError> {
    for (k, v) in [
        ("order_id", &l.order_id),
        ("site_id", &l.site_id),
        ("asset_id", &l.asset_id),
        ("rma_case_id", &l.rma_case_id),
        ("task_id", &l.task_id),
    ] {
        if v.as_ref().is_some_and(|s| s.chars().count() > 255) {
            return Err(FieldError::new(
                format!("links.{k}"),
                "must be at most 255 characters",
            ));
        }
    }
    Ok(serde_json::to_string(l).unwrap_or_else(|_| "{}".into()))
}

fn custom_fields_json(
    m: &serde_json::Map<String, serde_json::Value>,
) -> Result<String, FieldError> {
    let s = serde_json::Value::Object(m.clone()).to_string();
    if s.len() > 16 * 1024 {
        return Err(FieldError::new(
            "custom_fields",
            "must be at most 16 KiB of JSON",
        ));
    }
    Ok(s)
}

/// Checks that `user` may be an assignee: an active admin, supervisor or agent of `ws`.
pub async fn check_assignee(tx: &mut Tx, ws: WorkspaceId, user: UserId) -> Result<()> {
    let u = store::users::find(tx, ws, user)
        .await?
        .ok_or_else(|| Error::field("assignee_id", "no such user in this workspace"))?;
    if !u.active {
        return Err(Error::field("assignee_id", "the user is deactivated"));
    }
    if Role::parse(&u.role) == Some(Role::Engineer) {
        return Err(Error::field("assignee_id", "engineers cannot be assignees"));
    }
    Ok(())
}

pub async fn check_group(tx: &mut Tx, ws: WorkspaceId, g: crate::ids::GroupId) -> Result<()> {
    store::groups::find(tx, ws, g)
        .await?
        .map(|_| ())
        .ok_or_else(|| Error::field("group_id", "no such group in this workspace"))
}

/// Creates a ticket; the description becomes the first comment of the thread.
/// A validated new ticket with everything read that the write needs: built on a read
/// connection so the write transaction (SQLite's single writer) only writes.
pub struct PreparedTicket {
    input: NewTicket,
    subject: String,
    description: String,
    tags: Vec<String>,
    custom: Option<String>,
    links: Option<String>,
    external_ref: Option<String>,
    created_at: Option<i64>,
    /// The requester when known; `None` means create it from `input.requester_email`.
    customer: Option<CustomerRow>,
    format: NumberFormat,
    number_start: i64,
    sla: crate::sla::engine::SlaContext,
    /// The workspace's `ticket.created` rules, read with the rest so the write transaction
    /// (SQLite's single writer) only writes.
    rules: Vec<crate::workflow::rules::engine::Rule>,
}

/// Validates a new ticket and reads what creating it needs (requester, workspace settings,
/// assignee and group checks).
pub async fn prepare(conn: &mut Tx, actor: &Actor, input: NewTicket) -> Result<PreparedTicket> {
    actor.require(Permission::CreateTicket)?;
    prepare_with(conn, actor.workspace_id, Some(actor), input).await
}

/// Validates a new ticket for `ws`; `actor` is the staff user creating it, or `None` when it
/// arrives by a channel (email, portal), which may not set staff-only fields.
pub async fn prepare_with(
    conn: &mut Tx,
    ws: WorkspaceId,
    actor: Option<&Actor>,
    input: NewTicket,
) -> Result<PreparedTicket> {
    let mut errors = Vec::new();
    let subject = validate::required_text("subject", &input.subject, 255)
        .map_err(|e| errors.push(e))
        .ok();
    let description = validate::required_text("description", &input.description, 64 * 1024)
        .map_err(|e| errors.push(e))
        .ok();
    if input.requester_email.is_none() && input.requester_id.is_none() {
        errors.push(FieldError::new(
            "requester_email",
            "requester_email or requester_id is required",
        ));
    }
    let tags = keep(validate::tags(&input.tags), &mut errors);
    let custom = keep(
        input
            .custom_fields
            .as_ref()
            .map(custom_fields_json)
            .transpose(),
        &mut errors,
    )
    .flatten();
    let links = keep(
        input.links.as_ref().map(links_json).transpose(),
        &mut errors,
    )
    .flatten();
    let external_ref = keep(
        input
            .external_ref
            .as_deref()
            .map(|s| validate::bounded("external_ref", s, 255))
            .transpose(),
        &mut errors,
    )
    .flatten();
    let is_admin = actor.is_some_and(|a| a.can(Permission::ImportTickets));
    if input.status.is_some() && !is_admin {
        errors.push(FieldError::new(
            "status",
            "only admins may set the status of a new ticket (imports)",
        ));
    }
    let created_at = match &input.created_at {
        Some(_) if !is_admin => {
            errors.push(FieldError::new(
                "created_at",
                "only admins may set created_at (imports)",
            ));
            None
        }
        Some(s) => crate::clock::parse_instant(s).or_else(|| {
            errors.push(FieldError::new(
                "created_at",
                "must be an RFC 3339 timestamp",
            ));
            None
        }),
        None => None,
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (Some(subject), Some(description), Some(tags)) = (subject, description, tags) else {
        return Err(Error::Validation(vec![]));
    };
    if let Some(a) = input.assignee_id {
        let Some(actor) = actor else {
            return Err(Error::field("assignee_id", "may only be set by staff"));
        };
        if !actor.can(Permission::AssignAny) && a != actor.user_id {
            return Err(Error::forbidden(
                "agents may only assign tickets to themselves",
            ));
        }
        check_assignee(conn, ws, a).await?;
    }
    if let Some(g) = input.group_id {
        check_group(conn, ws, g).await?;
    }
    if let Some(c) = input.category_id {
        crate::workflow::categories::check_for_ticket(conn, ws, c).await?;
    }
    let email = match input.requester_id {
        Some(_) => None,
        None => {
            let email = validate::email(
                "requester_email",
                input.requester_email.as_deref().unwrap_or_default(),
            )
            .map_err(|e| Error::Validation(vec![e]))?;
            if let Some(n) = &input.requester_name {
                validate::bounded("requester_name", n, 255)
                    .map_err(|e| Error::Validation(vec![e]))?;
            }
            Some(email)
        }
    };
    let key = match (input.requester_id, email.as_deref()) {
        (Some(id), _) => store::tickets::RequesterKey::Id(id),
        (None, e) => store::tickets::RequesterKey::Email(e.unwrap_or_default()),
    };
    let context = store::tickets::creation_context(conn, ws, key)
        .await?
        .ok_or(Error::NotFound)?;
    if input.requester_id.is_some() && context.customer.is_none() {
        return Err(Error::field("requester_id", "no such customer"));
    }
    let customer = context.customer;
    Ok(PreparedTicket {
        input,
        subject,
        description,
        tags,
        custom,
        links,
        external_ref,
        created_at,
        customer,
        format: NumberFormat::parse(&context.number_format).unwrap_or_default(),
        number_start: context.number_start,
        rules: crate::workflow::rules::engine::load(conn, ws, Trigger::TicketCreated).await?,
        sla: crate::sla::engine::load_with(
            conn,
            ws,
            &context.timezone,
            context.business_hours.as_deref(),
        )
        .await?,
    })
}

/// Creates a prepared ticket in `tx`; the description becomes the first comment.
pub async fn create(
    tx: &mut Tx,
    actor: &Actor,
    p: PreparedTicket,
) -> Result<(TicketRow, Vec<String>)> {
    create_as(tx, actor.workspace_id, Some(Author::user(actor)), p).await
}

/// Creates a prepared ticket in `ws` on behalf of `by` (`None`: the requester, for tickets
/// that arrive by a channel).
pub async fn create_as(
    tx: &mut Tx,
    ws: WorkspaceId,
    by: Option<Author>,
    p: PreparedTicket,
) -> Result<(TicketRow, Vec<String>)> {
    let PreparedTicket {
        input,
        subject,
        description,
        tags,
        custom,
        links,
        external_ref,
        created_at,
        customer,
        format,
        number_start,
        sla,
        rules,
    } = p;
    let customer = match customer {
        Some(c) => c,
        None => {
            find_or_create_customer(
                tx,
                ws,
                None,
                input.requester_email.as_deref(),
                input.requester_name.as_deref(),
            )
            .await?
        }
    };
    let number = store::tickets::reserve_numbers(tx, ws, number_start, 1).await?;
    let now = now_micros();
    let created = created_at.unwrap_or(now);
    let civil = store::timestamp(created).to_zoned(jiff::tz::TimeZone::UTC);
    let status = input.status.unwrap_or(Status::New);
    let mut row = new_row(
        &customer,
        number,
        format.render(number, civil.year(), civil.month()),
        subject,
        description.clone(),
        created,
    );
    row.status = status.as_str().to_owned();
    row.priority = input.priority.unwrap_or(Priority::Medium).rank();
    row.kind = input.kind.unwrap_or(Kind::Support).as_str().to_owned();
    row.channel = input.channel.unwrap_or(Channel::Api).as_str().to_owned();
    row.category_id = input.category_id;
    row.group_id = input.group_id;
    row.assignee_id = input.assignee_id;
    row.custom_fields = custom.unwrap_or_else(|| "{}".into());
    row.external_ref = external_ref;
    row.links = links.unwrap_or_else(|| "{}".into());
    row.resolved_at = (status == Status::Resolved).then_some(created);
    row.closed_at = (status == Status::Closed).then_some(created);
    // The description is a message from the customer nobody on the team has read yet.
    row.unread_by_agent = 1;
    row.updated_at = now;
    // An import that arrives pending, resolved or closed starts with its resolution clock stopped.
    let pauses: Vec<(i64, Option<i64>)> = if crate::sla::engine::pauses_resolution(status) {
        vec![(created, None)]
    } else {
        vec![]
    };
    crate::sla::engine::compute(&sla, &mut row, &pauses, now);
    store::tickets::insert_many(tx, std::slice::from_ref(&row)).await?;
    if let Some((from, _)) = pauses.first() {
        store::sla::start_pause(tx, ws, row.id, *from);
    }
    store::tickets::add_tags(tx, ws, row.id, &tags).await?;
    let first = crate::store::comments::CommentRow {
        id: crate::ids::CommentId::new(),
        workspace_id: ws,
        ticket_id: row.id,
        body: description,
        author_type: "customer".into(),
        author_id: Some(customer.id.0),
        author_name: customer.name.clone(),
        is_internal: false,
        channel: row.channel.clone(),
        merged_from_ticket_id: None,
        html_body: None,
        version: 1,
        created_at: created,
        updated_at: created,
    };
    store::comments::insert(tx, &first).await?;
    let from_channel = by.is_none();
    let by = by.unwrap_or(Author {
        kind: "customer",
        id: Some(customer.id.0),
    });
    record(
        tx,
        &row,
        by,
        "created",
        None,
        Some(&row.status),
        json!({"channel": row.channel}),
    )
    .await?;
    publish(tx, &row, &tags, "ticket.created", json!({})).await?;
    if let Some(a) = row.assignee_id {
        store::assignment::touch_assigned(tx, ws, a, now);
        record(
            tx,
            &row,
            by,
            "assigned",
            None,
            None,
            json!({"assignee_id": a}),
        )
        .await?;
        publish(
            tx,
            &row,
            &tags,
            "ticket.assigned",
            json!({"assignee_id": a}),
        )
        .await?;
    }
    // The thread is only the description so far, which the document head already holds.
    dialect::index_ticket(tx, row.workspace_id, row.id, &document_head(&row), true).await?;
    if from_channel {
        // The customer learns the ticket number and where to follow it.
        crate::workflow::notify::to_requester(tx, &row, "ticket_created", None, json!({})).await?;
    }
    let mut tags = tags;
    if !rules.is_empty() {
        crate::workflow::rules::engine::run_rules(tx, &rules, &mut row, &mut tags).await?;
    }
    Ok((row, tags))
}

/// An `Idempotency-Key` to record with a create.
pub struct IdempotencySave {
    pub scope: String,
    pub key: String,
    pub fingerprint: Vec<u8>,
}

/// What creating a ticket with an optional idempotency key came to.
pub enum Created {
    New(Box<TicketRow>, Vec<String>),
    /// A concurrent request with the same key committed first: nothing was created here.
    KeyTaken,
}

/// Creates a prepared ticket and records its idempotency key with the answer it gets.
pub async fn create_with_key(
    tx: &mut Tx,
    actor: &Actor,
    p: PreparedTicket,
    idempotency: Option<&IdempotencySave>,
) -> Result<Created> {
    let (row, tags) = create(tx, actor, p).await?;
    if let Some(i) = idempotency {
        let view = TicketView::from_row(&row, tags.clone(), now_micros());
        let body = serde_json::to_string(&view).map_err(anyhow::Error::from)?;
        let location = format!("/api/tickets/{}", row.id);
        if !store::idempotency::save(
            tx,
            actor.workspace_id,
            &i.scope,
            &i.key,
            &i.fingerprint,
            201,
            &body,
            Some(&location),
            now_micros(),
        )
        .await?
        {
            return Ok(Created::KeyTaken);
        }
    }
    Ok(Created::New(Box::new(row), tags))
}

/// Loads a live ticket by id or number (404 when absent or in another workspace).
pub async fn load(tx: &mut Tx, ws: WorkspaceId, key: &str, lock: bool) -> Result<TicketRow> {
    // No ticket number contains NUL, and PostgreSQL text cannot hold one: answer 404 early.
    if key.contains('\0') || key.len() > 100 {
        return Err(Error::NotFound);
    }
    let found = match key.parse::<TicketId>() {
        Ok(id) => store::tickets::find(tx, ws, id, lock).await?,
        Err(_) => match store::tickets::find_by_number(tx, ws, key).await? {
            Some(t) if lock => store::tickets::find(tx, ws, t.id, true).await?,
            other => other,
        },
    };
    found.ok_or(Error::NotFound)
}

/// The tags of one ticket.
pub async fn tags(tx: &mut Tx, t: &TicketRow) -> Result<Vec<String>> {
    Ok(store::tickets::tags_of(tx, t.workspace_id, &[t.id])
        .await?
        .into_iter()
        .map(|(_, tag)| tag)
        .collect())
}

/// Fails with 412 when the caller's `If-Match` version is stale.
pub fn check_version(if_match: Option<i64>, version: i64) -> Result<()> {
    match if_match {
        Some(v) if v != version => Err(Error::Client(
            Code::PreconditionFailed,
            format!("the ticket is at version {version}, not {v}; reload and retry"),
        )),
        _ => Ok(()),
    }
}

/// Saves a changed row; a concurrent writer that got in first answers 409.
pub async fn save(tx: &mut Tx, row: &mut TicketRow) -> Result<()> {
    row.updated_at = now_micros();
    if !store::tickets::update(tx, row).await? {
        return Err(Error::conflict(
            "the ticket was changed by someone else; reload and retry",
        ));
    }
    row.version += 1;
    Ok(())
}

/// Recomputes a ticket's SLA clocks from its current fields and pauses.
pub async fn recompute_sla(tx: &mut Tx, row: &mut TicketRow, now: i64) -> Result<()> {
    let ctx = crate::sla::engine::load(tx, row.workspace_id).await?;
    let pauses = store::sla::pauses(tx, row.workspace_id, row.id).await?;
    crate::sla::engine::compute(&ctx, row, &pauses, now);
    Ok(())
}

/// Applies a status change with its stamps, timeline entries and domain events.
pub async fn apply_status(
    tx: &mut Tx,
    row: &mut TicketRow,
    tags: &[String],
    to: Status,
    by: Author,
) -> Result<bool> {
    let from = Status::parse(&row.status).unwrap_or(Status::Open);
    if from == to {
        return Ok(false);
    }
    if !from.can_become(to) {
        return Err(Error::Client(
            Code::InvalidTransition,
            format!("a {from} ticket cannot become {to}"),
        ));
    }
    let now = now_micros();
    row.status = to.as_str().to_owned();
    match to {
        Status::Resolved => row.resolved_at = Some(now),
        Status::Closed => row.closed_at = Some(now),
        _ => {}
    }
    if from.is_reopen(to) {
        row.resolved_at = None;
        row.closed_at = None;
    }
    use crate::sla::engine::pauses_resolution;
    match (pauses_resolution(from), pauses_resolution(to)) {
        (false, true) => store::sla::start_pause(tx, row.workspace_id, row.id, now),
        (true, false) => store::sla::end_pause(tx, row.workspace_id, row.id, now),
        _ => {}
    }
    recompute_sla(tx, row, now).await?;
    save(tx, row).await?;
    record(
        tx,
        row,
        by,
        "status_changed",
        Some(from.as_str()),
        Some(to.as_str()),
        json!({}),
    )
    .await?;
    publish(
        tx,
        row,
        tags,
        "ticket.status_changed",
        json!({"from": from.as_str(), "to": to.as_str()}),
    )
    .await?;
    if from.is_reopen(to) {
        record(
            tx,
            row,
            by,
            "reopened",
            Some(from.as_str()),
            Some(to.as_str()),
            json!({}),
        )
        .await?;
        publish(tx, row, tags, "ticket.reopened", json!({})).await?;
    }
    match to {
        Status::Resolved => publish(tx, row, tags, "ticket.resolved", json!({})).await?,
        Status::Closed => publish(tx, row, tags, "ticket.closed", json!({})).await?,
        _ => {}
    }
    // Seed 001: the member is told when the status of their request changes.
    // A reply already tells the customer a new ticket is being worked on, and customers
    // know when they reopened a ticket themselves: neither needs a status message.
    if (from == Status::New && to == Status::Open) || by.kind == "customer" {
        return Ok(true);
    }
    // Resolving asks for a rating in the same message.
    let template = if to == Status::Resolved {
        "satisfaction_request"
    } else {
        "status_changed"
    };
    crate::workflow::notify::to_requester(
        tx,
        row,
        template,
        None,
        json!({"from": from.as_str(), "to": to.as_str()}),
    )
    .await?;
    Ok(true)
}

/// `PUT /status`, `/resolve`, `/close`, `/reopen`.
pub async fn set_status(
    app: &App,
    actor: &Actor,
    key: &str,
    to: Status,
    if_match: Option<i64>,
) -> Result<(TicketRow, Vec<String>)> {
    actor.require(Permission::ChangeStatus)?;
    let mut tx = app.store.begin().await?;
    let mut row = load(&mut tx, actor.workspace_id, key, true).await?;
    check_version(if_match, row.version)?;
    let tags = tags(&mut tx, &row).await?;
    if row.status == to.as_str() {
        return Err(Error::Client(
            Code::InvalidTransition,
            format!("the ticket is already {to}"),
        ));
    }
    apply_status(&mut tx, &mut row, &tags, to, Author::user(actor)).await?;
    let mut tags = tags;
    crate::workflow::rules::engine::run(&mut tx, Trigger::TicketUpdated, &mut row, &mut tags)
        .await?;
    tx.commit().await?;
    Ok((row, tags))
}

/// Applies an assignment change (authorization already checked).
pub async fn apply_assignee(
    tx: &mut Tx,
    row: &mut TicketRow,
    tags: &[String],
    to: Option<UserId>,
    by: Author,
) -> Result<()> {
    if row.assignee_id == to {
        return Ok(());
    }
    if let Some(u) = to {
        check_assignee(tx, row.workspace_id, u).await?;
    }
    let from = row.assignee_id;
    row.assignee_id = to;
    save(tx, row).await?;
    if let Some(u) = to {
        store::assignment::touch_assigned(tx, row.workspace_id, u, row.updated_at);
        // The new assignee hears about it unless they took the ticket themselves.
        if by.id != Some(u.0)
            && let Some(user) = store::users::find(tx, row.workspace_id, u).await?
        {
            crate::workflow::notify::to_user(tx, row, &user, "email", "assigned", None, json!({}))
                .await?;
        }
    }
    if let Some(u) = to {
        record(
            tx,
            row,
            by,
            "assigned",
            None,
            None,
            json!({"from": from, "assignee_id": u}),
        )
        .await?;
        publish(
            tx,
            row,
            tags,
            "ticket.assigned",
            json!({"assignee_id": u, "previous_assignee_id": from}),
        )
        .await?;
    } else {
        record(tx, row, by, "unassigned", None, None, json!({"from": from})).await?;
        publish(
            tx,
            row,
            tags,
            "ticket.updated",
            json!({"changes": {"assignee_id": {"from": from, "to": null}}}),
        )
        .await?;
    }
    Ok(())
}

/// Checks the assignment rule of SPEC §4 for a change from the ticket's current assignee to `to`.
fn authorize_assignment(actor: &Actor, current: Option<UserId>, to: Option<UserId>) -> Result<()> {
    if actor.can(Permission::AssignAny) {
        return Ok(());
    }
    actor.require(Permission::AssignSelf)?;
    match (current, to) {
        (None, Some(u)) if u == actor.user_id => Ok(()),
        (Some(c), None) if c == actor.user_id => Ok(()),
        _ => Err(Error::forbidden(
            "agents may only take unassigned tickets for themselves or release their own",
        )),
    }
}

/// Who a ticket goes to: a user (or nobody), or whoever a strategy picks in a group.
#[derive(Debug, Clone, Copy)]
pub enum AssignTo {
    User(Option<UserId>),
    Strategy(
        crate::workflow::assignment::Strategy,
        Option<crate::ids::GroupId>,
    ),
}

/// `POST /assign` (manual or by strategy) and `POST /unassign`.
pub async fn assign(
    app: &App,
    actor: &Actor,
    key: &str,
    target: AssignTo,
    if_match: Option<i64>,
) -> Result<(TicketRow, Vec<String>)> {
    let mut tx = app.store.begin().await?;
    let mut row = load(&mut tx, actor.workspace_id, key, true).await?;
    check_version(if_match, row.version)?;
    let to = match target {
        AssignTo::User(to) => {
            authorize_assignment(actor, row.assignee_id, to)?;
            to
        }
        AssignTo::Strategy(strategy, group) => {
            actor.require(Permission::AssignAny).map_err(|_| {
                Error::forbidden("only admins and supervisors may assign by strategy")
            })?;
            let group = group.or(row.group_id).ok_or_else(|| {
                Error::field(
                    "group_id",
                    "the ticket has no group; give the group to choose an agent from",
                )
            })?;
            check_group(&mut tx, actor.workspace_id, group).await?;
            let chosen = crate::workflow::assignment::choose(
                &mut tx,
                actor.workspace_id,
                group,
                strategy,
                now_micros(),
            )
            .await?
            .ok_or_else(|| Error::conflict("no active, available agent in the group"))?;
            Some(chosen)
        }
    };
    let mut tags = tags(&mut tx, &row).await?;
    let before = row.version;
    apply_assignee(&mut tx, &mut row, &tags, to, Author::user(actor)).await?;
    if row.version != before {
        crate::workflow::rules::engine::run(&mut tx, Trigger::TicketUpdated, &mut row, &mut tags)
            .await?;
    }
    tx.commit().await?;
    Ok((row, tags))
}

/// `PATCH`/`PUT /api/tickets/:id`.
pub async fn update(
    app: &App,
    actor: &Actor,
    key: &str,
    patch: TicketPatch,
    if_match: Option<i64>,
) -> Result<(TicketRow, Vec<String>)> {
    let mut tx = app.store.begin().await?;
    let mut row = load(&mut tx, actor.workspace_id, key, true).await?;
    check_version(if_match, row.version)?;
    let version_before = row.version;
    let ws = actor.workspace_id;
    let old_tags = tags(&mut tx, &row).await?;
    let by = Author::user(actor);
    let mut errors = Vec::new();
    let mut changes = serde_json::Map::new();
    let mut needs_reindex = false;
    let touches_fields = patch.subject.is_some()
        || patch.description.is_some()
        || patch.kind.is_some()
        || !matches!(patch.category_id, Patch::Absent)
        || !matches!(patch.group_id, Patch::Absent)
        || patch.tags.is_some()
        || patch.custom_fields.is_some()
        || !matches!(patch.external_ref, Patch::Absent)
        || patch.links.is_some();
    if touches_fields {
        actor.require(Permission::ChangeStatus)?;
    }
    macro_rules! change {
        ($field:literal, $old:expr, $new:expr) => {{
            let (old, new) = ($old, $new);
            if old != new {
                changes.insert($field.into(), json!({"from": old, "to": new}));
                true
            } else {
                false
            }
        }};
    }
    if let Some(s) = &patch.subject {
        match validate::required_text("subject", s, 255) {
            Ok(s) => {
                if change!("subject", &row.subject, &s) {
                    row.subject = s;
                    needs_reindex = true;
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(d) = &patch.description {
        match validate::required_text("description", d, 64 * 1024) {
            Ok(d) => {
                if change!("description", &row.description, &d) {
                    row.description = d;
                    needs_reindex = true;
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(p) = patch.priority
        && Priority::from_rank(row.priority) != p
    {
        actor.require(Permission::ChangePriority)?;
        change!(
            "priority",
            Priority::from_rank(row.priority).as_str(),
            p.as_str()
        );
        row.priority = p.rank();
    }
    if let Some(k) = patch.kind
        && change!("kind", &row.kind, k.as_str())
    {
        row.kind = k.as_str().to_owned();
    }
    match patch.category_id {
        Patch::Absent => {}
        Patch::Null => {
            if change!(
                "category_id",
                row.category_id,
                None::<crate::ids::CategoryId>
            ) {
                row.category_id = None;
            }
        }
        Patch::Value(c) => {
            if row.category_id != Some(c) {
                crate::workflow::categories::check_for_ticket(&mut tx, ws, c).await?;
            }
            if change!("category_id", row.category_id, Some(c)) {
                row.category_id = Some(c);
            }
        }
    }
    match patch.group_id {
        Patch::Absent => {}
        Patch::Null => {
            if change!("group_id", row.group_id, None::<crate::ids::GroupId>) {
                row.group_id = None;
            }
        }
        Patch::Value(g) => {
            check_group(&mut tx, ws, g).await?;
            if change!("group_id", row.group_id, Some(g)) {
                row.group_id = Some(g);
            }
        }
    }
    let mut new_tags = old_tags.clone();
    if let Some(t) = &patch.tags {
        match validate::tags(t) {
            Ok(t) => {
                if change!("tags", &old_tags, &t) {
                    new_tags = t;
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(cf) = &patch.custom_fields {
        match custom_fields_json(cf) {
            Ok(s) => {
                let old: serde_json::Value =
                    serde_json::from_str(&row.custom_fields).unwrap_or_default();
                if change!(
                    "custom_fields",
                    &old,
                    &serde_json::Value::Object(cf.clone())
                ) {
                    row.custom_fields = s;
                }
            }
            Err(e) => errors.push(e),
        }
    }
    match &patch.external_ref {
        Patch::Absent => {}
        Patch::Null => {
            if change!("external_ref", &row.external_ref, &None::<String>) {
                row.external_ref = None;
            }
        }
        Patch::Value(s) => match validate::bounded("external_ref", s, 255) {
            Ok(s) => {
                if change!("external_ref", &row.external_ref, &Some(s.clone())) {
                    row.external_ref = Some(s);
                }
            }
            Err(e) => errors.push(e),
        },
    }
    if let Some(l) = &patch.links {
        match links_json(l) {
            Ok(s) => {
                let old: Links = serde_json::from_str(&row.links).unwrap_or_default();
                if change!("links", &old, l) {
                    row.links = s;
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    if !changes.is_empty() {
        // Priority, category and kind choose the policy: recompute the clocks.
        if changes.contains_key("priority") || changes.contains_key("category_id") {
            recompute_sla(&mut tx, &mut row, now_micros()).await?;
        }
        save(&mut tx, &mut row).await?;
        if new_tags != old_tags {
            store::tickets::set_tags(&mut tx, ws, row.id, &new_tags).await?;
        }
        record(
            &mut tx,
            &row,
            by,
            "updated",
            None,
            None,
            json!({"changes": changes}),
        )
        .await?;
        publish(
            &mut tx,
            &row,
            &new_tags,
            "ticket.updated",
            json!({"changes": changes}),
        )
        .await?;
    }
    if let Patch::Value(a) = patch.assignee_id {
        authorize_assignment(actor, row.assignee_id, Some(a))?;
        apply_assignee(&mut tx, &mut row, &new_tags, Some(a), by).await?;
    } else if let Patch::Null = patch.assignee_id {
        authorize_assignment(actor, row.assignee_id, None)?;
        apply_assignee(&mut tx, &mut row, &new_tags, None, by).await?;
    }
    if let Some(s) = patch.status {
        actor.require(Permission::ChangeStatus)?;
        apply_status(&mut tx, &mut row, &new_tags, s, by).await?;
    }
    if needs_reindex {
        reindex(&mut tx, &row).await?;
    }
    if row.version != version_before {
        crate::workflow::rules::engine::run(
            &mut tx,
            Trigger::TicketUpdated,
            &mut row,
            &mut new_tags,
        )
        .await?;
    }
    tx.commit().await?;
    Ok((row, new_tags))
}

/// `DELETE /api/tickets/:id` (admin): soft delete.
pub async fn delete(app: &App, actor: &Actor, key: &str) -> Result<()> {
    actor.require(Permission::DeleteTicket)?;
    let mut tx = app.store.begin().await?;
    let row = load(&mut tx, actor.workspace_id, key, true).await?;
    let tags = tags(&mut tx, &row).await?;
    store::tickets::soft_delete(&mut tx, actor.workspace_id, row.id, now_micros()).await?;
    dialect::unindex_ticket(&mut tx, row.id).await?;
    record(
        &mut tx,
        &row,
        Author::user(actor),
        "deleted",
        None,
        None,
        json!({}),
    )
    .await?;
    publish(&mut tx, &row, &tags, "ticket.deleted", json!({})).await?;
    tx.commit().await
}

/// `POST /mark-read`: clears the staff side's unread counter.
pub async fn mark_read(app: &App, actor: &Actor, key: &str) -> Result<(TicketRow, Vec<String>)> {
    actor.require(Permission::ViewTickets)?;
    let mut tx = app.store.begin().await?;
    let mut row = load(&mut tx, actor.workspace_id, key, true).await?;
    if row.unread_by_agent != 0 {
        row.unread_by_agent = 0;
        store::tickets::clear_agent_unread(&mut tx, row.workspace_id, row.id).await?;
    }
    let tags = tags(&mut tx, &row).await?;
    tx.commit().await?;
    Ok((row, tags))
}
