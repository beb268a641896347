//! File storage for attachments through `object_store`: a folder under the data directory by
//! default. Keys are made here (`<workspace>/<attachment id>`); nothing from user input ever
//! becomes part of a path.

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::ids::WorkspaceId;

/// Where attachment bytes live.
#[derive(Clone)]
pub struct Files {
    store: Arc<dyn ObjectStore>,
}

impl Files {
    /// Files kept under `dir` (created if missing).
    pub fn local(dir: &std::path::Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Files {
            store: Arc::new(LocalFileSystem::new_with_prefix(dir)?),
        })
    }

    /// The storage key of an attachment.
    #[must_use]
    pub fn key(ws: WorkspaceId, id: uuid::Uuid) -> String {
        format!("{}/{}", ws.0.simple(), id.simple())
    }

    /// Writes a whole file (inbound mail parts are already in memory once parsed).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.store
            .put(&Path::from(key), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Starts writing a file chunk by chunk (uploads are streamed, never held whole).
    pub async fn start(&self, key: &str) -> anyhow::Result<Upload> {
        let upload = self.store.put_multipart(&Path::from(key)).await?;
        Ok(Upload {
            writer: WriteMultipart::new_with_chunk_size(upload, 1024 * 1024),
        })
    }

    /// Reads a file as a stream of chunks.
    pub async fn get(
        &self,
        key: &str,
    ) -> anyhow::Result<
        impl futures_core::Stream<Item = Result<bytes::Bytes, object_store::Error>> + use<>,
    > {
        Ok(self.store.get(&Path::from(key)).await?.into_stream())
    }
}

/// A file being written.
pub struct Upload {
    writer: WriteMultipart,
}

impl Upload {
    /// Appends bytes, waiting while earlier parts are still being written.
    pub async fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.writer.wait_for_capacity(4).await?;
        self.writer.write(bytes);
        Ok(())
    }

    /// Completes the file.
    pub async fn finish(self) -> anyhow::Result<()> {
        self.writer.finish().await?;
        Ok(())
    }

    /// Drops what was written.
    pub async fn abort(self) {
        let _ = self.writer.abort().await;
    }
}
