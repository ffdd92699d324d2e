//! `salt://path?saltenv=env` URLs (Salt's `salt.utils.url.parse`).

/// The path and the saltenv of a `salt://` URL; `None` when it is not one. Only the
/// `saltenv` query key counts, as in Salt; a leading `/` of the path is dropped.
pub fn split_url(url: &str) -> Option<(String, Option<String>)> {
    let rest = url.strip_prefix("salt://")?;
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let env = query.and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "saltenv")
            .map(|(_, v)| v.to_owned())
    });
    Some((
        path.trim_start_matches('/').to_owned(),
        env.filter(|e| !e.is_empty()),
    ))
}

/// Whether `s` is a `salt://` URL.
pub fn is_salt_url(s: &str) -> bool {
    s.starts_with("salt://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_as_salt_splits_them() {
        assert_eq!(split_url("salt://a/b.txt"), Some(("a/b.txt".into(), None)));
        assert_eq!(
            split_url("salt://a/b.txt?saltenv=dev"),
            Some(("a/b.txt".into(), Some("dev".into())))
        );
        assert_eq!(
            split_url("salt:///top.sls?x=1&saltenv=prod"),
            Some(("top.sls".into(), Some("prod".into())))
        );
        assert_eq!(split_url("/etc/passwd"), None);
        assert!(is_salt_url("salt://x") && !is_salt_url("http://x"));
    }
}
