//! Process-level chores of a daemon: detaching from the terminal and the pid file.

use std::io;
use std::path::{Path, PathBuf};

/// The detached daemon's end of the readiness pipe: the process that ran the command waits
/// on the other end, so start-up errors reach the terminal and set its exit status.
#[derive(Debug)]
pub struct Readiness {
    fd: libc::c_int,
}

impl Readiness {
    /// Start-up is done: the waiting process exits 0.
    pub fn ready(self) {
        self.send(b"");
    }

    /// Start-up failed: the waiting process prints `why` and exits 1.
    pub fn failed(self, why: &str) {
        // One line: the parent prints it as it comes.
        self.send(why.replace('\n', " ").as_bytes());
    }

    fn send(self, msg: &[u8]) {
        // The first byte says which: '+' ready, '-' failed (then the message).
        let mut buf = Vec::with_capacity(msg.len() + 1);
        buf.push(if msg.is_empty() { b'+' } else { b'-' });
        buf.extend_from_slice(msg);
        let mut off = 0;
        while off < buf.len() {
            // SAFETY: writing a live buffer to our own pipe descriptor.
            let n = unsafe { libc::write(self.fd, buf[off..].as_ptr().cast(), buf.len() - off) };
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if n <= 0 {
                break;
            }
            off += n as usize;
        }
    }
}

impl Drop for Readiness {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe { libc::close(self.fd) };
    }
}

/// What the process that ran the command learnt from the pipe.
fn await_readiness(fd: libc::c_int) -> Result<(), String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: reading into a live buffer from our own pipe descriptor.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            break;
        }
        got.extend_from_slice(&buf[..n as usize]);
        if got.len() > 64 << 10 {
            break;
        }
    }
    match got.split_first() {
        Some((b'+', _)) => Ok(()),
        Some((_, why)) => Err(String::from_utf8_lossy(why).into_owned()),
        None => Err("the daemon exited during start-up without saying why".into()),
    }
}

/// Detaches from the terminal: fork, setsid, fork again, chdir to /, stdio to /dev/null.
/// Returns only in the final daemon process, with the readiness pipe it must answer on;
/// the process that ran the command waits for that answer and exits 0 once the daemon
/// says it is ready, or prints why it failed and exits 1 (also when it died silently).
pub fn daemonize(tool: &str) -> io::Result<Readiness> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the array with two new descriptors; close-on-exec keeps them out
    // of the daemon's children.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    // SAFETY: called before any thread is started; the children only continue running
    // this same single-threaded program.
    unsafe {
        match libc::fork() {
            -1 => return Err(io::Error::last_os_error()),
            0 => {}
            _ => {
                libc::close(write_end);
                let status = match await_readiness(read_end) {
                    Ok(()) => 0,
                    Err(why) => {
                        eprintln!("{tool}: {why}");
                        1
                    }
                };
                libc::_exit(status);
            }
        }
        libc::close(read_end);
        let ready = Readiness { fd: write_end };
        if libc::setsid() == -1 {
            return Err(io::Error::last_os_error());
        }
        match libc::fork() {
            -1 => return Err(io::Error::last_os_error()),
            0 => {}
            _ => libc::_exit(0),
        }
        let root = c"/";
        libc::chdir(root.as_ptr());
        let null = c"/dev/null";
        let fd = libc::open(null.as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
        Ok(ready)
    }
}

/// Gives free heap memory back to the kernel. glibc keeps what a client that held much
/// (thousands of filters, a big buffer) freed on leaving, so without this the daemon's RSS
/// stays at its peak.
pub fn trim_heap() {
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
}

/// Warnings for each of these directories, and the secret files directly in them (`*.db`,
/// `*.mdb`, `*.pem`), that other users may read: the job cache, the queues and the keys
/// are the master's alone. Missing paths are skipped.
pub fn wider_than_private(dirs: &[&Path]) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut check = |p: &Path, want: u32| {
        if let Ok(meta) = std::fs::symlink_metadata(p) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 & !(want & 0o077) != 0 {
                out.push(format!(
                    "{} is open to other users (mode {mode:04o}); run chmod {want:o} {} to keep it private",
                    p.display(),
                    p.display()
                ));
            }
        }
    };
    for dir in dirs {
        check(dir, 0o700);
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let secret = path
                .extension()
                .is_some_and(|x| x == "db" || x == "mdb" || x == "pem");
            if secret && e.file_type().is_ok_and(|t| t.is_file()) {
                check(&path, 0o600);
            }
        }
    }
    out
}

/// A pid file that is removed when dropped.
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's pid to `path`.
    pub fn create(path: &Path) -> io::Result<PidFile> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        std::fs::write(path, format!("{}\n", std::process::id()))?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Unmaps the read-only file pages (code and constants of the binary and its libraries)
/// that start-up touched: an idle daemon runs a small part of that code, and a page used
/// again is mapped back from the page cache on first touch (a minor fault). Returns the KiB
/// of mappings released.
///
/// `MADV_DONTNEED` on a private file mapping drops this process's page-table entries and
/// any private copies of its pages, so it is applied only to mappings that cannot be
/// written and have no private copies (`Anonymous: 0 kB` and `Swap: 0 kB`): that leaves out the relocated
/// (RELRO) pages, the data and the heap. Pages other processes map, such as libc's, stay
/// where they are; `MADV_PAGEOUT` would skip those, and it could not split the large
/// page-cache folios read-ahead makes, so it left much of our own code mapped.
pub fn release_startup_pages() -> usize {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let mut released = 0usize;
    for (start, end) in releasable(&smaps) {
        // SAFETY: the range is one of this process's own mappings as the kernel listed it, a
        // read-only file mapping without private copies in memory or swap: dropping its entries loses nothing,
        // the next access maps the file's page again.
        let r =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if r == 0 {
            released += end - start;
        }
    }
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    released / 1024
}

/// The `(start, end)` of every mapping in `smaps` that is a read-only file mapping without
/// private pages, in memory (`Anonymous:`) or swapped out (`Swap:`): a relocated page
/// in swap is a private copy too, and dropping it would bring back the unrelocated file
/// page.
fn releasable(smaps: &str) -> Vec<(usize, usize)> {
    struct Candidate {
        range: (usize, usize),
        anonymous: Option<bool>,
        swap: Option<bool>,
    }
    fn finish(c: Option<Candidate>, out: &mut Vec<(usize, usize)>) {
        if let Some(c) = c {
            if c.anonymous == Some(true) && c.swap == Some(true) {
                out.push(c.range);
            }
        }
    }
    let mut out = Vec::new();
    let mut current: Option<Candidate> = None;
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let Some(first) = f.next() else {
            continue;
        };
        if let Some((a, b)) = first.split_once('-') {
            // A mapping's header: range, perms, offset, device, inode, path.
            finish(current.take(), &mut out);
            let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            else {
                continue;
            };
            let perms = f.next().unwrap_or("");
            // A path in the sixth field: a file mapping, not the heap, a stack or [vdso].
            let file = f.nth(3).is_some_and(|p| p.starts_with('/'));
            if file && end > start && perms.starts_with('r') && !perms.contains('w') {
                current = Some(Candidate {
                    range: (start, end),
                    anonymous: None,
                    swap: None,
                });
            }
        } else if let Some(c) = current.as_mut() {
            let zero = f.next() == Some("0");
            match first {
                "Anonymous:" => c.anonymous = Some(zero),
                "Swap:" => c.swap = Some(zero),
                _ => {}
            }
        }
    }
    finish(current, &mut out);
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c0000000-55d0c0100000 r--p 00000000 fe:01 42 /usr/bin/brine-minion
Size:               1024 kB
Anonymous:             0 kB
Swap:                  0 kB
VmFlags: rd mr mw me dw sd
55d0c0100000-55d0c0800000 r-xp 00100000 fe:01 42 /usr/bin/brine-minion
Size:               7168 kB
Anonymous:             0 kB
Swap:                  0 kB
55d0c0800000-55d0c0880000 r--p 00800000 fe:01 42 /usr/bin/brine-minion
Size:                512 kB
Anonymous:           420 kB
Swap:                  0 kB
55d0c0890000-55d0c08a0000 r--p 00890000 fe:01 42 /usr/bin/brine-minion
Anonymous:             0 kB
Swap:                 64 kB
55d0c0880000-55d0c0890000 rw-p 00880000 fe:01 42 /usr/bin/brine-minion
Anonymous:            64 kB
55d0c1000000-55d0c1100000 rw-p 00000000 00:00 0 [heap]
Anonymous:          1024 kB
7f0000000000-7f0000001000 r--p 00000000 00:00 0 [vvar]
Anonymous:             0 kB
7f0000010000-7f0000020000 ---p 00000000 fe:01 43 /usr/lib/libc.so.6
Anonymous:             0 kB
7f0000020000-7f0000030000 r-xp 00010000 fe:01 43 /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
Swap:                  0 kB
7f0000040000-7f0000050000 r--p 00000000 fe:01 44 /usr/lib/no-swap-line.so
Anonymous:             0 kB
";

    #[test]
    fn only_read_only_file_mappings_without_private_pages_are_released() {
        assert_eq!(
            releasable(SMAPS),
            vec![
                (0x55d0c0000000, 0x55d0c0100000),
                (0x55d0c0100000, 0x55d0c0800000),
                (0x7f0000020000, 0x7f0000030000),
            ]
        );
    }

    #[test]
    fn garbage_lines_release_nothing() {
        assert!(
            releasable("zz-yy r--p 0 0 0 /x\nAnonymous: 0 kB\nSwap: 0 kB\n\n-\nAnonymous:\n")
                .is_empty()
        );
    }

    #[test]
    fn this_process_code_is_among_the_releasable_mappings() {
        // Only parsed here: madvise in a test binary whose other threads map and unmap
        // files could meet a range reused between reading smaps and the call. The daemon
        // releases with one thread of its own (tests/minion.rs runs jobs after it).
        let text = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let here = this_process_code_is_among_the_releasable_mappings as fn() as usize;
        assert!(releasable(&text)
            .iter()
            .any(|&(a, b)| a <= here && here < b));
    }
}
