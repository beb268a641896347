//! `ferrodesk import csv FILE [--map column=field …]`: an RFC 4180 file with a header row,
//! one ticket a row, read with the `csv` crate. Columns are matched to fields by name
//! (case and spaces ignored) or by `--map`; unknown columns are listed in the report and left
//! out. A row that cannot be read or checked is reported with its line and skipped whole.
//!
//! A row's id is its `external_ref` when it has one, otherwise a digest of its cells, so the
//! same file imported twice writes nothing the second time.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::{Author, BATCH, Importer, Message, Record, priority_word, status_word, time_word};

/// The fields a column can fill.
pub const FIELDS: &[&str] = &[
    "subject",
    "description",
    "requester_email",
    "requester_name",
    "status",
    "priority",
    "category",
    "tags",
    "created_at",
    "assignee_email",
    "external_ref",
];

fn key(s: &str) -> String {
    s.trim().to_lowercase().replace([' ', '-'], "_")
}

/// Parses `--map column=field` pairs.
pub fn parse_maps(maps: &[String]) -> anyhow::Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for m in maps {
        let (column, field) = m
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--map {m}: write column=field"))?;
        let field = key(field);
        anyhow::ensure!(
            FIELDS.contains(&field.as_str()),
            "--map {m}: `{field}` is not a field; fields: {}",
            FIELDS.join(", ")
        );
        out.insert(key(column), field);
    }
    Ok(out)
}

/// Reads `input` and hands its rows to the importer a batch at a time; `progress` hears the
/// rows read so far.
pub async fn import(
    importer: &mut Importer<'_>,
    input: impl std::io::Read,
    maps: &HashMap<String, String>,
    progress: &mut dyn FnMut(usize),
) -> anyhow::Result<()> {
    // The csv crate counts the lines between records, not those inside quoted cells; the
    // report names the line an editor shows.
    let lines = LineEnds::default();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(Counting {
            inner: input,
            lines: lines.clone(),
            offset: 0,
        });
    let headers = reader.headers()?.clone();
    // Which field each column fills.
    let mut columns: Vec<Option<&'static str>> = Vec::new();
    for h in &headers {
        let k = key(h);
        let field = maps.get(&k).map_or(k.as_str(), String::as_str);
        let known = FIELDS.iter().find(|f| **f == field).copied();
        if known.is_none() {
            importer
                .report
                .notes
                .push(format!("column `{h}` matches no field; left out"));
        }
        columns.push(known);
    }
    for needed in ["subject", "requester_email"] {
        anyhow::ensure!(
            columns.contains(&Some(needed)),
            "the header names no `{needed}` column (map one with --map column={needed})"
        );
    }
    let now = crate::clock::now_micros();
    let mut batch = Vec::with_capacity(BATCH);
    let mut rows = 0;
    let mut record = csv::StringRecord::new();
    loop {
        let start = reader.position().byte();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                rows += 1;
                let at = record.position().map_or(start, csv::Position::byte);
                let line = lines.line_of(at);
                match to_record(&record, &columns, line, now) {
                    Ok(r) => batch.push(r),
                    Err(reason) => importer.fail(format!("line {line}"), reason),
                }
            }
            Err(e) => {
                rows += 1;
                let at = lines.line_of(e.position().map_or(start, csv::Position::byte));
                let reason = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("{len} cells where the header has {expected_len}"),
                    csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_owned(),
                    _ => e.to_string(),
                };
                importer.fail(format!("line {at}"), reason);
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
            }
        }
        if batch.len() >= BATCH {
            importer.write(std::mem::take(&mut batch)).await?;
            progress(rows);
        }
    }
    importer.write(batch).await?;
    progress(rows);
    Ok(())
}

/// The byte offsets of the line ends read and not yet passed, and how many were passed.
#[derive(Clone, Default)]
struct LineEnds(std::rc::Rc<std::cell::RefCell<(u64, Vec<u64>)>>);

impl LineEnds {
    /// The line (from 1) holding byte `offset`. A record of a CRLF file starts at the LF
    /// that ended the one before (the CR ended it), hence the line ends at `offset` count.
    /// Records are asked about in order, so the ends before `offset` are forgotten (memory
    /// stays that of the reader's buffer, not of the file).
    fn line_of(&self, offset: u64) -> u64 {
        let mut state = self.0.borrow_mut();
        let (passed, ends) = &mut *state;
        let before = ends.partition_point(|e| *e <= offset);
        ends.drain(..before);
        *passed += u64::try_from(before).unwrap_or(u64::MAX);
        *passed + 1
    }
}

/// A reader that notes where each line ends as the bytes go by.
struct Counting<R> {
    inner: R,
    lines: LineEnds,
    offset: u64,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut state = self.lines.0.borrow_mut();
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                state.1.push(self.offset + i as u64);
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// One row as a record; what is wrong with it otherwise.
fn to_record(
    row: &csv::StringRecord,
    columns: &[Option<&'static str>],
    line: u64,
    now: i64,
) -> Result<Record, String> {
    let mut cells: HashMap<&str, &str> = HashMap::new();
    for (column, value) in columns.iter().zip(row.iter()) {
        if let Some(field) = column {
            cells.insert(field, value);
        }
    }
    let get = |f: &str| {
        cells
            .get(f)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let mut errors = Vec::new();
    let status = match get("status") {
        None => crate::tickets::status::Status::New,
        Some(s) => status_word(&s).unwrap_or_else(|| {
            errors.push(format!(
                "status `{s}` is not new, open, pending, hold, solved, resolved or closed"
            ));
            crate::tickets::status::Status::New
        }),
    };
    let priority = match get("priority") {
        None => crate::tickets::status::Priority::Medium,
        Some(p) => priority_word(&p).unwrap_or_else(|| {
            errors.push(format!(
                "priority `{p}` is not low, normal, medium, high or urgent"
            ));
            crate::tickets::status::Priority::Medium
        }),
    };
    let created_at = match get("created_at") {
        None => now,
        Some(t) => time_word(&t).unwrap_or_else(|| {
            errors.push(format!(
                "created_at `{t}` is not an RFC 3339 time or a date"
            ));
            now
        }),
    };
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    let subject = get("subject").unwrap_or_default();
    let requester_email = get("requester_email").unwrap_or_default();
    let requester_name = get("requester_name");
    let description = get("description").unwrap_or_else(|| subject.clone());
    let external_ref = get("external_ref");
    let source_id = external_ref.clone().unwrap_or_else(|| {
        let mut h = Sha256::new();
        for cell in row {
            h.update(cell.as_bytes());
            h.update([0x1f]);
        }
        format!("sha256:{:x}", h.finalize())
    });
    Ok(Record {
        origin: format!("line {line}"),
        source_id,
        external_ref,
        subject,
        status,
        priority,
        category: get("category"),
        tags: get("tags")
            .map(|t| {
                t.split(';')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        messages: vec![Message {
            author: Author::Customer {
                email: requester_email.clone(),
                name: requester_name.clone(),
            },
            body: description,
            public: true,
            created_at,
            files: Vec::new(),
            source_id: None,
        }],
        requester_email,
        requester_name,
        requester_company: None,
        assignee_email: get("assignee_email"),
        created_at,
        updated_at: created_at,
    })
}
