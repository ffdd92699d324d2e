//! Facts about the host that defaults depend on: its fully qualified name (a bounded lookup)
//! and the effective user's name.

use std::ffi::CStr;

/// The host's FQDN: the canonical name of `gethostname()`, or that name itself; looked up
/// once per process, and given up on after two seconds.
pub fn host_fqdn() -> String {
    static FQDN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FQDN.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        // A broken resolver can make getaddrinfo block for a long time: ask from a thread
        // and take the plain host name after FQDN_WAIT (the thread ends when it returns).
        let asked = std::thread::Builder::new()
            .name("fqdn".into())
            .spawn(move || {
                let _ = tx.send(lookup_fqdn());
            });
        match asked {
            Ok(_) => rx.recv_timeout(FQDN_WAIT).unwrap_or_else(|_| {
                log::warn!(
                    "the host name did not resolve within {} s; using it as the fqdn",
                    FQDN_WAIT.as_secs()
                );
                host_name()
            }),
            Err(_) => host_name(),
        }
    })
    .clone()
}

/// How long the fqdn lookup may take.
const FQDN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// `gethostname`, or `localhost`.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_owned();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The canonical name of the host name (a DNS lookup, which may block).
fn lookup_fqdn() -> String {
    let host = host_name();
    if host.contains('.') {
        return host;
    }
    let Ok(c_host) = std::ffi::CString::new(host.clone()) else {
        return host;
    };
    // SAFETY: hints is zeroed as getaddrinfo expects; the result list is freed below.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_flags = libc::AI_CANONNAME;
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        if libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) != 0
            || res.is_null()
        {
            return host;
        }
        let name = if (*res).ai_canonname.is_null() {
            host.clone()
        } else {
            CStr::from_ptr((*res).ai_canonname)
                .to_string_lossy()
                .into_owned()
        };
        libc::freeaddrinfo(res);
        if name.is_empty() {
            host
        } else {
            name
        }
    }
}

/// The name of the effective user, as the default `user`; "root" when it has no name.
pub fn current_user_name() -> String {
    // SAFETY: geteuid cannot fail and touches no memory of ours.
    let uid = unsafe { libc::geteuid() };
    // getpwuid_r rather than getpwuid: the latter returns a static buffer that another thread
    // may overwrite (tests load configs in parallel).
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: passwd is plain C data; all-zero is a valid (empty) value.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is to live memory we own, and buf.len() is its true length.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buf.len() < (1 << 20) {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
            return "root".to_owned();
        }
        // SAFETY: on success pw_name points at a NUL-terminated string inside buf.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) };
        return name.to_string_lossy().into_owned();
    }
}
