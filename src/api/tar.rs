//! A minimal ustar writer: `POST /keys` answers the new key pair as a tar, as Salt does.

/// A tar archive of regular files (mode 0600, owner root), each `(name, bytes)`.
pub fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        let n = name.as_bytes();
        let n = &n[..n.len().min(99)];
        h[..n.len()].copy_from_slice(n);
        put_octal(&mut h[100..108], 0o600);
        put_octal(&mut h[108..116], 0);
        put_octal(&mut h[116..124], 0);
        put_octal(&mut h[124..136], data.len() as u64);
        put_octal(&mut h[136..148], 0);
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        // The checksum is computed with its own field as spaces.
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| b as u64).sum();
        let s = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(s.as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out.extend(std::iter::repeat_n(0u8, 1024));
    out
}

fn put_octal(field: &mut [u8], v: u64) {
    let w = field.len() - 1;
    let s = format!("{v:0w$o}");
    let b = s.as_bytes();
    let b = &b[b.len().saturating_sub(w)..];
    field[..b.len()].copy_from_slice(b);
    field[w] = 0;
}

#[cfg(test)]
mod tests {
    #[test]
    fn python_tarfile_reads_it() {
        let t = super::archive(&[("minion.pub", b"PUB"), ("minion.pem", b"PRIVATE KEY")]);
        assert_eq!(t.len() % 512, 0);
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("k.tar");
        std::fs::write(&p, &t).expect("write");
        let out = std::process::Command::new("tar")
            .arg("-tvf")
            .arg(&p)
            .output()
            .expect("tar runs");
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            listing.contains("minion.pub") && listing.contains("minion.pem"),
            "{listing}"
        );
    }
}
