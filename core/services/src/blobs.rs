//! Where attachments' bytes live: content-addressed blobs, one per SHA-256, behind one small
//! trait with two implementations: a directory (the default, `data/attachments`) and an
//! S3-compatible bucket through `object_store`, for several nodes.
//!
//! Storing is idempotent (the same digest always names the same bytes), so a blob already
//! there is left alone and a blob left behind by a crash before its rows committed is harmless.

use crate::config::{AttachmentsConfig, BlobStoreKind, S3Config};
use bytes::Bytes;
use object_store::{aws::AmazonS3Builder, path::Path as ObjectPath, ObjectStore, PutPayload};
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use steward_domain::attachment::ContentDigest;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no stored content {0}")]
    Missing(String),
    #[error("the attachment store failed to {action}: {cause}")]
    Failed { action: &'static str, cause: String },
    #[error("the attachment store is misconfigured: {0}")]
    Config(String),
}

pub type BlobFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BlobError>> + Send + 'a>>;

/// Content-addressed bytes. Implementations never decide what is referenced: the store's
/// `attachment_blobs` rows (locked while these run) do.
pub trait BlobStore: Send + Sync {
    /// Makes sure the bytes of `digest` are stored (writes them unless they are there).
    fn store<'a>(&'a self, digest: &'a ContentDigest, bytes: Bytes) -> BlobFuture<'a, ()>;
    fn read<'a>(&'a self, digest: &'a ContentDigest) -> BlobFuture<'a, Bytes>;
    /// Removes the bytes of `digest`; removing what is not there succeeds.
    fn remove<'a>(&'a self, digest: &'a ContentDigest) -> BlobFuture<'a, ()>;
    /// Where blobs are kept, for the log at start-up.
    fn describe(&self) -> String;
}

/// The store the configuration names.
pub fn from_config(config: &AttachmentsConfig, env: impl Fn(&str) -> Option<String>) -> Result<Arc<dyn BlobStore>, BlobError> {
    Ok(match config.store {
        BlobStoreKind::Filesystem => Arc::new(FilesystemBlobs::new(config.directory.clone())) as Arc<dyn BlobStore>,
        BlobStoreKind::S3 => Arc::new(S3Blobs::new(&config.s3, env)?),
    })
}

/// Blobs as files, `<root>/ab/cd/<sha256>`. A blob is written to a temporary file in its own
/// directory, flushed to disk and renamed into place, so a crash never leaves a partial file
/// under a digest's name.
pub struct FilesystemBlobs {
    root: PathBuf,
}

impl FilesystemBlobs {
    pub fn new(root: PathBuf) -> Self {
        FilesystemBlobs { root }
    }

    fn path(&self, digest: &ContentDigest) -> PathBuf {
        self.root.join(digest.blob_path())
    }
}

fn failed(action: &'static str) -> impl Fn(std::io::Error) -> BlobError {
    move |e| BlobError::Failed { action, cause: e.to_string() }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, BlobError> + Send + 'static) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| BlobError::Failed { action: "run a file operation", cause: e.to_string() })?
}

impl BlobStore for FilesystemBlobs {
    fn store<'a>(&'a self, digest: &'a ContentDigest, bytes: Bytes) -> BlobFuture<'a, ()> {
        let path = self.path(digest);
        Box::pin(blocking(move || {
            if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
                return Ok(());
            }
            let dir = path.parent().expect("a blob path has a directory");
            std::fs::create_dir_all(dir).map_err(failed("create a blob directory"))?;
            let mut file = tempfile::NamedTempFile::new_in(dir).map_err(failed("create a temporary blob"))?;
            file.write_all(&bytes).map_err(failed("write a blob"))?;
            file.as_file().sync_all().map_err(failed("flush a blob"))?;
            file.persist(&path).map_err(|e| failed("rename a blob into place")(e.error))?;
            // The rename is durable only once the directory is.
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(failed("flush a blob directory"))?;
            Ok(())
        }))
    }

    fn read<'a>(&'a self, digest: &'a ContentDigest) -> BlobFuture<'a, Bytes> {
        let path = self.path(digest);
        let name = digest.as_str().to_owned();
        Box::pin(blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::Missing(name)),
            Err(e) => Err(failed("read a blob")(e)),
        }))
    }

    fn remove<'a>(&'a self, digest: &'a ContentDigest) -> BlobFuture<'a, ()> {
        let path = self.path(digest);
        Box::pin(blocking(move || match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(failed("remove a blob")(e)),
            _ => Ok(()),
        }))
    }

    fn describe(&self) -> String {
        format!("directory {}", self.root.display())
    }
}

/// Blobs as objects of an S3-compatible bucket, `<prefix>ab/cd/<sha256>`. A PUT is atomic: an
/// object is visible whole or not at all.
pub struct S3Blobs {
    store: object_store::aws::AmazonS3,
    prefix: String,
    bucket: String,
}

impl S3Blobs {
    pub fn new(config: &S3Config, env: impl Fn(&str) -> Option<String>) -> Result<S3Blobs, BlobError> {
        let secret = |name: &str| {
            env(name).filter(|v| !v.is_empty()).ok_or_else(|| BlobError::Config(format!("the environment variable {name} is not set")))
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(secret(&config.access_key_id_env)?)
            .with_secret_access_key(secret(&config.secret_access_key_env)?);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder.build().map_err(|e| BlobError::Config(e.to_string()))?;
        Ok(S3Blobs { store, prefix: config.prefix.clone(), bucket: config.bucket.clone() })
    }

    fn key(&self, digest: &ContentDigest) -> ObjectPath {
        ObjectPath::from(format!("{}{}", self.prefix, digest.blob_path()))
    }
}

fn s3_failed(action: &'static str) -> impl Fn(object_store::Error) -> BlobError {
    move |e| BlobError::Failed { action, cause: e.to_string() }
}

impl BlobStore for S3Blobs {
    fn store<'a>(&'a self, digest: &'a ContentDigest, bytes: Bytes) -> BlobFuture<'a, ()> {
        Box::pin(async move {
            let key = self.key(digest);
            match self.store.head(&key).await {
                Ok(meta) if meta.size == bytes.len() as u64 => return Ok(()),
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(s3_failed("look up an object")(e)),
            }
            self.store.put(&key, PutPayload::from(bytes)).await.map_err(s3_failed("put an object"))?;
            Ok(())
        })
    }

    fn read<'a>(&'a self, digest: &'a ContentDigest) -> BlobFuture<'a, Bytes> {
        Box::pin(async move {
            match self.store.get(&self.key(digest)).await {
                Ok(got) => got.bytes().await.map_err(s3_failed("read an object")),
                Err(object_store::Error::NotFound { .. }) => Err(BlobError::Missing(digest.as_str().to_owned())),
                Err(e) => Err(s3_failed("get an object")(e)),
            }
        })
    }

    fn remove<'a>(&'a self, digest: &'a ContentDigest) -> BlobFuture<'a, ()> {
        Box::pin(async move {
            match self.store.delete(&self.key(digest)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(s3_failed("delete an object")(e)),
            }
        })
    }

    fn describe(&self) -> String {
        format!("S3 bucket {} (prefix {:?})", self.bucket, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_directory_stores_each_content_once_and_forgets_it_on_removal() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FilesystemBlobs::new(dir.path().to_path_buf());
        let digest = ContentDigest::of(b"report");
        blobs.store(&digest, Bytes::from_static(b"report")).await.unwrap();
        blobs.store(&digest, Bytes::from_static(b"report")).await.unwrap();
        let path = dir.path().join(digest.blob_path());
        assert_eq!(std::fs::read(&path).unwrap(), b"report");
        let entries = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(entries, 1, "no temporary file is left beside the blob");
        assert_eq!(blobs.read(&digest).await.unwrap(), Bytes::from_static(b"report"));
        blobs.remove(&digest).await.unwrap();
        blobs.remove(&digest).await.unwrap();
        assert!(matches!(blobs.read(&digest).await, Err(BlobError::Missing(_))));
    }
}
