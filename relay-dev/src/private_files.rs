//! Files only the relay's user may open: a new data directory is made 0700,
//! and `relay.db` with its `-wal` and `-shm` companions 0600, whatever the
//! process's umask. (SQLite gives the companions the database's mode when
//! it creates them; they are tightened after opening too.)

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// Creates `dir` (and missing parents) if absent; the directory itself is
/// made 0700. An existing directory is left as it is.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    match DirBuilder::new().mode(0o700).create(dir) {
        // The umask may have taken bits away, never added any; set it exactly.
        Ok(()) => fs::set_permissions(dir, Permissions::from_mode(0o700)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes `path` 0600, creating it empty if absent.
pub(crate) fn create_private_file(path: &Path) -> io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(0o600))
}

/// Makes `path` 0600 if it exists.
pub(crate) fn restrict_to_owner(path: &Path) -> io::Result<()> {
    match fs::set_permissions(path, Permissions::from_mode(0o600)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_and_files_are_for_the_owner_only() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("a/data");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        create_private_dir(&dir).unwrap();
        let file = dir.join("relay.db");
        fs::write(&file, b"kept").unwrap();
        fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        create_private_file(&file).unwrap();
        assert_eq!(
            (mode(&file), fs::read(&file).unwrap()),
            (0o600, b"kept".to_vec())
        );
        restrict_to_owner(&dir.join("missing")).unwrap();
    }
}
