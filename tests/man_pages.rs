//! The committed man pages are exactly what the flag tables generate, and groff reads
//! them without a warning. `BRINE_BLESS=1 cargo test --test main man_pages::` rewrites them.

use std::path::Path;
use std::process::Command;

#[test]
fn committed_man_pages_match_the_flag_tables() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let bless = std::env::var_os("BRINE_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, text) in brine::cli::man_pages() {
        let path = dir.join(&name);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "man pages differ from the flag tables: {stale:?}; regenerate with BRINE_BLESS=1 cargo test --test main man_pages::"
    );
}

#[test]
fn groff_prints_no_warning() {
    if Command::new("groff").arg("--version").output().is_err() {
        eprintln!("groff is not installed; .ci/run installs it");
        return;
    }
    for (name, _) in brine::cli::man_pages() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("man")
            .join(&name);
        let out = Command::new("groff")
            .args(["-man", "-ww", "-z"])
            .arg(&path)
            .output()
            .unwrap();
        let noise = String::from_utf8_lossy(&out.stderr);
        assert!(noise.is_empty() && out.status.success(), "{name}: {noise}");
    }
}

#[test]
fn help_lists_every_flag() {
    for tool in brine::cli::tools::ALL {
        let help = brine::cli::flags::help(tool);
        for f in tool.flags {
            assert!(
                help.contains(&format!("--{}", f.long)),
                "{} --{}",
                tool.name,
                f.long
            );
        }
    }
}
