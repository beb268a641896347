//! Outbound mail against a real SMTP server (aiosmtpd, `tests/support/smtp_sink.py`): the
//! round trip customer → ticket → agent reply → customer reply, headers, delivery states and
//! recovery after a crash between commit and send.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use ferrodesk::app::App;
use serde_json::{Value, json};

use crate::common::{Backend, Client, Options, TestApp};

/// A real SMTP server writing each accepted message to a folder.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let dir = tempfile::tempdir().expect("dir");
        let script = format!("{}/tests/support/smtp_sink.py", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd) must be installed");
        // The server prints "ready <port>" once it listens.
        let out = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line)
            .expect("smtp sink starts");
        let port = line
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("smtp sink did not start: {line:?}"));
        SmtpSink { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Messages received so far, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).expect("read")).into_owned())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    let head = msg.split("\r\n\r\n").next().unwrap_or(msg);
    head.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

fn ids(v: &str) -> String {
    v.trim().trim_matches(['<', '>']).to_owned()
}

async fn deliver(app: &TestApp, token: &str, raw: String) -> Value {
    let res = app
        .http
        .post(format!("{}/api/integrations/email/inbound", app.base))
        .bearer_auth(token)
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 202);
    res.json().await.expect("json")
}

pub async fn setup(admin: &Client) -> String {
    admin
        .put(
            "/api/settings/email",
            json!({"support_address": "help@acme.example"}),
        )
        .await
        .expect(200)["inbound_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// A server whose mail goes to a real SMTP server, with a support address set, and its admin;
/// `None` when the backend does not run here.
pub async fn mailing_app(backend: Backend) -> Option<(SmtpSink, TestApp, Client)> {
    let sink = SmtpSink::start();
    let app = TestApp::start_with(
        backend,
        Options {
            smtp_url: Some(sink.url()),
            ..Options::default()
        },
    )
    .await?;
    let admin = app.admin().await;
    setup(&admin).await;
    Some((sink, app, admin))
}

async fn comments(admin: &Client, ticket: &str) -> Vec<Value> {
    admin
        .get(&format!("/api/tickets/{ticket}/comments"))
        .await
        .expect(200)["comments"]
        .as_array()
        .expect("comments")
        .clone()
}

async fn round_trip(backend: Backend) {
    let sink = SmtpSink::start();
    let Some(app) = TestApp::start_with(
        backend,
        Options {
            smtp_url: Some(sink.url()),
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let admin = app.admin().await;
    let token = setup(&admin).await;
    let first = deliver(
        &app,
        &token,
        "From: Pat Customer <pat@example.com>\r\nTo: help@acme.example\r\nSubject: Printer on fire\r\nMessage-ID: <c1@example.com>\r\n\r\nHelp please\r\n".into(),
    )
    .await;
    let ticket = first["ticket_id"].as_str().expect("id").to_owned();
    let t = admin
        .get(&format!("/api/tickets/{ticket}"))
        .await
        .expect(200)
        .clone();
    let number = t["ticket_number"].as_str().expect("number").to_owned();
    app.run_pending_jobs().await;
    // The acknowledgement: an automatic message with the ticket token and the portal link.
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let ack = &msgs[0];
    assert_eq!(header(ack, "X-Envelope-To"), Some("pat@example.com"));
    assert!(
        header(ack, "Subject").is_some_and(|s| s.contains(&format!("[{number}]"))),
        "{ack}"
    );
    assert_eq!(header(ack, "Auto-Submitted"), Some("auto-generated"));
    assert!(ack.contains("/portal/"), "{ack}");
    assert!(header(ack, "From").is_some_and(|f| f.contains("help@acme.example")));
    // An internal note is never emailed; the public reply is.
    admin
        .post(
            &format!("/api/tickets/{ticket}/comments"),
            json!({"body": "secret: the printer is ours", "is_internal": true}),
        )
        .await
        .expect(201);
    let reply = admin
        .post(
            &format!("/api/tickets/{ticket}/comments"),
            json!({"body": "Unplug it <now> & wait."}),
        )
        .await
        .expect(201)
        .clone();
    app.run_pending_jobs().await;
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 2, "one reply, no note: {msgs:?}");
    assert!(msgs.iter().all(|m| !m.contains("secret")));
    let out = &msgs[1];
    assert_eq!(
        header(out, "Subject"),
        Some(format!("Re: [{number}] Printer on fire").as_str())
    );
    assert!(header(out, "Auto-Submitted").is_none(), "a person's reply");
    let mid = ids(header(out, "Message-ID").expect("message id"));
    let refs = header(out, "References").expect("references");
    assert!(refs.contains("c1@example.com"), "{refs}");
    assert!(header(out, "In-Reply-To").is_some());
    // HTML part escapes the agent's text.
    assert!(out.contains("Unplug it &lt;now&gt; &amp; wait."), "{out}");
    let c = comments(&admin, &ticket).await;
    let mine = c.iter().find(|x| x["id"] == reply["id"]).expect("reply");
    assert_eq!(mine["delivery"]["status"], "sent", "{mine}");
    assert_eq!(
        ids(mine["delivery"]["message_id"].as_str().expect("mid")),
        mid
    );
    // The customer answers that mail with a new subject: it threads by In-Reply-To.
    let back = deliver(
        &app,
        &token,
        format!("From: pat@example.com\r\nSubject: different\r\nMessage-ID: <c2@example.com>\r\nIn-Reply-To: <{mid}>\r\n\r\nIt worked, thanks!\r\n\r\nOn Mon, Help wrote:\r\n> Unplug it\r\n"),
    )
    .await;
    assert_eq!(back["action"], "appended", "{back}");
    assert_eq!(back["ticket_id"], ticket.as_str());
    let c = comments(&admin, &ticket).await;
    assert_eq!(c.last().expect("last")["body"], "It worked, thanks!");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_round_trip_threads_replies_sqlite() {
    round_trip(Backend::Sqlite).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_round_trip_threads_replies_postgres() {
    round_trip(Backend::Postgres).await;
}

async fn failures(backend: Backend) {
    let sink = SmtpSink::start();
    let Some(app) = TestApp::start_with(
        backend,
        Options {
            smtp_url: Some(sink.url()),
            retry_base_seconds: Some(0),
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let admin = app.admin().await;
    setup(&admin).await;
    let rejected = admin.ticket("Bounce", "reject-me@example.com").await;
    let busy = admin.ticket("Later", "busy-server@example.com").await;
    for t in [&rejected, &busy] {
        admin
            .post(
                &format!("/api/tickets/{}/comments", t["id"].as_str().expect("id")),
                json!({"body": "Hello"}),
            )
            .await
            .expect(201);
    }
    app.run_pending_jobs().await;
    assert!(sink.messages().is_empty());
    let c = comments(&admin, rejected["id"].as_str().expect("id")).await;
    let d = &c.last().expect("reply")["delivery"];
    assert_eq!(d["status"], "undeliverable", "{d}");
    assert!(d["error"].as_str().expect("error").contains("550"), "{d}");
    // A temporary refusal is retried until the attempts run out, then the job is failed;
    // the error stays visible on the reply.
    let c = comments(&admin, busy["id"].as_str().expect("id")).await;
    let d = &c.last().expect("reply")["delivery"];
    assert_eq!(d["status"], "pending", "{d}");
    assert!(d["error"].as_str().expect("error").contains("451"), "{d}");
    // The dead job is visible to admins and can be retried.
    let failed = admin
        .get("/api/admin/jobs?status=failed")
        .await
        .expect(200)
        .clone();
    let jobs = failed["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 1, "{failed}");
    assert_eq!(jobs[0]["kind"], "deliver_notification");
    assert_eq!(jobs[0]["attempts"], 8);
    assert!(
        jobs[0]["last_error"]
            .as_str()
            .expect("error")
            .contains("451")
    );
    let job = jobs[0]["id"].as_str().expect("id").to_owned();
    // Every job, a page at a time: page 2 of one-job pages is the next older one.
    let all = admin.get("/api/admin/jobs").await.expect(200).clone();
    let total = all["pagination"]["total"].as_i64().expect("total");
    assert!(total >= 2, "{all}");
    let second = admin
        .get("/api/admin/jobs?page=2&limit=1")
        .await
        .expect(200)
        .clone();
    assert_eq!(second["jobs"].as_array().expect("jobs").len(), 1);
    assert_eq!(second["jobs"][0]["id"], all["jobs"][1]["id"], "{second}");
    assert_eq!(second["pagination"]["totalPages"], total);
    let agent = admin.user(&app, "agent").await;
    agent
        .get("/api/admin/jobs")
        .await
        .expect_problem(403, "forbidden");
    agent
        .post_empty(&format!("/api/admin/jobs/{job}/retry"))
        .await
        .expect_problem(403, "forbidden");
    admin
        .get("/api/admin/jobs?status=exploded")
        .await
        .expect_problem(422, "validation_failed");
    admin
        .post_empty(&format!("/api/admin/jobs/{job}/retry"))
        .await
        .expect(202);
    admin
        .post_empty(&format!("/api/admin/jobs/{job}/retry"))
        .await
        .expect_problem(404, "not_found");
    let pending = admin
        .get("/api/admin/jobs?status=pending")
        .await
        .expect(200)
        .clone();
    assert!(
        pending["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .any(|j| j["id"] == job.as_str())
    );
    app.run_pending_jobs().await;
    let again = admin
        .get("/api/admin/jobs?status=failed")
        .await
        .expect(200)
        .clone();
    assert_eq!(
        again["jobs"][0]["attempts"], 8,
        "retried with a fresh set of attempts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_mail_is_recorded_not_dropped_sqlite() {
    failures(Backend::Sqlite).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_mail_is_recorded_not_dropped_postgres() {
    failures(Backend::Postgres).await;
}

async fn no_smtp(app: TestApp) {
    let admin = app.admin().await;
    setup(&admin).await;
    let t = admin.ticket("Offline", "c@example.com").await;
    let id = t["id"].as_str().expect("id");
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "Hi"}),
        )
        .await
        .expect(201);
    // The shipped handlers run, but no SMTP server is configured.
    let runner = ferrodesk::jobs::runner::Runner {
        registry: ferrodesk::app::default_jobs(),
        ..app.app.runner()
    };
    runner.drain().await.expect("drain");
    let c = comments(&admin, id).await;
    let d = &c.last().expect("reply")["delivery"];
    assert_eq!(d["status"], "undeliverable");
    assert!(
        d["error"]
            .as_str()
            .expect("error")
            .contains("FERRODESK_SMTP_URL"),
        "{d}"
    );
}
crate::both!(
    without_smtp_replies_are_kept_and_marked_undeliverable,
    no_smtp
);

async fn crash(backend: Backend) {
    let sink = SmtpSink::start();
    // The first process commits the reply (and its delivery job), then dies before any worker
    // sends it.
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let admin = app.admin().await;
    setup(&admin).await;
    let t = admin.ticket("Crash", "c@example.com").await;
    admin
        .post(
            &format!("/api/tickets/{}/comments", t["id"].as_str().expect("id")),
            json!({"body": "Survives a crash"}),
        )
        .await
        .expect(201);
    let mut config = app.app.config.clone();
    let mut app = app;
    app.halt().await;
    assert!(sink.messages().is_empty());
    // The next process on the same database sends it, once.
    config.smtp_url = Some(ferrodesk::config::SecretUrl::new(sink.url()));
    let restarted = App::new(config, ferrodesk::app::default_jobs())
        .await
        .expect("restart");
    restarted.run_pending_jobs().await.expect("jobs");
    restarted.run_pending_jobs().await.expect("jobs");
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].contains("Survives a crash"));
    restarted.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_committed_before_a_crash_goes_out_after_restart_sqlite() {
    crash(Backend::Sqlite).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_committed_before_a_crash_goes_out_after_restart_postgres() {
    crash(Backend::Postgres).await;
}
