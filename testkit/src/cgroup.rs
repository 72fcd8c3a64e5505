//! Cgroups to run a binary in with a container's limits (compose's `mem_limit`, `pids_limit`),
//! or to freeze one of its threads, on a machine without Docker.
//!
//! They need root and a writable cgroup file system: a cgroup v1 hierarchy of the controller
//! (`/sys/fs/cgroup/<controller>`), or a cgroup v2 mount that has it (not for `freezer`: only
//! v1's freezes a single thread). Without one [`Cgroup::new`] panics with a message that says
//! so: a test that cannot set up what it checks must fail, not pass without checking.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

/// A fresh child cgroup of one controller, removed again when dropped (once its processes are
/// gone; a frozen one is thawed first).
#[derive(Debug)]
pub struct Cgroup {
    path: PathBuf,
    wrapper: Vec<String>,
    /// Whether it lives in a cgroup v2 hierarchy (whose files are named differently).
    unified: bool,
}

impl Cgroup {
    /// A new child cgroup of `controller` (`memory`, `pids`, `freezer`), named after `tag` and
    /// this process.
    ///
    /// # Panics
    /// When none can be made here (not root, no hierarchy with the controller).
    pub fn new(controller: &str, tag: &str) -> Cgroup {
        let name = format!("tixgo-test-{tag}-{}", std::process::id());
        let v1 = (PathBuf::from("/sys/fs/cgroup").join(controller), false);
        let v2 = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .map(PathBuf::from)
            .filter(|root| {
                controller != "freezer"
                    && fs::read_to_string(root.join("cgroup.controllers"))
                        .is_ok_and(|c| c.split_whitespace().any(|c| c == controller))
            })
            .map(|root| {
                // The controller must be handed down to the new child; it may be already.
                let _ = fs::write(
                    root.join("cgroup.subtree_control"),
                    format!("+{controller}"),
                );
                (root, true)
            });
        let mut tried = Vec::new();
        for (root, unified) in std::iter::once(v1).chain(v2) {
            let path = root.join(&name);
            let _ = fs::remove_dir(&path);
            match fs::create_dir(&path) {
                Ok(()) => {
                    let procs = path.join("cgroup.procs");
                    let wrapper = vec![
                        "sh".to_owned(),
                        "-c".to_owned(),
                        format!("echo $$ > '{}' && exec \"$0\" \"$@\"", procs.display()),
                    ];
                    return Cgroup {
                        path,
                        wrapper,
                        unified,
                    };
                }
                Err(e) => tried.push(format!("{}: {e}", path.display())),
            }
        }
        panic!(
            "cannot create a {controller} cgroup (this test needs root and a cgroup hierarchy \
             with the {controller} controller, as on CI): {}",
            tried.join("; ")
        );
    }

    /// A new memory cgroup limited to `limit` bytes, as compose's `mem_limit` makes one.
    ///
    /// # Panics
    /// As [`Cgroup::new`], or when the limit cannot be set.
    pub fn memory(tag: &str, limit: u64) -> Cgroup {
        let cgroup = Cgroup::new("memory", tag);
        let file = if cgroup.unified {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        cgroup.write(file, &limit.to_string());
        cgroup
    }

    /// Writes `value` to the cgroup's `file` (`pids.max`, `tasks`, `freezer.state`, ...).
    ///
    /// # Panics
    /// When the write fails.
    pub fn write(&self, file: &str, value: &str) {
        fs::write(self.path.join(file), value)
            .unwrap_or_else(|e| panic!("write {value} to {}/{file}: {e}", self.path.display()));
    }

    /// A wrapper for [`crate::Launch::start_under`] and [`crate::Launch::run_under`] that moves
    /// the binary into this cgroup before it starts.
    pub fn wrapper(&self) -> Vec<&str> {
        self.wrapper.iter().map(String::as_str).collect()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if self.path.join("freezer.state").exists() {
            let _ = fs::write(self.path.join("freezer.state"), "THAWED");
        }
        // A cgroup can be removed once its last process has gone, which may take a moment.
        for _ in 0..100 {
            if fs::remove_dir(&self.path).is_ok() || !self.path.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("could not remove the cgroup {}", self.path.display());
    }
}
