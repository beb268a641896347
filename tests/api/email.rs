//! The inbound email path over HTTP with the third-party corpus in `tests/fixtures/email-corpus`
//! (see its README for each file's case and expected result) and our own cases.

use serde_json::{Value, json};

use crate::both;
use crate::common::{Backend, Client, TestApp};

fn corpus(path: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/fixtures/email-corpus/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Posts a raw message with the workspace's inbound token.
pub async fn deliver(app: &TestApp, token: &str, raw: &[u8]) -> (u16, Value) {
    let res = app
        .http
        .post(format!("{}/api/integrations/email/inbound", app.base))
        .bearer_auth(token)
        .header("content-type", "message/rfc822")
        .body(raw.to_vec())
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn token(admin: &Client) -> String {
    admin.get("/api/settings/email").await.expect(200)["inbound_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

async fn thread(admin: &Client, ticket: &Value) -> Vec<Value> {
    admin
        .get(&format!(
            "/api/tickets/{}/comments",
            ticket.as_str().expect("ticket id")
        ))
        .await
        .expect(200)["comments"]
        .as_array()
        .expect("comments")
        .clone()
}

async fn ticket_count(admin: &Client) -> i64 {
    admin
        .get("/api/tickets?status=new,open,pending,resolved,closed")
        .await
        .expect(200)["pagination"]["total"]
        .as_i64()
        .expect("total")
}

fn mail(from: &str, subject: &str, message_id: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Casey Customer <{from}>\r\nTo: support@acme.example\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n{extra}Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

async fn reply_corpus(app: TestApp) {
    let admin = app.admin().await;
    let t = token(&admin).await;
    let cases = [
        ("replies/talon-apple_mail.eml", "Hello".to_owned()),
        ("replies/talon-gmail.eml", "Hello".to_owned()),
        // talon's expected text keeps "Sent from my iPhone"; we cut phone signatures.
        ("replies/talon-iphone.eml", "Hello".to_owned()),
        ("replies/talon-outlook.eml", "Hello".to_owned()),
        ("replies/talon-thunderbird.eml", "Hello".to_owned()),
    ];
    for (file, expected) in cases {
        let (status, out) = deliver(&app, &t, &corpus(file)).await;
        assert_eq!(status, 202, "{file}: {out}");
        assert_eq!(out["action"], "created", "{file}: {out}");
        let comments = thread(&admin, &out["ticket_id"]).await;
        assert_eq!(comments[0]["body"], expected.as_str(), "{file}");
        assert_eq!(comments[0]["author_type"], "customer");
        assert_eq!(comments[0]["channel"], "email");
        // The full original is kept as a downloadable .eml.
        let files = comments[0]["attachments"].as_array().expect("attachments");
        let eml = files
            .iter()
            .find(|f| f["file_name"] == "original.eml")
            .unwrap_or_else(|| panic!("{file}: no original.eml in {files:?}"));
        let res = app
            .http
            .get(format!("{}{}", app.base, eml["url"].as_str().expect("url")))
            .bearer_auth(admin.token.as_deref().expect("token"))
            .send()
            .await
            .expect("download");
        assert_eq!(res.status().as_u16(), 200);
        assert!(
            res.headers()
                .get("content-disposition")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("attachment;"))
        );
        assert_eq!(
            res.headers()
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff")
        );
        assert_eq!(
            res.bytes().await.expect("bytes").as_ref(),
            corpus(file).as_slice()
        );
    }
    // Crisp's German Outlook fixture is a body only: wrap it in a message.
    let body = String::from_utf8(corpus("replies/crisp-email_german_outlook.txt")).expect("utf8");
    let expected =
        String::from_utf8(corpus("replies/crisp-EXPECTED_first_fragment.txt")).expect("utf8");
    let (status, out) = deliver(
        &app,
        &t,
        &mail(
            "kunde@beispiel.de",
            "Anfrage",
            "crisp-1@beispiel.de",
            "",
            &body,
        ),
    )
    .await;
    assert_eq!(status, 202, "{out}");
    let comments = thread(&admin, &out["ticket_id"]).await;
    assert_eq!(comments[0]["body"], expected.trim());
}
both!(corpus_replies_keep_only_the_visible_text, reply_corpus);

async fn automated_corpus(app: TestApp) {
    let admin = app.admin().await;
    let t = token(&admin).await;
    for (file, reason) in [
        ("auto-bounce/sisimai-rfc3834-01.eml", "auto-submitted"),
        (
            "auto-bounce/sisimai-lhost-postfix-01.eml",
            "delivery-report",
        ),
        (
            "auto-bounce/flanker-disposition-notification.eml",
            "read-receipt",
        ),
    ] {
        let (status, out) = deliver(&app, &t, &corpus(file)).await;
        assert_eq!(status, 202, "{file}: {out}");
        assert_eq!(out["action"], "ignored", "{file}: {out}");
        assert!(
            out["reason"].as_str().expect("reason").contains(reason),
            "{file}: {out}"
        );
    }
    // Our own cases: vendor auto-reply headers, bulk mail, mailer-daemon, our own address.
    for (i, extra) in [
        "X-Autoreply: yes\r\n",
        "X-Autorespond: Out of office\r\n",
        "Precedence: bulk\r\n",
        "Precedence: junk\r\n",
        "Precedence: list\r\n",
        "Auto-Submitted: auto-generated\r\n",
    ]
    .iter()
    .enumerate()
    {
        let (status, out) = deliver(
            &app,
            &t,
            &mail(
                "c@example.com",
                "Away",
                &format!("auto-{i}@x"),
                extra,
                "I am away",
            ),
        )
        .await;
        assert_eq!(
            (status, out["action"].as_str()),
            (202, Some("ignored")),
            "{extra}: {out}"
        );
    }
    let (_, out) = deliver(
        &app,
        &t,
        &mail(
            "MAILER-DAEMON@mx.example",
            "Undelivered",
            "md-1@x",
            "",
            "failed",
        ),
    )
    .await;
    assert_eq!(out["action"], "ignored");
    admin
        .put(
            "/api/settings/email",
            json!({"support_address": "help@acme.example"}),
        )
        .await
        .expect(200);
    let (_, out) = deliver(
        &app,
        &t,
        &mail(
            "Help@Acme.example",
            "Loop?",
            "own-1@x",
            "",
            "from ourselves",
        ),
    )
    .await;
    assert_eq!(out["action"], "ignored", "{out}");
    // An explicit `Auto-Submitted: no` is a person.
    let (_, out) = deliver(
        &app,
        &t,
        &mail(
            "c@example.com",
            "Real",
            "person-1@x",
            "Auto-Submitted: no\r\n",
            "hi",
        ),
    )
    .await;
    assert_eq!(out["action"], "created", "{out}");
    assert_eq!(
        ticket_count(&admin).await,
        1,
        "nothing automated became a ticket"
    );
}
both!(automated_mail_never_opens_tickets, automated_corpus);

async fn mime_corpus(app: TestApp) {
    let admin = app.admin().await;
    let t = token(&admin).await;
    let names = |comments: &[Value]| -> Vec<String> {
        comments[0]["attachments"]
            .as_array()
            .expect("attachments")
            .iter()
            .map(|a| a["file_name"].as_str().expect("name").to_owned())
            .collect()
    };
    // Raw 8-bit GB2312 headers are decoded with the body's charset.
    let (s, out) = deliver(&app, &t, &corpus("mime/flanker-charset-gb2312.eml")).await;
    assert_eq!(s, 202, "{out}");
    let tk = admin
        .get(&format!(
            "/api/tickets/{}",
            out["ticket_id"].as_str().expect("id")
        ))
        .await
        .expect(200)
        .clone();
    assert_eq!(tk["subject"], "提示：您的企业成员暂时无法登录邮件客户端");
    assert_eq!(tk["requester_name"], "腾讯企业邮箱");
    assert_eq!(tk["requester_email"], "10000@qq.com");
    let c = thread(&admin, &out["ticket_id"]).await;
    assert!(
        c[0]["body"].as_str().expect("body").contains("企业"),
        "{}",
        c[0]["body"]
    );
    // HTML is kept only after sanitizing.
    let html = c[0]["html_body"].as_str().expect("html body");
    assert!(!html.to_lowercase().contains("<script"));
    // RFC 2231 and encoded-word file names, inline images.
    let (_, out) = deliver(&app, &t, &corpus("mime/mailparser-nodemailer.eml")).await;
    assert_eq!(out["action"], "created", "nodemailer: {out}");
    let c = thread(&admin, &out["ticket_id"]).await;
    let n = names(&c);
    assert!(n.contains(&"nyan cat ✔.gif".to_owned()), "{n:?}");
    assert!(n.contains(&"notes.txt".to_owned()), "{n:?}");
    assert!(n.contains(&"image.png".to_owned()), "{n:?}");
    // A forwarded message travels as an .eml attachment.
    let (_, out) = deliver(&app, &t, &corpus("mime/flanker-enclosed.eml")).await;
    assert_eq!(out["action"], "created", "enclosed: {out}");
    let c = thread(&admin, &out["ticket_id"]).await;
    let files = c[0]["attachments"].as_array().expect("attachments");
    assert!(
        files
            .iter()
            .any(|f| f["mime_type"] == "message/rfc822" && f["file_name"] != "original.eml"),
        "{files:?}"
    );
    // iPhone photo; windows-1252 text with an embedded image and an attachment.
    let (_, out) = deliver(&app, &t, &corpus("mime/flanker-iphone.eml")).await;
    assert_eq!(out["action"], "created", "iphone: {out}");
    let c = thread(&admin, &out["ticket_id"]).await;
    assert!(
        names(&c).contains(&"photo.JPG".to_owned()),
        "{:?}",
        names(&c)
    );
    let (_, out) = deliver(&app, &t, &corpus("mime/stalwart-thirdparty-019.eml")).await;
    assert_eq!(out["action"], "created", "{out}");
    let c = thread(&admin, &out["ticket_id"]).await;
    assert!(names(&c).len() >= 2, "{:?}", names(&c));
    // euc-jp, UTF-16 and binary parts; a message without its final boundary; an inline
    // forward with In-Reply-To pointing at mail we never saw.
    // A MIME fixture without any sender is received but opens nothing.
    let (s, out) = deliver(&app, &t, &corpus("mime/stalwart-thirdparty-005.eml")).await;
    assert_eq!(
        (s, out["reason"].as_str()),
        (202, Some("no sender address")),
        "{out}"
    );
    for file in [
        "mime/flanker-missing-final-boundary.eml",
        "mime/flanker-multi-received-headers.eml",
    ] {
        let (s, out) = deliver(&app, &t, &corpus(file)).await;
        assert_eq!(
            (s, out["action"].as_str()),
            (202, Some("created")),
            "{file}: {out}"
        );
        let c = thread(&admin, &out["ticket_id"]).await;
        assert!(
            !c[0]["body"].as_str().expect("body").contains('\u{fffd}'),
            "{file}"
        );
    }
}
both!(corpus_mime_decodes_names_charsets_and_parts, mime_corpus);

async fn threading(app: TestApp) {
    let admin = app.admin().await;
    let t = token(&admin).await;
    let (_, first) = deliver(
        &app,
        &t,
        &mail(
            "pat@example.com",
            "Printer on fire",
            "m1@example.com",
            "",
            "Help!",
        ),
    )
    .await;
    assert_eq!(first["action"], "created");
    let id = first["ticket_id"].as_str().expect("id").to_owned();
    let tk = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(tk["channel"], "email");
    assert_eq!(tk["requester_name"], "Casey Customer");
    // The same message again is one comment.
    let (_, dup) = deliver(
        &app,
        &t,
        &mail(
            "pat@example.com",
            "Printer on fire",
            "m1@example.com",
            "",
            "Help!",
        ),
    )
    .await;
    assert_eq!(dup["action"], "ignored");
    assert_eq!(dup["ticket_id"], first["ticket_id"]);
    assert_eq!(dup["comment_id"], first["comment_id"]);
    // In-Reply-To threads; a quoted reply keeps only the new text.
    let (_, r) = deliver(
        &app,
        &t,
        &mail(
            "pat@example.com",
            "Re: Printer on fire",
            "m2@example.com",
            "In-Reply-To: <m1@example.com>\r\nReferences: <m1@example.com>\r\n",
            "Still burning.\r\n\r\nOn Mon, Nov 23, 2026 at 10:00 AM Casey <pat@example.com> wrote:\r\n> Help!",
        ),
    )
    .await;
    assert_eq!(r["action"], "appended", "{r}");
    assert_eq!(r["ticket_id"], first["ticket_id"]);
    // The subject token threads when headers are lost.
    let number = tk["ticket_number"].as_str().expect("number").to_owned();
    let (_, r2) = deliver(
        &app,
        &t,
        &mail(
            "other@example.com",
            &format!("AW: [{number}] Printer"),
            "m3@example.com",
            "",
            // Localized quote intro (Russian) and a phone's signature: only the reply is kept.
            "Me too\r\n\r\nОтправлено с iPhone\r\n\r\n23.11.2026 10:00 пользователь \"Casey\" <pat@example.com> написал:\r\nHelp!",
        ),
    )
    .await;
    assert_eq!(r2["action"], "appended", "{r2}");
    let c = thread(&admin, &first["ticket_id"]).await;
    let bodies: Vec<&str> = c
        .iter()
        .map(|x| x["body"].as_str().expect("body"))
        .collect();
    assert_eq!(bodies, ["Help!", "Still burning.", "Me too"]);
    let after = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(after["unread_by_agent"], 3);
    // A customer reply reopens a pending ticket…
    admin
        .put(
            &format!("/api/tickets/{id}/status"),
            json!({"status": "pending"}),
        )
        .await
        .expect(200);
    let (_, _) = deliver(
        &app,
        &t,
        &mail(
            "pat@example.com",
            "Re: x",
            "m4@example.com",
            "In-Reply-To: <m3@example.com>\r\n",
            "ok",
        ),
    )
    .await;
    let after = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(after["status"], "open");
    // …and a reply to a closed ticket opens a follow-up.
    admin
        .post_empty(&format!("/api/tickets/{id}/close"))
        .await
        .expect(200);
    let (_, f) = deliver(
        &app,
        &t,
        &mail(
            "pat@example.com",
            "Re: Printer on fire",
            "m5@example.com",
            "In-Reply-To: <m4@example.com>\r\n",
            "Again",
        ),
    )
    .await;
    assert_eq!(f["action"], "created", "{f}");
    let fu = admin
        .get(&format!(
            "/api/tickets/{}",
            f["ticket_id"].as_str().expect("id")
        ))
        .await
        .expect(200)
        .clone();
    assert_eq!(fu["follow_up_of_id"], id.as_str());
}
both!(inbound_threads_by_headers_then_subject_token, threading);

async fn inbound_errors(app: TestApp) {
    let admin = app.admin().await;
    let t = token(&admin).await;
    let raw = mail("a@example.com", "x", "e1@x", "", "y");
    let (s, body) = deliver(&app, "fdin_wrong", &raw).await;
    assert_eq!(s, 401, "{body}");
    assert_eq!(body["code"], "unauthorized");
    let res = app
        .http
        .post(format!("{}/api/integrations/email/inbound", app.base))
        .body(raw.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 401);
    let res = app
        .http
        .post(format!("{}/api/integrations/email/inbound", app.base))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 415);
    let (s, body) = deliver(&app, &t, b"this is not an email at all").await;
    assert_eq!(s, 422, "{body}");
    // The server refuses an oversized body before reading it and then closes that connection
    // (sent on a client of its own, so the shared client never reuses it). The client sees the
    // 413, or, when the close beats the rest of its 41 MiB upload, a broken connection; either
    // way nothing is taken in (checked below: the ticket count does not move).
    let before = admin.get("/api/tickets").await.expect(200)["pagination"]["total"].clone();
    match reqwest::Client::new()
        .post(format!("{}/api/integrations/email/inbound", app.base))
        .bearer_auth(&t)
        .header("content-type", "message/rfc822")
        .body(vec![b'a'; 41 * 1024 * 1024])
        .send()
        .await
    {
        Ok(res) => assert_eq!(res.status().as_u16(), 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e:?}"),
    }
    let after = admin.get("/api/tickets").await.expect(200)["pagination"]["total"].clone();
    assert_eq!(before, after, "an oversized message is not taken in");
    // Rotating the token retires the old one.
    let rotated = admin
        .put("/api/settings/email", json!({"rotate_inbound_token": true}))
        .await
        .expect(200)
        .clone();
    assert_ne!(rotated["inbound_token"], t.as_str());
    let (s, _) = deliver(&app, &t, &raw).await;
    assert_eq!(s, 401);
    let agent = admin.user(&app, "agent").await;
    agent
        .get("/api/settings/email")
        .await
        .expect_problem(403, "forbidden");
    admin
        .put(
            "/api/settings/email",
            json!({"support_address": "not an address"}),
        )
        .await
        .expect_problem(422, "validation_failed");
}
both!(inbound_refuses_bad_tokens_types_and_sizes, inbound_errors);

async fn robustness(app: TestApp) {
    let admin = app.admin().await;
    let t = token(&admin).await;
    // Every corpus file cut at several points, and with bytes flipped: never a 5xx, and each
    // answered within the request (no hang).
    let files = [
        "mime/mailparser-nodemailer.eml",
        "mime/flanker-enclosed.eml",
        "mime/stalwart-thirdparty-005.eml",
        "auto-bounce/sisimai-lhost-postfix-01.eml",
        "replies/talon-gmail.eml",
    ];
    for file in files {
        let raw = corpus(file);
        for cut in [1, 7, raw.len() / 3, raw.len() / 2, raw.len() - 1] {
            let (s, out) = deliver(&app, &t, &raw[..cut]).await;
            assert!(s < 500, "{file} cut at {cut}: {s} {out}");
        }
        let mut flipped = raw.clone();
        for i in (0..flipped.len()).step_by(13) {
            flipped[i] ^= 0x5a;
        }
        let (s, out) = deliver(&app, &t, &flipped).await;
        assert!(s < 500, "{file} flipped: {s} {out}");
    }
    // Deeply nested multiparts and a header without a body.
    let mut nested =
        String::from("From: n@example.com\r\nMessage-ID: <deep@x>\r\nSubject: deep\r\n");
    for i in 0..200 {
        nested.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    nested.push_str("Content-Type: text/plain\r\n\r\nbottom\r\n");
    let (s, out) = deliver(&app, &t, nested.as_bytes()).await;
    assert!(s < 500, "{s} {out}");
    let (s, out) = deliver(&app, &t, b"From: only@example.com\r\n").await;
    assert!(s < 500, "{s} {out}");
}
both!(malformed_mail_never_yields_a_server_error, robustness);

async fn upload(
    app: &TestApp,
    who: &Client,
    name: &str,
    bytes: Vec<u8>,
    claimed: &str,
) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(claimed)
        .expect("mime");
    let form = reqwest::multipart::Form::new().part("file", part);
    let res = app
        .http
        .post(format!("{}/api/attachments", app.base))
        .bearer_auth(who.token.as_deref().expect("token"))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn uploads(backend: Backend) {
    let Some(app) = TestApp::start_with(
        backend,
        crate::common::Options {
            max_attachment_bytes: Some(2 * 1024 * 1024),
            ..Default::default()
        },
    )
    .await
    else {
        return;
    };
    let admin = app.admin().await;
    let engineer = admin.user(&app, "engineer").await;
    // A PNG that claims to be text, with a path in its name: stored by content type, under a
    // plain name; 1.5 MiB (over the JSON body limit, under the attachment limit).
    let mut png = vec![
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];
    png.resize(1_500_000, 7);
    let (s, a) = upload(
        &app,
        &admin,
        "../../etc/passwd.png",
        png.clone(),
        "text/plain",
    )
    .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["file_name"], "passwd.png");
    assert_eq!(a["mime_type"], "image/png");
    assert_eq!(a["file_size"], 1_500_000);
    let (s, b) = upload(
        &app,
        &engineer,
        "<img src=x onerror=alert(1)>.html",
        b"just words".to_vec(),
        "text/html",
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["mime_type"], "text/plain", "sniffed, not trusted");
    // Too big → 413; nothing to upload → 422; not multipart → 415.
    let (s, _) = upload(
        &app,
        &admin,
        "big.bin",
        vec![1u8; 2 * 1024 * 1024 + 1],
        "application/octet-stream",
    )
    .await;
    assert_eq!(s, 413);
    let res = app
        .http
        .post(format!("{}/api/attachments", app.base))
        .bearer_auth(admin.token.as_deref().expect("token"))
        .json(&json!({"file": "x"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 415);
    let empty = reqwest::multipart::Form::new().text("other", "x");
    let res = app
        .http
        .post(format!("{}/api/attachments", app.base))
        .bearer_auth(admin.token.as_deref().expect("token"))
        .multipart(empty)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 422);
    // Linked to a reply: listed on the comment, downloadable with safe headers.
    let t = admin.ticket("Files", "f@example.com").await;
    let tid = t["id"].as_str().expect("id");
    let c = admin
        .post(
            &format!("/api/tickets/{tid}/comments"),
            json!({"body": "see attached", "attachment_ids": [a["id"], b["id"]]}),
        )
        .await
        .expect(201)
        .clone();
    let names: Vec<&str> = c["attachments"]
        .as_array()
        .expect("attachments")
        .iter()
        .map(|x| x["file_name"].as_str().expect("name"))
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"passwd.png"));
    let res = app
        .http
        .get(format!(
            "{}/api/attachments/{}",
            app.base,
            a["id"].as_str().expect("id")
        ))
        .bearer_auth(engineer.token.as_deref().expect("token"))
        .send()
        .await
        .expect("download");
    assert_eq!(res.status().as_u16(), 200);
    let cd = res.headers()["content-disposition"]
        .to_str()
        .expect("cd")
        .to_owned();
    assert!(
        cd.starts_with("attachment; filename=\"passwd.png\""),
        "{cd}"
    );
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.bytes().await.expect("bytes").len(), png.len());
    let res = app
        .http
        .get(format!(
            "{}/api/attachments/{}",
            app.base,
            b["id"].as_str().expect("id")
        ))
        .bearer_auth(admin.token.as_deref().expect("token"))
        .send()
        .await
        .expect("download");
    let cd = res.headers()["content-disposition"]
        .to_str()
        .expect("cd")
        .to_owned();
    assert!(
        !cd.contains('<') && cd.contains("filename*=UTF-8''%3Cimg%20src%3Dx"),
        "{cd}"
    );
    // An attachment links once; unknown ids and other workspaces' files are refused.
    admin
        .post(
            &format!("/api/tickets/{tid}/comments"),
            json!({"body": "again", "attachment_ids": [a["id"]]}),
        )
        .await
        .expect_problem(422, "validation_failed");
    admin
        .post(
            &format!("/api/tickets/{tid}/comments"),
            json!({"body": "nope", "attachment_ids": [uuid::Uuid::now_v7()]}),
        )
        .await
        .expect_problem(422, "validation_failed");
    let thread = admin
        .get(&format!("/api/tickets/{tid}/comments"))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        thread["comments"].as_array().expect("c").len(),
        2,
        "refused comments were not saved"
    );
    admin
        .get(&format!("/api/attachments/{}", uuid::Uuid::now_v7()))
        .await
        .expect_problem(404, "not_found");
    // A record whose file left storage answers a 404 that says so, not a 500.
    let key = app
        .raw_texts("SELECT storage_key FROM attachments WHERE file_name = 'passwd.png'")
        .await
        .remove(0);
    app.app.files.delete(&key).await.expect("delete");
    let gone = admin
        .get(&format!(
            "/api/attachments/{}",
            a["id"].as_str().expect("id")
        ))
        .await
        .expect_problem(404, "not_found")
        .clone();
    assert!(
        gone["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("no longer in storage"),
        "{gone}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_streamed_sniffed_and_linked_sqlite() {
    uploads(Backend::Sqlite).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_streamed_sniffed_and_linked_postgres() {
    uploads(Backend::Postgres).await;
}

/// An S3-compatible server (moto, from PyPI) on a free port.
pub(crate) struct S3Server {
    child: std::process::Child,
    pub(crate) port: u16,
}

impl S3Server {
    pub(crate) fn start() -> S3Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let mut child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server (pip install 'moto[s3,server]') must be installed");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return S3Server { child, port };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("moto_server does not listen");
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn s3(backend: Backend) {
    ferrodesk::app::install_tls();
    let server = S3Server::start();
    let endpoint = format!("http://127.0.0.1:{}", server.port);
    // Create the bucket with a plain S3 call.
    let res = reqwest::Client::new()
        .put(format!("{endpoint}/ferrodesk-files"))
        .send()
        .await
        .expect("create bucket");
    assert!(res.status().is_success(), "{}", res.status());
    let store = format!(
        "s3://ferrodesk-files/attachments?endpoint={endpoint}&region=us-east-1&allow_http=true&access_key_id=test&secret_access_key=test"
    );
    let Some(app) = TestApp::start_with(
        backend,
        crate::common::Options {
            attachment_store: Some(store),
            ..Default::default()
        },
    )
    .await
    else {
        return;
    };
    let admin = app.admin().await;
    let bytes: Vec<u8> = (0..12_000_000u32).map(|i| (i % 251) as u8).collect();
    let (s, a) = upload(
        &app,
        &admin,
        "big.bin",
        bytes.clone(),
        "application/octet-stream",
    )
    .await;
    assert_eq!(s, 201, "{a}");
    // The object is in the bucket under the prefix…
    let key = format!("{endpoint}/ferrodesk-files?list-type=2&prefix=attachments/");
    let listing = reqwest::Client::new()
        .get(key)
        .send()
        .await
        .expect("list")
        .text()
        .await
        .expect("xml");
    assert!(
        listing.contains(&a["id"].as_str().expect("id").replace('-', "")),
        "{listing}"
    );
    // …and comes back whole.
    let got = app
        .http
        .get(format!(
            "{}/api/attachments/{}",
            app.base,
            a["id"].as_str().expect("id")
        ))
        .bearer_auth(admin.token.as_deref().expect("token"))
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(got.as_ref(), bytes.as_slice());
    // Inbound mail stores its files there too.
    let t = token(&admin).await;
    let (status, out) = deliver(
        &app,
        &t,
        &mail("s3@example.com", "Files", "s3-1@x", "", "with original"),
    )
    .await;
    assert_eq!(
        (status, out["action"].as_str()),
        (202, Some("created")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_live_in_an_s3_bucket_when_configured_sqlite() {
    s3(Backend::Sqlite).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_live_in_an_s3_bucket_when_configured_postgres() {
    s3(Backend::Postgres).await;
}

async fn reply_time_rules(app: TestApp) {
    let admin = app.admin().await;
    let t = token(&admin).await;
    admin
        .post(
            "/api/tickets/automation-rules",
            json!({"name": "Customer keeps writing", "trigger": "time",
                   "conditions": {"all": [{"field": "customer_replies_since_agent", "op": "gt", "value": 1}]},
                   "actions": [{"type": "add_tag", "value": "needs-attention"}]}),
        )
        .await
        .expect(201);
    admin
        .post(
            "/api/tickets/automation-rules",
            json!({"name": "Waiting on us", "trigger": "time",
                   "conditions": {"all": [{"field": "hours_since_last_agent_reply", "op": "gt", "value": 2}, {"field": "status", "op": "eq", "value": "open"}]},
                   "actions": [{"type": "set_priority", "value": "high"}]}),
        )
        .await
        .expect(201);
    let (_, first) = deliver(
        &app,
        &t,
        &mail("kim@example.com", "Help", "t1@x", "", "one"),
    )
    .await;
    let id = first["ticket_id"].as_str().expect("id").to_owned();
    admin
        .post(
            &format!("/api/tickets/{id}/comments"),
            json!({"body": "Looking into it"}),
        )
        .await
        .expect(201);
    let scan = |hours: i64| {
        let store = app.app.store.clone();
        async move {
            ferrodesk::workflow::rules::scan::run(
                &store,
                ferrodesk::clock::now_micros() + hours * 3_600_000_000,
            )
            .await
            .expect("scan")
        }
    };
    assert_eq!(
        scan(0).await,
        0,
        "an agent just replied; the customer has not written since"
    );
    for (n, mid) in [(1, "t2@x"), (2, "t3@x")] {
        let (_, r) = deliver(
            &app,
            &t,
            &mail(
                "kim@example.com",
                "Re: Help",
                mid,
                "In-Reply-To: <t1@x>\r\n",
                &format!("more {n}"),
            ),
        )
        .await;
        assert_eq!(r["action"], "appended");
    }
    assert_eq!(scan(0).await, 1, "two customer replies since the agent's");
    let tk = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(tk["tags"], json!(["needs-attention"]));
    assert_eq!(tk["priority"], "medium");
    // Three hours later with no agent reply the second rule fires too.
    assert_eq!(scan(3).await, 1);
    let tk = admin
        .get(&format!("/api/tickets/{id}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(tk["priority"], "high");
}
both!(
    time_rules_see_customer_replies_and_agent_silence,
    reply_time_rules
);
