//! The Lambda artifact: a zip holding an executable `bootstrap`, checked before any AWS call
//! and named in the bucket by its SHA-256 (an unchanged build is not uploaded again).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::DeployError;
use super::template::Architecture;

/// Prefix of the artifacts' keys in the bucket.
pub(crate) const KEY_PREFIX: &str = "lambda/";

/// A checked artifact: its bytes, and the key they are stored under.
#[derive(Clone)]
#[non_exhaustive]
pub struct Artifact {
    /// Where it was read from.
    pub path: PathBuf,
    /// The zip itself.
    pub bytes: Vec<u8>,
    /// `lambda/<sha256 hex>.zip`.
    pub key: String,
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("path", &self.path)
            .field("len", &self.bytes.len())
            .field("key", &self.key)
            .finish()
    }
}

impl Artifact {
    /// Reads and checks the zip at `path`, built for `architecture` (named in the error that
    /// says how to build it when the file is missing).
    pub fn read(path: &Path, architecture: Architecture) -> Result<Self, DeployError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(DeployError::MissingArtifact {
                    path: path.to_owned(),
                    build_command: architecture.build_command(),
                });
            }
            Err(error) => return Err(DeployError::io(path, error)),
        };
        check_lambda_zip(&bytes).map_err(|reason| DeployError::NotALambdaZip {
            path: path.to_owned(),
            reason,
        })?;
        let digest = Sha256::digest(&bytes);
        let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        Ok(Self {
            path: path.to_owned(),
            bytes,
            key: format!("{KEY_PREFIX}{hex}.zip"),
        })
    }
}

fn u16_at(bytes: &[u8], at: usize) -> Option<usize> {
    let field = bytes.get(at..at + 2)?;
    Some(usize::from(u16::from_le_bytes([field[0], field[1]])))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<usize> {
    let field = bytes.get(at..at + 4)?;
    usize::try_from(u32::from_le_bytes([field[0], field[1], field[2], field[3]])).ok()
}

const END_OF_DIRECTORY: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
const DIRECTORY_ENTRY: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];

/// Checks that `bytes` is a zip whose central directory lists `bootstrap` at its root, and,
/// when the zip records Unix permissions, that it is executable (Lambda runs it).
fn check_lambda_zip(bytes: &[u8]) -> Result<(), String> {
    // The end-of-central-directory record: 22 bytes, then a comment of up to 65535.
    let window = bytes.len().saturating_sub(22 + 65_535);
    let end = (window..bytes.len().saturating_sub(21))
        .rev()
        .find(|&at| bytes[at..].starts_with(&END_OF_DIRECTORY))
        .ok_or("not a zip file (no end of central directory)")?;
    let entries = u16_at(bytes, end + 10).ok_or("truncated zip")?;
    let mut at = u32_at(bytes, end + 16).ok_or("truncated zip")?;
    for _ in 0..entries {
        let header = bytes
            .get(at..at + 46)
            .filter(|header| header.starts_with(&DIRECTORY_ENTRY))
            .ok_or("damaged zip (bad central directory)")?;
        let name_len = u16_at(header, 28).ok_or("truncated zip")?;
        let extra_len = u16_at(header, 30).ok_or("truncated zip")?;
        let comment_len = u16_at(header, 32).ok_or("truncated zip")?;
        let name = bytes
            .get(at + 46..at + 46 + name_len)
            .ok_or("truncated zip")?;
        if name == b"bootstrap" {
            let made_on_unix = header[5] == 3;
            let mode = u32_at(header, 38).ok_or("truncated zip")? >> 16;
            if made_on_unix && mode != 0 && mode & 0o111 == 0 {
                return Err("its bootstrap is not executable".to_owned());
            }
            return Ok(());
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    Err("it has no `bootstrap` at its root (the function's executable)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip with `entries` (name, Unix mode), written by Python's zipfile as a person would.
    fn zip(entries: &[(&str, u32)]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a.zip");
        let script = "import sys, zipfile\n\
            with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
            \x20   for spec in sys.argv[2:]:\n\
            \x20       name, mode = spec.split(':')\n\
            \x20       info = zipfile.ZipInfo(name)\n\
            \x20       info.external_attr = (0o100000 | int(mode, 8)) << 16\n\
            \x20       info.create_system = 3\n\
            \x20       z.writestr(info, b'#!/bin/sh\\n' * 100)\n";
        let status = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&out)
            .args(
                entries
                    .iter()
                    .map(|(name, mode)| format!("{name}:{mode:o}")),
            )
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read(out).unwrap()
    }

    #[test]
    fn accepts_a_zip_with_an_executable_bootstrap() {
        assert_eq!(
            check_lambda_zip(&zip(&[("README", 0o644), ("bootstrap", 0o755)])),
            Ok(())
        );
    }

    #[test]
    fn refuses_what_lambda_could_not_run() {
        let cases = [
            (zip(&[("main", 0o755)]), "no `bootstrap`"),
            (zip(&[("bin/bootstrap", 0o755)]), "no `bootstrap`"),
            (zip(&[("bootstrap", 0o644)]), "not executable"),
            (b"\x7fELF not a zip at all".to_vec(), "not a zip"),
            (Vec::new(), "not a zip"),
        ];
        for (bytes, expected) in cases {
            let error = check_lambda_zip(&bytes).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
        let mut damaged = zip(&[("bootstrap", 0o755)]);
        let end = damaged.len() - 22;
        damaged[end + 16..end + 20].copy_from_slice(&7u32.to_le_bytes());
        assert!(check_lambda_zip(&damaged).unwrap_err().contains("damaged"));
    }

    #[test]
    fn a_missing_file_names_the_build_command() {
        let error =
            Artifact::read(Path::new("/no/such/bootstrap.zip"), Architecture::X86_64).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("/no/such/bootstrap.zip")
                && text.contains("scripts/lambda-build --x86-64"),
            "{text}"
        );
    }

    #[test]
    fn the_key_is_the_content_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bootstrap.zip");
        let bytes = zip(&[("bootstrap", 0o755)]);
        std::fs::write(&path, &bytes).unwrap();
        let artifact = Artifact::read(&path, Architecture::Arm64).unwrap();
        let hex: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(artifact.key, format!("lambda/{hex}.zip"));
        assert_eq!(artifact.bytes, bytes);
    }
}
