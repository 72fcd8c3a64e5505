//! The data directory's owner: a lock on `.lock` in it, held for as long as the journal is open.
//!
//! Two processes appending to one journal would interleave their lines and each replay the
//! other's changes only at its next start, so a second process pointed at the same directory
//! refuses to start instead. The lock is the operating system's (`flock`), so it is released
//! when the process dies, even by `kill -9`, and a stale lock file never keeps a service down.

use crate::error::{io_error, JournalError};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// The name of the lock file inside the data directory.
const LOCK_FILE: &str = ".lock";

/// Ownership of a data directory, until dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    /// Locks `dir` (which must exist), or refuses with [`JournalError::Locked`] if another
    /// process holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock, JournalError> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error("open", &path))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(JournalError::Locked {
                dir: dir.to_owned(),
            }),
            Err(TryLockError::Error(e)) => Err(io_error("lock", &path)(e)),
        }
    }
}
