//! What can go wrong, as one enum: the caller decides per kind whether to refuse to start
//! (a locked or damaged journal) or to answer one write with "not kept".

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What can go wrong opening or writing a journal.
#[derive(Debug)]
pub enum JournalError {
    /// Another process holds the data directory.
    Locked {
        /// The data directory.
        dir: PathBuf,
    },
    /// An I/O error on a file while opening or replaying.
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A line other than the last one is damaged, or describes an impossible change.
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The record could not be written as JSON; nothing was appended.
    Encode(serde_json::Error),
    /// The write or the sync of the line's batch failed (for example, the disk is full) and the
    /// batch was cut off the file again: nothing of it was kept. The cause is reported on stderr,
    /// once per batch.
    NotKept,
    /// The replay was stopped because the process came close to its memory limit (its
    /// cgroup's, as a container's `mem_limit` sets it): going on would have had it killed.
    OutgrewMemory {
        /// The journal file.
        path: PathBuf,
        /// The line the replay had reached.
        line: u64,
        /// The process's resident memory then, in bytes.
        resident: u64,
        /// The memory limit, in bytes.
        limit: u64,
    },
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::Locked { dir } => write!(
                f,
                "data directory {} is in use by another process",
                dir.display()
            ),
            JournalError::Io {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            JournalError::Corrupt { path, line, reason } => write!(
                f,
                "journal {}:{line} is damaged ({reason}); refusing to start rather than lose data",
                path.display()
            ),
            JournalError::Encode(e) => write!(f, "cannot write the record as JSON: {e}"),
            JournalError::NotKept => {
                f.write_str("the journal line was not kept: the write or sync of its batch failed")
            }
            JournalError::OutgrewMemory {
                path,
                line,
                resident,
                limit,
            } => write!(
                f,
                "journal {} has outgrown the memory limit: {} MiB in use after {line} lines of \
                 it, against a limit of {} MiB (with room to serve); raise the memory limit \
                 (mem_limit, see the README's memory capacity) and start again",
                path.display(),
                resident >> 20,
                limit >> 20
            ),
        }
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JournalError::Io { source, .. } => Some(source),
            JournalError::Encode(e) => Some(e),
            JournalError::Locked { .. }
            | JournalError::Corrupt { .. }
            | JournalError::NotKept
            | JournalError::OutgrewMemory { .. } => None,
        }
    }
}

/// Turns an I/O error of `action` on `path` into a [`JournalError::Io`].
pub(crate) fn io_error(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(io::Error) -> JournalError {
    let path = path.to_owned();
    move |source| JournalError::Io {
        action,
        path,
        source,
    }
}
