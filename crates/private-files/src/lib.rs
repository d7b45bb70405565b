//! Files only their owner may read, written one way by every part of mcp-oauth: the data
//! directory (0700) and the files in it (0600) of the authorization server and `mcp-oauth dev`,
//! the client's credential file, the `.env` files of a Cognito deploy and the bridge's registry.
//! The data directory holds the database with the private signing keys and the secrets of the
//! dev stack; anyone who can read the key can mint tokens that MCP servers accept.
//!
//! [`write_private_file`] writes a file whole or not at all: the contents go to a new file of
//! mode 0600 with a random name in the same directory, are synced, and the file is renamed over
//! the target (POSIX `rename(2)` is atomic), so a reader sees the old contents or the new ones,
//! never a part, and never a moment where the secret is readable by others. The temporary file
//! is created exclusively (`O_CREAT | O_EXCL`, which follows no symbolic link), and the rename
//! replaces a link planted at the target instead of writing through it, so nothing planted in a
//! directory others may write to can redirect the secret.
//!
//! [`secure_dir`] runs before anything in a data directory is read or written:
//!
//! - a missing directory is created 0700;
//! - a directory owned by another user, or one its group or others may write to, is **refused**
//!   with the command that fixes it: it is shared, so someone else may already have replaced the
//!   files in it, and changing its mode could break their use of it. A person must decide;
//! - a directory of this user's that others may only read or enter is tightened to 0700, and the
//!   named files in it to 0600, each change logged as a warning: they are ours, and a release
//!   before this check left them so (the database took SQLite's 0644, `dev` made its directory
//!   with the umask);
//! - a named file owned by another user is refused with the `chown` that fixes it.
//!
//! SQLite creates a database's `-wal`, `-shm` and `-journal` files with the database file's
//! mode, so a database created 0600 ([`create_private_file`]) keeps them private too.
//! On other platforms than Unix the directory is only created and files get the platform's
//! default permissions.
#![warn(missing_docs)]

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why the data directory or a file in it cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PrivateFileError {
    /// Others can read or replace it and it is not ours to fix: the message names the problem
    /// and the command that fixes it.
    #[error("{0}")]
    Exposed(String),
    /// Reading its permissions, changing them or creating it failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> PrivateFileError + '_ {
    move |source| PrivateFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Makes `dir` and the named `files` in it private to this user, as the module describes:
/// creates a missing directory 0700, tightens what is ours, refuses what is shared or another
/// user's. Files that do not exist are skipped.
pub fn secure_dir(dir: &Path, files: &[&str]) -> Result<(), PrivateFileError> {
    create_private_dir(dir).map_err(io_error(dir))?;
    #[cfg(unix)]
    {
        unix::secure(dir, unix::Kind::Directory)?;
        for file in files {
            let path = dir.join(file);
            match unix::secure(&path, unix::Kind::File) {
                // Not there, or gone since it was listed (SQLite removes a database's `-shm`
                // and `-wal` files when its last connection closes): nothing to secure.
                Err(PrivateFileError::Io { source, .. })
                    if source.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = files;
    Ok(())
}

/// Creates `path` empty with mode 0600 if it does not exist; `true` when it did not.
pub fn create_private_file(path: &Path) -> Result<bool, PrivateFileError> {
    match private_options().create_new(true).open(path) {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(io_error(path)(error)),
    }
}

/// Creates `dir`, and the directories above it that are missing, with mode 0700; an existing
/// directory is left as it is (see [`secure_dir`] for checking one).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Replaces `path` with a file of mode 0600 holding `contents`, atomically, as the module
/// describes: a temporary file in the same directory, synced, then renamed over `path` (and
/// the directory synced so that the rename survives a crash). An existing file, whatever its
/// mode, or a symbolic link at `path` is replaced, not written through. On an error `path` is
/// as it was and the temporary file is removed. The directory must exist.
pub fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(io::Error::other)?;
    let temporary = directory.join(format!(
        ".{}.{:016x}.tmp",
        name.to_string_lossy(),
        u64::from_le_bytes(suffix)
    ));
    let written = (|| {
        let mut file = private_options().create_new(true).open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    // Make the rename itself durable where a directory can be opened and synced.
    if let Ok(directory) = std::fs::File::open(directory) {
        let _ = directory.sync_all();
    }
    Ok(())
}

fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// `path` as one word for a POSIX shell: as is when it is plain, otherwise single-quoted.
fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&byte));
    if plain {
        return text;
    }
    let mut quoted = String::from("'");
    for character in text.chars() {
        match character {
            '\'' => quoted.push_str("'\\''"),
            other => quoted.push(other),
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(unix)]
mod unix {
    use std::fmt::Write as _;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::Path;

    use super::{PrivateFileError, io_error, shell_word};

    /// What is checked: the directory itself or a file in it.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(super) enum Kind {
        Directory,
        File,
    }

    impl Kind {
        fn private_mode(self) -> u32 {
            match self {
                Kind::Directory => 0o700,
                Kind::File => 0o600,
            }
        }

        fn name(self) -> &'static str {
            match self {
                Kind::Directory => "the data directory",
                Kind::File => "the file",
            }
        }
    }

    /// Checks one directory or file; tightens it when it is ours, refuses it otherwise.
    pub(super) fn secure(path: &Path, kind: Kind) -> Result<(), PrivateFileError> {
        let metadata = std::fs::metadata(path).map_err(io_error(path))?;
        let mode = metadata.mode() & 0o7777;
        let me = rustix::process::geteuid().as_raw();
        let others_may_write = kind == Kind::Directory && mode & 0o022 != 0;
        if metadata.uid() != me || others_may_write {
            let mut problem = format!("{} {} (mode {mode:04o}", kind.name(), path.display());
            let mut fix = String::new();
            if metadata.uid() != me {
                let _ = write!(
                    problem,
                    ") is owned by another user (uid {}), not by this one (uid {me})",
                    metadata.uid()
                );
                let _ = write!(fix, "chown {me} {} && ", shell_word(path));
            } else {
                problem.push_str(
                    ") may be written to by its group or others, who could have replaced the \
                     files in it",
                );
            }
            let _ = write!(fix, "chmod {:o} {}", kind.private_mode(), shell_word(path));
            return Err(PrivateFileError::Exposed(format!(
                "{problem}: it holds the signing keys and secrets, so it must be this user's \
                 alone; check it, then run `{fix}`, or use a directory of its own"
            )));
        }
        if mode & 0o077 != 0 {
            let private = kind.private_mode();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(private))
                .map_err(io_error(path))?;
            tracing::warn!(
                path = %path.display(),
                "{} was readable by others (mode {mode:04o}): made it {private:04o}",
                kind.name()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_paths_are_quoted_for_the_shell() {
        assert_eq!(
            shell_word(Path::new("/var/lib/mcp-oauth")),
            "/var/lib/mcp-oauth"
        );
        assert_eq!(shell_word(Path::new("/tmp/a b")), "'/tmp/a b'");
        assert_eq!(shell_word(Path::new("/tmp/it's")), "'/tmp/it'\\''s'");
        assert_eq!(shell_word(Path::new("$(rm -rf ~)")), "'$(rm -rf ~)'");
    }
}
