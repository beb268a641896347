//! Layering check (STYLE.md §2, docs/architecture.md). Each rule names the files that may
//! mention something; every other file under `src/` must not, outside comments:
//! - axum and tower-http only in `src/http/` and `src/app.rs`;
//! - the SQL crates only in `src/store/` (plus the sqlx derives and error mapping of `ids.rs`
//!   and `error.rs`);
//! - the application container `crate::app` only at the edge: `src/http/`, `cli.rs`,
//!   `seed.rs`, `main.rs` and `app.rs` itself (services take `&Store` or `&Ctx`);
//! - `clock.rs` stands alone (no store);
//! - the job runner knows no job or scan by name (they are registered in the `Registry`);
//! - API URLs are spelt only at the edge (`http/links.rs`).
//!
//! The rules are data ([`RULES`]) and the scanner is tested on a made-up tree, so a rule
//! that stopped matching would fail here too.

use std::path::{Path, PathBuf};

/// A forbidden mention: `needles` may appear only in files that `allowed` accepts.
struct Rule {
    what: &'static str,
    needles: &'static [&'static str],
    allowed: fn(&str) -> bool,
}

const RULES: &[Rule] = &[
    Rule {
        what: "axum outside http/",
        needles: &["axum::", "tower_http::"],
        allowed: |rel| rel.starts_with("http/") || rel == "app.rs",
    },
    Rule {
        what: "SQL crate outside store/",
        needles: &["sqlx::", "sea_query::", "sea_query_sqlx::"],
        allowed: |rel| rel.starts_with("store/") || rel == "ids.rs" || rel == "error.rs",
    },
    Rule {
        what: "the application container (crate::app) below the edge",
        needles: &["crate::app", "ferrodesk::app"],
        allowed: |rel| {
            rel.starts_with("http/") || matches!(rel, "cli.rs" | "seed.rs" | "main.rs" | "app.rs")
        },
    },
    Rule {
        what: "an API URL spelt outside the edge (see http/links.rs)",
        needles: &["\"/api/"],
        allowed: |rel| rel.starts_with("http/") || rel == "app.rs",
    },
    Rule {
        what: "the clock depends on nothing",
        needles: &["crate::store", "crate::ctx", "crate::app"],
        allowed: |rel| rel != "clock.rs",
    },
    Rule {
        what: "the job runner names a job or scan",
        needles: &[
            "crate::sla",
            "crate::workflow",
            "crate::email",
            "crate::webhooks",
            "crate::integrations",
        ],
        allowed: |rel| rel != "jobs/runner.rs",
    },
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every violation in `files` (path relative to `src/`, text).
fn violations<'a>(files: impl IntoIterator<Item = (String, &'a str)>) -> Vec<String> {
    let mut found = Vec::new();
    for (rel, text) in files {
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for rule in RULES {
                if !(rule.allowed)(&rel) && rule.needles.iter().any(|x| code.contains(x)) {
                    found.push(format!("{rel}:{}: {}", n + 1, rule.what));
                }
            }
        }
    }
    found
}

#[test]
fn layers_only_import_what_they_may() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let files: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&src)
                .expect("prefix")
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(p).expect("read"))
        })
        .collect();
    assert!(
        files.len() > 50,
        "the scan found too few files: {}",
        files.len()
    );
    let found = violations(files.iter().map(|(r, t)| (r.clone(), t.as_str())));
    assert!(
        found.is_empty(),
        "layering violations:\n{}",
        found.join("\n")
    );
}

#[test]
fn each_rule_catches_a_violation_and_spares_comments() {
    let bad = [
        ("tickets/create.rs", "use crate::app::App;"),
        ("tickets/create.rs", "fn f(_: axum::Json<()>) {}"),
        ("workflow/merge.rs", "let q = sea_query::Query::select();"),
        ("clock.rs", "use crate::store::Store;"),
        ("jobs/runner.rs", "crate::sla::scan::run(&store, now).await"),
        (
            "tickets/model.rs",
            "let url = format!(\"/api/attachments/{id}\");",
        ),
    ];
    let found = violations(bad.iter().map(|(r, t)| ((*r).to_owned(), *t)));
    assert_eq!(found.len(), bad.len(), "{found:?}");
    let fine = [
        ("http/api/tickets.rs", "use crate::app::AppState;"),
        (
            "cli.rs",
            "let app = crate::app::App::new(config, jobs).await?;",
        ),
        ("store/tickets.rs", "use sea_query::Query;"),
        ("tickets/create.rs", "// crate::app is not for services"),
        (
            "app.rs",
            ".every(\"SLA scan\", |s, n| crate::sla::scan::run(s, n))",
        ),
    ];
    let found = violations(fine.iter().map(|(r, t)| ((*r).to_owned(), *t)));
    assert!(found.is_empty(), "{found:?}");
}

/// `|safe` turns off escaping: it is allowed only on message bodies, which are
/// `SanitizedHtml` (made by ammonia or by escaping), and on the admin page's section, which is
/// the output of another askama template. A new `|safe` must be added here with its reason.
#[test]
fn templates_mark_only_sanitized_html_safe() {
    const ALLOWED: [(&str, &str); 3] = [
        ("agent/thread.html", "m.body_html|safe"),
        ("portal/ticket.html", "m.body_html|safe"),
        ("admin/page.html", "body|safe"),
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut paths = Vec::new();
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read templates") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    walk(&root, &mut paths);
    let mut found = Vec::new();
    for p in &paths {
        let rel = p
            .strip_prefix(&root)
            .expect("prefix")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(p).expect("read");
        for (i, _) in text.match_indices("|safe") {
            let start = text[..i].rfind(['{', ' ']).map_or(0, |s| s + 1);
            let expr = text[start..i + 5].trim().to_owned();
            if !ALLOWED.contains(&(rel.as_str(), expr.as_str())) {
                found.push(format!("{rel}: {expr}"));
            }
        }
    }
    assert!(paths.len() > 10, "too few templates found");
    assert!(found.is_empty(), "unexpected |safe in templates: {found:?}");
}
