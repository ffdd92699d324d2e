//! brine-api's transport: a TCP stream, plain or TLS (rustls), read and written without
//! blocking. The one home of rustls on the server side.

use mio::net::TcpStream;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

/// A server TLS configuration.
pub type ServerConfig = Arc<rustls::ServerConfig>;

/// Why TLS cannot be set up: one line naming the file.
#[derive(Debug)]
pub struct TlsError(pub String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

fn pem_blocks(path: &Path, what: &str) -> Result<Vec<(String, Vec<u8>)>, TlsError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| TlsError(format!("{what} {}: {e}", path.display())))?;
    let mut out = Vec::new();
    let mut label: Option<String> = None;
    let mut b64 = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(l) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            label = Some(l.to_string());
            b64.clear();
        } else if line.starts_with("-----END ") {
            if let Some(l) = label.take() {
                let der = base64_decode(&b64).ok_or_else(|| {
                    TlsError(format!(
                        "{what} {}: bad base64 in a {l} block",
                        path.display()
                    ))
                })?;
                out.push((l, der));
            }
        } else if label.is_some() {
            b64.push_str(line);
        }
    }
    Ok(out)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        } as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Loads the certificate (then `chain`) and key into a server configuration.
pub fn server_config(
    crt: &Path,
    key: &Path,
    chain: Option<&Path>,
) -> Result<ServerConfig, TlsError> {
    use rustls::pki_types::{
        CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
    };
    let mut certs: Vec<CertificateDer<'static>> = pem_blocks(crt, "ssl_crt")?
        .into_iter()
        .filter(|(l, _)| l == "CERTIFICATE")
        .map(|(_, d)| CertificateDer::from(d))
        .collect();
    if certs.is_empty() {
        return Err(TlsError(format!(
            "ssl_crt {}: no certificate in it",
            crt.display()
        )));
    }
    if let Some(chain) = chain {
        certs.extend(
            pem_blocks(chain, "ssl_chain")?
                .into_iter()
                .filter(|(l, _)| l == "CERTIFICATE")
                .map(|(_, d)| CertificateDer::from(d)),
        );
    }
    let key_der: PrivateKeyDer<'static> = pem_blocks(key, "ssl_key")?
        .into_iter()
        .find_map(|(l, d)| match l.as_str() {
            "PRIVATE KEY" => Some(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(d))),
            "RSA PRIVATE KEY" => Some(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(d))),
            "EC PRIVATE KEY" => Some(PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(d))),
            _ => None,
        })
        .ok_or_else(|| TlsError(format!("ssl_key {}: no private key in it", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| {
            TlsError(format!(
                "ssl_crt {} and ssl_key {}: {e}",
                crt.display(),
                key.display()
            ))
        })?;
    Ok(Arc::new(cfg))
}

/// A connection's byte stream.
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<(TcpStream, rustls::ServerConnection)>),
}

/// What one read did.
pub struct ReadOutcome {
    /// Bytes of request data added.
    pub bytes: usize,
    /// The peer closed its side (or the TLS session ended).
    pub eof: bool,
}

impl Transport {
    /// Wraps an accepted stream.
    pub fn new(sock: TcpStream, tls: Option<&ServerConfig>) -> Result<Transport, TlsError> {
        match tls {
            None => Ok(Transport::Plain(sock)),
            Some(cfg) => {
                let conn = rustls::ServerConnection::new(cfg.clone())
                    .map_err(|e| TlsError(format!("TLS: {e}")))?;
                Ok(Transport::Tls(Box::new((sock, conn))))
            }
        }
    }

    /// The TCP stream, to register.
    pub fn socket(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(b) => &mut b.0,
        }
    }

    /// Reads what is there into `buf`, up to `budget` bytes of data.
    pub fn read_into(&mut self, buf: &mut Vec<u8>, budget: usize) -> io::Result<ReadOutcome> {
        let mut chunk = [0u8; 16 * 1024];
        let mut got = 0;
        match self {
            Transport::Plain(s) => loop {
                if got >= budget {
                    return Ok(ReadOutcome {
                        bytes: got,
                        eof: false,
                    });
                }
                match s.read(&mut chunk) {
                    Ok(0) => {
                        return Ok(ReadOutcome {
                            bytes: got,
                            eof: true,
                        })
                    }
                    Ok(n) => {
                        buf.extend_from_slice(&chunk[..n]);
                        got += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Ok(ReadOutcome {
                            bytes: got,
                            eof: false,
                        })
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            },
            Transport::Tls(b) => {
                let (s, conn) = &mut **b;
                let mut eof = false;
                loop {
                    if got >= budget {
                        break;
                    }
                    match conn.read_tls(s) {
                        Ok(0) => {
                            eof = true;
                            break;
                        }
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                    let state = conn
                        .process_new_packets()
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    let mut n = state.plaintext_bytes_to_read();
                    while n > 0 {
                        let want = n.min(chunk.len());
                        let r = conn.reader().read(&mut chunk[..want])?;
                        if r == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..r]);
                        got += r;
                        n -= r;
                    }
                    if state.peer_has_closed() {
                        eof = true;
                        break;
                    }
                }
                // The handshake's answers go out now.
                let _ = Self::flush_tls(s, conn);
                Ok(ReadOutcome { bytes: got, eof })
            }
        }
    }

    fn flush_tls(s: &mut TcpStream, conn: &mut rustls::ServerConnection) -> io::Result<()> {
        while conn.wants_write() {
            match conn.write_tls(s) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes as much of `out[*off..]` as the socket takes; advances `off`.
    pub fn write_from(&mut self, out: &[u8], off: &mut usize) -> io::Result<()> {
        match self {
            Transport::Plain(s) => {
                while *off < out.len() {
                    match s.write(&out[*off..]) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => *off += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            Transport::Tls(b) => {
                let (s, conn) = &mut **b;
                loop {
                    Self::flush_tls(s, conn)?;
                    if conn.wants_write() || *off >= out.len() {
                        return Ok(());
                    }
                    // rustls buffers what it encrypts; hand it a bounded piece at a time so
                    // that a slow reader keeps its backlog in our buffer, where it is counted.
                    let end = (*off + 64 * 1024).min(out.len());
                    let n = conn.writer().write(&out[*off..end])?;
                    *off += n;
                    if n == 0 {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Whether encrypted bytes wait to be written.
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(b) => b.1.wants_write(),
        }
    }
}
