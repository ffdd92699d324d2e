//! brine's web console, built into the binary (plain HTML, CSS and JavaScript: no build
//! step, nothing fetched from elsewhere), served at `app_path` when no `app` is configured.

const INDEX: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");

/// A console file by its name under `app_path` (`""` is the page), with its content type;
/// the page names its script and style under the configured `app_path`.
pub fn file(name: &str, app_path: &str) -> Option<(Vec<u8>, &'static str)> {
    match name {
        "" | "index.html" => {
            let page = INDEX.replace("\"/app/", &format!("\"{app_path}/"));
            Some((page.into_bytes(), "text/html;charset=utf-8"))
        }
        "console.js" => Some((
            SCRIPT.as_bytes().to_vec(),
            "application/javascript;charset=utf-8",
        )),
        "console.css" => Some((STYLE.as_bytes().to_vec(), "text/css;charset=utf-8")),
        _ => None,
    }
}

/// The content type of a static file, by its extension.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html;charset=utf-8",
        "js" | "mjs" => "application/javascript;charset=utf-8",
        "css" => "text/css;charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "txt" => "text/plain;charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_names_its_files_under_app_path() {
        let (page, _) = super::file("", "/ops/console").unwrap_or_default();
        let page = String::from_utf8(page).unwrap_or_default();
        assert!(
            page.contains("\"/ops/console/console.js\"")
                && page.contains("\"/ops/console/console.css\"")
        );
        assert!(!page.contains("\"/app/"));
        assert!(super::file("../etc/passwd", "/app").is_none());
    }
}
