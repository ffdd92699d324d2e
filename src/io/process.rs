//! Process-level chores of a daemon: detaching from the terminal and the pid file.

use std::io;
use std::path::{Path, PathBuf};

/// Detaches from the terminal: fork, setsid, fork again, chdir to /, stdio to /dev/null.
/// Returns only in the final daemon process; the parents exit 0.
pub fn daemonize() -> io::Result<()> {
    // SAFETY: called before any thread is started; the children only continue running
    // this same single-threaded program.
    unsafe {
        match libc::fork() {
            -1 => return Err(io::Error::last_os_error()),
            0 => {}
            _ => libc::_exit(0),
        }
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
    }
    Ok(())
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

/// Hands the kernel back the read-only file pages (code and constants of the binary and its
/// libraries) that start-up touched: an idle daemon does not need them resident, and any
/// page used again comes back from the page cache on first touch. Best effort: a kernel
/// without `MADV_PAGEOUT` (before 5.4) keeps them.
pub fn release_startup_pages() {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    let mut released = 0usize;
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        // A path in the sixth field: a file mapping, not the heap, a stack or [vdso].
        if !f.nth(3).is_some_and(|p| p.starts_with('/')) || perms.contains('w') {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        else {
            continue;
        };
        // SAFETY: the range is one of this process's own mappings as the kernel listed it;
        // MADV_PAGEOUT only drops clean file pages, which are read back when next touched.
        let r = unsafe {
            libc::madvise(
                start as *mut libc::c_void,
                end.saturating_sub(start),
                libc::MADV_PAGEOUT,
            )
        };
        if r == 0 {
            released += end.saturating_sub(start);
        }
    }
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    log::debug!(
        "released start-up pages of {} KiB of mappings",
        released / 1024
    );
}
