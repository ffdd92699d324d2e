//! The master's answers to a minion's file requests (`_file_list`, `_file_hash`,
//! `_serve_file`), as functions over [`Roots`]; the master runs them on worker threads.

use super::roots::Roots;
use super::{FsError, Source};
use std::io::{Read, Seek, SeekFrom};

/// Most bytes of a file in one answer (Salt's `file_buffer_size`).
pub const FILE_BUFFER_SIZE: usize = 1 << 20;

/// One piece of a served file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The bytes from the requested offset; empty at the end of the file.
    pub data: Vec<u8>,
    /// The path under the root, as Salt's `dest`.
    pub dest: String,
}

/// The files of `saltenv` that start with `prefix`.
pub fn file_list(roots: &mut Roots, saltenv: &str, prefix: &str) -> Result<Vec<String>, FsError> {
    Ok(roots
        .list(saltenv)?
        .into_iter()
        .filter(|p| p.starts_with(prefix))
        .collect())
}

/// The sha256 of `salt://path`, or None when no root has it.
pub fn file_hash(
    roots: &mut Roots,
    saltenv: &str,
    path: &str,
) -> Result<Option<(String, &'static str)>, FsError> {
    Ok(roots.hash(saltenv, path)?.map(|h| (h, "sha256")))
}

/// At most `max` bytes of `salt://path` from byte `loc`; None when no root has it.
pub fn serve_chunk(
    roots: &mut Roots,
    saltenv: &str,
    path: &str,
    loc: u64,
    max: usize,
) -> Result<Option<Chunk>, FsError> {
    let Some(p) = roots.find(saltenv, path)? else {
        return Ok(None);
    };
    let io = |e: std::io::Error| FsError::Io(format!("salt://{path}: {e}"));
    let mut f = std::fs::File::open(&p).map_err(io)?;
    f.seek(SeekFrom::Start(loc)).map_err(io)?;
    let mut data = Vec::with_capacity(max.min(FILE_BUFFER_SIZE * 16));
    f.take(max as u64).read_to_end(&mut data).map_err(io)?;
    Ok(Some(Chunk {
        data,
        dest: super::roots::clean(path)?,
    }))
}
