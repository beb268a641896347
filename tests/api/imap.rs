//! The IMAP poller against a real Dovecot started by the test, with a mailbox the test fills
//! over IMAP.

use std::process::Command;

use futures_util::TryStreamExt;
use serde_json::json;

use crate::common::{Backend, TestApp};

/// A private Dovecot (IMAP only, plain auth on 127.0.0.1) with one user, `support`.
struct Dovecot {
    dir: tempfile::TempDir,
    port: u16,
}

const USER: &str = "support";
const PASSWORD: &str = "s3cret pass";

impl Dovecot {
    fn start() -> Dovecot {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("mail")).expect("mail dir");
        std::fs::create_dir_all(root.join("run")).expect("run dir");
        std::fs::create_dir_all(root.join("state")).expect("state dir");
        // Mail is kept as `nobody`; the folders must be reachable for that user.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::os::unix::fs::chown(root.join("mail"), Some(65534), Some(65534)).expect("chown");
        std::fs::write(root.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n"))
            .expect("passwd");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let r = root.display();
        let conf = format!(
            "base_dir = {r}/run\nstate_dir = {r}/state\nlog_path = {r}/dovecot.log\nprotocols = imap\nlisten = 127.0.0.1\nssl = no\n\
             disable_plaintext_auth = no\nauth_mechanisms = plain login\nmail_location = maildir:{r}/mail/%u\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {r}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid=65534 gid=65534 home={r}/mail/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service stats {{\n  unix_listener stats-writer {{\n    mode = 0666\n  }}\n}}\n"
        );
        std::fs::write(root.join("dovecot.conf"), conf).expect("conf");
        let status = Command::new("dovecot")
            .arg("-c")
            .arg(root.join("dovecot.conf"))
            .status()
            .expect("Dovecot (Debian package dovecot-imapd) must be installed");
        assert!(status.success(), "dovecot did not start");
        let d = Dovecot { dir, port };
        // Ready when it accepts connections.
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", d.port)).is_ok() {
                return d;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("dovecot does not listen on {}", d.port);
    }

    fn url(&self) -> String {
        format!("imap://{USER}:s3cret%20pass@127.0.0.1:{}", self.port)
    }

    async fn session(&self) -> async_imap::Session<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        let mut client = async_imap::Client::new(tcp);
        client
            .read_response()
            .await
            .expect("greeting")
            .expect("greeting");
        client
            .login(USER, PASSWORD)
            .await
            .map_err(|(e, _)| e)
            .expect("login")
    }

    async fn append(&self, raw: &str) {
        let mut s = self.session().await;
        s.append("INBOX", None, None, raw.as_bytes())
            .await
            .expect("append");
        s.logout().await.expect("logout");
    }

    async fn unseen(&self) -> usize {
        let mut s = self.session().await;
        s.select("INBOX").await.expect("select");
        let n = s.uid_search("UNSEEN").await.expect("search").len();
        s.logout().await.expect("logout");
        n
    }

    async fn mark_unseen(&self) {
        let mut s = self.session().await;
        s.select("INBOX").await.expect("select");
        let _: Vec<_> = s
            .uid_store("1:*", "-FLAGS (\\Seen)")
            .await
            .expect("store")
            .try_collect()
            .await
            .expect("store");
        s.logout().await.expect("logout");
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("dovecot")
            .arg("-c")
            .arg(self.dir.path().join("dovecot.conf"))
            .arg("stop")
            .status();
    }
}

fn mail(n: u32, extra: &str) -> String {
    format!(
        "From: Robin <robin@example.com>\r\nTo: support@acme.example\r\nSubject: Question {n}\r\nMessage-ID: <imap-{n}@example.com>\r\n{extra}\r\nBody {n}\r\n"
    )
}

async fn poller(backend: Backend) {
    let dovecot = Dovecot::start();
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let admin = app.admin().await;
    let settings = admin
        .put(
            "/api/settings/email",
            json!({"support_address": "support@acme.example", "imap_url": dovecot.url(), "imap_folder": "INBOX", "poll_seconds": 30}),
        )
        .await
        .expect(200)
        .clone();
    // The password is write-only.
    assert!(
        !settings["imap_url"]
            .as_str()
            .expect("url")
            .contains("s3cret")
    );
    dovecot.append(&mail(1, "")).await;
    dovecot.append(&mail(2, "")).await;
    dovecot
        .append(&mail(3, "Auto-Submitted: auto-replied\r\n"))
        .await;
    let report = admin
        .post_empty("/api/settings/email/poll")
        .await
        .expect(200)
        .clone();
    assert_eq!(report["fetched"], 3, "{report}");
    assert_eq!(report["created"], 2);
    assert_eq!(report["ignored"], 1);
    assert_eq!(dovecot.unseen().await, 0, "processed mail is flagged");
    // Nothing new: nothing fetched.
    let again = admin
        .post_empty("/api/settings/email/poll")
        .await
        .expect(200)
        .clone();
    assert_eq!(again["fetched"], 0);
    // A reply threads into the first ticket.
    dovecot
        .append(&mail(4, "In-Reply-To: <imap-1@example.com>\r\n"))
        .await;
    let r = admin
        .post_empty("/api/settings/email/poll")
        .await
        .expect(200)
        .clone();
    assert_eq!(r["appended"], 1, "{r}");
    // As after a crash between storing and flagging: every message unseen again. Nothing is
    // duplicated.
    dovecot.mark_unseen().await;
    let r = admin
        .post_empty("/api/settings/email/poll")
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (r["fetched"].as_i64(), r["ignored"].as_i64()),
        (Some(4), Some(4)),
        "{r}"
    );
    let list = admin.get("/api/tickets").await.expect(200).clone();
    assert_eq!(list["pagination"]["total"], 2);
    // Saving the settings with the masked URL keeps the real password.
    admin
        .put(
            "/api/settings/email",
            json!({"support_address": "support@acme.example", "imap_url": settings["imap_url"], "poll_seconds": 30}),
        )
        .await
        .expect(200);
    admin
        .post_empty("/api/settings/email/poll")
        .await
        .expect(200);
    // A wrong password is reported, not a server error.
    admin
        .put(
            "/api/settings/email",
            json!({"imap_url": format!("imap://{USER}:wrong@127.0.0.1:{}", dovecot.port)}),
        )
        .await
        .expect(200);
    admin
        .post_empty("/api/settings/email/poll")
        .await
        .expect_problem(503, "service_unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_poller_takes_mail_once_sqlite() {
    poller(Backend::Sqlite).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_poller_takes_mail_once_postgres() {
    poller(Backend::Postgres).await;
}
