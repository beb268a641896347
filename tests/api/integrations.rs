//! Integrations against stand-ins that speak each service's protocol over HTTP (started by
//! the test): the Thulium bridge (signed, idempotent on replays), WeCom (the callback's
//! AES-256-CBC + SHA-1 scheme, implemented here independently of the server, and the group
//! robot), escalation to a CSP that is down and then recovers, HubSpot-style CRM notes, chat
//! bots, and the integration settings.

use std::sync::{Arc, Mutex};

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockEncryptMut, KeyIvInit};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Digest;
use sha2::Sha256;

use crate::common::{Backend, Client, Options, TestApp};

type Hits = Arc<Mutex<Vec<(Method, String, HeaderMap, Value)>>>;

#[derive(Clone, Default)]
struct Stand {
    hits: Hits,
    /// Answer 503 to the CSP this many times first.
    csp_down: Arc<Mutex<u32>>,
    cases: Arc<Mutex<u32>>,
}

impl Stand {
    fn hits(&self, path: &str) -> Vec<(Method, HeaderMap, Value)> {
        self.hits
            .lock()
            .expect("lock")
            .iter()
            .filter(|h| h.1.starts_with(path))
            .map(|h| (h.0.clone(), h.2.clone(), h.3.clone()))
            .collect()
    }
}

async fn record(
    State(s): State<Stand>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, axum::Json<Value>) {
    let path = uri.path().to_owned();
    let value: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    s.hits
        .lock()
        .expect("lock")
        .push((method.clone(), path.clone(), headers, value));
    match path.as_str() {
        "/csp" => {
            let mut down = s.csp_down.lock().expect("lock");
            if *down > 0 {
                *down -= 1;
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(json!({"error": "maintenance"})),
                );
            }
            let mut n = s.cases.lock().expect("lock");
            *n += 1;
            (
                StatusCode::CREATED,
                axum::Json(json!({"id": format!("RMA-{}", 1000 + *n)})),
            )
        }
        "/tms" => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "site unknown"})),
        ),
        "/robot" => (
            StatusCode::OK,
            axum::Json(json!({"errcode": 0, "errmsg": "ok"})),
        ),
        "/crm/v3/objects/contacts/search" => (
            StatusCode::OK,
            axum::Json(json!({"total": 0, "results": []})),
        ),
        "/crm/v3/objects/contacts" => (StatusCode::CREATED, axum::Json(json!({"id": "501"}))),
        "/crm/v3/objects/notes" => (StatusCode::CREATED, axum::Json(json!({"id": "9001"}))),
        _ => (StatusCode::OK, axum::Json(json!({}))),
    }
}

async fn note_patch(
    State(s): State<Stand>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> axum::Json<Value> {
    let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    s.hits.lock().expect("lock").push((
        Method::PATCH,
        format!("/crm/v3/objects/notes/{id}"),
        headers,
        value,
    ));
    axum::Json(json!({"id": id}))
}

async fn stand() -> (String, Stand) {
    let state = Stand::default();
    let app = axum::Router::new()
        .route(
            "/crm/v3/objects/notes/{id}",
            axum::routing::patch(note_patch),
        )
        .fallback(record)
        .with_state(state.clone());
    let url = crate::common::serve(app).await;
    (url, state)
}

async fn start(backend: Backend) -> Option<TestApp> {
    TestApp::start_with(
        backend,
        Options {
            webhook_allow_private: true,
            retry_base_seconds: Some(0),
            registry: Some(ferrodesk::app::default_jobs()),
            ..Options::default()
        },
    )
    .await
}

// ---------------------------------------------------------------- settings

async fn settings(app: TestApp) {
    let admin = app.admin().await;
    let secrets = [
        "thulium-shared-secret",
        "csp-api-key-123",
        "hubspot-pat-xyz",
        "bot-key-12345",
    ];
    let put = admin
        .put(
            "/api/settings/integrations",
            json!({
                "thulium": {"secret": secrets[0]},
                "rma": {"url": "https://csp.example.com/cases", "api_key": secrets[1]},
                "crm": {"url": "https://api.hubapi.com", "api_key": secrets[2]},
                "chat": {"bot_key": secrets[3]},
                "wecom": {"corp_id": "wwcorp", "token": "QDG6eK", "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
                          "robot_webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robot-secret"},
            }),
        )
        .await
        .expect(200)
        .clone();
    let got = admin
        .get("/api/settings/integrations")
        .await
        .expect(200)
        .clone();
    assert_eq!(put, got);
    let text = got.to_string();
    for s in secrets
        .iter()
        .chain(&["robot-secret", "jWmYm7qr", "QDG6eK"])
    {
        assert!(!text.contains(s), "secret {s} shown: {text}");
    }
    assert_eq!(got["thulium"]["secret_set"], true);
    assert_eq!(got["rma"]["url"], "https://csp.example.com/cases");
    assert_eq!(got["rma"]["api_key_set"], true);
    assert_eq!(got["wecom"]["encoding_aes_key_set"], true);
    assert!(
        got["wecom"]["callback_url"]
            .as_str()
            .expect("url")
            .ends_with("/api/integrations/wecom/callback?workspace=default")
    );
    assert_eq!(got["task"]["enabled"], false);
    // Fields left out keep their values; null clears.
    let after = admin
        .put(
            "/api/settings/integrations",
            json!({"rma": {"url": "https://csp2.example.com/cases"}, "chat": null}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(after["rma"]["api_key_set"], true);
    assert_eq!(after["rma"]["url"], "https://csp2.example.com/cases");
    assert_eq!(after["chat"]["bot_key_set"], false);
    // Bad values name their field.
    for (body, field) in [
        (
            json!({"wecom": {"encoding_aes_key": "short"}}),
            "wecom.encoding_aes_key",
        ),
        (json!({"crm": {"url": "http://127.0.0.1:9/"}}), "crm.url"),
        (
            json!({"task": {"url": "ftp://tms.example.com"}}),
            "task.url",
        ),
        (json!({"thulium": {"secret": "short"}}), "thulium.secret"),
    ] {
        let res = admin.put("/api/settings/integrations", body).await;
        let errs = res.expect_problem(422, "validation_failed")["errors"].clone();
        assert!(
            errs.as_array()
                .expect("errors")
                .iter()
                .any(|e| e["field"] == field),
            "{errs}"
        );
    }
    admin
        .put("/api/settings/integrations", json!({"unknown": {}}))
        .await
        .expect_problem(422, "validation_failed");
    admin
        .put("/api/settings/integrations", json!([1]))
        .await
        .expect_problem(400, "bad_request");
    // A section is an object (serde would read a struct from an array, fields in order).
    for section in ["chat", "crm", "thulium"] {
        let errs = admin
            .put("/api/settings/integrations", json!({section: []}))
            .await
            .expect_problem(422, "validation_failed")["errors"]
            .clone();
        assert_eq!(errs[0]["field"], section, "{errs}");
    }
    // Supervisors read; agents do neither; only admins write.
    let sup = admin.user(&app, "supervisor").await;
    assert_eq!(
        sup.get("/api/settings/integrations").await.expect(200)["rma"]["api_key_set"],
        true
    );
    sup.put("/api/settings/integrations", json!({"chat": null}))
        .await
        .expect_problem(403, "forbidden");
    let agent = admin.user(&app, "agent").await;
    agent
        .get("/api/settings/integrations")
        .await
        .expect_problem(403, "forbidden");
}
crate::both!(integration_settings_keep_secrets_write_only, settings);

// ---------------------------------------------------------------- Thulium

pub(crate) fn thulium_sig(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

pub(crate) async fn thulium_post(
    app: &TestApp,
    body: &Value,
    sig: Option<String>,
) -> crate::common::Res {
    let raw = body.to_string();
    let sig = sig.unwrap_or_else(|| thulium_sig("thulium-shared-secret", &raw));
    let res = app
        .http
        .post(format!(
            "{}/api/integrations/thulium/ticket-webhook?workspace=default",
            app.base
        ))
        .header("content-type", "application/json")
        .header("x-thulium-signature", sig)
        .body(raw)
        .send()
        .await
        .expect("request");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.json().await.unwrap_or(Value::Null);
    crate::common::Res {
        status,
        headers,
        body,
    }
}

async fn comment_bodies(admin: &Client, ticket: &str) -> Vec<(String, String, bool)> {
    admin
        .get(&format!("/api/tickets/{ticket}/comments"))
        .await
        .expect(200)["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .map(|c| {
            (
                c["author_type"].as_str().unwrap_or_default().to_owned(),
                c["body"].as_str().unwrap_or_default().to_owned(),
                c["is_internal"] == true,
            )
        })
        .collect()
}

async fn thulium(app: TestApp) {
    let admin = app.admin().await;
    let payload = json!({"event": "ticket_created", "ticket": {
    "id": 48213, "subject": "Inverter offline", "status": "open", "priority": "normal",
    "customer": {"id": 77, "email": "site.manager@solar.example", "name": "Site Manager"},
    "messages": [
        {"id": 1, "direction": "in", "body": "Our inverter went offline at 9:00", "created_at": "2026-11-20T09:05:00Z"},
        {"id": 2, "direction": "out", "author": "Ola (Thulium)", "body": "We are checking the portal data", "created_at": "2026-11-20T09:15:00Z"},
    ]}});
    // Not configured yet: the route does not exist for this workspace.
    thulium_post(&app, &payload, None)
        .await
        .expect_problem(404, "not_found");
    admin
        .put(
            "/api/settings/integrations",
            json!({"thulium": {"secret": "thulium-shared-secret"}}),
        )
        .await
        .expect(200);
    thulium_post(&app, &payload, Some("sha256=00".into()))
        .await
        .expect_problem(401, "unauthorized");
    thulium_post(
        &app,
        &payload,
        Some(thulium_sig("wrong-secret-xyz", &payload.to_string())),
    )
    .await
    .expect_problem(401, "unauthorized");

    let created = thulium_post(&app, &payload, None).await.expect(201).clone();
    assert_eq!(created["action"], "created");
    let id = created["ticket_id"].as_str().expect("id").to_owned();
    let t = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(t["channel"], "thulium");
    assert_eq!(t["external_ref"], "48213");
    assert_eq!(t["status"], "open");
    assert_eq!(t["requester_email"], "site.manager@solar.example");
    assert!(
        t["first_response_at"].is_string(),
        "the Thulium agent's reply is the first response"
    );
    let thread = comment_bodies(&admin, &id).await;
    assert_eq!(thread.len(), 2);
    assert_eq!(
        thread[1],
        (
            "agent".into(),
            "We are checking the portal data".into(),
            false
        )
    );

    // Replays change nothing.
    for _ in 0..2 {
        let again = thulium_post(&app, &payload, None).await.expect(200).clone();
        assert_eq!(again["ticket_id"], id.as_str());
        assert_eq!(again["messages_added"], 0);
    }
    assert_eq!(comment_bodies(&admin, &id).await.len(), 2);

    // An update with old and new messages adds only the new ones and maps the status.
    let update = json!({"event": "ticket_updated", "ticket": {"id": "48213", "status": "solved", "priority": "high", "messages": [
        {"id": 2, "direction": "out", "body": "We are checking the portal data"},
        {"id": 3, "direction": "note", "author": "Ola", "body": "Firmware 3.2 known issue"},
        {"id": 4, "direction": "in", "body": "It is back online, thanks"},
    ]}});
    let updated = thulium_post(&app, &update, None).await.expect(200).clone();
    assert_eq!(updated["messages_added"], 2);
    assert_eq!(updated["status"], "resolved");
    let t = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(t["priority"], "high");
    let thread = comment_bodies(&admin, &id).await;
    assert_eq!(thread.len(), 4);
    assert!(thread.contains(&("agent".into(), "Firmware 3.2 known issue".into(), true)));
    assert_eq!(
        thulium_post(&app, &update, None).await.expect(200)["messages_added"],
        0
    );

    // Unknown statuses and malformed bodies are 422 / 400, never a 500.
    let bad = json!({"ticket": {"id": 1, "status": "teleported"}});
    let errs = thulium_post(&app, &bad, None)
        .await
        .expect_problem(422, "validation_failed")["errors"]
        .clone();
    assert_eq!(errs[0]["field"], "ticket.status");
    let raw = "{not json";
    let res = app
        .http
        .post(format!(
            "{}/api/integrations/thulium/ticket-webhook",
            app.base
        ))
        .header(
            "x-thulium-signature",
            thulium_sig("thulium-shared-secret", raw),
        )
        .body(raw)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 400);
}
crate::both!(thulium_bridge_is_signed_and_idempotent, thulium);

// ---------------------------------------------------------------- WeCom

const CORP: &str = "ww1234567890abcdef";
const TOKEN: &str = "QDG6eK";
const AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

/// WeCom's encryption, written here from the published description (not the server's code).
fn wecom_encrypt(msg: &str) -> String {
    let key = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    )
    .decode(format!("{AES_KEY}="))
    .expect("key");
    let mut plain: Vec<u8> = (0..16u8).map(|i| b'a' + i).collect();
    plain.extend_from_slice(&u32::try_from(msg.len()).expect("len").to_be_bytes());
    plain.extend_from_slice(msg.as_bytes());
    plain.extend_from_slice(CORP.as_bytes());
    let pad = 32 - plain.len() % 32;
    plain.extend(std::iter::repeat_n(u8::try_from(pad).expect("pad"), pad));
    let n = plain.len();
    let enc = cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &key[..16]).expect("cipher");
    let out = enc
        .encrypt_padded_mut::<NoPadding>(&mut plain, n)
        .expect("encrypt")
        .to_vec();
    base64::engine::general_purpose::STANDARD.encode(out)
}

fn wecom_sign(ts: &str, nonce: &str, enc: &str) -> String {
    let mut parts = [TOKEN, ts, nonce, enc];
    parts.sort_unstable();
    sha1::Sha1::digest(parts.concat().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now_secs() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs(),
    )
    .expect("secs")
}

async fn wecom_post(
    app: &TestApp,
    ts: i64,
    nonce: &str,
    inner: &str,
    tamper: bool,
) -> reqwest::Response {
    let enc = wecom_encrypt(inner);
    let ts = ts.to_string();
    let mut sig = wecom_sign(&ts, nonce, &enc);
    if tamper {
        sig.replace_range(0..1, if sig.starts_with('0') { "1" } else { "0" });
    }
    let body = format!(
        "<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    );
    app.http
        .post(format!("{}/api/integrations/wecom/callback?workspace=default&msg_signature={sig}&timestamp={ts}&nonce={nonce}", app.base))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .expect("request")
}

fn text_message(from: &str, content: &str, msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId><AgentID>1000002</AgentID></xml>"
    )
}

fn action(res: &reqwest::Response) -> String {
    res.headers()
        .get("x-ferrodesk-action")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn wecom(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let (base, stand) = stand().await;
    let admin = app.admin().await;
    admin
        .put("/api/settings/integrations", json!({"wecom": {"corp_id": CORP, "token": TOKEN, "encoding_aes_key": AES_KEY, "robot_webhook_url": format!("{base}/robot")}}))
        .await
        .expect(200);

    // URL verification answers the decrypted echostr.
    let echo = wecom_encrypt("echo-4711");
    let ts = now_secs().to_string();
    let sig = wecom_sign(&ts, "n0", &echo);
    let verify = app
        .http
        .get(format!("{}/api/integrations/wecom/callback", app.base))
        .query(&[
            ("workspace", "default"),
            ("msg_signature", sig.as_str()),
            ("timestamp", ts.as_str()),
            ("nonce", "n0"),
            ("echostr", echo.as_str()),
        ])
        .send()
        .await
        .expect("verify");
    assert_eq!(verify.status().as_u16(), 200);
    assert_eq!(verify.text().await.expect("text"), "echo-4711");

    // A text message becomes a ticket; the next one from the same person joins it.
    let res = wecom_post(
        &app,
        now_secs(),
        "n1",
        &text_message("zhangsan", "逆变器无法连接 (inverter offline)", 101),
        false,
    )
    .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(action(&res), "created");
    let ticket = res.headers()["x-ferrodesk-ticket"]
        .to_str()
        .expect("id")
        .to_owned();
    let t = admin
        .get(&format!("/api/tickets/{ticket}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(t["channel"], "wecom");
    assert_eq!(t["description"], "逆变器无法连接 (inverter offline)");
    // The admin follows it on WeCom.
    admin
        .post(
            &format!("/api/tickets/{ticket}/watchers"),
            json!({"user_id": admin.id(), "notify_email": false, "notify_wecom": true}),
        )
        .await
        .expect(201);
    let res = wecom_post(
        &app,
        now_secs(),
        "n2",
        &text_message("zhangsan", "Serial number SN-88", 102),
        false,
    )
    .await;
    assert_eq!(action(&res), "appended");
    assert_eq!(comment_bodies(&admin, &ticket).await.len(), 2);
    // WeCom retries a message with a new nonce: the same MsgId is one comment.
    let res = wecom_post(
        &app,
        now_secs(),
        "n3",
        &text_message("zhangsan", "Serial number SN-88", 102),
        false,
    )
    .await;
    assert_eq!(action(&res), "duplicate");
    assert_eq!(comment_bodies(&admin, &ticket).await.len(), 2);

    // A replayed request (same timestamp and nonce), a wrong signature and a stale timestamp
    // are refused.
    let ts = now_secs();
    assert_eq!(
        wecom_post(&app, ts, "n4", &text_message("lisi", "hello", 201), false)
            .await
            .status()
            .as_u16(),
        200
    );
    let replay = wecom_post(&app, ts, "n4", &text_message("lisi", "hello", 201), false).await;
    assert_eq!(replay.status().as_u16(), 401);
    let body: Value = replay.json().await.expect("problem");
    assert_eq!(body["code"], "unauthorized");
    assert_eq!(
        wecom_post(
            &app,
            now_secs(),
            "n5",
            &text_message("lisi", "x", 202),
            true
        )
        .await
        .status()
        .as_u16(),
        401
    );
    assert_eq!(
        wecom_post(
            &app,
            now_secs() - 3600,
            "n6",
            &text_message("lisi", "x", 203),
            false
        )
        .await
        .status()
        .as_u16(),
        401
    );
    // Garbage bodies are 400.
    let res = app
        .http
        .post(format!("{}/api/integrations/wecom/callback?workspace=default&msg_signature=a&timestamp=1&nonce=b", app.base))
        .body("<xml><nothing/></xml>")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 400);

    // The watcher's notice goes to the group robot as markdown.
    for _ in 0..50 {
        app.run_pending_jobs().await;
        if !stand.hits("/robot").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let robot = stand.hits("/robot");
    assert_eq!(robot.len(), 1, "one notice for one new message");
    assert_eq!(robot[0].2["msgtype"], "markdown");
    let content = robot[0].2["markdown"]["content"].as_str().expect("content");
    assert!(
        content.contains(t["ticket_number"].as_str().expect("number")),
        "{content}"
    );
    assert!(content.contains("SN-88"), "{content}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_encrypted_round_trip_sqlite() {
    wecom(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_encrypted_round_trip_postgres() {
    wecom(Backend::Postgres).await;
}

// ---------------------------------------------------------------- escalation

async fn escalation(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let (base, stand) = stand().await;
    let admin = app.admin().await;
    let t = admin
        .create_ticket(json!({"subject": "Battery swelling", "description": "The battery case bulges on the left side",
            "requester_email": "owner@home.example", "requester_name": "Home Owner", "kind": "warranty",
            "links": {"site_id": "SITE-9", "asset_id": "BAT-123"}}))
        .await;
    let id = t["id"].as_str().expect("id").to_owned();
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "Photos show swelling; unsafe", "is_internal": true}),
        )
        .await
        .expect(201);
    // Nothing configured: refused with a reason.
    admin
        .post_empty(&format!("/api/tickets/{id}/escalate/rma"))
        .await
        .expect_problem(409, "conflict");
    admin
        .post_empty(&format!("/api/tickets/{id}/escalate/teleport"))
        .await
        .expect_problem(404, "not_found");
    admin
        .put("/api/settings/integrations", json!({"rma": {"url": format!("{base}/csp"), "api_key": "csp-api-key-123"}, "task": {"url": format!("{base}/tms")}}))
        .await
        .expect(200);
    admin
        .post(
            "/api/webhooks",
            json!({"url": format!("{base}/hook"), "events": ["ticket.escalated"]}),
        )
        .await
        .expect(201);

    // The CSP is down: the escalation is queued, not lost.
    *stand.csp_down.lock().expect("lock") = 2;
    let queued = admin
        .post(
            &format!("/api/tickets/{id}/escalate/rma"),
            json!({"note": "Customer has a spare inverter"}),
        )
        .await;
    let queued = queued.expect(202).clone();
    assert_eq!(queued["status"], "queued");
    assert!(
        queued["last_error"]
            .as_str()
            .expect("error")
            .contains("503")
    );
    // A second escalation of the same kind waits for the first.
    admin
        .post_empty(&format!("/api/tickets/{id}/escalate/rma"))
        .await
        .expect_problem(409, "conflict");
    // The job retries (backoff base 0 here): one more failure, then the CSP recovers.
    app.run_pending_jobs().await;
    let list = admin
        .get(&format!("/api/tickets/{id}/escalations"))
        .await
        .expect(200)
        .clone();
    let e = &list["escalations"][0];
    assert_eq!(e["status"], "sent");
    assert_eq!(e["attempts"], 3);
    assert_eq!(e["external_id"], "RMA-1001");
    let t = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(t["links"]["rma_case_id"], "RMA-1001");
    assert_eq!(t["links"]["site_id"], "SITE-9");

    // What the CSP received: three tries with one idempotency key and the ticket's context.
    let calls = stand.hits("/csp");
    assert_eq!(calls.len(), 3);
    let keys: std::collections::BTreeSet<_> = calls
        .iter()
        .map(|c| c.1["idempotency-key"].to_str().expect("key").to_owned())
        .collect();
    assert_eq!(keys.len(), 1);
    let sent = &calls[2].2;
    assert_eq!(calls[2].1["authorization"], "Bearer csp-api-key-123");
    assert_eq!(sent["kind"], "rma");
    assert_eq!(sent["customer"]["email"], "owner@home.example");
    assert_eq!(sent["site_id"], "SITE-9");
    assert_eq!(sent["asset_id"], "BAT-123");
    assert_eq!(sent["note"], "Customer has a spare inverter");
    let summary = sent["summary"].as_str().expect("summary");
    assert!(
        summary.contains("battery case bulges") && summary.contains("unsafe"),
        "{summary}"
    );

    // The timeline and the webhook say so.
    let events = admin
        .get(&format!("/api/tickets/{id}/events"))
        .await
        .expect(200)
        .clone();
    let types: Vec<&str> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert!(
        types.contains(&"escalation_requested") && types.contains(&"escalated"),
        "{types:?}"
    );
    for _ in 0..50 {
        if !stand.hits("/hook").is_empty() {
            break;
        }
        app.run_pending_jobs().await;
    }
    let hooks = stand.hits("/hook");
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].2["event"], "ticket.escalated");
    assert_eq!(hooks[0].2["data"]["escalation"]["external_id"], "RMA-1001");

    // Still one live RMA: refused until it is cancelled; then a new case opens at once.
    admin
        .post_empty(&format!("/api/tickets/{id}/escalate/rma"))
        .await
        .expect_problem(409, "conflict");
    let eid = e["id"].as_str().expect("id");
    let cancelled = admin
        .post_empty(&format!("/api/tickets/{id}/escalations/{eid}/cancel"))
        .await
        .expect(200)
        .clone();
    assert_eq!(cancelled["status"], "cancelled");
    assert!(
        admin.get(&format!("/api/tickets/{id}")).await.expect(200)["links"]["rma_case_id"]
            .is_null()
    );
    admin
        .post_empty(&format!("/api/tickets/{id}/escalations/{eid}/cancel"))
        .await
        .expect_problem(409, "conflict");
    let again = admin
        .post_empty(&format!("/api/tickets/{id}/escalate/rma"))
        .await
        .expect(201)
        .clone();
    assert_eq!(again["external_id"], "RMA-1002");

    // A TMS that refuses the request (4xx) fails it for good, with the reason.
    let task = admin
        .post_empty(&format!("/api/tickets/{id}/escalate/task"))
        .await
        .expect(202)
        .clone();
    assert_eq!(task["status"], "failed");
    assert!(task["last_error"].as_str().expect("error").contains("400"));

    // Engineers read the ticket and add technical notes; they may not reply or escalate.
    let engineer = admin.user(&app, "engineer").await;
    engineer
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200);
    engineer
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "Cell 4 swollen, replace module", "is_internal": true}),
        )
        .await
        .expect(201);
    engineer
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "hi"}),
        )
        .await
        .expect_problem(403, "forbidden");
    engineer
        .post_empty(&format!("/api/tickets/{id}/escalate/rma"))
        .await
        .expect_problem(403, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_survives_a_dead_endpoint_sqlite() {
    escalation(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_survives_a_dead_endpoint_postgres() {
    escalation(Backend::Postgres).await;
}

// ---------------------------------------------------------------- CRM

async fn crm(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let (base, stand) = stand().await;
    let admin = app.admin().await;
    // Off by default: nothing is sent.
    admin.ticket("Before sync", "early@example.com").await;
    app.run_pending_jobs().await;
    assert!(stand.hits("/crm").is_empty());

    admin
        .put(
            "/api/settings/integrations",
            json!({"crm": {"url": base, "api_key": "hubspot-pat-xyz"}}),
        )
        .await
        .expect(200);
    let t = admin.ticket("Invoice question", "member@example.com").await;
    let id = t["id"].as_str().expect("id");
    let number = t["ticket_number"].as_str().expect("number");
    app.run_pending_jobs().await;
    let notes = stand.hits("/crm/v3/objects/notes");
    assert_eq!(notes.len(), 1);
    let (_, headers, body) = &notes[0];
    assert_eq!(headers["authorization"], "Bearer hubspot-pat-xyz");
    let html = body["properties"]["hs_note_body"].as_str().expect("body");
    assert!(
        html.contains(number) && html.contains("Status: new"),
        "{html}"
    );
    assert_eq!(body["associations"][0]["to"]["id"], "501");
    assert_eq!(
        stand.hits("/crm/v3/objects/contacts/search")[0].2["filterGroups"][0]["filters"][0]["value"],
        "member@example.com"
    );

    admin
        .post_empty(&format!("/api/tickets/{id}/resolve"))
        .await
        .expect(200);
    app.run_pending_jobs().await;
    let patches: Vec<_> = stand
        .hits("/crm/v3/objects/notes/9001")
        .into_iter()
        .filter(|h| h.0 == Method::PATCH)
        .collect();
    assert_eq!(patches.len(), 1);
    assert!(
        patches[0].2["properties"]["hs_note_body"]
            .as_str()
            .expect("body")
            .contains("Status: resolved")
    );
    admin
        .post_empty(&format!("/api/tickets/{id}/close"))
        .await
        .expect(200);
    app.run_pending_jobs().await;
    assert_eq!(stand.hits("/crm/v3/objects/notes/9001").len(), 2);
    // Still one note: updates never add another.
    assert_eq!(
        stand
            .hits("/crm/v3/objects/notes")
            .iter()
            .filter(|h| h.0 == Method::POST)
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_note_follows_the_ticket_sqlite() {
    crm(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_note_follows_the_ticket_postgres() {
    crm(Backend::Postgres).await;
}

// ---------------------------------------------------------------- chat bots

async fn chat(app: TestApp) {
    let admin = app.admin().await;
    let anon = app.anonymous();
    let body = json!({
    "workspace": "default", "conversation_id": "conv-1", "bot_id": "helper",
    "customer_email": "chatter@example.com", "customer_name": "Chatty",
    "chat_history": [
        {"role": "user", "content": "My app shows no production data"},
        {"role": "bot", "content": "Have you tried restarting the dongle?"},
        {"role": "user", "content": "Yes, twice"},
    ]});
    let made = anon
        .post("/api/public/tickets/from-chat", body.clone())
        .await
        .expect(201)
        .clone();
    assert!(
        made["accessToken"]
            .as_str()
            .expect("token")
            .starts_with("fdp_")
    );
    let id = made["ticket"]["id"].as_str().expect("id").to_owned();
    let t = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(t["channel"], "chat");
    assert_eq!(t["subject"], "My app shows no production data");
    let thread = comment_bodies(&admin, &id).await;
    let authors: Vec<&str> = thread.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(authors, ["customer", "customer", "ai", "customer"]);
    // The customer sees the transcript in the portal too.
    let token = made["accessToken"].as_str().expect("token");
    let seen = anon
        .get(&format!("/api/public/tickets/{id}?token={token}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(seen["comments"][2]["author_name"], "Chat bot helper");
    // One conversation, one ticket.
    anon.post("/api/public/tickets/from-chat", body)
        .await
        .expect_problem(409, "duplicate");

    // Escalating the conversation flags its ticket.
    let flagged = anon
        .post("/api/public/tickets/escalate", json!({"workspace": "default", "bot_id": "helper", "conversation_id": "conv-1", "reason": "complex_issue", "context": {"device": "SN-1"}}))
        .await
        .expect(200)
        .clone();
    assert_eq!(flagged["action"], "escalated");
    assert!(flagged.get("accessToken").is_none());
    let t = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(t["priority"], "high");
    assert!(
        t["tags"]
            .as_array()
            .expect("tags")
            .contains(&json!("bot_escalated"))
    );
    let thread = comment_bodies(&admin, &id).await;
    let note = thread.last().expect("note");
    assert!(
        note.2 && note.1.contains("complex_issue") && note.1.contains("SN-1"),
        "{note:?}"
    );
    assert!(
        !anon
            .get(&format!("/api/public/tickets/{id}?token={token}"))
            .await
            .expect(200)
            .to_string()
            .contains("complex_issue")
    );

    // An unknown conversation opens a ticket created by the bot (channel `ai`).
    let fresh = anon
        .post("/api/public/tickets/escalate", json!({"conversation_id": "conv-2", "reason": "angry customer",
            "context": {"customer_email": "new@example.com", "chat_history": [{"role": "user", "content": "Refund now"}]}}))
        .await
        .expect(201)
        .clone();
    let fid = fresh["ticket"]["id"].as_str().expect("id");
    assert_eq!(
        admin.get(&format!("/api/tickets/{fid}")).await.expect(200)["channel"],
        "ai"
    );
    anon.post(
        "/api/public/tickets/escalate",
        json!({"conversation_id": "conv-3", "context": {}}),
    )
    .await
    .expect_problem(422, "validation_failed");
    anon.post("/api/public/tickets/from-chat", json!({"conversation_id": "c", "customer_email": "a@example.com", "chat_history": [{"role": "robot", "content": "x"}]}))
        .await
        .expect_problem(422, "validation_failed");
    // A NUL character anywhere in a JSON body is a 422 naming its place on both backends
    // (PostgreSQL cannot store one: it used to answer 500 there).
    for (path, body, place) in [
        (
            "/api/public/tickets/from-chat",
            json!({"conversation_id": "c\u{0}1", "customer_email": "a@example.com"}),
            "conversation_id",
        ),
        (
            "/api/public/tickets/escalate",
            json!({"conversation_id": "c1", "context": {"summary": "a\u{0}b"}}),
            "context.summary",
        ),
        (
            "/api/public/tickets/from-chat",
            json!({"conversation_id": "c2", "customer_email": "a@example.com", "chat_history": [{"role": "user", "content": "x\u{0}"}]}),
            "chat_history[0].content",
        ),
    ] {
        let r = anon.post(path, body).await;
        let p = r.expect_problem(422, "validation_failed");
        assert_eq!(p["errors"][0]["field"], place, "{p}");
    }

    // With a bot key set, bots must present it.
    admin
        .put(
            "/api/settings/integrations",
            json!({"chat": {"bot_key": "bot-key-12345"}}),
        )
        .await
        .expect(200);
    let req = json!({"conversation_id": "conv-4", "customer_email": "k@example.com"});
    anon.post("/api/public/tickets/from-chat", req.clone())
        .await
        .expect_problem(401, "unauthorized");
    anon.send(
        reqwest::Method::POST,
        "/api/public/tickets/from-chat",
        Some(req),
        &[("x-bot-key", "bot-key-12345")],
    )
    .await
    .expect(201);
}
crate::both!(chat_bots_hand_over_conversations, chat);
