use super::*;
use crate::states::modules::testing::{is_root, sh, with_ctx, Cleanup};
use serde_json::json;

#[test]
fn version_conditions_and_desired_names_as_salt_writes_them() {
    assert_eq!(
        conditions(">=1.0, <2"),
        vec![(">=", "1.0".into()), ("<", "2".into())]
    );
    assert_eq!(conditions("1.2-1"), vec![("==", "1.2-1".into())]);
    assert_eq!(desired_str("a", Some("1.2")), "a=1.2");
    assert_eq!(desired_str("a", Some(">=1.2")), "a>=1.2");
    assert_eq!(desired_str("a", None), "a");
    assert_eq!(
        repack(&json!(["a", {"b": 1.5}, {"c": null}])),
        Some(vec![
            ("a".into(), None),
            ("b".into(), Some("1.5".into())),
            ("c".into(), None)
        ])
    );
    assert_eq!(repack(&json!([1])), None);
    assert_eq!(repack(&json!("a")), None);
}

#[test]
fn changes_are_salts_compare_dicts() {
    let old: PkgList = [
        ("a".into(), vec!["1".into()]),
        ("b".into(), vec!["2".into()]),
    ]
    .into();
    let new: PkgList = [
        ("b".into(), vec!["3".into()]),
        ("c".into(), vec!["4".into()]),
    ]
    .into();
    assert_eq!(
        Value::Object(diff(&old, &new)),
        json!({"a": {"new": "", "old": "1"}, "b": {"old": "2", "new": "3"}, "c": {"old": "", "new": "4"}})
    );
}

/// The installed version of `pkg` as dpkg-query reports it, or None.
fn dpkg_version(pkg: &str) -> Option<String> {
    let (rc, out) = sh(&[
        "dpkg-query",
        "-W",
        "--showformat",
        "${Status} ${Version}",
        pkg,
    ]);
    (rc == 0 && out.starts_with("install ok installed"))
        .then(|| out.rsplit(' ').next().unwrap_or("").to_owned())
}

fn get<'v>(v: &'v Value, k: &str) -> &'v Value {
    v.get(k).unwrap_or(&Value::Null)
}

#[test]
fn a_local_deb_installs_through_sources_and_is_removed() {
    if !is_root() {
        println!("skipped: pkg tests install packages and need root");
        return;
    }
    let pkg = format!("brine-t-pkg-{}", std::process::id());
    let _purge = Cleanup(vec![vec!["dpkg".into(), "--purge".into(), pkg.clone()]]);
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let tree = dir.path().join("tree");
    let debian = tree.join("DEBIAN");
    let root = dir.path().join("root");
    for d in [&debian, &root.join("debs")] {
        if let Err(e) = std::fs::create_dir_all(d) {
            panic!("{}: {e}", d.display());
        }
    }
    // One package in two versions, as .debs under the file root.
    let build = |version: &str, file: &str| -> String {
        let control = format!(
            "Package: {pkg}\nVersion: {version}\nArchitecture: all\nMaintainer: brine <brine@example.invalid>\nDescription: brine state test\n"
        );
        if let Err(e) = std::fs::write(debian.join("control"), control) {
            panic!("control: {e}");
        }
        let deb = root.join("debs").join(file).to_string_lossy().into_owned();
        let tree_s = tree.to_string_lossy().into_owned();
        assert_eq!(sh(&["dpkg-deb", "--build", &tree_s, &deb]).0, 0);
        deb
    };
    let deb_s = build("1.2", "t.deb");
    let deb13 = build("1.3", "t13.deb");
    let args = |sources: Value| -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), json!(pkg));
        m.insert("sources".into(), sources);
        m
    };
    let by_url = args(json!([{pkg.clone(): "salt://debs/t.deb"}]));

    // Test mode: reported, not installed.
    let r = with_ctx(true, &root, |c| installed(c, &by_url));
    assert_eq!(get(&r, "result"), &Value::Null, "{r}");
    assert_eq!(
        get(&r, "comment"),
        &json!(format!(
            "The following packages would be installed/updated: {pkg}"
        ))
    );
    assert_eq!(
        get(&r, "changes"),
        &json!({pkg.clone(): {"new": "installed", "old": ""}})
    );
    assert_eq!(dpkg_version(&pkg), None);

    let r = with_ctx(false, &root, |c| installed(c, &by_url));
    assert_eq!(get(&r, "result"), &json!(true), "{r}");
    // The name stays under 20 characters, so Salt names it rather than counting.
    assert_eq!(
        get(&r, "comment"),
        &json!(format!(
            "The following packages were installed/updated: {pkg}"
        ))
    );
    assert_eq!(
        get(&r, "changes"),
        &json!({pkg.clone(): {"old": "", "new": "1.2"}})
    );
    assert_eq!(dpkg_version(&pkg).as_deref(), Some("1.2"));

    // Installed already: by a local path, by name, and in test mode.
    let by_path = args(json!([{pkg.clone(): deb_s.clone()}]));
    let r = with_ctx(false, &root, |c| installed(c, &by_path));
    assert_eq!(
        get(&r, "comment"),
        &json!("All specified packages are already installed"),
        "{r}"
    );
    assert_eq!(get(&r, "changes"), &json!({}));
    let mut by_name = Map::new();
    by_name.insert("name".into(), json!(pkg));
    let r = with_ctx(false, &root, |c| installed(c, &by_name));
    assert_eq!(
        get(&r, "comment"),
        &json!("All specified packages are already installed"),
        "{r}"
    );
    let mut pinned = by_name.clone();
    pinned.insert("version".into(), json!(1.2));
    let r = with_ctx(false, &root, |c| installed(c, &pinned));
    assert_eq!(
        get(&r, "comment"),
        &json!("All specified packages are already installed and are at the desired version"),
        "{r}"
    );
    let r = with_ctx(true, &root, |c| {
        latest(c, &{
            let mut m = by_name.clone();
            m.insert("refresh".into(), json!(false));
            m
        })
    });
    assert_eq!(
        get(&r, "comment"),
        &json!(format!("Package {pkg} is already up-to-date")),
        "{r}"
    );

    // A newer .deb of an installed package is an update.
    let newer = args(json!([{pkg.clone(): deb13}]));
    let r = with_ctx(false, &root, |c| installed(c, &newer));
    assert_eq!(
        get(&r, "comment"),
        &json!(format!(
            "The following packages were installed/updated: {pkg}"
        )),
        "{r}"
    );
    assert_eq!(
        get(&r, "changes"),
        &json!({pkg.clone(): {"old": "1.2", "new": "1.3"}})
    );
    let r = with_ctx(false, &root, |c| {
        removed(c, &{
            let mut m = by_name.clone();
            m.insert("version".into(), json!("1.2"));
            m
        })
    });
    assert_eq!(
        get(&r, "comment"),
        &json!("All specified packages (matching specified versions) are already absent"),
        "{r}"
    );

    // Removal: test mode first, then for real, then already gone.
    let r = with_ctx(true, &root, |c| removed(c, &by_name));
    assert_eq!(get(&r, "result"), &Value::Null, "{r}");
    assert_eq!(
        get(&r, "comment"),
        &json!(format!("The following packages will be removed: {pkg}."))
    );
    assert_eq!(
        get(&r, "changes"),
        &json!({pkg.clone(): {"new": "removed", "old": ""}})
    );
    assert_eq!(dpkg_version(&pkg).as_deref(), Some("1.3"));
    let r = with_ctx(false, &root, |c| removed(c, &by_name));
    assert_eq!(get(&r, "result"), &json!(true), "{r}");
    assert_eq!(
        get(&r, "comment"),
        &json!("All targeted packages were removed.")
    );
    assert_eq!(
        get(&r, "changes"),
        &json!({pkg.clone(): {"new": "", "old": "1.3"}})
    );
    assert_eq!(dpkg_version(&pkg), None);
    let r = with_ctx(false, &root, |c| removed(c, &by_name));
    assert_eq!(
        get(&r, "comment"),
        &json!("All specified packages are already absent"),
        "{r}"
    );
}

#[test]
fn bad_arguments_fail_as_salt_does() {
    let dir = std::env::temp_dir();
    let mut a = Map::new();
    a.insert("name".into(), json!("x"));
    a.insert("pkgs".into(), json!([]));
    let r = with_ctx(false, &dir, |c| installed(c, &a));
    assert_eq!(
        get(&r, "comment"),
        &json!("No packages to install provided")
    );
    a.insert("pkgs".into(), json!(["x"]));
    a.insert("sources".into(), json!([{"x": "/x.deb"}]));
    let r = with_ctx(false, &dir, |c| installed(c, &a));
    assert_eq!(
        get(&r, "comment"),
        &json!("Only one of \"pkgs\" and \"sources\" is permitted.")
    );
    a.remove("sources");
    a.insert("pkgs".into(), json!([3]));
    let r = with_ctx(false, &dir, |c| installed(c, &a));
    assert_eq!(
        get(&r, "comment"),
        &json!("Invalidly formatted 'pkgs' parameter. See minion log.")
    );
    let mut l = Map::new();
    l.insert("name".into(), json!("x"));
    l.insert("sources".into(), json!([{"x": "/x.deb"}]));
    let r = with_ctx(false, &dir, |c| latest(c, &l));
    assert_eq!(
        get(&r, "comment"),
        &json!("The \"sources\" parameter is not supported.")
    );
    // Sources that cannot be had, for a package that is not installed.
    let p = "brine-not-installed-zz";
    let mut s = Map::new();
    s.insert("name".into(), json!(p));
    s.insert("sources".into(), json!([{p: "salt://nope/x.deb"}]));
    let r = with_ctx(false, &dir, |c| installed(c, &s));
    assert_eq!(
        get(&r, "comment"),
        &json!(format!("An error was encountered while installing package(s): Unable to cache source salt://nope/x.deb for package {p}"))
    );
    s.insert("sources".into(), json!([{p: "x.deb"}]));
    let r = with_ctx(false, &dir, |c| installed(c, &s));
    assert_eq!(
        get(&r, "comment"),
        &json!(format!("An error was encountered while installing package(s): Path x.deb for package {p} is either not absolute or an invalid protocol"))
    );
    let r = with_ctx(false, &dir, |c| latest(c, &l));
    assert_eq!(
        get(&r, "comment"),
        &json!("The \"sources\" parameter is not supported.")
    );
}
