//! Realistic synthetic data for demos and benchmarks: customers, tickets spread over the last
//! months with threads, notes, tags, priorities and statuses. Deterministic for a given seed.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::app::App;
use crate::auth::Actor;
use crate::ids::{CommentId, UserId};
use crate::store::comments::CommentRow;
use crate::store::{self};
use crate::tickets::model::NewTicket;
use crate::tickets::status::{Channel, Kind, Priority, Role, Status};

const PRODUCTS: &[&str] = &["inverter", "battery pack", "charger", "smart meter", "mobile app", "web portal", "invoice", "subscription", "router", "printer"];
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
const FIRST: &[&str] = &["Anna", "Piotr", "Maria", "John", "Aiko", "Lukas", "Sofia", "Omar", "Chen", "Grace", "Mateo", "Ingrid"];
const LAST: &[&str] = &["Kowalska", "Nowak", "Smith", "Tanaka", "Müller", "Rossi", "Haddad", "Wang", "Okafor", "García", "Larsen"];
const REPLIES: &[&str] = &[
    "Thanks for reaching out. Could you send a photo of the label with the serial number?",
    "I have restarted the device remotely; please check whether the problem persists.",
    "We have issued a refund for the duplicate charge; it should appear within 5 business days.",
    "A replacement unit is on its way. The tracking number will follow by email.",
    "Could you tell us which firmware version is shown in the settings screen?",
];
const CUSTOMER_REPLIES: &[&str] = &["Here is the photo you asked for.", "It still happens, sadly.", "That fixed it, thank you!", "Any update on this?"];
const NOTES: &[&str] = &["Known issue in firmware 2.3, engineering ticket ENG-412.", "Customer is a key account, handle with care.", "Checked logs: grid voltage dropped at 03:12."];

/// An admin actor of the workspace with this slug.
pub async fn workspace_admin(app: &App, slug: &str) -> anyhow::Result<Actor> {
    let mut tx = app.store.read().await?;
    let ws = store::workspaces::find_by_slug(&mut tx, slug).await?.ok_or_else(|| anyhow::anyhow!("no workspace with slug {slug}"))?;
    let (users, _) = store::users::list(&mut tx, ws.id, 1000, 0).await?;
    let admin = users.into_iter().find(|u| u.role == "admin" && u.active).ok_or_else(|| anyhow::anyhow!("workspace {slug} has no active admin"))?;
    Ok(Actor { user_id: admin.id, workspace_id: ws.id, role: Role::Admin, is_owner: admin.is_owner, name: admin.name, email: admin.email })
}

/// The instance owner.
pub async fn owner(app: &App) -> anyhow::Result<Actor> {
    let mut tx = app.store.read().await?;
    for ws in store::workspaces::list(&mut tx).await? {
        let (users, _) = store::users::list(&mut tx, ws.id, 1000, 0).await?;
        if let Some(u) = users.into_iter().find(|u| u.is_owner) {
            return Ok(Actor { user_id: u.id, workspace_id: ws.id, role: Role::Admin, is_owner: true, name: u.name, email: u.email });
        }
    }
    anyhow::bail!("no instance owner exists yet; start the server once")
}

fn pick<'a>(rng: &mut StdRng, list: &'a [&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

/// Creates `n` tickets in workspace `slug`, committing every 250 tickets.
pub async fn seed(app: &App, slug: &str, n: usize, seed: u64) -> anyhow::Result<()> {
    let admin = workspace_admin(app, slug).await?;
    let mut rng = StdRng::seed_from_u64(seed);
    let agents: Vec<UserId> = {
        let mut tx = app.store.read().await?;
        store::users::list(&mut tx, admin.workspace_id, 1000, 0).await?.0.into_iter().filter(|u| u.role != "engineer" && u.active).map(|u| u.id).collect()
    };
    let now = crate::clock::now_micros();
    let span = 180 * 24 * 3_600_000_000_i64;
    let customers = (n / 4).max(10);
    let mut done = 0;
    while done < n {
        let batch = (n - done).min(250);
        let mut tx = app.store.begin().await?;
        for _ in 0..batch {
            let c = rng.random_range(0..customers);
            let first = pick(&mut rng, FIRST);
            let last = pick(&mut rng, LAST);
            let product = pick(&mut rng, PRODUCTS);
            let problem = pick(&mut rng, PROBLEMS).replace("{n}", &rng.random_range(100..999).to_string());
            // Older tickets are mostly finished; recent ones are mostly still open.
            let created = now - (rng.random::<f64>().powi(2) * span as f64) as i64;
            let age_days = (now - created) / 86_400_000_000;
            let status = match (age_days, rng.random_range(0..10)) {
                (0..=2, 0..=3) => Status::New,
                (0..=2, _) | (3..=14, 0..=4) => Status::Open,
                (_, 0..=1) => Status::Pending,
                (_, 2..=5) => Status::Resolved,
                _ => Status::Closed,
            };
            let priority = [Priority::Low, Priority::Medium, Priority::Medium, Priority::Medium, Priority::High, Priority::Urgent][rng.random_range(0..6)];
            let input = NewTicket {
                subject: format!("My {product} {problem}"),
                description: format!("Hello,\n\nmy {product} {problem}. I already tried turning it off and on again.\n\nRegards,\n{first} {last}"),
                requester_email: Some(format!("{}.{}{c}@example.com", first.to_lowercase(), last.to_lowercase().replace('ü', "u").replace('í', "i"))),
                requester_id: None,
                requester_name: Some(format!("{first} {last}")),
                priority: Some(priority),
                kind: Some([Kind::Support, Kind::Support, Kind::Technical, Kind::Billing, Kind::Warranty][rng.random_range(0..5)]),
                channel: Some([Channel::Email, Channel::Email, Channel::Portal, Channel::Web, Channel::Phone, Channel::Chat][rng.random_range(0..6)]),
                category_id: None,
                group_id: None,
                tags: if rng.random_bool(0.3) { vec![product.replace(' ', "-")] } else { vec![] },
                assignee_id: if status == Status::New || agents.is_empty() { None } else { Some(agents[rng.random_range(0..agents.len())]) },
                custom_fields: None,
                external_ref: None,
                links: None,
                status: Some(status),
                created_at: Some(crate::clock::rfc3339(created)),
            };
            let (mut row, _) = crate::tickets::service::create(&admin, input, &mut tx).await.map_err(|e| anyhow::anyhow!("seed create failed: {e:?}"))?;
            let replies = if status == Status::New { 0 } else { rng.random_range(1..5) };
            let mut t = created;
            for i in 0..replies {
                t += rng.random_range(600_000_000..86_400_000_000_i64);
                let (body, author_type, is_internal) = if i % 2 == 0 {
                    if rng.random_bool(0.2) { (pick(&mut rng, NOTES), "agent", true) } else { (pick(&mut rng, REPLIES), "agent", false) }
                } else {
                    (pick(&mut rng, CUSTOMER_REPLIES), "customer", false)
                };
                let comment = CommentRow {
                    id: CommentId::new(),
                    workspace_id: row.workspace_id,
                    ticket_id: row.id,
                    body: body.to_owned(),
                    author_type: author_type.into(),
                    author_id: Some(if author_type == "agent" { row.assignee_id.unwrap_or(admin.user_id).0 } else { row.requester_id.0 }),
                    author_name: if author_type == "agent" { "Support".into() } else { row.requester_name.clone() },
                    is_internal,
                    channel: row.channel.clone(),
                    version: 1,
                    created_at: t,
                    updated_at: t,
                };
                store::comments::insert(&mut tx, &comment).await?;
                if author_type == "agent" && !is_internal && row.first_response_at.is_none() {
                    row.first_response_at = Some(t);
                }
                if !is_internal {
                    row.last_message_at = t;
                }
            }
            if replies > 0 {
                row.last_message_at = row.last_message_at.min(now);
                crate::tickets::service::save(&mut tx, &mut row).await?;
                crate::tickets::service::reindex(&mut tx, &row).await?;
            }
        }
        tx.commit().await?;
        done += batch;
    }
    app.store.optimize().await?;
    Ok(())
}
