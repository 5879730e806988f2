//! The lake's object stores: a directory (`file://`) or an S3-compatible
//! bucket (`s3://`), behind the few operations a lake needs. Every write
//! creates a new object; none replaces one.

mod files;
mod s3;
mod sigv4;

use bytes::Bytes;

pub use files::Files;
pub use s3::{S3, S3Options};
pub(crate) use sigv4::hex;

use crate::{Error, Result};

/// One object as a listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Its key, relative to the lake's root.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// What changes when it is rewritten: the ETag (S3), or the
    /// modification time and inode (files).
    pub version: String,
}

/// Where a lake's objects live.
#[derive(Clone, Debug)]
pub enum Store {
    /// A directory.
    Files(Files),
    /// An S3-compatible bucket.
    S3(S3),
}

/// What a create-only write found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// The object is new.
    New,
    /// An object had that key already; it was left alone.
    Exists,
}

impl Store {
    /// The store a lake URL names (`file:///path` or `s3://bucket/prefix`).
    pub fn open(url: &str, options: &S3Options) -> Result<Store> {
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(Error::Url(url.to_string()));
            }
            return Ok(Store::Files(Files::new(path.into())));
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Url(url.to_string()));
            }
            return Ok(Store::S3(S3::new(bucket, prefix, options)?));
        }
        Err(Error::Url(url.to_string()))
    }

    /// Creates `key` holding `body` unless it exists (then leaves it alone).
    pub async fn create(&self, key: &str, body: Bytes) -> Result<Created> {
        match self {
            Store::Files(files) => files.create(key, body).await,
            Store::S3(s3) => s3.create(key, body).await,
        }
    }

    /// The object `key`, or `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        match self {
            Store::Files(files) => files.get(key).await,
            Store::S3(s3) => s3.get(key).await,
        }
    }

    /// Every object whose key starts with `prefix`, in key order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        match self {
            Store::Files(files) => files.list(prefix).await,
            Store::S3(s3) => s3.list(prefix).await,
        }
    }

    /// Makes `to` a copy of `from` unless `to` exists.
    pub async fn copy(&self, from: &str, to: &str) -> Result<Created> {
        match self {
            Store::Files(files) => files.copy(from, to).await,
            Store::S3(s3) => s3.copy(from, to).await,
        }
    }

    /// Removes `key` (no error when it is gone already).
    pub async fn delete(&self, key: &str) -> Result<()> {
        match self {
            Store::Files(files) => files.delete(key).await,
            Store::S3(s3) => s3.delete(key).await,
        }
    }
}
