//! Creating a ticket: validate and read on a read connection (`prepare`), then write the
//! row, its first message, its events and its rules in the caller's transaction (`create`).

use serde_json::json;

use super::{Author, check_assignee, check_group, document_head, publish, record};
use crate::auth::{Actor, Permission};
use crate::clock::now_micros;
use crate::error::{Error, FieldError, Result};
use crate::ids::{CustomerId, TicketId, WorkspaceId};
use crate::store::customers::CustomerRow;
use crate::store::tickets::TicketRow;
use crate::store::{self, Conn, Keep, Store, Tx};
use crate::tickets::model::{Links, NewTicket, TicketView};
use crate::tickets::numbering::NumberFormat;
use crate::tickets::status::{Channel, Kind, Priority, Status};
use crate::validate;
use crate::workflow::rules::model::Trigger;

/// Finds the requester by id, or by email (creating the customer when new).
pub async fn find_or_create_customer(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: Option<CustomerId>,
    email: Option<&str>,
    name: Option<&str>,
) -> Result<CustomerRow> {
    if let Some(id) = id {
        let c = store::customers::find(tx, ws, id)
            .await?
            .ok_or_else(|| Error::field("requester_id", "no such customer"))?;
        if c.erased_at.is_some() {
            return Err(Error::field(
                "requester_id",
                "the customer's personal data was erased; create a new customer",
            ));
        }
        return Ok(c);
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
        erased_at: None,
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
        status: Status::New,
        priority: Priority::Medium,
        kind: Kind::Support,
        channel: Channel::Api,
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
        ai: crate::store::tickets::TicketAi::default(),
        stored: None,
    }
}

pub(crate) fn links_json(l: &Links) -> Result<String, FieldError> {
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

pub(crate) fn custom_fields_json(
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

/// A validated new ticket with everything read that the write needs: built on a read
/// connection so the write transaction (SQLite's single writer) only writes.
pub struct PreparedTicket {
    input: NewTicket,
    /// Its fields, validated.
    fields: Checked,
    /// The requester when known; `None` means create it from `input.requester_email`.
    customer: Option<CustomerRow>,
    format: NumberFormat,
    number_start: i64,
    /// The workspace's calendars (its policies are `policies`).
    sla: crate::sla::engine::SlaContext,
    /// The workspace's SLA policies when known before the write (read on PostgreSQL,
    /// remembered on SQLite, as `rules` are).
    policies: Option<Vec<crate::sla::clock::Policy>>,
    /// The workspace's `ticket.created` rules, when known before the write: read with the
    /// rest on PostgreSQL, remembered on SQLite (where the write reads them once after a
    /// change of the rules, and a create otherwise reads nothing but the requester).
    rules: Option<std::sync::Arc<Vec<crate::workflow::rules::engine::Rule>>>,
}

/// Validates a new ticket and reads what creating it needs (requester, workspace settings,
/// assignee and group checks).
pub async fn prepare(conn: &mut Conn, actor: &Actor, input: NewTicket) -> Result<PreparedTicket> {
    actor.require(Permission::CreateTicket)?;
    prepare_with(conn, actor.workspace_id, Some(actor), input).await
}

/// The fields of a new ticket that need no database, validated: every problem at once.
struct Checked {
    subject: String,
    description: String,
    tags: Vec<String>,
    custom: Option<String>,
    links: Option<String>,
    external_ref: Option<String>,
    created_at: Option<i64>,
}

fn check_fields(input: &NewTicket, actor: Option<&Actor>) -> Result<Checked> {
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
    Ok(Checked {
        subject,
        description,
        tags,
        custom,
        links,
        external_ref,
        created_at,
    })
}

/// The assignee, group and category a new ticket names must exist in `ws` (and an agent may
/// only assign to themselves).
async fn check_refs(
    conn: &mut Conn,
    ws: WorkspaceId,
    actor: Option<&Actor>,
    input: &NewTicket,
) -> Result<()> {
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
    Ok(())
}

/// Validates a new ticket for `ws`; `actor` is the staff user creating it, or `None` when it
/// arrives by a channel (email, portal), which may not set staff-only fields.
pub async fn prepare_with(
    conn: &mut Conn,
    ws: WorkspaceId,
    actor: Option<&Actor>,
    input: NewTicket,
) -> Result<PreparedTicket> {
    let fields = check_fields(&input, actor)?;
    check_refs(conn, ws, actor, &input).await?;
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
    if context
        .customer
        .as_ref()
        .is_some_and(|c| c.erased_at.is_some())
    {
        return Err(Error::field(
            "requester_id",
            "the customer's personal data was erased; create a new customer",
        ));
    }
    let customer = context.customer;
    use crate::sla::engine as sla;
    use crate::workflow::rules::engine as rules;
    let (policies, rules) = if conn.backend() == store::Backend::Sqlite {
        (
            sla::remembered_policies(conn, ws),
            rules::remembered(conn, ws, Trigger::TicketCreated),
        )
    } else {
        let rules = rules::load(conn, ws, Trigger::TicketCreated).await?;
        (
            Some(sla::read_policies(conn, ws).await?),
            Some(rules.into()),
        )
    };
    Ok(PreparedTicket {
        input,
        fields,
        customer,
        format: NumberFormat::parse(&context.number_format).unwrap_or_default(),
        number_start: context.number_start,
        rules,
        sla: sla::calendars(&context.timezone, context.business_hours.as_deref()),
        policies,
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
// Long: a new ticket's writes in order (requester, number, row, SLA, tags, opening message,
// events, index, notice, rules); they share the row.
pub async fn create_as(
    tx: &mut Tx,
    ws: WorkspaceId,
    by: Option<Author>,
    p: PreparedTicket,
) -> Result<(TicketRow, Vec<String>)> {
    let PreparedTicket {
        input,
        fields:
            Checked {
                subject,
                description,
                tags,
                custom,
                links,
                external_ref,
                created_at,
            },
        customer,
        format,
        number_start,
        mut sla,
        policies,
        rules,
    } = p;
    sla.policies = match policies {
        Some(p) => p,
        None => crate::sla::engine::policies(tx, ws).await?,
    };
    let rules = match rules {
        Some(r) => r,
        None => crate::workflow::rules::engine::active(tx, ws, Trigger::TicketCreated).await?,
    };
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
    row.priority = input.priority.unwrap_or(Priority::Medium);
    row.kind = input.kind.unwrap_or(Kind::Support);
    row.channel = input.channel.unwrap_or(Channel::Api);
    row.category_id = input.category_id;
    row.group_id = input.group_id;
    row.assignee_id = input.assignee_id;
    row.custom_fields = custom.unwrap_or_else(|| "{}".into());
    row.external_ref = external_ref;
    row.links = links.unwrap_or_else(|| "{}".into());
    set_opening_status(&mut row, status, created);
    row.updated_at = now;
    // An import that arrives pending, resolved or closed starts with its resolution clock stopped.
    let pauses: Vec<(i64, Option<i64>)> = if crate::sla::engine::pauses_resolution(status) {
        vec![(created, None)]
    } else {
        vec![]
    };
    crate::sla::engine::compute(&sla, &mut row, &pauses, now);
    // The thread is only the description so far, which the document head already holds.
    let document = document_head(&row);
    store::tickets::insert(tx, &mut row, &document).await?;
    if let Some((from, _)) = pauses.first() {
        store::sla::start_pause(tx, ws, row.id, *from);
    }
    store::tickets::add_tags(tx, ws, row.id, &tags).await?;
    store::comments::insert(tx, &opening_message(&row, &customer, description)).await?;
    let from_channel = by.is_none();
    let by = by.unwrap_or(Author {
        kind: "customer",
        id: Some(customer.id.0),
    });
    record_opening(tx, &row, &tags, by, now).await?;
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

/// The status a new ticket starts in, with its stamps (imports may arrive resolved or
/// closed). The description is a message from the customer nobody on the team has read yet.
fn set_opening_status(row: &mut TicketRow, status: Status, created: i64) {
    row.status = status;
    row.resolved_at = (status == Status::Resolved).then_some(created);
    row.closed_at = (status == Status::Closed).then_some(created);
    row.unread_by_agent = 1;
}

/// The description as the thread's first message, from the requester.
fn opening_message(
    row: &TicketRow,
    customer: &CustomerRow,
    description: String,
) -> crate::store::comments::CommentRow {
    crate::store::comments::CommentRow {
        id: crate::ids::CommentId::new(),
        workspace_id: row.workspace_id,
        ticket_id: row.id,
        body: description,
        author_type: "customer".into(),
        author_id: Some(customer.id.0),
        author_name: customer.name.clone(),
        is_internal: false,
        channel: row.channel.as_str().to_owned(),
        merged_from_ticket_id: None,
        html_body: None,
        version: 1,
        created_at: row.created_at,
        updated_at: row.created_at,
    }
}

/// The `created` (and `assigned`) timeline entries and domain events of a new ticket.
async fn record_opening(
    tx: &mut Tx,
    row: &TicketRow,
    tags: &[String],
    by: Author,
    now: i64,
) -> Result<()> {
    use crate::tickets::events::DomainEvent;
    let channel = json!({"channel": row.channel});
    let status = Some(row.status.as_str());
    record(tx, row, by, "created", None, status, channel).await?;
    publish(tx, row, tags, DomainEvent::TicketCreated, json!({})).await?;
    if let Some(a) = row.assignee_id {
        store::assignment::touch_assigned(tx, row.workspace_id, a, now);
        let who = json!({"assignee_id": a});
        record(tx, row, by, "assigned", None, None, who.clone()).await?;
        publish(tx, row, tags, DomainEvent::TicketAssigned, who).await?;
    }
    Ok(())
}

/// An `Idempotency-Key` to record with a create.
pub struct IdempotencySave {
    pub scope: String,
    pub key: String,
    pub fingerprint: Vec<u8>,
    /// The `Location` of the new ticket, as the edge that answers spells it.
    pub location: fn(TicketId) -> String,
}

/// What creating a ticket with an optional idempotency key came to.
pub enum Created {
    New(Box<TicketRow>, Vec<String>),
    /// A concurrent request with the same key committed first: nothing was created here.
    KeyTaken,
}

/// Creates a prepared ticket in a write of its own (group-committed with others that arrive
/// together on SQLite) and records its idempotency key with the answer it gets.
pub async fn submit(
    store: &Store,
    actor: &Actor,
    p: PreparedTicket,
    idempotency: Option<IdempotencySave>,
) -> Result<Created> {
    let actor = actor.clone();
    store
        .write_grouped(Box::new(move |tx| {
            Box::pin(async move {
                Ok(
                    match create_with_key(tx, &actor, p, idempotency.as_ref()).await? {
                        c @ Created::New(..) => Keep::Commit(c),
                        Created::KeyTaken => Keep::Discard(Created::KeyTaken),
                    },
                )
            })
        }))
        .await
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
        let location = (i.location)(row.id);
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
