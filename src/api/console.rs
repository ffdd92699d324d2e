//! brine's web console, built into the binary (plain HTML, CSS and JavaScript: no build
//! step, nothing fetched from elsewhere), served at `app_path` when no `app` is configured.

const INDEX: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");

/// A console file by its name under `app_path` (`""` is the page), with its content type.
pub fn file(name: &str) -> Option<(&'static [u8], &'static str)> {
    match name {
        "" | "index.html" => Some((INDEX.as_bytes(), "text/html;charset=utf-8")),
        "console.js" => Some((SCRIPT.as_bytes(), "application/javascript;charset=utf-8")),
        "console.css" => Some((STYLE.as_bytes(), "text/css;charset=utf-8")),
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
