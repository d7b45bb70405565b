//! What deploy and cleanup report while they work: stack events, and the steps of the
//! serverless deploy and of cleanup that are not stack events.

use std::fmt;

use super::events::StackEvent;

/// One thing deploy or cleanup reports as it happens.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// A CloudFormation stack event.
    Event(&'a StackEvent),
    /// A step of the serverless deploy, or the emptying of its bucket at cleanup.
    Step(&'a Step),
}

/// A step of `deploy --serverless`, or of its cleanup.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// First deploy, step 1 of 3: the stack with the artifact bucket (the function URL is
    /// known only once the function exists, and the resource server is named after it).
    CreateBucket,
    /// The artifact was uploaded.
    Uploaded {
        /// The bucket.
        bucket: String,
        /// The object's key (`lambda/<sha256>.zip`).
        key: String,
        /// Its size.
        bytes: usize,
    },
    /// An artifact with the same content was uploaded before.
    AlreadyUploaded {
        /// The object's key.
        key: String,
    },
    /// The stack gets the function (step 2 of 3 of a first deploy), or its code is updated.
    DeployFunction {
        /// The object's key.
        key: String,
        /// Whether this is the second step of a first deploy.
        first: bool,
    },
    /// First deploy, step 3 of 3: the resource server's identifier, the scopes and the
    /// function's settings follow the function URL (the resource server is replaced once).
    FollowUrl {
        /// The function URL.
        url: String,
    },
    /// The artifacts of earlier deploys were deleted (only the current one is needed).
    RemovedOldArtifacts {
        /// How many.
        count: usize,
    },
    /// Cleanup emptied the artifact bucket, so that CloudFormation can delete it.
    EmptiedBucket {
        /// The bucket.
        bucket: String,
        /// How many objects (and versions) were deleted.
        objects: usize,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateBucket => f.write_str(
                "Step 1 of 3: the stack with the artifact bucket (the function's URL, which \
                 names the resource server, exists only once the function does)",
            ),
            Self::Uploaded { bucket, key, bytes } => {
                write!(
                    f,
                    "Uploaded the artifact ({bytes} bytes) to s3://{bucket}/{key}"
                )
            }
            Self::AlreadyUploaded { key } => {
                write!(f, "The artifact {key} is already in the bucket")
            }
            Self::DeployFunction { key, first: true } => {
                write!(f, "Step 2 of 3: the function, with code {key}")
            }
            Self::DeployFunction { key, first: false } => {
                write!(f, "The function's code: {key}")
            }
            Self::FollowUrl { url } => write!(
                f,
                "Step 3 of 3: the resource server, the scopes and the function follow {url} \
                 (the resource server is replaced once)"
            ),
            Self::RemovedOldArtifacts { count } => {
                write!(f, "Deleted {count} artifact(s) of earlier deploys")
            }
            Self::EmptiedBucket { bucket, objects } => write!(
                f,
                "Emptied the artifact bucket {bucket} ({objects} object(s)) so that it can be \
                 deleted"
            ),
        }
    }
}
