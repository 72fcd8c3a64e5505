//! A cgroup to run a binary in with a container's memory limit (as compose's `mem_limit` sets
//! it), on a machine without Docker.
//!
//! It needs root and a writable cgroup file system, v1 (a `memory` hierarchy under
//! `/sys/fs/cgroup/memory`) or v2 (`/sys/fs/cgroup` with the `memory` controller). Without
//! them [`MemoryCgroup::new`] panics with a message that says so: a test that cannot set up what
//! it checks must fail, not pass without checking.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A fresh cgroup with a memory limit, removed again when dropped (once its processes are
/// gone).
#[derive(Debug)]
pub struct MemoryCgroup {
    dir: PathBuf,
    wrapper: Vec<String>,
}

impl MemoryCgroup {
    /// A new cgroup named after `tag` and this process, limited to `limit` bytes of memory.
    ///
    /// # Panics
    /// When no cgroup can be made or limited here (not root, no writable cgroup file system).
    pub fn new(tag: &str, limit: u64) -> MemoryCgroup {
        let name = format!("tixgo-test-{tag}-{}", std::process::id());
        let v1 = Path::new("/sys/fs/cgroup/memory");
        let v2 = Path::new("/sys/fs/cgroup");
        let (dir, limit_file) = if v1.join("memory.limit_in_bytes").is_file() {
            (v1.join(&name), "memory.limit_in_bytes")
        } else if fs::read_to_string(v2.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"))
        {
            // The controller must be handed down to the new child; it may be already.
            let _ = fs::write(v2.join("cgroup.subtree_control"), "+memory");
            (v2.join(&name), "memory.max")
        } else {
            panic!(
                "no memory cgroup controller here (neither /sys/fs/cgroup/memory nor a cgroup v2 \
                 /sys/fs/cgroup with `memory`): this test needs one, as root"
            );
        };
        fs::create_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "cannot create the cgroup {} ({e}): this test needs root and a writable cgroup \
                 file system",
                dir.display()
            )
        });
        let cgroup = MemoryCgroup {
            wrapper: vec![
                "sh".to_owned(),
                "-c".to_owned(),
                format!(
                    "echo $$ > '{}/cgroup.procs' && exec \"$0\" \"$@\"",
                    dir.display()
                ),
            ],
            dir,
        };
        fs::write(cgroup.dir.join(limit_file), limit.to_string())
            .unwrap_or_else(|e| panic!("cannot limit the memory of {}: {e}", cgroup.dir.display()));
        cgroup
    }

    /// A wrapper for [`crate::Launch::start_under`] and [`crate::Launch::run_under`] that moves
    /// the binary into this cgroup before it starts.
    pub fn wrapper(&self) -> Vec<&str> {
        self.wrapper.iter().map(String::as_str).collect()
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // A cgroup can be removed once its last process has gone, which may take a moment.
        for _ in 0..50 {
            if fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
