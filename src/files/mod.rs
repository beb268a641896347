//! File storage for attachments through `object_store`: a folder under the data directory by
//! default. Keys are made here (`<workspace>/<attachment id>`); nothing from user input ever
//! becomes part of a path.

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

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
