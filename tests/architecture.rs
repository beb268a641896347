//! Layering check (STYLE.md §2): axum only in `src/http/` and `src/app.rs`; SQL crates only in
//! `src/store/` (plus the sqlx derives and error mapping of `ids.rs` and `error.rs`).

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn layers_only_import_what_they_may() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .expect("prefix")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&file).expect("read");
        let http_ok = rel.starts_with("http/") || rel == "app.rs";
        let sql_ok = rel.starts_with("store/") || rel == "ids.rs" || rel == "error.rs";
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if !http_ok && (code.contains("axum::") || code.contains("tower_http::")) {
                violations.push(format!("{rel}:{}: axum outside http/", n + 1));
            }
            if !sql_ok
                && (code.contains("sqlx::")
                    || code.contains("sea_query::")
                    || code.contains("sea_query_sqlx::"))
            {
                violations.push(format!("{rel}:{}: SQL crate outside store/", n + 1));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}
