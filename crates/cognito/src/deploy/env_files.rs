//! The `.env` files deploy writes for each component, owner-only, and the manifest that lets
//! cleanup remove exactly those files.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use mcp_oauth_private_files::write_private_file;
use serde::{Deserialize, Serialize};

use super::error::DeployError;

/// File name of the manifest, in the directory the `.env` files are written under.
pub const MANIFEST_FILE: &str = "mcp-oauth-deploy.json";

/// One component's `.env` file: `DIR/<component>/.env`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvFile {
    /// The component (a subcommand of `mcp-oauth`), also the subdirectory name.
    pub component: &'static str,
    /// Comment lines at the top (how to use the file).
    pub comments: Vec<String>,
    /// `KEY=value` lines, in order.
    pub vars: Vec<(&'static str, String)>,
}

impl EnvFile {
    /// The path of this file under `dir`.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        dir.join(self.component).join(".env")
    }

    /// The file's text, as dotenv readers (`dotenvy`, shells with `set -a; . .env`) parse it.
    pub fn render(&self) -> Result<String, DeployError> {
        let mut text = String::new();
        for comment in &self.comments {
            text.push_str(&format!("# {comment}\n"));
        }
        for (key, value) in &self.vars {
            text.push_str(&format!("{key}={}\n", quote(key, value)?));
        }
        Ok(text)
    }
}

/// A value as written after `KEY=`: bare when it holds only characters no reader treats
/// specially, else single-quoted (no escapes inside single quotes).
fn quote(key: &str, value: &str) -> Result<String, DeployError> {
    let bare = |c: char| c.is_ascii_alphanumeric() || "_-.:/,@+=%".contains(c);
    if value.contains(['\n', '\r', '\'']) {
        return Err(DeployError::UnwritableValue {
            key: key.to_owned(),
        });
    }
    if value.chars().all(bare) {
        Ok(value.to_owned())
    } else {
        Ok(format!("'{value}'"))
    }
}

/// What deploy wrote, kept in `DIR/mcp-oauth-deploy.json` for cleanup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// The stack the files describe.
    pub stack: String,
    /// Its region.
    pub region: String,
    /// The files written, relative to the directory.
    pub files: Vec<PathBuf>,
    /// The subdirectories deploy created (removed again when empty).
    pub created_dirs: Vec<PathBuf>,
    /// Whether deploy created the directory itself (removed again when empty).
    #[serde(default)]
    pub created_root: bool,
    /// What was deployed: `gateway`, `federated` or `serverless` (the gateway on Lambda: no
    /// `gateway/.env`, the clients point at the function URL); empty in manifests of earlier
    /// versions, which were `gateway` or `federated`.
    #[serde(default)]
    pub mode: String,
    /// The function URL of a serverless deploy (`https://…/`; the MCP endpoint is `<url>mcp`).
    #[serde(default)]
    pub serverless_url: Option<String>,
}

/// Who the files are for, as the manifest records it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ManifestRecord<'a> {
    /// The stack.
    pub(crate) stack: &'a str,
    /// Its region.
    pub(crate) region: &'a str,
    /// [`Manifest::mode`].
    pub(crate) mode: &'a str,
    /// [`Manifest::serverless_url`].
    pub(crate) serverless_url: Option<&'a str>,
}

impl Manifest {
    /// Reads the manifest in `dir`; `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Self>, DeployError> {
        let path = dir.join(MANIFEST_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| DeployError::BadManifest { path, source }),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(DeployError::io(path, error)),
        }
    }

    fn check_owner(&self, dir: &Path, stack: &str, region: &str) -> Result<(), DeployError> {
        if self.stack == stack && self.region == region {
            return Ok(());
        }
        Err(DeployError::ManifestMismatch {
            manifest: dir.join(MANIFEST_FILE),
            recorded: self.stack.clone(),
            recorded_region: self.region.clone(),
            stack: stack.to_owned(),
            region: region.to_owned(),
        })
    }
}

/// Writes `files` under `dir` (each readable and writable by the owner only, replaced
/// atomically), removes files an earlier deploy of the same stack wrote and this one does not,
/// and records everything in the manifest. Returns the paths written.
pub(crate) fn write_env_files(
    dir: &Path,
    record: &ManifestRecord<'_>,
    files: &[EnvFile],
) -> Result<Vec<PathBuf>, DeployError> {
    let (stack, region) = (record.stack, record.region);
    let previous = Manifest::read(dir)?;
    if let Some(previous) = &previous {
        previous.check_owner(dir, stack, region)?;
    }
    let created_root = match &previous {
        Some(previous) => previous.created_root,
        None => !dir.is_dir(),
    };
    let previous = previous.unwrap_or_default();
    fs::create_dir_all(dir).map_err(|e| DeployError::io(dir, e))?;

    let mut manifest = Manifest {
        stack: stack.to_owned(),
        region: region.to_owned(),
        files: Vec::new(),
        created_dirs: previous.created_dirs.clone(),
        created_root,
        mode: record.mode.to_owned(),
        serverless_url: record.serverless_url.map(str::to_owned),
    };
    let mut written = Vec::new();
    for file in files {
        let relative_dir = PathBuf::from(file.component);
        let absolute_dir = dir.join(&relative_dir);
        if !absolute_dir.is_dir() {
            fs::create_dir_all(&absolute_dir).map_err(|e| DeployError::io(&absolute_dir, e))?;
            manifest.created_dirs.push(relative_dir.clone());
        }
        let path = file.path_in(dir);
        write_owner_only(&path, &file.render()?)?;
        manifest.files.push(relative_dir.join(".env"));
        written.push(path);
    }
    let stale: Vec<PathBuf> = previous
        .files
        .iter()
        .filter(|file| !manifest.files.contains(file))
        .cloned()
        .collect();
    remove_files(dir, &stale)?;
    manifest.created_dirs.sort();
    manifest.created_dirs.dedup();
    let path = dir.join(MANIFEST_FILE);
    let text = serde_json::to_string_pretty(&manifest).map_err(|source| {
        DeployError::ManifestNotWritten {
            path: path.clone(),
            source,
        }
    })?;
    write_owner_only(&path, &text)?;
    Ok(written)
}

/// Removes the files the manifest in `dir` lists (only those), the subdirectories deploy
/// created once empty, and the manifest. Returns the files removed; nothing when there is no
/// manifest. Refuses when the manifest belongs to another stack or region.
pub fn remove_env_files(
    dir: &Path,
    stack: &str,
    region: &str,
) -> Result<Vec<PathBuf>, DeployError> {
    let Some(manifest) = Manifest::read(dir)? else {
        return Ok(Vec::new());
    };
    manifest.check_owner(dir, stack, region)?;
    let removed = remove_files(dir, &manifest.files)?;
    for created in manifest.created_dirs.iter().rev() {
        // Only empty directories go: anything a person put there stays.
        let _ = fs::remove_dir(dir.join(created));
    }
    let path = dir.join(MANIFEST_FILE);
    fs::remove_file(&path).map_err(|e| DeployError::io(path, e))?;
    if manifest.created_root {
        let _ = fs::remove_dir(dir);
    }
    Ok(removed)
}

fn remove_files(dir: &Path, relative: &[PathBuf]) -> Result<Vec<PathBuf>, DeployError> {
    let mut removed = Vec::new();
    for file in relative {
        let path = dir.join(file);
        match fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(error) => return Err(DeployError::io(path, error)),
        }
    }
    Ok(removed)
}

/// Writes `text` to `path` owner-only (0600), replacing the old file atomically, so the secret
/// is never readable by others, not even for a moment.
fn write_owner_only(path: &Path, text: &str) -> Result<(), DeployError> {
    write_private_file(path, text.as_bytes()).map_err(|error| DeployError::io(path, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_env_files(
        dir: &Path,
        stack: &str,
        region: &str,
        files: &[EnvFile],
    ) -> Result<Vec<PathBuf>, DeployError> {
        let record = ManifestRecord {
            stack,
            region,
            mode: "gateway",
            serverless_url: None,
        };
        super::write_env_files(dir, &record, files)
    }

    #[test]
    fn the_manifest_records_the_mode_and_reads_older_ones() {
        let dir = tempfile::tempdir().unwrap();
        let record = ManifestRecord {
            stack: "s",
            region: "r",
            mode: "serverless",
            serverless_url: Some("https://x.lambda-url.r.on.aws/"),
        };
        super::write_env_files(dir.path(), &record, &[file("client", &[("A", "1")])]).unwrap();
        let text = fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["mode"], "serverless");
        assert_eq!(json["serverless_url"], "https://x.lambda-url.r.on.aws/");

        let older = r#"{"stack":"s","region":"r","files":[],"created_dirs":[]}"#;
        let manifest: Manifest = serde_json::from_str(older).unwrap();
        assert_eq!(
            (manifest.mode.as_str(), manifest.serverless_url),
            ("", None)
        );
    }

    fn file(component: &'static str, vars: &[(&'static str, &str)]) -> EnvFile {
        EnvFile {
            component,
            comments: vec!["written by a test".to_owned()],
            vars: vars.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        }
    }

    #[test]
    fn renders_bare_values_and_quotes_the_rest() {
        let text = file(
            "client",
            &[("URL", "https://x.example/mcp"), ("NAME", "two words")],
        )
        .render()
        .unwrap();
        assert_eq!(
            text,
            "# written by a test\nURL=https://x.example/mcp\nNAME='two words'\n"
        );
    }

    #[test]
    fn refuses_values_a_reader_would_misparse() {
        for value in ["a\nB=c", "it's here"] {
            let error = file("client", &[("KEY", value)]).render().unwrap_err();
            assert!(
                matches!(error, DeployError::UnwritableValue { .. }),
                "{value:?}"
            );
        }
    }

    #[test]
    fn a_manifest_of_another_stack_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        write_env_files(
            dir.path(),
            "one",
            "eu-west-1",
            &[file("client", &[("A", "b")])],
        )
        .unwrap();
        let error = remove_env_files(dir.path(), "two", "eu-west-1").unwrap_err();
        assert!(matches!(error, DeployError::ManifestMismatch { .. }));
        assert!(dir.path().join("client/.env").exists());
    }

    #[test]
    fn a_redeploy_removes_files_it_no_longer_writes_and_keeps_others() {
        let dir = tempfile::tempdir().unwrap();
        // The directory existed before: cleanup leaves it.
        write_env_files(
            dir.path(),
            "s",
            "r",
            &[
                file("gateway", &[("A", "1")]),
                file("client", &[("B", "2")]),
            ],
        )
        .unwrap();
        fs::write(dir.path().join("client/notes.txt"), "mine").unwrap();
        write_env_files(dir.path(), "s", "r", &[file("auth-server", &[("C", "3")])]).unwrap();
        assert!(!dir.path().join("gateway/.env").exists());
        assert!(!dir.path().join("client/.env").exists());
        assert!(dir.path().join("auth-server/.env").exists());

        let removed = remove_env_files(dir.path(), "s", "r").unwrap();
        assert_eq!(removed, [dir.path().join("auth-server/.env")]);
        assert!(!dir.path().join("gateway").exists());
        assert!(!dir.path().join(MANIFEST_FILE).exists());
        assert_eq!(
            fs::read_to_string(dir.path().join("client/notes.txt")).unwrap(),
            "mine"
        );
        assert!(dir.path().is_dir());
    }

    #[test]
    fn the_directory_deploy_created_goes_when_empty() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("env");
        write_env_files(&dir, "s", "r", &[file("client", &[("A", "1")])]).unwrap();
        // A second deploy keeps the record that the directory was created by deploy.
        write_env_files(&dir, "s", "r", &[file("client", &[("A", "2")])]).unwrap();
        remove_env_files(&dir, "s", "r").unwrap();
        assert!(!dir.exists());
    }
}
