//! Realistic synthetic data for demos and benchmarks: customers, tickets spread over the last
//! months with threads, notes, tags, priorities and statuses. Deterministic for a given seed.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::app::App;
use crate::auth::Actor;
use crate::ids::{CommentId, CustomerId, EventId, UserId};
use crate::store::comments::CommentRow;
use crate::store::customers::CustomerRow;
use crate::store::events::EventRow;
use crate::store::{self};
use crate::tickets::numbering::NumberFormat;
use crate::tickets::status::{Channel, Kind, Priority, Role, Status};

const PRODUCTS: &[&str] = &[
    "inverter",
    "battery pack",
    "charger",
    "smart meter",
    "mobile app",
    "web portal",
    "invoice",
    "subscription",
    "router",
    "printer",
];
const PROBLEMS: &[&str] = &[
    "shows error code E{n} after the update",
    "stopped working this morning",
    "does not connect to Wi-Fi",
    "was charged twice",
    "keeps restarting every few minutes",
    "cannot be activated",
    "arrived damaged",
    "shows the wrong readings",
    "login fails with an unknown error",
    "needs a warranty replacement",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example",
    "corp.example",
];
const FIRST: &[&str] = &[
    "Anna", "Piotr", "Maria", "John", "Aiko", "Lukas", "Sofia", "Omar", "Chen", "Grace", "Mateo",
    "Ingrid",
];
const LAST: &[&str] = &[
    "Kowalska", "Nowak", "Smith", "Tanaka", "Müller", "Rossi", "Haddad", "Wang", "Okafor",
    "García", "Larsen",
];
const REPLIES: &[&str] = &[
    "Thanks for reaching out. Could you send a photo of the label with the serial number?",
    "I have restarted the device remotely; please check whether the problem persists.",
    "We have issued a refund for the duplicate charge; it should appear within 5 business days.",
    "A replacement unit is on its way. The tracking number will follow by email.",
    "Could you tell us which firmware version is shown in the settings screen?",
];
const CUSTOMER_REPLIES: &[&str] = &[
    "Here is the photo you asked for.",
    "It still happens, sadly.",
    "That fixed it, thank you!",
    "Any update on this?",
];
const NOTES: &[&str] = &[
    "Known issue in firmware 2.3, engineering ticket ENG-412.",
    "Customer is a key account, handle with care.",
    "Checked logs: grid voltage dropped at 03:12.",
];

/// Tickets written per transaction by [`seed`]. Large batches touch each index page once for
/// many rows: the pages a commit writes to the log grow slower than the rows it holds.
pub const SEED_BATCH: usize = 2000;

/// An admin actor of the workspace with this slug.
pub async fn workspace_admin(app: &App, slug: &str) -> anyhow::Result<Actor> {
    let mut tx = app.store.read().await?;
    let ws = store::workspaces::find_by_slug(&mut tx, slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no workspace with slug {slug}"))?;
    let (users, _) = store::users::list(&mut tx, ws.id, 1000, 0).await?;
    let admin = users
        .into_iter()
        .find(|u| u.role == crate::tickets::status::Role::Admin && u.active)
        .ok_or_else(|| anyhow::anyhow!("workspace {slug} has no active admin"))?;
    Ok(Actor {
        user_id: admin.id,
        workspace_id: ws.id,
        role: Role::Admin,
        is_owner: admin.is_owner,
        name: admin.name,
        email: admin.email,
        address: None,
    })
}

/// The instance owner.
pub async fn owner(app: &App) -> anyhow::Result<Actor> {
    let mut tx = app.store.read().await?;
    for ws in store::workspaces::list(&mut tx).await? {
        let (users, _) = store::users::list(&mut tx, ws.id, 1000, 0).await?;
        if let Some(u) = users.into_iter().find(|u| u.is_owner) {
            return Ok(Actor {
                user_id: u.id,
                workspace_id: ws.id,
                role: Role::Admin,
                is_owner: true,
                name: u.name,
                email: u.email,
                address: None,
            });
        }
    }
    anyhow::bail!("no instance owner exists yet; start the server once")
}

fn pick<'a>(rng: &mut StdRng, list: &'a [&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

/// Seeded tickets are spread over this many microseconds (six months) before now.
const SPAN: i64 = 180 * 24 * 3_600_000_000;

/// Creates `n` tickets in workspace `slug` with bulk inserts, [`SEED_BATCH`] tickets a
/// transaction: first a pool of customers, then the tickets with their threads (for large
/// loads with the tickets' indexes set aside). Ticket numbers come from the workspace counter,
/// so seeded and real tickets never clash. `progress` hears how many tickets are written
/// after every batch.
pub async fn seed(
    app: &App,
    slug: &str,
    n: usize,
    seed: u64,
    progress: &mut dyn FnMut(usize),
) -> anyhow::Result<()> {
    let admin = workspace_admin(app, slug).await?;
    let ws = admin.workspace_id;
    let mut rng = StdRng::seed_from_u64(seed ^ crate::clock::now_micros().cast_unsigned());
    let (agents, workspace, existing) = {
        let mut tx = app.store.read().await?;
        let agents: Vec<UserId> = store::users::list(&mut tx, ws, 1000, 0)
            .await?
            .0
            .into_iter()
            .filter(|u| u.role.can_be_assignee() && u.active)
            .map(|u| u.id)
            .collect();
        let workspace = store::workspaces::find(&mut tx, ws)
            .await?
            .ok_or_else(|| anyhow::anyhow!("workspace vanished"))?;
        let existing = store::customers::list(&mut tx, ws, None, 1, 0).await?.1;
        (agents, workspace, existing)
    };
    let now = crate::clock::now_micros();

    // A pool of customers, about four tickets each.
    let mut customers = Vec::new();
    for c in 0..(n / 4).max(10) {
        let first = pick(&mut rng, FIRST);
        let last = pick(&mut rng, LAST);
        let ascii: String = last
            .to_lowercase()
            .chars()
            .map(|ch| match ch {
                'ü' => 'u',
                'í' => 'i',
                'á' => 'a',
                c => c,
            })
            .collect();
        let created = now - SPAN - rng.random_range(0..SPAN);
        customers.push(CustomerRow {
            id: CustomerId::new(),
            workspace_id: ws,
            email: format!(
                "{}.{ascii}{}@{}",
                first.to_lowercase(),
                existing + i64::try_from(c).unwrap_or(0),
                pick(&mut rng, DOMAINS)
            ),
            name: format!("{first} {last}"),
            phone: None,
            company: None,
            notes: String::new(),
            version: 1,
            created_at: created,
            updated_at: created,
            erased_at: None,
        });
    }
    for chunk in customers.chunks(500) {
        let mut tx = app.store.begin().await?;
        store::customers::insert_many(&mut tx, chunk).await?;
        tx.commit().await?;
    }

    // Large loads build the tickets' secondary indexes once at the end. Kept: the
    // change-number index, which every insert reads for the next number. The threads' and
    // timelines' indexes stay too: they are the child keys SQLite's foreign-key check looks
    // up for every ticket inserted (without them each insert would scan every comment).
    let set_aside = if n >= BULK_INDEXES_FROM {
        Some(store::bulk::set_aside(&app.store, &["tickets"], &["tickets_change_seq_idx"]).await?)
    } else {
        None
    };
    let loaded = write_tickets(
        app,
        &admin,
        &workspace,
        (&agents, &customers),
        n,
        rng,
        progress,
    )
    .await;
    if let Some(s) = set_aside {
        // Put back even when the load failed half-way: the server needs its indexes.
        store::bulk::restore(&app.store, s).await?;
    }
    loaded?;
    if n >= BULK_INDEXES_FROM {
        store::bulk::merge_search_index(&app.store).await?;
    }
    app.store.analyze().await?;
    Ok(())
}

/// From this many tickets (two batches), [`seed`] sets the indexes aside while it loads.
pub const BULK_INDEXES_FROM: usize = 2 * SEED_BATCH;

// Long: one generator loop that builds tickets, threads and events together so they stay
// consistent.
async fn write_tickets(
    app: &App,
    admin: &Actor,
    workspace: &store::workspaces::WorkspaceRow,
    (agents, customers): (&[UserId], &[CustomerRow]),
    n: usize,
    mut rng: StdRng,
    progress: &mut dyn FnMut(usize),
) -> anyhow::Result<()> {
    let ws = admin.workspace_id;
    let format = NumberFormat::parse(&workspace.ticket_number_format).unwrap_or_default();
    let now = crate::clock::now_micros();
    let mut done = 0;
    while done < n {
        let batch = (n - done).min(SEED_BATCH);
        let mut tx = app.store.begin().await?;
        let first_number = store::tickets::reserve_numbers(
            &mut tx,
            ws,
            workspace.ticket_number_start,
            i64::try_from(batch)?,
        )
        .await?;
        let (mut rows, mut comments, mut events, mut tags, mut docs) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for k in 0..batch {
            let customer = &customers[rng.random_range(0..customers.len())];
            let product = pick(&mut rng, PRODUCTS);
            let problem =
                pick(&mut rng, PROBLEMS).replace("{n}", &rng.random_range(100..999).to_string());
            // Older tickets are mostly finished; recent ones are mostly still open.
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_precision_loss,
                reason = "a random offset within six months"
            )]
            let created = now - (rng.random::<f64>().powi(2) * SPAN as f64) as i64;
            let age_days = (now - created) / 86_400_000_000;
            let status = match (age_days, rng.random_range(0..10)) {
                (0..=2, 0..=3) => Status::New,
                (0..=2, _) | (3..=14, 0..=4) => Status::Open,
                (_, 0..=1) => Status::Pending,
                (_, 2..=5) => Status::Resolved,
                _ => Status::Closed,
            };
            let number = first_number + i64::try_from(k)?;
            let civil = store::timestamp(created).to_zoned(jiff::tz::TimeZone::UTC);
            let channel = [
                Channel::Email,
                Channel::Email,
                Channel::Portal,
                Channel::Web,
                Channel::Phone,
                Channel::Chat,
            ][rng.random_range(0..6)];
            let description = format!(
                "Hello,\n\nmy {product} {problem}. I already tried turning it off and on again.\n\nRegards,\n{}",
                customer.name
            );
            let mut row = crate::tickets::service::new_row(
                customer,
                number,
                format.render(number, civil.year(), civil.month()),
                format!("My {product} {problem}"),
                description.clone(),
                created,
            );
            row.status = status;
            row.priority = [
                Priority::Low,
                Priority::Medium,
                Priority::Medium,
                Priority::Medium,
                Priority::High,
                Priority::Urgent,
            ][rng.random_range(0..6)];
            row.kind = [
                Kind::Support,
                Kind::Support,
                Kind::Technical,
                Kind::Billing,
                Kind::Warranty,
            ][rng.random_range(0..5)];
            row.channel = channel;
            row.assignee_id = if status == Status::New || agents.is_empty() {
                None
            } else {
                Some(agents[rng.random_range(0..agents.len())])
            };
            let comment = |id_time: i64,
                           body: String,
                           author_type: &str,
                           author: uuid::Uuid,
                           name: String,
                           is_internal: bool| CommentRow {
                id: CommentId::new(),
                workspace_id: ws,
                ticket_id: row.id,
                body,
                author_type: author_type.into(),
                author_id: Some(author),
                author_name: name,
                is_internal,
                channel: row.channel.as_str().to_owned(),
                merged_from_ticket_id: None,
                html_body: None,
                version: 1,
                created_at: id_time,
                updated_at: id_time,
            };
            let mut thread = vec![comment(
                created,
                description,
                "customer",
                customer.id.0,
                customer.name.clone(),
                false,
            )];
            let replies = if status == Status::New {
                0
            } else {
                rng.random_range(1..5)
            };
            let mut t = created;
            let agent = row.assignee_id.unwrap_or(admin.user_id);
            for i in 0..replies {
                t = (t + rng.random_range(600_000_000..86_400_000_000_i64)).min(now);
                let c = if i % 2 == 1 {
                    comment(
                        t,
                        pick(&mut rng, CUSTOMER_REPLIES).to_owned(),
                        "customer",
                        customer.id.0,
                        customer.name.clone(),
                        false,
                    )
                } else if rng.random_bool(0.2) {
                    comment(
                        t,
                        pick(&mut rng, NOTES).to_owned(),
                        "agent",
                        agent.0,
                        "Support".into(),
                        true,
                    )
                } else {
                    row.first_response_at.get_or_insert(t);
                    comment(
                        t,
                        pick(&mut rng, REPLIES).to_owned(),
                        "agent",
                        agent.0,
                        "Support".into(),
                        false,
                    )
                };
                if !c.is_internal {
                    row.last_message_at = t;
                }
                thread.push(c);
            }
            row.unread_by_agent =
                i64::from(thread.last().is_some_and(|c| c.author_type == "customer"));
            match status {
                Status::Resolved => row.resolved_at = Some(t),
                Status::Closed => {
                    row.resolved_at = Some(t);
                    row.closed_at = Some(t);
                }
                _ => {}
            }
            row.updated_at = t;
            let mut doc = crate::tickets::service::document_head(&row);
            for c in &thread[1..] {
                doc.push('\n');
                doc.push_str(&c.body);
            }
            if rng.random_bool(0.3) {
                tags.push((row.id, product.replace(' ', "-")));
            }
            events.push(EventRow {
                id: EventId::new(),
                workspace_id: ws,
                ticket_id: row.id,
                event_type: "created".into(),
                actor_type: "system".into(),
                actor_id: None,
                from_status: None,
                to_status: Some(row.status.as_str().to_owned()),
                metadata: r#"{"seeded":true}"#.into(),
                created_at: created,
            });
            docs.push((row.id, doc));
            comments.extend(thread);
            rows.push(row);
        }
        let new = store::bulk::NewTickets {
            rows,
            comments,
            events,
            tags,
            docs,
        };
        store::bulk::insert_new_tickets(&mut tx, ws, &new).await?;
        tx.commit().await?;
        done += batch;
        progress(done);
    }
    Ok(())
}
