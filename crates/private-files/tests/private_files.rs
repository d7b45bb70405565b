//! The owner-only writer and the data-directory check, on real files.
#![cfg(unix)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use mcp_oauth_private_files::{
    PrivateFileError, create_private_dir, create_private_file, secure_dir, write_private_file,
};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn writes_the_contents_readable_by_the_owner_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.txt");
    write_private_file(&path, b"s3cret\n").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"s3cret\n");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        names(dir.path()),
        ["secret.txt"],
        "no temporary file is left"
    );
}

#[test]
fn replaces_a_file_others_could_read_with_a_new_owner_only_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.txt");
    std::fs::write(&path, b"old").unwrap();
    chmod(&path, 0o644);
    // A second name for the old file: written in place, it would show the new secret.
    let old = dir.path().join("old-link");
    std::fs::hard_link(&path, &old).unwrap();

    write_private_file(&path, b"new").unwrap();

    assert_eq!(std::fs::read(&path).unwrap(), b"new");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        std::fs::read(&old).unwrap(),
        b"old",
        "the old file was replaced, not rewritten"
    );
    assert_eq!(mode(&old), 0o644);
}

#[test]
fn a_symbolic_link_planted_at_the_path_is_replaced_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere.txt");
    std::fs::write(&elsewhere, b"someone else's").unwrap();
    chmod(&elsewhere, 0o644);
    let path = dir.path().join("secret.txt");
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();

    write_private_file(&path, b"s3cret").unwrap();

    assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
    assert_eq!(std::fs::read(&path).unwrap(), b"s3cret");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(std::fs::read(&elsewhere).unwrap(), b"someone else's");
}

#[test]
fn writes_owner_only_in_a_directory_everyone_may_write_to() {
    // As /tmp: world-writable and sticky, so others cannot replace what is ours.
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o1777);
    let path = dir.path().join("secret.txt");
    write_private_file(&path, b"s3cret").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"s3cret");
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn a_failed_write_leaves_the_target_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    // A directory cannot be replaced by a file: the rename fails.
    let path = dir.path().join("occupied");
    std::fs::create_dir(&path).unwrap();
    assert!(write_private_file(&path, b"s3cret").is_err());
    assert!(path.is_dir());
    assert_eq!(names(dir.path()), ["occupied"]);
    assert!(write_private_file(&dir.path().join("missing/secret.txt"), b"s3cret").is_err());
}

#[test]
fn creates_a_missing_file_empty_and_owner_only_and_leaves_an_existing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    assert!(create_private_file(&path).unwrap());
    assert_eq!(mode(&path), 0o600);
    assert_eq!(std::fs::read(&path).unwrap(), b"");
    std::fs::write(&path, b"data").unwrap();
    assert!(!create_private_file(&path).unwrap());
    assert_eq!(std::fs::read(&path).unwrap(), b"data");
}

#[test]
fn creates_missing_directories_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    create_private_dir(&nested).unwrap();
    assert_eq!(mode(&nested), 0o700);
    create_private_dir(&nested).unwrap();
}

#[test]
fn secure_dir_tightens_what_is_ours_and_refuses_a_directory_others_may_write_to() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    secure_dir(&dir, &["store.db"]).unwrap();
    assert_eq!(mode(&dir), 0o700);

    let file = dir.join("store.db");
    std::fs::write(&file, b"").unwrap();
    chmod(&file, 0o644);
    chmod(&dir, 0o755);
    secure_dir(&dir, &["store.db", "absent.txt"]).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&file), 0o600);

    chmod(&dir, 0o777);
    let error = secure_dir(&dir, &["store.db"]).unwrap_err();
    assert!(matches!(error, PrivateFileError::Exposed(_)));
    assert!(error.to_string().contains("chmod 700"), "{error}");
    assert_eq!(mode(&dir), 0o777, "a shared directory is not changed");
}
