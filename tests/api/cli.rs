//! The binary: subcommands, first start, graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Runs `cmd` and asserts that it succeeded (showing its error output otherwise).
fn succeeds(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ferrodesk(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferrodesk"));
    c.env("FERRODESK_DATA_DIR", dir)
        .env_remove("FERRODESK_DATABASE_URL")
        .env("RUST_LOG", "warn");
    c
}

#[test]
fn subcommands_migrate_create_and_seed() {
    let dir = tempfile::tempdir().expect("dir");
    let out = ferrodesk(dir.path()).arg("migrate").output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("ferrodesk.db").exists());
    // The first run of a command that needs the app bootstraps the owner with a printed password.
    let out = ferrodesk(dir.path())
        .args([
            "user",
            "create",
            "--email",
            "ag@example.com",
            "--name",
            "Agent Smith",
            "--role",
            "agent",
            "--password",
            "password-123",
        ])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("created first admin admin@localhost with password "),
        "{stdout}"
    );
    assert!(
        stdout.contains("created user ag@example.com (agent)"),
        "{stdout}"
    );
    let out = ferrodesk(dir.path())
        .args([
            "user",
            "create",
            "--email",
            "ag@example.com",
            "--name",
            "Again",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success(), "duplicate email must fail");
    succeeds(ferrodesk(dir.path()).args([
        "workspace",
        "create",
        "--name",
        "Second",
        "--admin-email",
        "s@example.com",
        "--admin-password",
        "password-123",
    ]));
    let out = succeeds(ferrodesk(dir.path()).args(["seed", "--tickets", "4500"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("seeded 4500 tickets"));
    // Not a terminal: a progress line as each tenth is passed (batches of 2,000), no bar.
    let progress: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("/4500 tickets ("))
        .map(|l| l.split(' ').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(progress, ["2000/4500", "4000/4500", "4500/4500"]);
    let backup = dir.path().join("backup.db");
    succeeds(ferrodesk(dir.path()).args(["backup", backup.to_str().expect("utf8")]));
    assert!(backup.metadata().expect("backup").len() > 0);
}

#[test]
fn serve_prints_its_address_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = ferrodesk(dir.path())
        .env("FERRODESK_BIND", "127.0.0.1:0")
        .env("FERRODESK_ADMIN_EMAIL", "boss@example.com")
        .env("FERRODESK_ADMIN_PASSWORD", "password-123")
        .env_remove("FERRODESK_SMTP_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.expect("line");
        assert!(
            !line.contains("password-123"),
            "the configured password is never printed"
        );
        if let Some(a) = line.strip_prefix("listening on http://") {
            addr = Some(a.to_owned());
            break;
        }
    }
    let addr = addr.expect("listening line");
    // A plain HTTP/1.1 request: the server really answers before it is told to stop.
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    std::io::Write::write_all(
        &mut stream,
        b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    )
    .expect("write");
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("{\"status\":\"ok\"}"), "{answer}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "exit status {exit:?}");
    // Mail is not configured: the start says so (before it printed its address).
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut log)
        .expect("log");
    assert!(log.contains("Outbound mail is off"), "{log}");
}

/// `ferrodesk embed` computes the vectors seeded tickets lack, once; without the model it
/// fails and says why.
#[test]
fn embed_fills_missing_vectors_once() {
    let dir = tempfile::tempdir().expect("dir");
    let out = ferrodesk(dir.path())
        .env("FERRODESK_MODEL_DIR", dir.path().join("no-model"))
        .arg("embed")
        .output()
        .expect("embed");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("scripts/fetch-model"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let Some(model) = crate::common::model_dir() else {
        return;
    };
    let out = ferrodesk(dir.path())
        .args(["seed", "--tickets", "40"])
        .output()
        .expect("seed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "embedded 40 articles and tickets",
        "embedded 0 articles and tickets",
    ] {
        let out = ferrodesk(dir.path())
            .env("FERRODESK_MODEL_DIR", &model)
            .arg("embed")
            .output()
            .expect("embed");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(want),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn each_command_help_shows_the_settings_it_reads() {
    let dir = tempfile::tempdir().expect("dir");
    let help = |args: &[&str]| {
        let out = ferrodesk(dir.path()).args(args).output().expect("run");
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let seed = help(&["seed", "--help"]);
    for shown in ["--tickets", "--workspace", "--data-dir", "--database-url"] {
        assert!(seed.contains(shown), "seed --help lacks {shown}:\n{seed}");
    }
    for hidden in [
        "--bind",
        "--smtp-url",
        "--api-rate-limit",
        "--run-jobs",
        "--sla-tick-seconds",
    ] {
        assert!(
            !seed.contains(hidden),
            "seed --help shows {hidden}:\n{seed}"
        );
    }
    let migrate = help(&["migrate", "--help"]);
    assert!(
        migrate.contains("--database-url") && !migrate.contains("--bind"),
        "{migrate}"
    );
    let serve = help(&["serve", "--help"]);
    for shown in ["--bind", "--smtp-url", "--database-url"] {
        assert!(
            serve.contains(shown),
            "serve --help lacks {shown}:\n{serve}"
        );
    }
    // Hidden is not refused: a setting given anywhere on the line still parses.
    succeeds(ferrodesk(dir.path()).args(["migrate", "--sla-tick-seconds", "5"]));
}

/// `ferrodesk restore`: a backup goes into an empty data folder; a folder holding data is
/// replaced only with `--force` (and then holds exactly the backup); a file that is not a
/// Ferrodesk backup is refused and changes nothing.
#[test]
fn restore_puts_a_backup_back() {
    let dir = tempfile::tempdir().expect("dir");
    let live = dir.path().join("live");
    succeeds(ferrodesk(&live).args(["seed", "--tickets", "25"]));
    let backup = dir.path().join("b.db");
    succeeds(ferrodesk(&live).args(["backup", backup.to_str().expect("utf8")]));
    // A change after the backup.
    succeeds(ferrodesk(&live).args([
        "user",
        "create",
        "--email",
        "late@example.com",
        "--name",
        "After the backup",
        "--password",
        "password-123",
    ]));
    let users = |data: &std::path::Path| {
        let db = data.join("ferrodesk.db");
        let out = Command::new("python3")
            .args([
                "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from users').fetchone()[0], c.execute('select count(*) from tickets').fetchone()[0], c.execute(\"select count(*) from users where email='late@example.com'\").fetchone()[0])",
                db.to_str().expect("utf8"),
            ])
            .output()
            .expect("python3");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    // Into an empty folder.
    let fresh = dir.path().join("fresh");
    let out = succeeds(ferrodesk(&fresh).args(["restore", backup.to_str().expect("utf8")]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("25 tickets"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (before, after) = (users(&live), users(&fresh));
    assert!(before.ends_with(" 25 1"), "{before}");
    assert!(after.ends_with(" 25 0"), "{after}");
    // Over data: refused without --force, and nothing changed.
    let refused = ferrodesk(&live)
        .args(["restore", backup.to_str().expect("utf8")])
        .output()
        .expect("run");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    assert_eq!(users(&live), before);
    succeeds(ferrodesk(&live).args(["restore", backup.to_str().expect("utf8"), "--force"]));
    assert_eq!(users(&live), after, "exactly the backup");
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, just some bytes").expect("junk");
    let refused = ferrodesk(&fresh)
        .args(["restore", junk.to_str().expect("utf8"), "--force"])
        .output()
        .expect("run");
    assert!(!refused.status.success());
    assert_eq!(users(&fresh), after, "a refused restore changes nothing");
}
