//! WeCom (企业微信): the callback protocol of a self-built app, and notices through a group
//! robot.
//!
//! The callback protocol, as WeCom publishes it: the AES key is the 43-character
//! EncodingAESKey plus `=`, base64-decoded (32 bytes); the IV is its first 16 bytes. A message
//! is `random(16) ‖ len(4, big-endian) ‖ xml ‖ corp_id`, padded PKCS#7 to a multiple of 32
//! bytes, encrypted with AES-256-CBC and base64-encoded. `msg_signature` is the hex SHA-1 of
//! the sorted concatenation of token, timestamp, nonce and the encrypted text. URL
//! verification (`GET`) answers the decrypted `echostr`; messages (`POST`) carry the
//! encrypted text in `<Encrypt>`.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha1::{Digest, Sha1};

use super::settings::Wecom;
use crate::clock::now_micros;
use crate::error::{Code, Error, Result};
use crate::ids::WorkspaceId;
use crate::store::{self, Store};
use crate::tickets::status::Channel;

/// The algorithm's other half, for the unit test's round trip (passive replies are not sent).
#[cfg(test)]
type Enc = cbc::Encryptor<aes::Aes256>;
type Dec = cbc::Decryptor<aes::Aes256>;

/// Requests older or newer than this many seconds are refused (with the nonce record, replays).
pub const WINDOW_SECONDS: i64 = 300;

/// The AES key of an EncodingAESKey, or `None` when it is not one.
#[must_use]
pub fn aes_key(encoding_aes_key: &str) -> Option<[u8; 32]> {
    if encoding_aes_key.len() != 43 {
        return None;
    }
    // WeCom's keys often have non-zero trailing bits (its own sample does); decoders there are
    // lenient, so this one is too.
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let bytes = lenient.decode(format!("{encoding_aes_key}=")).ok()?;
    bytes.try_into().ok()
}

/// A configured callback: token, key and the corp id every message must name.
pub struct Crypto {
    token: String,
    key: [u8; 32],
    corp_id: String,
}

impl Crypto {
    /// The crypto of a configured WeCom section (`None` when incomplete).
    #[must_use]
    pub fn new(w: &Wecom) -> Option<Crypto> {
        Some(Crypto {
            token: w.token.clone()?,
            key: aes_key(w.encoding_aes_key.as_deref()?)?,
            corp_id: w.corp_id.clone()?,
        })
    }

    /// `msg_signature`: hex SHA-1 of the sorted token, timestamp, nonce and encrypted text.
    #[must_use]
    pub fn signature(&self, timestamp: &str, nonce: &str, encrypted: &str) -> String {
        let mut parts = [self.token.as_str(), timestamp, nonce, encrypted];
        parts.sort_unstable();
        Sha1::digest(parts.concat().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `given` is the signature of the request (constant-time).
    #[must_use]
    pub fn verify(&self, given: &str, timestamp: &str, nonce: &str, encrypted: &str) -> bool {
        let expected = self.signature(timestamp, nonce, encrypted);
        crate::auth::tokens::digests_match(
            expected.as_bytes(),
            given.to_ascii_lowercase().as_bytes(),
        )
    }

    /// Decrypts a message and checks that it was meant for this corp.
    pub fn decrypt(&self, encrypted: &str) -> std::result::Result<String, &'static str> {
        let mut buf = STANDARD
            .decode(encrypted.trim())
            .map_err(|_| "the encrypted text is not base64")?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err("the encrypted text is not a whole number of AES blocks");
        }
        let iv: [u8; 16] = self.key[..16].try_into().map_err(|_| "bad key")?;
        let plain = Dec::new(&self.key.into(), &iv.into())
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| "the message could not be decrypted")?;
        let pad = usize::from(*plain.last().ok_or("empty message")?);
        if !(1..=32).contains(&pad) || pad > plain.len() {
            return Err("the message could not be decrypted (padding)");
        }
        let plain = &plain[..plain.len() - pad];
        if plain.len() < 20 {
            return Err("the message is too short");
        }
        let len = u32::from_be_bytes(plain[16..20].try_into().map_err(|_| "bad length")?);
        let len = usize::try_from(len).map_err(|_| "bad length")?;
        let rest = &plain[20..];
        if len > rest.len() {
            return Err("the message length is wrong");
        }
        let (msg, receive_id) = rest.split_at(len);
        if receive_id != self.corp_id.as_bytes() {
            return Err("the message was meant for another corp");
        }
        String::from_utf8(msg.to_vec()).map_err(|_| "the message is not UTF-8")
    }

    /// Encrypts a message (the algorithm's other half; Ferrodesk sends no passive replies,
    /// the unit test round-trips through it).
    #[cfg(test)]
    #[must_use]
    pub fn encrypt(&self, msg: &str, random: [u8; 16]) -> String {
        use aes::cipher::BlockEncryptMut;
        let mut plain = random.to_vec();
        let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
        plain.extend_from_slice(&len.to_be_bytes());
        plain.extend_from_slice(msg.as_bytes());
        plain.extend_from_slice(self.corp_id.as_bytes());
        let pad = 32 - plain.len() % 32;
        plain.extend(std::iter::repeat_n(u8::try_from(pad).unwrap_or(32), pad));
        let n = plain.len();
        let iv: [u8; 16] = self.key[..16].try_into().unwrap_or([0; 16]);
        let out = Enc::new(&self.key.into(), &iv.into())
            .encrypt_padded_mut::<NoPadding>(&mut plain, n)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        STANDARD.encode(out)
    }
}

/// The query string of every callback request.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    pub workspace: Option<String>,
    pub msg_signature: Option<String>,
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    pub echostr: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "Encrypt")]
    encrypt: String,
}

#[derive(Debug, Deserialize)]
struct Message {
    #[serde(rename = "FromUserName", default)]
    from: String,
    #[serde(rename = "MsgType", default)]
    msg_type: String,
    #[serde(rename = "Content", default)]
    content: Option<String>,
    #[serde(rename = "MsgId", default)]
    msg_id: Option<String>,
    #[serde(rename = "CreateTime", default)]
    create_time: Option<i64>,
}

fn bad_signature() -> Error {
    Error::unauthorized("the msg_signature does not match")
}

async fn configured(store: &Store, q: &CallbackQuery) -> Result<(WorkspaceId, Crypto)> {
    let ws = super::workspace_by_slug(store, q.workspace.as_deref()).await?;
    let mut conn = store.read().await?;
    let s = super::settings::load(&mut conn, ws).await?;
    let crypto = s
        .wecom
        .filter(|w| w.enabled)
        .as_ref()
        .and_then(Crypto::new)
        .ok_or(Error::NotFound)?;
    Ok((ws, crypto))
}

fn params(q: &CallbackQuery) -> Result<(&str, &str, &str)> {
    match (&q.msg_signature, &q.timestamp, &q.nonce) {
        (Some(s), Some(t), Some(n)) if s.len() <= 64 && t.len() <= 20 && n.len() <= 64 => {
            Ok((s, t, n))
        }
        _ => Err(Error::unauthorized(
            "msg_signature, timestamp and nonce are required",
        )),
    }
}

/// URL verification: answers the decrypted `echostr`.
pub async fn verify_url(store: &Store, q: &CallbackQuery) -> Result<String> {
    let (_, crypto) = configured(store, q).await?;
    let (sig, ts, nonce) = params(q)?;
    let echo = q
        .echostr
        .as_deref()
        .ok_or_else(|| Error::bad_request("echostr is required"))?;
    if !crypto.verify(sig, ts, nonce, echo) {
        return Err(bad_signature());
    }
    crypto
        .decrypt(echo)
        .map_err(|why| Error::bad_request(why.to_owned()))
}

/// What a callback came to.
#[derive(Debug, serde::Serialize)]
pub struct Received {
    pub action: &'static str,
    pub ticket_id: Option<crate::ids::TicketId>,
}

/// A message: checks the signature, the time window and the nonce, decrypts, and turns text
/// into a ticket or a comment on the sender's open WeCom ticket. The same `MsgId` twice is
/// one comment.
// Long: WeCom's callback protocol in order (signature, time window, nonce, decryption, CorpID,
// message kinds), then the ticket or comment; each step refuses with its own 401 or 422.
pub async fn receive(store: &Store, q: &CallbackQuery, body: &str) -> Result<Received> {
    let (ws, crypto) = configured(store, q).await?;
    let (sig, ts, nonce) = params(q)?;
    let envelope: Envelope = quick_xml::de::from_str(body)
        .map_err(|_| Error::bad_request("the body is not a WeCom XML envelope with <Encrypt>"))?;
    if !crypto.verify(sig, ts, nonce, &envelope.encrypt) {
        return Err(bad_signature());
    }
    let now = now_micros();
    let sent: i64 = ts
        .parse()
        .map_err(|_| Error::unauthorized("timestamp must be unix seconds"))?;
    if (now / 1_000_000 - sent).abs() > WINDOW_SECONDS {
        return Err(Error::unauthorized(
            "timestamp is outside the five-minute window",
        ));
    }
    let xml = crypto
        .decrypt(&envelope.encrypt)
        .map_err(|why| Error::bad_request(why.to_owned()))?;
    let msg: Message = quick_xml::de::from_str(&xml)
        .map_err(|_| Error::bad_request("the decrypted message is not WeCom XML"))?;
    let mut tx = store.begin().await?;
    store::integrations::prune(&mut tx, "wecom_nonce", now - 2 * WINDOW_SECONDS * 1_000_000)
        .await?;
    if !store::integrations::remember(
        &mut tx,
        ws,
        "wecom_nonce",
        &format!("{ts}:{nonce}"),
        None,
        None,
        now,
    )
    .await?
    {
        return Err(Error::Client(
            Code::Unauthorized,
            "this nonce was already used (a replayed request)".into(),
        ));
    }
    let content = msg.content.as_deref().map(str::trim).unwrap_or_default();
    if msg.msg_type != "text" || content.is_empty() || msg.from.is_empty() {
        tx.commit().await?;
        return Ok(Received {
            action: "ignored",
            ticket_id: None,
        });
    }
    let msg_id = msg
        .msg_id
        .clone()
        .unwrap_or_else(|| format!("{}:{}", msg.from, msg.create_time.unwrap_or(sent)));
    if let Some(t) = store::integrations::lookup(&mut tx, ws, "wecom_msg", &msg_id).await? {
        tx.commit().await?;
        return Ok(Received {
            action: "duplicate",
            ticket_id: Some(t),
        });
    }
    let from: String = msg.from.chars().take(64).collect();
    let email = format!(
        "{}@wecom.invalid",
        from.chars()
            .map(
                |c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            )
            .collect::<String>()
    );
    let body: String = content.chars().take(64 * 1024).collect();
    let (ticket, action) = super::deliver_customer_message(
        tx,
        ws,
        super::CustomerMessage {
            email: &email,
            name: &from,
            body: &body,
            channel: Channel::Wecom,
            system: "wecom_msg",
            external_id: &msg_id,
        },
    )
    .await?;
    Ok(Received {
        action,
        ticket_id: Some(ticket),
    })
}

/// Delivers a `wecom` notification through the workspace's group robot.
pub async fn deliver(
    ctx: &crate::jobs::JobContext,
    n: &crate::store::notifications::NotificationRow,
    title: &str,
    text: &str,
) -> anyhow::Result<()> {
    let mut conn = ctx.store.read().await?;
    let s = super::settings::load(&mut conn, n.workspace_id).await?;
    drop(conn);
    let finish = |status: &'static str, error: Option<String>| async move {
        let mut tx = ctx.store.begin().await?;
        store::notifications::set_outcome(
            &mut tx,
            n.id,
            status,
            error.as_deref(),
            None,
            now_micros(),
        )
        .await?;
        tx.commit().await?;
        anyhow::Ok(())
    };
    let Some(url) = s
        .wecom
        .as_ref()
        .filter(|w| w.enabled)
        .and_then(|w| w.robot_webhook_url.clone())
    else {
        return finish(
            "undeliverable",
            Some("no WeCom robot webhook is configured (PUT /api/settings/integrations)".into()),
        )
        .await;
    };
    let (client, url) = match crate::net::guarded_client(&url, ctx.allow_private_webhooks).await {
        Ok(c) => c,
        Err(crate::net::PostError::Refused(why)) => {
            return finish("undeliverable", Some(why)).await;
        }
        Err(crate::net::PostError::Transient(why)) => anyhow::bail!(why),
    };
    // A robot's markdown message is limited to 4096 bytes.
    let mut content = format!("**{title}**\n{text}");
    while content.len() > 4000 {
        content.pop();
    }
    let body = serde_json::json!({"msgtype": "markdown", "markdown": {"content": content}});
    let res = client.post(url).json(&body).send().await?;
    let status = res.status();
    let answer: serde_json::Value = res.json().await.unwrap_or_default();
    match answer["errcode"].as_i64() {
        Some(0) if status.is_success() => finish("sent", None).await,
        // 93000: the robot's key is wrong or the robot was removed.
        Some(93000) => {
            finish(
                "undeliverable",
                Some(format!("WeCom refused the robot key: {answer}")),
            )
            .await
        }
        _ => anyhow::bail!("WeCom answered {status}: {answer}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{Crypto, aes_key};
    use crate::integrations::settings::Wecom;

    fn crypto() -> Crypto {
        Crypto::new(&Wecom {
            enabled: true,
            corp_id: Some("wx5823bf96d3bd56c7".into()),
            token: Some("QDG6eK".into()),
            encoding_aes_key: Some("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C".into()),
            robot_webhook_url: None,
        })
        .expect("complete")
    }

    #[test]
    fn encoding_aes_keys_are_43_base64_characters() {
        assert!(aes_key("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C").is_some());
        assert!(aes_key("short").is_none());
        assert!(aes_key("!WmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C").is_none());
    }

    #[test]
    fn messages_round_trip_and_name_their_corp() {
        let c = crypto();
        let xml = "<xml><Content><![CDATA[你好, world]]></Content></xml>";
        let enc = c.encrypt(xml, [7; 16]);
        assert_eq!(c.decrypt(&enc).as_deref(), Ok(xml));
        let other = Crypto {
            corp_id: "someone-else".into(),
            ..crypto()
        };
        assert!(other.decrypt(&enc).is_err());
        assert!(c.decrypt("not base64!").is_err());
    }

    #[test]
    fn signatures_sort_their_parts() {
        let c = crypto();
        let a = c.signature("1409659813", "1372623149", "abc");
        assert_eq!(a.len(), 40);
        assert!(c.verify(&a, "1409659813", "1372623149", "abc"));
        assert!(c.verify(&a.to_uppercase(), "1409659813", "1372623149", "abc"));
        assert!(!c.verify(&a, "1409659814", "1372623149", "abc"));
    }
}
