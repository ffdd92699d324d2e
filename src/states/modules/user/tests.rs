use super::*;
use crate::states::modules::group as grp;
use crate::states::modules::testing::{is_root, with_ctx, Cleanup};
use serde_json::json;

type StateFn = fn(&mut Ctx<'_>, &Map<String, Value>) -> Value;

fn call(f: StateFn, test: bool, args: Value) -> Value {
    let Value::Object(m) = args else {
        panic!("args must be a map")
    };
    with_ctx(test, &std::env::temp_dir(), |c| f(c, &m))
}

/// (result, comment, changes) of a return.
fn rcc(v: &Value) -> (Value, Value, Value) {
    let g = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    (g("result"), g("comment"), g("changes"))
}

#[test]
fn passwd_lines_gecos_and_group_changes() {
    let u = parse_passwd("al:x:1001:1002:Al Smith,12,555,,x:/home/al:/bin/sh");
    let Some(u) = u else { panic!("no parse") };
    assert_eq!(
        (u.uid, u.gid, u.gecos[0].as_str(), u.gecos[4].as_str()),
        (1001, 1002, "Al Smith", "x")
    );
    assert_eq!(gecos_with(&u, "Al"), "Al,12,555,,x");
    let bare = parse_passwd("b:x:1:1::/:/bin/sh");
    assert_eq!(bare.map(|b| gecos_with(&b, "B")).as_deref(), Some("B"));
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(!group_changes(&s(&["a", "b"]), &s(&["b", "a"]), true));
    assert!(!group_changes(&s(&["a", "b"]), &s(&["a"]), false));
    assert!(group_changes(&s(&["a", "b"]), &s(&["a"]), true));
    assert!(group_changes(&s(&["a"]), &s(&["a", "c"]), false));
    assert_eq!(
        Change::Groups(s(&["a"])).repr() + &Change::Uid("7".into()).repr(),
        "'groups': ['a']'uid': 7"
    );
}

#[test]
fn a_group_and_a_user_are_created_changed_and_removed() {
    if !is_root() {
        println!("skipped: user tests add system accounts and need root");
        return;
    }
    let pid = std::process::id();
    let (u, g) = (format!("brine-t-{pid}"), format!("brine-tg-{pid}"));
    let home = format!("/tmp/{u}-home");
    // userdel first: a group that is some user's primary group cannot be deleted.
    let _cleanup = Cleanup(vec![
        vec!["userdel".into(), "-r".into(), u.clone()],
        vec!["groupdel".into(), u.clone()],
        vec!["groupdel".into(), g.clone()],
        vec!["rm".into(), "-rf".into(), home.clone()],
    ]);

    // group.present
    assert_eq!(
        rcc(&call(grp::present, true, json!({"name": g}))),
        (
            Value::Null,
            json!(format!("Group {g} set to be added")),
            json!({})
        )
    );
    let r = call(grp::present, false, json!({"name": g}));
    let gid = grp::lookup(&g).map(|i| i.gid);
    let Some(gid) = gid else {
        panic!("{g} not created: {r}")
    };
    assert_eq!(
        rcc(&r),
        (
            json!(true),
            json!(format!("New group {g} created")),
            json!({"name": g, "passwd": "x", "gid": gid, "members": []})
        )
    );
    assert_eq!(
        rcc(&call(grp::present, false, json!({"name": g, "gid": gid}))),
        (
            json!(true),
            json!(format!("Group {g} is present and up to date")),
            json!({})
        )
    );

    // user.present: a new user
    assert_eq!(
        rcc(&call(present, true, json!({"name": u}))),
        (
            Value::Null,
            json!(format!("User {u} set to be added")),
            json!({})
        )
    );
    let want = json!({"name": u, "groups": [g], "shell": "/bin/sh", "fullname": "Brine Test", "home": home});
    let r = call(present, false, want.clone());
    let (res, comment, ch) = rcc(&r);
    assert_eq!(
        (res, comment),
        (json!(true), json!(format!("New user {u} created"))),
        "{r}"
    );
    let Some(info) = info(&u) else {
        panic!("{u} not created")
    };
    let mut groups = vec![g.clone(), u.clone()];
    groups.sort();
    assert_eq!(
        ch,
        json!({
            "gid": info.gid, "groups": groups, "home": home, "name": u, "passwd": "x",
            "shell": "/bin/sh", "uid": info.uid, "fullname": "Brine Test", "roomnumber": "",
            "workphone": "", "homephone": "", "other": ""
        })
    );
    assert!(std::path::Path::new(&home).is_dir());
    assert_eq!(
        rcc(&call(present, false, want)),
        (
            json!(true),
            json!(format!("User {u} is present and up to date")),
            json!({})
        )
    );

    // user.present: changes to an existing user
    let change = json!({"name": u, "shell": "/bin/bash", "fullname": "Other"});
    assert_eq!(
        rcc(&call(present, true, change.clone())),
        (
            Value::Null,
            json!("The following user attributes are set to be changed:\nshell: /bin/bash\nfullname: Other\n"),
            json!({})
        )
    );
    assert_eq!(
        rcc(&call(present, false, change)),
        (
            json!(true),
            json!(format!("Updated user {u}")),
            json!({"shell": "/bin/bash", "fullname": "Other"})
        )
    );
    let missing = format!("brine-nogroup-{pid}");
    assert_eq!(
        rcc(&call(
            present,
            false,
            json!({"name": u, "groups": [missing]})
        )),
        (
            json!(false),
            json!(format!("The following group(s) are not present: {missing}")),
            json!({})
        )
    );
    let r = call(present, false, json!({"name": u, "uid": info.uid + 1}));
    assert_eq!(
        rcc(&r).1,
        json!(format!(
            "Encountered error checking for needed changes. Additional info follows:\n\n- Changing uid ({} -> {}) not permitted, set allow_uid_change to True to force this change. Note that this will not change file ownership.",
            info.uid,
            info.uid + 1
        ))
    );

    // group.present: membership
    let final_ = json!({"Final": "All changes applied successfully"});
    assert_eq!(
        rcc(&call(
            grp::present,
            false,
            json!({"name": g, "addusers": ["root"]})
        )),
        (
            json!(true),
            json!("The following group attributes are set to be changed:\naddusers: ['root']\n"),
            final_.clone()
        )
    );
    assert_eq!(
        grp::lookup(&g).map(|i| i.members),
        Some(vec![u.clone(), "root".into()])
    );
    assert_eq!(
        rcc(&call(
            grp::present,
            true,
            json!({"name": g, "members": [u]})
        )),
        (
            Value::Null,
            json!(format!(
                "The following group attributes are set to be changed:\nmembers: ['{u}']\n"
            )),
            json!({})
        )
    );
    assert_eq!(
        rcc(&call(
            grp::present,
            false,
            json!({"name": g, "members": [u]})
        ))
        .2,
        final_
    );
    assert_eq!(grp::lookup(&g).map(|i| i.members), Some(vec![u.clone()]));

    // Supplementary groups replaced, and a new home (which does not exist yet).
    let adm = json!({"name": u, "groups": ["adm"]});
    assert_eq!(
        rcc(&call(present, true, adm.clone())).1,
        json!("The following user attributes are set to be changed:\ngroups: ['adm']\n")
    );
    let mut after = vec!["adm".to_owned(), u.clone()];
    after.sort();
    assert_eq!(
        rcc(&call(present, false, adm)),
        (
            json!(true),
            json!(format!("Updated user {u}")),
            json!({"groups": after})
        )
    );
    let home2 = format!("{home}-2");
    let _home2 = Cleanup(vec![vec!["rm".into(), "-rf".into(), home2.clone()]]);
    let moved = json!({"name": u, "home": home2});
    assert_eq!(
        rcc(&call(present, true, moved.clone())).1,
        json!(format!(
            "The following user attributes are set to be changed:\nhome: {home2}\nhomeDoesNotExist: {home2}\n"
        ))
    );
    assert_eq!(
        rcc(&call(present, false, moved)),
        (
            json!(true),
            json!(format!("Updated user {u}")),
            json!({"home": home2})
        )
    );
    assert!(std::path::Path::new(&home2).is_dir());
    // A gid of 0 is "no gid" to Salt for an existing group, and taken for a new one.
    assert_eq!(
        rcc(&call(grp::present, false, json!({"name": g, "gid": 0}))).1,
        json!(format!("Group {g} is present and up to date"))
    );
    let g2 = format!("brine-tg2-{pid}");
    assert_eq!(
        rcc(&call(grp::present, false, json!({"name": g2, "gid": 0}))),
        (
            json!(false),
            json!(format!(
                "Group {g2} is not present but gid 0 is already taken by group root"
            )),
            json!({})
        )
    );

    // user.absent
    assert_eq!(
        rcc(&call(absent, true, json!({"name": u}))),
        (
            Value::Null,
            json!(format!("User {u} set for removal")),
            json!({})
        )
    );
    assert_eq!(
        rcc(&call(absent, false, json!({"name": u, "purge": true}))),
        (
            json!(true),
            json!(format!("Removed user {u}")),
            json!({format!("{u} group"): "removed", u.clone(): "removed"})
        )
    );
    // purge removes the home the user has now (the old one stays, as with Salt).
    assert!(!std::path::Path::new(&home2).exists());
    assert_eq!(
        rcc(&call(absent, false, json!({"name": u}))),
        (
            json!(true),
            json!(format!("User {u} is not present")),
            json!({})
        )
    );

    // group.absent
    assert_eq!(
        rcc(&call(grp::absent, true, json!({"name": g}))),
        (
            Value::Null,
            json!(format!("Group {g} is set for removal")),
            json!({})
        )
    );
    assert_eq!(
        rcc(&call(grp::absent, false, json!({"name": g}))),
        (
            json!(true),
            json!(format!("Removed group {g}")),
            json!({g.clone(): ""})
        )
    );
    assert_eq!(
        rcc(&call(grp::absent, false, json!({"name": g}))),
        (json!(true), json!("Group not present"), json!({}))
    );
}
