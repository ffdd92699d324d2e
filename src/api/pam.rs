//! PAM authentication for the `pam` eauth backend, through libpam loaded at run time.
//!
//! libpam is opened with `dlopen("libpam.so.0")` the first time it is needed, so brine has no
//! link-time dependency on it and a machine without PAM only loses this backend. One call
//! runs the whole PAM transaction: `pam_start` with a conversation that answers the prompts,
//! `pam_authenticate`, then `pam_acct_mgmt`: the account check is what Salt forgot before
//! CVE-2022-22967, where a locked or expired account with a right password was let in. Only
//! success of both counts.
//!
//! The conversation answers hidden prompts (`PAM_PROMPT_ECHO_OFF`) with the password and
//! visible ones (`PAM_PROMPT_ECHO_ON`, a module asking for the login name again) with the user
//! name, as Salt 3007.15's does: a visible prompt is never given the password. Informational
//! messages get no answer. Replies are allocated with `calloc`/`strdup` because PAM frees them.
//!
//! Every call blocks (modules read files, may sleep after a failure, may talk to the
//! network): callers run it off the event loop. The unsafe is in three places, each
//! commented: loading the symbols, the conversation callback, and the transaction itself.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt;
use std::sync::OnceLock;

/// Why PAM did not accept a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PamError {
    /// libpam could not be loaded or lacks a function (not installed, broken install).
    Unavailable(String),
    /// The service could not be started (`pam_start`), e.g. a bad service file.
    Start {
        /// The PAM service name.
        service: String,
        /// PAM's own message.
        message: String,
    },
    /// The password is wrong (or the account's password is locked, which PAM reports alike).
    AuthFailed,
    /// PAM knows no such user.
    UserUnknown,
    /// The account has expired (`pam_acct_mgmt`: `PAM_ACCT_EXPIRED`).
    AccountExpired,
    /// The password must be changed before the account may be used (`PAM_NEW_AUTHTOK_REQD`).
    NewAuthTokenRequired,
    /// The password has expired (`PAM_AUTHTOK_EXPIRED`, `PAM_CRED_EXPIRED`).
    PasswordExpired,
    /// The account may not be used (`PAM_PERM_DENIED`: locked, or not allowed here).
    PermissionDenied,
    /// The authentication service could not be reached (`PAM_AUTHINFO_UNAVAIL`).
    ServiceUnavailable,
    /// Any other failure: the stage (`authenticate`, `acct_mgmt`) and PAM's message.
    Other {
        /// Which PAM call failed.
        stage: &'static str,
        /// PAM's return code.
        code: i32,
        /// PAM's message for the code.
        message: String,
    },
}

impl fmt::Display for PamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PamError::Unavailable(why) => write!(f, "pam: libpam is unavailable: {why}"),
            PamError::Start { service, message } => {
                write!(f, "pam: cannot start service '{service}': {message}")
            }
            PamError::AuthFailed => f.write_str("pam: authentication failed"),
            PamError::UserUnknown => f.write_str("pam: unknown user"),
            PamError::AccountExpired => f.write_str("pam: account expired"),
            PamError::NewAuthTokenRequired => {
                f.write_str("pam: the password must be changed before the account can be used")
            }
            PamError::PasswordExpired => f.write_str("pam: password expired"),
            PamError::PermissionDenied => f.write_str("pam: account not permitted (locked?)"),
            PamError::ServiceUnavailable => {
                f.write_str("pam: the authentication service is unreachable")
            }
            PamError::Other {
                stage,
                code,
                message,
            } => write!(f, "pam: pam_{stage} failed ({code}): {message}"),
        }
    }
}

impl std::error::Error for PamError {}

// Linux-PAM's constants (security/_pam_types.h): stable ABI.
const PAM_SUCCESS: c_int = 0;
const PAM_PERM_DENIED: c_int = 6;
const PAM_AUTH_ERR: c_int = 7;
const PAM_AUTHINFO_UNAVAIL: c_int = 9;
const PAM_USER_UNKNOWN: c_int = 10;
const PAM_MAXTRIES: c_int = 11;
const PAM_NEW_AUTHTOK_REQD: c_int = 12;
const PAM_ACCT_EXPIRED: c_int = 13;
const PAM_CRED_EXPIRED: c_int = 16;
const PAM_CONV_ERR: c_int = 19;
const PAM_AUTHTOK_EXPIRED: c_int = 27;
const PAM_BUF_ERR: c_int = 5;
const PAM_PROMPT_ECHO_OFF: c_int = 1;
const PAM_PROMPT_ECHO_ON: c_int = 2;
const PAM_ERROR_MSG: c_int = 3;
const PAM_TEXT_INFO: c_int = 4;
/// No messages to a terminal we do not have.
const PAM_SILENT: c_int = 0x8000;
/// An account with an empty password is not let in with an empty password, whatever the
/// service file's `nullok` says (Salt passes no flags).
const PAM_DISALLOW_NULL_AUTHTOK: c_int = 0x0001;
/// Linux-PAM's PAM_MAX_NUM_MSG: a module never sends more in one conversation call.
const PAM_MAX_NUM_MSG: c_int = 32;

#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

type ConvFn = unsafe extern "C" fn(
    c_int,
    *mut *const PamMessage,
    *mut *mut PamResponse,
    *mut c_void,
) -> c_int;

#[repr(C)]
struct PamConv {
    conv: ConvFn,
    appdata_ptr: *mut c_void,
}

/// An opaque `pam_handle_t`.
type Handle = c_void;

type StartFn =
    unsafe extern "C" fn(*const c_char, *const c_char, *const PamConv, *mut *mut Handle) -> c_int;
type HandleFn = unsafe extern "C" fn(*mut Handle, c_int) -> c_int;
type StrerrorFn = unsafe extern "C" fn(*mut Handle, c_int) -> *const c_char;

/// libpam's entry points, resolved once.
struct Lib {
    start: StartFn,
    authenticate: HandleFn,
    acct_mgmt: HandleFn,
    end: HandleFn,
    strerror: StrerrorFn,
}

/// libpam, loaded on first use; the error says why it could not be.
fn lib() -> Result<&'static Lib, PamError> {
    static LIB: OnceLock<Result<Lib, String>> = OnceLock::new();
    LIB.get_or_init(load)
        .as_ref()
        .map_err(|why| PamError::Unavailable(why.clone()))
}

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl call
    // on this thread; it is copied at once.
    let p = unsafe { libc::dlerror() };
    if p.is_null() {
        "unknown dlopen error".into()
    } else {
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

fn load() -> Result<Lib, String> {
    // SAFETY: dlopen with a constant name; the handle is never closed, so the function
    // pointers taken from it stay valid for the life of the process.
    let handle =
        unsafe { libc::dlopen(c"libpam.so.0".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(dl_error());
    }
    let sym = |name: &CStr| -> Result<*mut c_void, String> {
        // SAFETY: a valid handle and a NUL-terminated name.
        let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
        if p.is_null() {
            Err(format!("{}: {}", name.to_string_lossy(), dl_error()))
        } else {
            Ok(p)
        }
    };
    // SAFETY: each symbol is the libpam function of that name, whose C prototype
    // (security/pam_appl.h) the pointer type spells out.
    unsafe {
        Ok(Lib {
            start: std::mem::transmute::<*mut c_void, StartFn>(sym(c"pam_start")?),
            authenticate: std::mem::transmute::<*mut c_void, HandleFn>(sym(c"pam_authenticate")?),
            acct_mgmt: std::mem::transmute::<*mut c_void, HandleFn>(sym(c"pam_acct_mgmt")?),
            end: std::mem::transmute::<*mut c_void, HandleFn>(sym(c"pam_end")?),
            strerror: std::mem::transmute::<*mut c_void, StrerrorFn>(sym(c"pam_strerror")?),
        })
    }
}

/// What the conversation answers with; lives on the caller's stack for the transaction.
struct Answers {
    user: CString,
    password: Secret,
}

/// A NUL-terminated password, wiped when dropped.
struct Secret(Vec<u8>);

impl Secret {
    fn new(password: &str) -> Option<Secret> {
        if password.as_bytes().contains(&0) {
            return None;
        }
        let mut v = Vec::with_capacity(password.len() + 1);
        v.extend_from_slice(password.as_bytes());
        v.push(0);
        Some(Secret(v))
    }

    fn as_ptr(&self) -> *const c_char {
        self.0.as_ptr().cast()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // Volatile, so the wipe of memory about to be freed is not optimised away.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// The conversation callback PAM calls with the modules' prompts.
///
/// # Safety
/// Called by libpam only, with `appdata` the `Answers` passed to `pam_start`, `msgs` an array
/// of `n` message pointers (Linux-PAM's layout) and `resp` where the replies go.
unsafe extern "C" fn converse(
    n: c_int,
    msgs: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata: *mut c_void,
) -> c_int {
    if n <= 0 || n > PAM_MAX_NUM_MSG || msgs.is_null() || resp.is_null() || appdata.is_null() {
        return PAM_CONV_ERR;
    }
    let answers = &*(appdata as *const Answers);
    let count = n as usize;
    // PAM frees the array and every `resp` string with free(): they must come from malloc.
    // calloc leaves unanswered slots NULL with a zero retcode, as PAM expects.
    let replies = libc::calloc(count, std::mem::size_of::<PamResponse>()) as *mut PamResponse;
    if replies.is_null() {
        return PAM_BUF_ERR;
    }
    for i in 0..count {
        let msg = *msgs.add(i);
        let style = if msg.is_null() { -1 } else { (*msg).msg_style };
        let answer = match style {
            PAM_PROMPT_ECHO_OFF => answers.password.as_ptr(),
            PAM_PROMPT_ECHO_ON => answers.user.as_ptr(),
            PAM_ERROR_MSG | PAM_TEXT_INFO => continue,
            // A prompt we cannot answer (binary, radio): give up, freeing what we made.
            _ => {
                free_replies(replies, i);
                return PAM_CONV_ERR;
            }
        };
        let copy = libc::strdup(answer);
        if copy.is_null() {
            free_replies(replies, i);
            return PAM_BUF_ERR;
        }
        (*replies.add(i)).resp = copy;
    }
    *resp = replies;
    PAM_SUCCESS
}

/// Frees the first `filled` replies (wiping them: a password may be among them) and the array.
///
/// # Safety
/// `replies` comes from calloc in `converse` with at least `filled` slots.
unsafe fn free_replies(replies: *mut PamResponse, filled: usize) {
    for i in 0..filled {
        let r = (*replies.add(i)).resp;
        if !r.is_null() {
            let len = libc::strlen(r);
            std::ptr::write_bytes(r, 0, len);
            libc::free(r.cast());
        }
    }
    libc::free(replies.cast());
}

/// PAM's text for a return code.
fn strerror(lib: &Lib, handle: *mut Handle, code: c_int) -> String {
    // SAFETY: pam_strerror returns a static string (or NULL) for any handle and code.
    let p = unsafe { (lib.strerror)(handle, code) };
    if p.is_null() {
        format!("PAM error {code}")
    } else {
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// The typed error for a failed `pam_authenticate` or `pam_acct_mgmt`.
fn classify(stage: &'static str, code: c_int, message: impl FnOnce() -> String) -> PamError {
    match code {
        PAM_AUTH_ERR | PAM_MAXTRIES => PamError::AuthFailed,
        PAM_USER_UNKNOWN => PamError::UserUnknown,
        PAM_ACCT_EXPIRED => PamError::AccountExpired,
        PAM_NEW_AUTHTOK_REQD => PamError::NewAuthTokenRequired,
        PAM_AUTHTOK_EXPIRED | PAM_CRED_EXPIRED => PamError::PasswordExpired,
        PAM_PERM_DENIED => PamError::PermissionDenied,
        PAM_AUTHINFO_UNAVAIL => PamError::ServiceUnavailable,
        _ => PamError::Other {
            stage,
            code,
            message: message(),
        },
    }
}

/// Authenticates `user` with `password` through PAM service `service` and checks that the
/// account may be used now (`pam_acct_mgmt`). Blocking.
pub fn authenticate(service: &str, user: &str, password: &str) -> Result<(), PamError> {
    let lib = lib()?;
    let service_c = CString::new(service).map_err(|_| PamError::Start {
        service: service.to_string(),
        message: "the service name holds a NUL byte".into(),
    })?;
    // No account has a NUL in its name or password: such input cannot be right.
    let answers = Answers {
        user: CString::new(user).map_err(|_| PamError::UserUnknown)?,
        password: Secret::new(password).ok_or(PamError::AuthFailed)?,
    };
    let conv = PamConv {
        conv: converse,
        appdata_ptr: &answers as *const Answers as *mut c_void,
    };
    let mut handle: *mut Handle = std::ptr::null_mut();
    // SAFETY: every pointer outlives the transaction: `conv` and `answers` are on this stack
    // frame until after pam_end, and PAM copies the service and user strings.
    let rc = unsafe {
        (lib.start)(
            service_c.as_ptr(),
            answers.user.as_ptr(),
            &conv,
            &mut handle,
        )
    };
    if rc != PAM_SUCCESS || handle.is_null() {
        let message = strerror(lib, handle, rc);
        if !handle.is_null() {
            // SAFETY: a handle pam_start gave, ended once.
            unsafe { (lib.end)(handle, rc) };
        }
        return Err(PamError::Start {
            service: service.to_string(),
            message,
        });
    }
    let flags = PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK;
    // SAFETY: a live handle from pam_start, used on this thread only, ended once below.
    let mut rc = unsafe { (lib.authenticate)(handle, flags) };
    let mut stage = "authenticate";
    if rc == PAM_SUCCESS {
        stage = "acct_mgmt";
        rc = unsafe { (lib.acct_mgmt)(handle, flags) };
    }
    let result = if rc == PAM_SUCCESS {
        Ok(())
    } else {
        Err(classify(stage, rc, || strerror(lib, handle, rc)))
    };
    // SAFETY: as above; the handle is not used after this.
    unsafe { (lib.end)(handle, rc) };
    result
}

/// Whether libpam can be loaded here (for a clear startup message when `pam` is configured).
pub fn available() -> Result<(), PamError> {
    lib().map(|_| ())
}

/// The names of the system groups `user` belongs to (primary group included), sorted by
/// gid, as Salt's `salt.utils.user.get_group_list` gives the `pam` backend's groups. Empty
/// for an unknown user; a gid without a name is left out.
pub fn system_groups(user: &str) -> Vec<String> {
    let Ok(name) = CString::new(user) else {
        return Vec::new();
    };
    // The passwd and group lookups are the state modules' (reentrant, buffers grown on
    // ERANGE).
    let primary = crate::states::modules::file::perms::primary_gid(user);
    let Some(primary) = primary else {
        return Vec::new();
    };
    let mut gids: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut n = gids.len() as c_int;
        // SAFETY: `gids` has room for `n` entries; on -1, `n` is the count needed.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), primary, gids.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            gids.truncate(n.max(0) as usize);
            break;
        }
        let want = (n.max(0) as usize).max(gids.len() * 2);
        if want > 65536 {
            return Vec::new();
        }
        gids.resize(want, 0);
    }
    gids.sort_unstable();
    gids.dedup();
    gids.into_iter()
        .filter_map(crate::states::modules::file::perms::group_name_of)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_codes_map_to_typed_errors() {
        let none = || String::from("unused");
        assert_eq!(
            classify("authenticate", PAM_AUTH_ERR, none),
            PamError::AuthFailed
        );
        assert_eq!(
            classify("authenticate", PAM_MAXTRIES, none),
            PamError::AuthFailed
        );
        assert_eq!(
            classify("authenticate", PAM_USER_UNKNOWN, none),
            PamError::UserUnknown
        );
        assert_eq!(
            classify("acct_mgmt", PAM_ACCT_EXPIRED, none),
            PamError::AccountExpired
        );
        assert_eq!(
            classify("acct_mgmt", PAM_NEW_AUTHTOK_REQD, none),
            PamError::NewAuthTokenRequired
        );
        assert_eq!(
            classify("acct_mgmt", PAM_AUTHTOK_EXPIRED, none),
            PamError::PasswordExpired
        );
        assert_eq!(
            classify("acct_mgmt", PAM_PERM_DENIED, none),
            PamError::PermissionDenied
        );
        assert_eq!(
            classify("authenticate", PAM_AUTHINFO_UNAVAIL, none),
            PamError::ServiceUnavailable
        );
        let e = classify("acct_mgmt", 4, || "System error".into());
        assert_eq!(e.to_string(), "pam: pam_acct_mgmt failed (4): System error");
    }

    #[test]
    fn the_conversation_answers_prompts_and_allocates_what_pam_frees() {
        let answers = Answers {
            user: CString::new("alice").unwrap(),
            password: Secret::new("s3cret").unwrap(),
        };
        let m = |style, text: &'static CStr| PamMessage {
            msg_style: style,
            msg: text.as_ptr(),
        };
        let msgs = [
            m(PAM_TEXT_INFO, c"hello"),
            m(PAM_PROMPT_ECHO_OFF, c"Password: "),
            m(PAM_PROMPT_ECHO_ON, c"login: "),
            m(PAM_ERROR_MSG, c"careful"),
        ];
        let mut ptrs: Vec<*const PamMessage> = msgs.iter().map(|m| m as *const _).collect();
        let mut resp: *mut PamResponse = std::ptr::null_mut();
        let appdata = &answers as *const Answers as *mut c_void;
        // SAFETY: the same contract libpam keeps; the replies are freed as PAM would.
        unsafe {
            let rc = converse(4, ptrs.as_mut_ptr(), &mut resp, appdata);
            assert_eq!(rc, PAM_SUCCESS);
            let text = |i: usize| {
                let p = (*resp.add(i)).resp;
                (!p.is_null()).then(|| CStr::from_ptr(p).to_str().unwrap().to_string())
            };
            assert_eq!(text(0), None);
            assert_eq!(text(1).as_deref(), Some("s3cret"));
            assert_eq!(text(2).as_deref(), Some("alice"));
            assert_eq!(text(3), None);
            free_replies(resp, 4);

            // A prompt style we cannot answer fails the conversation, and nothing leaks.
            let odd = [m(PAM_PROMPT_ECHO_OFF, c"Password: "), m(7, c"binary")];
            let mut ptrs: Vec<*const PamMessage> = odd.iter().map(|m| m as *const _).collect();
            let mut resp: *mut PamResponse = std::ptr::null_mut();
            assert_eq!(
                converse(2, ptrs.as_mut_ptr(), &mut resp, appdata),
                PAM_CONV_ERR
            );
            assert!(resp.is_null());
            assert_eq!(
                converse(0, ptrs.as_mut_ptr(), &mut resp, appdata),
                PAM_CONV_ERR
            );
        }
    }

    #[test]
    fn nul_bytes_in_credentials_are_refused_before_pam() {
        if available().is_err() {
            eprintln!("skipped: libpam is not installed here");
            return;
        }
        assert_eq!(
            authenticate("login", "root\0x", "pw"),
            Err(PamError::UserUnknown)
        );
        assert_eq!(
            authenticate("login", "root", "p\0w"),
            Err(PamError::AuthFailed)
        );
    }

    #[test]
    fn system_groups_of_root_include_its_primary_group() {
        let groups = system_groups("root");
        assert!(groups.iter().any(|g| g == "root"), "{groups:?}");
        assert!(system_groups("no-such-user-brine").is_empty());
        assert!(system_groups("nul\0name").is_empty());
    }
}
