//! Taking in an uploaded file: streamed to storage in parts (never whole in memory), refused
//! past the size limit, its type sniffed from its first bytes, its name made safe, and
//! recorded as an attachment not yet linked to a comment. The API and the web forms both
//! upload through here.

use bytes::Bytes;
use futures_util::StreamExt;

use super::Files;
use crate::error::{Code, Error, Result};
use crate::ids::WorkspaceId;
use crate::store::Store;
use crate::store::attachments::AttachmentRow;

/// What is known of an upload before its bytes arrive.
pub struct NewUpload<'a> {
    pub workspace_id: WorkspaceId,
    /// The staff user or customer who sent it.
    pub uploaded_by: Option<uuid::Uuid>,
    /// The name the client gave.
    pub file_name: Option<&'a str>,
    /// `FERRODESK_MAX_ATTACHMENT_BYTES`.
    pub limit: usize,
}

/// Streams `chunks` into storage and records the attachment; a failed or oversized upload is
/// removed from storage and recorded nowhere.
pub async fn upload<E>(
    files: &Files,
    store: &Store,
    new: NewUpload<'_>,
    chunks: impl futures_core::Stream<Item = std::result::Result<Bytes, E>>,
) -> Result<AttachmentRow> {
    let mut chunks = std::pin::pin!(chunks);
    let limit = new.limit;
    let id = uuid::Uuid::now_v7();
    let key = Files::key(new.workspace_id, id);
    let mut upload = files
        .start(&key)
        .await
        .map_err(|e| Error::Internal(e.context("starting an upload")))?;
    let mut head: Vec<u8> = Vec::new();
    let mut size = 0usize;
    while let Some(chunk) = chunks.next().await {
        let Ok(chunk) = chunk else {
            upload.abort().await;
            return Err(Error::bad_request("the upload was interrupted"));
        };
        size += chunk.len();
        if size > limit {
            upload.abort().await;
            return Err(Error::Client(
                Code::PayloadTooLarge,
                format!("attachments are limited to {limit} bytes"),
            ));
        }
        if head.len() < 8192 {
            head.extend_from_slice(&chunk[..chunk.len().min(8192 - head.len())]);
        }
        upload
            .write(&chunk)
            .await
            .map_err(|e| Error::Internal(e.context("writing an upload")))?;
    }
    upload
        .finish()
        .await
        .map_err(|e| Error::Internal(e.context("finishing an upload")))?;
    let row = AttachmentRow {
        id,
        workspace_id: new.workspace_id,
        ticket_id: None,
        comment_id: None,
        file_name: clean_file_name(new.file_name),
        mime_type: sniff(&head),
        file_size: i64::try_from(size).unwrap_or(i64::MAX),
        storage_key: key,
        content_id: None,
        is_inline: false,
        uploaded_by: new.uploaded_by,
        created_at: crate::clock::now_micros(),
    };
    let mut tx = store.begin().await?;
    crate::store::attachments::insert_attachment(&mut tx, &row);
    tx.commit().await?;
    Ok(row)
}

/// A file name safe to store and show: the last path segment, no control characters, at most
/// 255 characters.
pub(crate) fn clean_file_name(raw: Option<&str>) -> String {
    let base = raw
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let name: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let name = name.trim().trim_start_matches('.').to_owned();
    if name.is_empty() { "file".into() } else { name }
}

/// The type of a file from its first bytes (never from what the client claims).
pub(crate) fn sniff(head: &[u8]) -> String {
    if let Some(t) = infer::get(head) {
        return t.mime_type().to_owned();
    }
    if std::str::from_utf8(head).is_ok() || head.is_empty() {
        "text/plain".into()
    } else {
        "application/octet-stream".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_controls_and_types_come_from_content() {
        assert_eq!(clean_file_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(
            clean_file_name(Some("C:\\x\\report\u{7}.pdf")),
            "report.pdf"
        );
        assert_eq!(clean_file_name(Some("...")), "file");
        assert_eq!(clean_file_name(None), "file");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff(b"plain words"), "text/plain");
        assert_eq!(sniff(&[0xff, 0xfe, 0x00, 0x81]), "application/octet-stream");
    }
}
