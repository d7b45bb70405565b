//! The artifact bucket: upload the zip once per content, keep only the current one, and empty
//! the bucket before the stack is deleted (CloudFormation deletes only empty buckets).

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::artifact::{Artifact, KEY_PREFIX};
use super::error::DeployError;

/// DeleteObjects takes at most this many keys per call.
const DELETE_BATCH: usize = 1000;

fn is_missing_bucket<E: ProvideErrorMetadata>(error: &E) -> bool {
    error.code() == Some("NoSuchBucket")
}

/// Operations on one bucket.
pub(crate) struct Bucket<'a> {
    client: &'a aws_sdk_s3::Client,
    name: &'a str,
}

impl<'a> Bucket<'a> {
    pub(crate) fn new(client: &'a aws_sdk_s3::Client, name: &'a str) -> Self {
        Self { client, name }
    }

    /// Uploads the artifact unless an object of its key (its content hash) is already there;
    /// returns whether it uploaded.
    pub(crate) async fn upload_if_absent(&self, artifact: &Artifact) -> Result<bool, DeployError> {
        let head = self
            .client
            .head_object()
            .bucket(self.name)
            .key(&artifact.key)
            .send()
            .await;
        match head {
            Ok(_) => return Ok(false),
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => {}
            Err(e) => return Err(DeployError::bucket("HeadObject", self.name, e)),
        }
        self.client
            .put_object()
            .bucket(self.name)
            .key(&artifact.key)
            .content_type("application/zip")
            .body(ByteStream::from(artifact.bytes.clone()))
            .send()
            .await
            .map_err(|e| DeployError::bucket("PutObject", self.name, e))?;
        Ok(true)
    }

    /// Deletes the artifacts other than `keep` (a rollback needs only the current one);
    /// returns how many.
    pub(crate) async fn delete_artifacts_except(&self, keep: &str) -> Result<usize, DeployError> {
        let mut stale = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(self.name)
                .prefix(KEY_PREFIX)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| DeployError::bucket("ListObjectsV2", self.name, e))?;
            stale.extend(
                page.contents()
                    .iter()
                    .filter_map(|object| object.key())
                    .filter(|key| *key != keep)
                    .map(|key| (key.to_owned(), None)),
            );
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        self.delete(stale).await
    }

    /// Deletes every object, every version and every delete marker; returns how many were
    /// deleted. A bucket that does not exist is empty.
    pub(crate) async fn empty(&self) -> Result<usize, DeployError> {
        let mut versions = Vec::new();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let listing = self
                .client
                .list_object_versions()
                .bucket(self.name)
                .set_key_marker(key_marker)
                .set_version_id_marker(version_marker)
                .send()
                .await;
            let page = match listing {
                Ok(page) => page,
                Err(SdkError::ServiceError(e)) if is_missing_bucket(e.err()) => return Ok(0),
                Err(e) => return Err(DeployError::bucket("ListObjectVersions", self.name, e)),
            };
            versions.extend(
                page.versions()
                    .iter()
                    .map(|v| (v.key(), v.version_id()))
                    .chain(
                        page.delete_markers()
                            .iter()
                            .map(|m| (m.key(), m.version_id())),
                    )
                    .filter_map(|(key, version)| {
                        Some((key?.to_owned(), version.map(str::to_owned)))
                    }),
            );
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
        self.delete(versions).await
    }

    fn refused(&self, operation: &'static str, message: impl std::fmt::Display) -> DeployError {
        DeployError::Bucket {
            operation,
            bucket: self.name.to_owned(),
            message: message.to_string(),
        }
    }

    async fn delete(&self, objects: Vec<(String, Option<String>)>) -> Result<usize, DeployError> {
        let mut deleted = 0;
        for batch in objects.chunks(DELETE_BATCH) {
            let identifiers = batch
                .iter()
                .map(|(key, version)| {
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.clone())
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.refused("DeleteObjects", e))?;
            let request = Delete::builder()
                .set_objects(Some(identifiers))
                .quiet(true)
                .build()
                .map_err(|e| self.refused("DeleteObjects", e))?;
            let answer = self
                .client
                .delete_objects()
                .bucket(self.name)
                .delete(request)
                .send()
                .await
                .map_err(|e| DeployError::bucket("DeleteObjects", self.name, e))?;
            if let Some(error) = answer.errors().first() {
                let message = format!(
                    "{}: {} ({})",
                    error.key().unwrap_or_default(),
                    error.message().unwrap_or_default(),
                    error.code().unwrap_or_default()
                );
                return Err(self.refused("DeleteObjects", message));
            }
            deleted += batch.len();
        }
        Ok(deleted)
    }
}
