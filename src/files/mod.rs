//! File storage for attachments through `object_store`: a folder under the data directory by
//! default. Keys are made here (`<workspace>/<attachment id>`); nothing from user input ever
//! becomes part of a path.

use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::ids::WorkspaceId;

mod upload;

pub use upload::{NewUpload, upload};
pub(crate) use upload::{clean_file_name, sniff};

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

    /// Files kept in an S3-compatible bucket: `s3://bucket[/prefix][?option=value…]`, where the
    /// options are those of `object_store`'s S3 client (`endpoint`, `region`, `allow_http`,
    /// `access_key_id`, `secret_access_key`, …); anything not given comes from the standard
    /// `AWS_*` environment variables.
    pub fn s3(url: &str) -> anyhow::Result<Self> {
        use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
        let u = url::Url::parse(url)?;
        anyhow::ensure!(
            u.scheme() == "s3",
            "the attachment store must be an s3:// URL"
        );
        let bucket = u
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| anyhow::anyhow!("the s3:// URL names no bucket"))?;
        let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (k, v) in u.query_pairs() {
            let key: AmazonS3ConfigKey = k
                .parse()
                .map_err(|_| anyhow::anyhow!("unknown S3 option `{k}`"))?;
            b = b.with_config(key, v.into_owned());
        }
        let store: Arc<dyn ObjectStore> = Arc::new(b.build()?);
        let prefix = u.path().trim_matches('/');
        Ok(Files {
            store: if prefix.is_empty() {
                store
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
            },
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
        // Parts of 5 MiB, the smallest S3 accepts: memory per upload stays bounded by that.
        Ok(Upload {
            writer: WriteMultipart::new(upload),
        })
    }

    /// Deletes a file; one already gone is not an error (a retried job deletes it twice).
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a file as a stream of chunks; `None` when storage does not hold it.
    pub async fn get(
        &self,
        key: &str,
    ) -> anyhow::Result<
        Option<impl futures_core::Stream<Item = Result<bytes::Bytes, object_store::Error>> + use<>>,
    > {
        match self.store.get(&Path::from(key)).await {
            Ok(found) => Ok(Some(found.into_stream())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
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
