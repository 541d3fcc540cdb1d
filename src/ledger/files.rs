//! What the service keeps on disk is its owner's only: the data dir 0700, the ledger file,
//! its WAL and shared memory 0600 (SQLite creates the WAL and `-shm` with the database
//! file's mode, so the file is created 0600 before SQLite opens it).

use std::io;
use std::path::Path;

/// The mode of every file in the data dir.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// The mode of the data dir.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// What SQLite keeps beside a database file.
const SQLITE_SIDE_FILES: [&str; 2] = ["-wal", "-shm"];

/// The ledger file and its side files, owner only: created empty (an empty SQLite
/// database) with mode 0600 if missing, narrowed to 0600 if they exist.
pub fn private_ledger_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE_MODE);
    drop(options.open(path)?);
    narrow(path, PRIVATE_FILE_MODE)?;
    for suffix in SQLITE_SIDE_FILES {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        match narrow(Path::new(&side), PRIVATE_FILE_MODE) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// Create `dir` owner only, or make an existing one so — unless that would change the mode
/// of a directory that holds entries other than `own` (the files the service writes
/// there): `--data-dir $HOME` must not chmod a home directory.
pub fn private_dir(dir: &Path, own: &[&str]) -> io::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)?;
        return narrow(dir, PRIVATE_DIR_MODE);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode == PRIVATE_DIR_MODE {
            return Ok(());
        }
        let mut foreign = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            let ours = own.iter().any(|own| {
                name == *own
                    || name
                        .strip_prefix(own)
                        .is_some_and(|rest| SQLITE_SIDE_FILES.contains(&rest))
            });
            if !ours {
                foreign.push(name.into_owned());
            }
        }
        if !foreign.is_empty() {
            foreign.sort();
            foreign.truncate(5);
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "the data dir is mode {mode:o} and holds files keyledger did not write ({}); \
                     keyledger will not chmod it to 700 — use an empty or new directory",
                    foreign.join(", ")
                ),
            ));
        }
    }
    narrow(dir, PRIVATE_DIR_MODE)
}

/// Set `path`'s mode to `mode` (a no-op off Unix).
fn narrow(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn ledger_files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ledger.db");
        private_ledger_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        let wal = dir.path().join("ledger.db-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_ledger_file(&db).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
    }

    #[test]
    fn a_dir_of_other_files_is_not_chmodded() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(home.join(".bashrc"), b"").unwrap();
        std::fs::write(home.join("ledger.db"), b"").unwrap();
        let e = private_dir(&home, &["ledger.db"]).unwrap_err();
        assert!(e.to_string().contains(".bashrc"), "{e}");
        assert_eq!(mode(&home), 0o755);
        // Only the service's own files: narrowed.
        std::fs::remove_file(home.join(".bashrc")).unwrap();
        std::fs::write(home.join("ledger.db-wal"), b"").unwrap();
        private_dir(&home, &["ledger.db"]).unwrap();
        assert_eq!(mode(&home), 0o700);
        // New: created owner only.
        let fresh = dir.path().join("a/b");
        private_dir(&fresh, &[]).unwrap();
        assert_eq!(mode(&fresh), 0o700);
    }
}
