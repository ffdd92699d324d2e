//! How key files reach the disk: written to a temp file and renamed or linked into place, so
//! a reader never sees half a key, and read with a size cap.

use super::{io_err, PkiError};
use crate::crypto;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A dot first, so listings (ours and Salt's) skip it while it exists. The name is cut
    // so that a minion id of the longest allowed length (255 bytes, NAME_MAX) still has a
    // temp file name the file system takes.
    let mut cut = name.len().min(200);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let name = &name[..cut];
    path.with_file_name(format!(
        ".{name}.{}.{:08x}.tmp",
        std::process::id(),
        crypto::random_u32(u32::MAX)
    ))
}

/// Writes `data` to a new temp file beside `path` with `mode`, synced, and returns its path.
fn write_temp(path: &Path, data: &[u8], mode: u32) -> Result<PathBuf, PkiError> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have taken bits away; a public key should still be world-readable.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(data)?;
        f.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(io_err(path, "write")(e))
        }
    }
}

fn sync_dir(path: &Path) {
    // Makes the rename durable; a failure here leaves the file in place all the same.
    if let Some(dir) = path.parent() {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// Replaces `path` atomically: readers see the old file or the new one, never a part.
pub(super) fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), PkiError> {
    let tmp = write_temp(path, data, mode)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path, "write")(e));
    }
    sync_dir(path);
    Ok(())
}

/// Creates `path` atomically, failing with `Exists` when something is already there.
pub(super) fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), PkiError> {
    let tmp = write_temp(path, data, mode)?;
    // A hard link never replaces its target, unlike rename, so two writers cannot both win.
    let linked = fs::hard_link(&tmp, path);
    let result = match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(PkiError::Exists(path.to_path_buf()))
        }
        // File systems without hard links: check, then rename (racy, but only there).
        Err(_) if fs::symlink_metadata(path).is_ok() => Err(PkiError::Exists(path.to_path_buf())),
        Err(_) => fs::rename(&tmp, path).map_err(io_err(path, "create")),
    };
    let _ = fs::remove_file(&tmp);
    if result.is_ok() {
        sync_dir(path);
    }
    result
}

pub(super) fn read_capped(path: &Path, cap: u64) -> io::Result<String> {
    let f = fs::File::open(path)?;
    let mut s = String::new();
    f.take(cap + 1).read_to_string(&mut s)?;
    if s.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {cap} bytes"),
        ));
    }
    Ok(s)
}

pub(super) fn create_dir(dir: &Path) -> Result<(), PkiError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir, "create the directory"))
}
