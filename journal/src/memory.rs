//! The memory this process may use (its cgroup's limit, as Docker's `mem_limit` sets it) and
//! the memory it uses, so that a replay that would outgrow the limit stops with an error that
//! says so, instead of the kernel's OOM killer ending the process without a word, again at every
//! restart; and so that a store can refuse new records before it gets there while serving.
//!
//! Linux only, read from `/proc/self/cgroup`, the cgroup file systems (v2 `memory.max`, v1
//! `memory.limit_in_bytes`, the smallest along the path to the root) and `/proc/self/status`;
//! anywhere those cannot be read there is no limit to check.

use std::fs;
use std::path::{Path, PathBuf};

/// Memory a service needs beyond its replayed data to go on serving: an eighth of the limit,
/// at least this much.
const MIN_HEADROOM: u64 = 8 << 20;

/// The memory limit of this process, and the resident memory it should stay under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    limit: u64,
}

impl MemoryLimit {
    /// This process's limit, if its cgroup has one (read once; the limit of a running
    /// container does not change under it).
    pub fn of_this_process() -> Option<MemoryLimit> {
        let cgroups = fs::read_to_string("/proc/self/cgroup").ok()?;
        cgroup_limit(&cgroups, Path::new("/sys/fs/cgroup")).map(|limit| MemoryLimit { limit })
    }

    /// The limit, in bytes.
    pub fn bytes(&self) -> u64 {
        self.limit
    }

    /// The resident memory to stay under: the limit less an eighth of it (at least 8 MiB),
    /// kept free for serving.
    pub fn ceiling(&self) -> u64 {
        self.limit
            .saturating_sub((self.limit / 8).max(MIN_HEADROOM))
    }

    /// The process's resident memory, if it is past [`MemoryLimit::ceiling`].
    pub fn exceeded(&self) -> Option<u64> {
        resident_bytes().filter(|&resident| resident > self.ceiling())
    }
}

/// The smallest memory limit along the cgroup paths of `cgroups` (the text of
/// `/proc/self/cgroup`) under `root`; `None` when there is none.
fn cgroup_limit(cgroups: &str, root: &Path) -> Option<u64> {
    let mut smallest: Option<u64> = None;
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (base, file) = if controllers.is_empty() {
            (root.to_path_buf(), "memory.max")
        } else if controllers.split(',').any(|c| c == "memory") {
            (root.join("memory"), "memory.limit_in_bytes")
        } else {
            continue;
        };
        for dir in ancestors(&base, path) {
            if let Some(limit) = read_limit(&dir.join(file)) {
                smallest = Some(smallest.map_or(limit, |s| s.min(limit)));
            }
        }
    }
    smallest
}

/// `base` joined with `path` and each of its parents, down to `base` itself.
fn ancestors(base: &Path, path: &str) -> Vec<PathBuf> {
    let mut dirs = vec![base.to_path_buf()];
    let mut dir = base.to_path_buf();
    for part in path.split('/').filter(|p| !p.is_empty() && *p != "..") {
        dir.push(part);
        dirs.push(dir.clone());
    }
    dirs
}

/// A limit file's value; `None` for `max`, for v1's "no limit" (a number near `i64::MAX`) and
/// for a file that cannot be read.
fn read_limit(file: &Path) -> Option<u64> {
    let text = fs::read_to_string(file).ok()?;
    let limit: u64 = text.trim().parse().ok()?;
    (limit < 1 << 62).then_some(limit)
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_limit_along_either_hierarchy_counts() {
        let root = std::env::temp_dir().join(format!("journal-cgroups-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let write = |rel: &str, text: &str| {
            let file = root.join(rel);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, text).unwrap();
        };
        // v1: the memory controller's own hierarchy; the parent is the tighter one.
        write("memory/memory.limit_in_bytes", "9223372036854771712\n");
        write("memory/box/memory.limit_in_bytes", "100663296\n");
        write("memory/box/svc/memory.limit_in_bytes", "134217728\n");
        let v1 = "4:memory:/box/svc\n3:pids:/box/svc\n0::/\n";
        assert_eq!(cgroup_limit(v1, &root), Some(96 << 20));
        // v2: one hierarchy, `max` for no limit.
        write("memory.max", "max\n");
        write("ctr/memory.max", "67108864\n");
        assert_eq!(cgroup_limit("0::/ctr\n", &root), Some(64 << 20));
        assert_eq!(cgroup_limit("0::/\n", &root), None);
        // No memory controller, or nothing readable: no limit.
        assert_eq!(cgroup_limit("3:pids:/box\n", &root), None);
        assert_eq!(cgroup_limit("0::/nowhere\n", &root.join("nothing")), None);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_ceiling_leaves_an_eighth_and_at_least_8_mib() {
        assert_eq!(MemoryLimit { limit: 64 << 20 }.ceiling(), 56 << 20);
        assert_eq!(
            MemoryLimit { limit: 1 << 30 }.ceiling(),
            (1 << 30) - (128 << 20)
        );
        assert_eq!(MemoryLimit { limit: 4 << 20 }.ceiling(), 0);
        assert!(resident_bytes().is_some_and(|r| r > 0));
        assert!(
            MemoryLimit { limit: 1 << 20 }.exceeded().is_some(),
            "any process is past 0"
        );
        assert_eq!(MemoryLimit { limit: 1 << 50 }.exceeded(), None);
    }
}
