//! Local Unix sockets: the listening socket of a daemon's bus and its client streams.
//!
//! The socket file is created mode 0660 and every accepted peer's uid is checked with
//! `SO_PEERCRED`: only root and the daemon's own user may talk to it.

use crate::wire::FrameReader;
use mio::net::{UnixListener, UnixStream};
use std::io::{self, Read, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Why a bus socket could not be set up.
#[derive(Debug)]
pub enum IpcError {
    /// Another daemon answers on the socket path.
    InUse(PathBuf),
    /// A system call failed on the path.
    Io(PathBuf, &'static str, io::Error),
}

impl std::fmt::Display for IpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IpcError::InUse(p) => write!(f, "{}: another daemon is listening there", p.display()),
            IpcError::Io(p, what, e) => write!(f, "{}: {what}: {e}", p.display()),
        }
    }
}

impl std::error::Error for IpcError {}

/// Binds a listening socket at `path` with mode 0660, replacing a stale socket file.
pub fn bind(path: &Path) -> Result<UnixListener, IpcError> {
    let io_err = |what: &'static str| move |e: io::Error| IpcError::Io(path.to_path_buf(), what, e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err("create directory"))?;
    }
    if path.exists() {
        // A socket nobody answers on is left over from a crash: take it over.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(IpcError::InUse(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(io_err("remove stale socket"))?;
    }
    // The daemon is single-threaded, so flipping the umask around bind() cannot race:
    // the file never exists with wider permissions than 0660.
    let old = unsafe { libc::umask(0o117) };
    let r = UnixListener::bind(path);
    unsafe { libc::umask(old) };
    r.map_err(io_err("bind"))
}

/// The credentials of a connected peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCred {
    /// Process id.
    pub pid: i32,
    /// User id.
    pub uid: u32,
}

/// Reads `SO_PEERCRED` of a connected Unix stream.
pub fn peer_cred<S: AsRawFd>(s: &S) -> io::Result<PeerCred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid for writes of the sizes passed.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCred {
        pid: cred.pid,
        uid: cred.uid,
    })
}

/// True when a peer with `uid` may use this daemon's sockets.
pub fn uid_allowed(uid: u32) -> bool {
    uid == 0 || uid == unsafe { libc::geteuid() }
}

/// An accepted client stream with its inbound frame reassembly.
pub struct Conn {
    /// The non-blocking stream.
    pub stream: UnixStream,
    /// Inbound frames.
    pub reader: FrameReader,
    /// The peer's credentials.
    pub cred: PeerCred,
    /// Bytes of an unfinished frame held for it, as last counted.
    pub held: usize,
    /// Since when it has been in the middle of a frame.
    pub mid_since: Option<std::time::Instant>,
}

/// What one bounded read pass on a connection saw.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadStatus {
    /// The socket is drained (`WouldBlock`).
    Drained,
    /// The byte budget ran out with more possibly waiting.
    Budget,
    /// The peer closed the stream.
    Closed,
}

impl Conn {
    /// Reads until `WouldBlock`, EOF, or `budget` bytes, whichever comes first.
    pub fn read_some(&mut self, budget: usize) -> io::Result<ReadStatus> {
        let mut total = 0;
        loop {
            match self.reader.read_from(&mut self.stream) {
                Ok(0) => return Ok(ReadStatus::Closed),
                Ok(n) => {
                    total += n;
                    if total >= budget {
                        return Ok(ReadStatus::Budget);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(ReadStatus::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes as much of `bytes` as the socket takes now; returns how much.
    pub fn write_some(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < bytes.len() {
            match self.stream.write(&bytes[done..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}
