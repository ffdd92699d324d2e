//! Unit tests of targeting: Salt 3007.15's own answers (the fixture) and the edge cases brine
//! must decide as Salt does, or refuse.

use super::operand::parse_word;
use super::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// The fixture: Salt 3007.15's own matchers over five minions.
struct Fixture {
    minions: Vec<(String, Map<String, Value>)>,
    nodegroups: Value,
    cases: Vec<(Value, TgtType, Vec<String>)>,
}

fn fixture() -> Fixture {
    let doc: Value = serde_json::from_str(include_str!("../../tests/fixtures/salt/targeting.json"))
        .expect("fixture is JSON");
    let minions = doc["minions"]
        .as_array()
        .expect("minions")
        .iter()
        .map(|m| {
            let id = m["id"].as_str().expect("id").to_string();
            (id, m["grains"].as_object().expect("grains").clone())
        })
        .collect();
    let cases = doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let tgt_type = c["tgt_type"].as_str().expect("tgt_type");
            let matches = c["matches"].as_array().expect("matches");
            (
                c["tgt"].clone(),
                TgtType::from_name(tgt_type).expect("known tgt_type"),
                matches
                    .iter()
                    .map(|m| m.as_str().expect("id").to_string())
                    .collect(),
            )
        })
        .collect();
    Fixture {
        minions,
        nodegroups: doc["nodegroups"].clone(),
        cases,
    }
}

impl Fixture {
    fn ids(&self) -> Vec<String> {
        self.minions.iter().map(|(id, _)| id.clone()).collect()
    }

    /// The minions (in fixture order) that match on the minion side; parse errors match none.
    fn minion_side(&self, tgt: &Value, tgt_type: TgtType) -> Vec<String> {
        let Ok(target) = Target::parse(tgt, tgt_type, &self.nodegroups, ":") else {
            return Vec::new();
        };
        self.minions
            .iter()
            .filter(|(id, grains)| target.matches(id, grains))
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn compound(&self, expr: &str) -> Vec<&str> {
        let found = self.minion_side(&json!(expr), TgtType::Compound);
        self.minions
            .iter()
            .map(|(id, _)| id.as_str())
            .filter(|id| found.iter().any(|f| f == id))
            .collect()
    }

    /// The master's answer with every minion's grains cached.
    fn master_side(&self, target: &Target) -> (Vec<String>, Vec<String>) {
        let lookup = |id: &str| self.minions.iter().find(|(m, _)| m == id).map(|(_, g)| g);
        target.expected(&self.ids(), &lookup)
    }
}

const WEB1: &str = "web1.example.com";
const WEB2: &str = "web2.example.com";

fn compound(expr: &str) -> Result<Target, TargetError> {
    Target::parse(&json!(expr), TgtType::Compound, &Value::Null, ":")
}

fn grains(v: Value) -> Map<String, Value> {
    v.as_object().expect("grains are a map").clone()
}

#[test]
fn every_fixture_case_matches_on_the_minion_side() {
    let fx = fixture();
    assert!(fx.cases.len() >= 80);
    let bad: Vec<String> = fx
        .cases
        .iter()
        .filter_map(|(tgt, tgt_type, want)| {
            let got = fx.minion_side(tgt, *tgt_type);
            (&got != want).then(|| format!("{tgt_type} {tgt}: Salt {want:?}, brine {got:?}"))
        })
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn with_every_grain_cached_the_master_expects_exactly_the_minions_that_match() {
    let fx = fixture();
    for (tgt, tgt_type, want) in &fx.cases {
        let mut want = want.clone();
        want.sort();
        let (expected, missing) = match Target::parse(tgt, *tgt_type, &fx.nodegroups, ":") {
            Ok(target) => fx.master_side(&target),
            Err(_) => (Vec::new(), Vec::new()),
        };
        assert_eq!(expected, want, "{tgt_type} {tgt}");
        // Only list targets name ids that may have no key.
        let want_missing: &[&str] = match (tgt_type, tgt.as_str()) {
            (TgtType::List, Some("ghost,db1")) => &["ghost"],
            (TgtType::List, Some("DB1")) => &["DB1"],
            (TgtType::List, Some("web1.example.com, db1")) => &[" db1"],
            _ => &[],
        };
        assert_eq!(missing, want_missing, "missing of {tgt_type} {tgt}");
    }
}

#[test]
fn list_targets_report_unlisted_ids_as_missing() {
    let accepted = vec![WEB1.to_string(), "db1".to_string()];
    let none = |_: &str| None;
    let expect = |tgt: Value, tgt_type| {
        Target::parse(&tgt, tgt_type, &Value::Null, ":")
            .expect("parses")
            .expected(&accepted, &none)
    };
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // Empty names are dropped, as Salt's master splits and filters.
    assert_eq!(
        expect(json!("a,db1,,b,a"), TgtType::List),
        (ids(&["db1"]), ids(&["a", "b"]))
    );
    assert_eq!(
        expect(json!(["db1", "ghost", "ghost"]), TgtType::List),
        (ids(&["db1"]), ids(&["ghost"]))
    );
    assert_eq!(
        expect(json!("L@ghost,db1 or L@x"), TgtType::Compound),
        (ids(&["db1"]), ids(&["ghost", "x"]))
    );
    // A list straight after `not` is an exclusion: its strangers are not missing...
    assert_eq!(
        expect(json!("* and not L@ghost"), TgtType::Compound),
        (ids(&["db1", WEB1]), ids(&[]))
    );
    // ...but one inside parentheses is, as in Salt's master.
    assert_eq!(
        expect(json!("* and not ( L@ghost )"), TgtType::Compound),
        (ids(&["db1", WEB1]), ids(&["ghost"]))
    );
    assert_eq!(
        expect(json!("db*"), TgtType::Glob),
        (ids(&["db1"]), ids(&[]))
    );
}

#[test]
fn unknown_grains_are_greedy_on_the_master() {
    let fx = fixture();
    // The master has grains for everyone but db1.
    let lookup = |id: &str| {
        fx.minions
            .iter()
            .find(|(m, _)| m == id && id != "db1")
            .map(|(_, g)| g)
    };
    let expected = |tgt: &str, tgt_type| {
        let target = Target::parse(&json!(tgt), tgt_type, &fx.nodegroups, ":").expect("parses");
        target.expected(&fx.ids(), &lookup).0
    };
    let set = |v: &[&str]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(expected("os:Ubuntu", TgtType::Grain), set(&[WEB1, "db1"]));
    assert_eq!(
        expected("os:ubu.*", TgtType::GrainPcre),
        set(&[WEB1, "db1"])
    );
    assert_eq!(
        expected("10.0.0.0/24", TgtType::Ipcidr),
        set(&[WEB1, "mysql1", "db1"])
    );
    assert_eq!(expected("db*", TgtType::Glob), set(&["db1"]));
    assert_eq!(
        expected("G@os:Ubuntu", TgtType::Compound),
        set(&[WEB1, "db1"])
    );
    // `not X` is ALL − X, and X kept db1.
    assert_eq!(
        expected("not G@os:Ubuntu", TgtType::Compound),
        set(&[WEB2, "mysql1", "minion_x"])
    );
    // No pillar is ever cached, so only the unknown minion is kept.
    assert_eq!(expected("I@role:web", TgtType::Compound), set(&["db1"]));
    // An address that does not parse keeps nobody, unknown or not.
    assert_eq!(expected("nonsense", TgtType::Ipcidr), set(&[]));
}

#[test]
fn precedence_parentheses_and_implicit_and() {
    let fx = fixture();
    // (expression, Salt 3007.15's answer over the fixture fleet)
    let cases: &[(&str, &[&str])] = &[
        ("web* and ( db1 or mysql1 )", &[]),
        ("web* and db1 or mysql1", &["mysql1"]),
        ("not web* and not db1", &["mysql1", "minion_x"]),
        (
            "not ( web* and G@os:Ubuntu )",
            &[WEB2, "db1", "mysql1", "minion_x"],
        ),
        ("( ( ( db1 ) ) )", &["db1"]),
        (
            "mysql1 or not G@os:CentOS and not minion_x",
            &[WEB1, "db1", "mysql1"],
        ),
        ("web* not G@os:Ubuntu", &[WEB2]),
        ("( web* ) not db*", &[WEB1, WEB2]),
        ("( not web* )", &["db1", "mysql1", "minion_x"]),
        ("G@roles:web* and G@env:prod", &[WEB1]),
        ("G@os:ubuntu or S@10.0.0.0/8", &[WEB1, WEB2, "mysql1"]),
    ];
    for (expr, want) in cases {
        assert_eq!(fx.compound(expr), *want, "{expr}");
    }
}

#[test]
fn the_grammar_is_pythons_eval() {
    let fx = fixture();
    let all: &[&str] = &[WEB1, WEB2, "db1", "mysql1", "minion_x"];
    // (expression, Salt 3007.15's answer, why)
    let cases: &[(&str, &[&str], &str)] = &[
        ("not ( )", all, "not of an empty tuple"),
        ("( )", &[], "an empty tuple is false"),
        ("( ( ) )", &[], "still an empty tuple"),
        (
            "web* or db1 ( x )",
            &[WEB1, WEB2],
            "the call is never reached",
        ),
        ("db1 ( x ) or web*", &[], "the call raises first"),
        ("not web* ( db1 )", &[], "a call under not raises"),
        ("web* ( )", &[], "a call without arguments raises too"),
        ("( web* ) ( db1 )", &[], "calling a parenthesized bool"),
        (
            "not S@bad and db1",
            &["db1"],
            "a bad address is `[]`, false",
        ),
        ("S@bad or db1", &["db1"], "`[] or True`"),
    ];
    for (expr, want, why) in cases {
        assert!(compound(expr).is_ok(), "{expr} parses");
        assert_eq!(fx.compound(expr), *want, "{expr}: {why}");
    }
    // Syntax errors: nothing matches and the CLI hears why.
    for expr in [
        "not not web*",
        "web* and not not db1",
        "web* db1",
        "web* )",
        ") web*",
        "( web* or ( db1 )",
        "( web*",
        "not",
        "( not )",
        "web* and",
        "and web*",
        "or db1",
        "( and web* )",
        "",
        "   ",
    ] {
        assert_eq!(
            compound(expr).map(|_| ()),
            Err(TargetError::InvalidCompound {
                expr: py_split(expr).collect::<Vec<_>>().join(" ")
            }),
            "{expr:?}"
        );
    }
}

#[test]
fn words_are_read_as_salts_parse_target_reads_them() {
    let fx = fixture();
    // A delimiter between the engine letter and `@`, for G, P, I and J only.
    assert_eq!(fx.compound("G|@os|ubuntu"), [WEB1]);
    assert_eq!(fx.compound("G:@os:ubuntu"), [WEB1]);
    // `@` itself can be the delimiter: `G@@os@ubuntu` is G, `@`, `os@ubuntu`.
    assert_eq!(fx.compound("G@@os@ubuntu"), [WEB1]);
    // Letters that are no engine make the word a glob, which only a minion so named matches.
    assert_eq!(fx.compound("X@foo or db1"), ["db1"]);
    assert_eq!(fx.compound("not X@foo and db1"), ["db1"]);
    assert_eq!(parse_word("T@x").engine, None);
    // An engine with nothing after `@` is a glob too.
    assert_eq!(parse_word("G@").engine, None);
    assert_eq!(parse_word("L|@x").engine, None);
    let w = parse_word("G@a\n");
    assert_eq!((w.engine, w.pattern), (Some('G'), "a"));
    assert_eq!(parse_word("G@a\nb").engine, None);
    // Pillar: brine has none, so like a Salt minion without pillar data: false.
    assert_eq!(fx.compound("J@x:y or I@a:b or db1"), ["db1"]);
    assert_eq!(fx.compound("not I@foo:bar").len(), 5);
    // `R@` (range) fails the whole expression, as on a minion without seco.range.
    let err = compound("R@foo or web*").map(|_| ()).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Unrecognized target engine "R" for target expression "R@foo""#
    );
    assert!(fx.compound("not R@foo").is_empty());
}

#[test]
fn grain_delimiter_applies_to_the_grain_types_only() {
    let fx = fixture();
    let web1 = &fx.minions[0].1;
    let parse = |tgt: &str, tgt_type| Target::parse(&json!(tgt), tgt_type, &Value::Null, "|");
    assert!(parse("os|Ubuntu", TgtType::Grain)
        .expect("parses")
        .matches(WEB1, web1));
    assert!(parse("os|ubu.*", TgtType::GrainPcre)
        .expect("parses")
        .matches(WEB1, web1));
    // Compound words default to `:` whatever the CLI's delimiter, as in Salt.
    assert!(!parse("G@os|Ubuntu", TgtType::Compound)
        .expect("parses")
        .matches(WEB1, web1));
    assert!(parse("G@os:Ubuntu", TgtType::Compound)
        .expect("parses")
        .matches(WEB1, web1));
    let err = Target::parse(&json!("os:x"), TgtType::Grain, &Value::Null, "").map(|_| ());
    assert_eq!(err, Err(TargetError::EmptyDelimiter));
}

#[test]
fn nodegroups_resolve_as_salts_client_resolves_them() {
    let mut groups = fixture().nodegroups;
    groups["g"] = json!("web* or db*");
    groups["re"] = json!(["web?", "db1"]);
    groups["dd"] = json!("N@webs or N@webs");
    groups["spaced"] = json!(["web1.example.com", "db1 mysql1"]);
    let published = |tgt: &str, tgt_type| {
        let target = Target::parse(&json!(tgt), tgt_type, &groups, ":").expect("resolves");
        let (value, published_type) = target.published();
        assert_eq!(published_type, TgtType::Compound);
        value.as_str().expect("a string").to_string()
    };
    // A top-level group without nested groups is spliced in bare, parenthesized otherwise.
    assert_eq!(published("webs", TgtType::Nodegroup), "G@roles:web*");
    assert_eq!(
        published("lst", TgtType::Nodegroup),
        "L@web1.example.com,db1"
    );
    assert_eq!(
        published("nested", TgtType::Nodegroup),
        "( ( G@roles:web* ) or L@web1.example.com,db1 )"
    );
    assert_eq!(
        published("prodweb", TgtType::Nodegroup),
        "( ( G@roles:web* ) and G@env:prod )"
    );
    assert_eq!(
        published("N@lst   or minion_x", TgtType::Compound),
        "L@web1.example.com,db1 or minion_x"
    );
    // A name with a regex character makes the group a pcre.
    assert_eq!(published("re", TgtType::Nodegroup), "E@web?,db1");
    // Using a group twice is no cycle.
    assert_eq!(
        published("dd", TgtType::Nodegroup),
        "( ( G@roles:web* ) or ( G@roles:web* ) )"
    );
    // The bare splice changes precedence, exactly as in Salt: web* or (db* and mysql*).
    assert_eq!(
        published("N@g and mysql*", TgtType::Compound),
        "web* or db* and mysql*"
    );
    let fx = Fixture {
        nodegroups: groups.clone(),
        ..fixture()
    };
    assert_eq!(fx.compound("N@g and mysql*"), [WEB1, WEB2]);
    // Published words are split again, so a list entry with a space breaks the group.
    assert!(matches!(
        Target::parse(&json!("spaced"), TgtType::Nodegroup, &groups, ":"),
        Err(TargetError::InvalidCompound { .. })
    ));
    // Other types are published unchanged.
    let target = Target::parse(&json!("web*"), TgtType::Glob, &groups, ":").expect("parses");
    assert_eq!(target.published(), (&json!("web*"), TgtType::Glob));
    assert_eq!(target.tgt_type(), TgtType::Glob);
}

#[test]
fn nodegroup_cycles_and_unknown_groups_are_errors() {
    let groups = json!({
        "c1": "N@c2 or web*", "c2": ["N@c1"], "me": "N@me", "u": "N@nope or web*",
        "bad": 5, "badlist": ["web1", 5], "ok": "db*",
    });
    let err = |tgt: &str, tgt_type| {
        Target::parse(&json!(tgt), tgt_type, &groups, ":")
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let nodegroup = TgtType::Nodegroup;
    assert_eq!(
        err("c1", nodegroup),
        r#"Failed nodegroup expansion: illegal nested nodegroup "c1""#
    );
    assert_eq!(
        err("me", nodegroup),
        r#"Failed nodegroup expansion: illegal nested nodegroup "me""#
    );
    assert_eq!(
        err("N@ok or N@c2", TgtType::Compound),
        r#"Failed nodegroup expansion: illegal nested nodegroup "c2""#
    );
    assert_eq!(
        err("nope", nodegroup),
        r#"Failed nodegroup expansion: unknown nodegroup "nope""#
    );
    assert_eq!(
        err("u", nodegroup),
        r#"Failed nodegroup expansion: unknown nodegroup "nope""#
    );
    assert_eq!(
        err("web* and N@gone", TgtType::Compound),
        r#"Failed nodegroup expansion: unknown nodegroup "gone""#
    );
    assert!(err("bad", nodegroup).contains("neither a string nor a list"));
    assert!(err("badlist", nodegroup).contains("neither a string nor a list"));
    // No nodegroups configured at all.
    let none = Target::parse(&json!("ok"), nodegroup, &Value::Null, ":").map(|_| ());
    assert_eq!(
        none,
        Err(TargetError::UnknownNodegroup {
            name: "ok".to_string()
        })
    );
}

#[test]
fn nodegroup_expansion_is_bounded() {
    // Each group uses the next one twice: 2^40 words if nothing stopped it.
    let mut groups = Map::new();
    for i in 0..40 {
        groups.insert(
            format!("d{i}"),
            json!(format!("N@d{} or N@d{}", i + 1, i + 1)),
        );
    }
    groups.insert("d40".to_string(), json!("web*"));
    let start = Instant::now();
    let result = Target::parse(
        &json!("d0"),
        TgtType::Nodegroup,
        &Value::Object(groups),
        ":",
    );
    assert!(matches!(result, Err(TargetError::TooLong { .. })));
    assert!(start.elapsed() < Duration::from_secs(2));
    // A chain deeper than brine follows.
    let mut groups = Map::new();
    for i in 0..100 {
        groups.insert(format!("c{i}"), json!(format!("N@c{}", i + 1)));
    }
    groups.insert("c100".to_string(), json!("web*"));
    let result = Target::parse(
        &json!("c0"),
        TgtType::Nodegroup,
        &Value::Object(groups),
        ":",
    );
    assert!(matches!(result, Err(TargetError::NodegroupTooDeep { .. })));
}

#[test]
fn hostile_expressions_fail_fast_without_blowing_the_stack() {
    let fx = fixture();
    let start = Instant::now();
    let opens = "( ".repeat(100_000);
    assert!(matches!(compound(&opens), Err(TargetError::TooLong { .. })));
    let opens = "( ".repeat(30_000);
    assert!(matches!(
        compound(&opens),
        Err(TargetError::InvalidCompound { .. })
    ));
    let nots = "not ".repeat(16_000);
    assert!(matches!(
        compound(&nots),
        Err(TargetError::InvalidCompound { .. })
    ));
    let nots = "not ".repeat(100_000);
    assert!(matches!(compound(&nots), Err(TargetError::TooLong { .. })));
    let not_parens = format!("{}web*{}", "not ( ".repeat(5_000), " )".repeat(5_000));
    assert!(matches!(
        compound(&not_parens),
        Err(TargetError::InvalidCompound { .. })
    ));
    // Python's limit exactly: 200 nested brackets parse, 201 do not; `[]` opens one.
    let nested = |n: usize, inner: &str| format!("{}{inner}{}", "( ".repeat(n), " )".repeat(n));
    assert_eq!(fx.compound(&nested(200, "db1")), ["db1"]);
    assert_eq!(fx.compound(&format!("not {}", nested(199, "db1"))).len(), 4);
    assert!(compound(&nested(201, "db1")).is_err());
    assert!(compound(&nested(199, "S@bad")).is_ok());
    assert!(compound(&nested(200, "S@bad")).is_err());
    // Long flat expressions are fine.
    let flat = vec!["nomatch"; 5_000].join(" or ") + " or db1";
    assert!(flat.len() < MAX_EXPR_LEN);
    assert_eq!(fx.compound(&flat), ["db1"]);
    let too_long = "x".repeat(MAX_EXPR_LEN + 1);
    for tgt_type in TgtType::ALL {
        assert_eq!(
            Target::parse(&json!(too_long), tgt_type, &Value::Null, ":").map(|_| ()),
            Err(TargetError::TooLong {
                len: MAX_EXPR_LEN + 1
            })
        );
    }
    // A grain pattern that recurses once per `*:` gives up (Salt's RecursionError)...
    let web1 = &fx.minions[0].1;
    let deep = format!("{}x", "*:".repeat(4_000));
    let target = Target::parse(&json!(deep), TgtType::Grain, &Value::Null, ":").expect("parses");
    assert!(!target.matches(WEB1, web1));
    let shallow = format!("{}ubuntu", "*:".repeat(10));
    let target = Target::parse(&json!(shallow), TgtType::Grain, &Value::Null, ":").expect("parses");
    assert!(target.matches(WEB1, web1));
    // ...and the master gives up on everyone, as Salt's check_minions does on an exception.
    let target = compound(&format!("G@{deep} or web*")).expect("parses");
    assert_eq!(fx.master_side(&target), (vec![], vec![]));
    // A long first key with many splits after it stays linear.
    let wide = format!("{}{}", "k".repeat(4_000), ":a".repeat(2_000));
    let target = Target::parse(&json!(wide), TgtType::Grain, &Value::Null, ":").expect("parses");
    assert!(!target.matches(WEB1, web1));
    // Grain text is bounded per target, across all its words.
    let long = format!("os:{}", "*".repeat(MAX_GRAIN_TEXT));
    assert!(matches!(
        Target::parse(&json!(long), TgtType::Grain, &Value::Null, ":"),
        Err(TargetError::GrainTextTooLong { .. })
    ));
    let many = vec!["G@os:ubuntu"; MAX_GRAIN_TEXT / 9 + 1].join(" or ");
    assert!(matches!(
        compound(&many),
        Err(TargetError::GrainTextTooLong { .. })
    ));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn grain_matching_follows_salt_3007_15() {
    let q1 = grains(json!({
        "os": "Ubuntu",
        "roles": ["web", {"name": "db", "port": 5432}],
        "ip_interfaces": {"eth0": ["10.0.0.5", "fe80::1"]},
        "num": 1e16, "ratio": 0.5, "small": 0.00001, "none": null, "flag": true,
        "deep": {"a": {"b": {"c": "x"}}},
        "list": [[1, 2], "three"],
        "Mixed Key": "v",
        "keys": {"alpha": 1, "beta": 2},
        "empty": {}, "quote": "it's",
    }));
    // (type, expression, Salt 3007.15's answer for this minion)
    let cases: &[(TgtType, &str, bool)] = &[
        (TgtType::Grain, "roles:db", false),
        (TgtType::Grain, "roles:name:db", true),
        (TgtType::Grain, "roles:0:web", true),
        (TgtType::Grain, "roles:-1:port:5432", true),
        (TgtType::Grain, "roles:2:web", false),
        (TgtType::Grain, "roles: 0 :web", true),
        (TgtType::Grain, "roles:0_0:web", true),
        (TgtType::Grain, "num:1e+16", true),
        (TgtType::Grain, "ratio:0.5", true),
        (TgtType::Grain, "small:1e-05", true),
        (TgtType::Grain, "none:none", true),
        (TgtType::Grain, "flag:TRUE", true),
        (TgtType::Grain, "list:?1, 2?", true),
        (TgtType::Grain, "roles:*'port': 5432*", true),
        (TgtType::Grain, "keys:al*", true),
        (TgtType::Grain, "keys:*", true),
        (TgtType::Grain, "keys:gamma", false),
        (TgtType::Grain, "*:ubuntu", true),
        (TgtType::Grain, "*:*:ubuntu", true),
        (TgtType::Grain, "deep:a:b:c:x", true),
        (TgtType::Grain, "deep:*:c:x", false),
        (TgtType::Grain, "deep:a:*", true),
        (TgtType::Grain, "*:a:b:c:x", true),
        (TgtType::Grain, "*:c:x", false),
        (TgtType::Grain, "'os':ubuntu", true),
        (TgtType::Grain, "\"os\":ubuntu", true),
        (TgtType::Grain, " os:ubuntu", true),
        (TgtType::Grain, "os :ubuntu", true),
        (TgtType::Grain, "Mixed Key:v", true),
        (TgtType::Grain, "mixed key:v", false),
        (TgtType::Grain, "ip_interfaces:eth0:fe80::1", true),
        (TgtType::Grain, "empty:*", false),
        (TgtType::Grain, "empty:x", false),
        (TgtType::Grain, "quote:IT'S", true),
        (TgtType::Grain, "os:ubu*", true),
        (TgtType::Grain, "os:[u]buntu", true),
        (TgtType::Grain, "os", false),
        (TgtType::Grain, "os:", false),
        (TgtType::Grain, ":ubuntu", false),
        (TgtType::Grain, "nosuch:*", false),
        (TgtType::Grain, "keys:beta:2", true),
        (TgtType::Grain, "keys:*:2", true),
        (TgtType::Grain, "roles:web*", true),
        (TgtType::Grain, "ip_interfaces:*:10.0.0.5", true),
        (TgtType::Grain, "ip_interfaces:*:*", true),
        (TgtType::Grain, "*:*:*:x", false),
        (TgtType::GrainPcre, "os:U", true),
        (TgtType::GrainPcre, r"os:\D", false),
        (TgtType::GrainPcre, "os:ubu(", false),
        (TgtType::GrainPcre, "roles:.*port", true),
        (TgtType::GrainPcre, "keys:a.*", true),
        (TgtType::GrainPcre, r"os:\Z", false),
        (TgtType::GrainPcre, "os:ubuntu$", true),
        (TgtType::GrainPcre, "os:(?i)UBUNTU", true),
        (TgtType::GrainPcre, r"num:1e\+16", true),
        (TgtType::Compound, "P@os:ubu( or G@os:ubuntu", true),
    ];
    for (tgt_type, expr, want) in cases {
        let target = Target::parse(&json!(expr), *tgt_type, &Value::Null, ":").expect("parses");
        assert_eq!(target.matches("q1", &q1), *want, "{tgt_type} {expr:?}");
    }
}

#[test]
fn ipcidr_reads_addresses_as_pythons_ipaddress() {
    let q1 = grains(json!({"ipv4": "10.0.0.5", "ipv6": ["FE80::1", "2001:db8::1"]}));
    // (target, Salt 3007.15's answer)
    let cases: &[(&str, bool)] = &[
        ("fe80::1", false), // compared as text, and the grain is upper case
        ("2001:db8::/32", true),
        ("10.0.0.5", true),
        ("0.0.0.5", true), // a string grain: `in` is a substring test
        ("10.0.0.0/8", true),
        ("10.0.0.0/255.0.0.0", true),
        ("10.0.0.0/0.255.255.255", true),
        ("10.0.0.1/8", false), // host bits set: not a network
        ("::/0", true),
        ("0.0.0.0/0", true),
        ("2001:db8::1%eth0", false),
        ("010.0.0.5", false),
    ];
    for (tgt, want) in cases {
        let target =
            Target::parse(&json!(tgt), TgtType::Ipcidr, &Value::Null, ":").expect("parses");
        assert_eq!(target.matches("q1", &q1), *want, "{tgt}");
    }
    // Entries are parsed in order until one is inside; one that does not parse raises.
    let fleet = [
        ("a", json!({"ipv4": ["bogus", "10.0.0.5"]})),
        ("b", json!({"ipv4": ["10.0.0.5", "bogus"]})),
        ("c", json!({"ipv4": 5})),
        ("d", json!({"ipv4": [167772165]})),
        ("f", json!({"ipv4": {"10.0.0.5": 1}})),
        ("g", json!({"ipv4": [true]})),
        ("h", json!({"ipv6": ["::ffff:10.0.0.5"]})),
    ];
    let matching = |tgt: &str, tgt_type| {
        let target = Target::parse(&json!(tgt), tgt_type, &Value::Null, ":").expect("parses");
        fleet
            .iter()
            .filter(|(id, g)| target.matches(id, &grains(g.clone())))
            .map(|(id, _)| *id)
            .collect::<Vec<_>>()
    };
    assert_eq!(matching("10.0.0.0/8", TgtType::Ipcidr), ["b", "d"]);
    assert_eq!(matching("10.0.0.5", TgtType::Ipcidr), ["a", "b", "f"]);
    assert_eq!(matching("0.0.0.0/31", TgtType::Ipcidr), ["g"]);
    assert_eq!(matching("::ffff:0:0/96", TgtType::Ipcidr), ["h"]);
    assert_eq!(matching("::ffff:a00:5", TgtType::Ipcidr), [] as [&str; 0]);
    // A raising operand fails the whole expression on that minion.
    assert_eq!(
        matching("S@10.0.0.0/8 or L@a,b,c,d,f,g,h", TgtType::Compound),
        ["b", "c", "d", "g", "h"]
    );
    // ...and on the master, the whole target.
    let accepted: Vec<String> = fleet.iter().map(|(id, _)| id.to_string()).collect();
    let cached: Vec<Map<String, Value>> = fleet.iter().map(|(_, g)| grains(g.clone())).collect();
    let lookup = |id: &str| accepted.iter().position(|a| a == id).map(|i| &cached[i]);
    let target = compound("S@10.0.0.0/8 or L@a,b").expect("parses");
    assert_eq!(target.expected(&accepted, &lookup), (vec![], vec![]));
}

#[test]
fn pcre_is_anchored_at_the_start_only() {
    let fx = fixture();
    let pcre = |p: &str| fx.minion_side(&json!(p), TgtType::Pcre);
    assert_eq!(pcre("web"), [WEB1, WEB2]);
    assert_eq!(pcre("example"), [] as [&str; 0]);
    assert_eq!(pcre("(?i)WEB1"), [WEB1]);
    assert_eq!(pcre("(?i)(?s)DB1$"), ["db1"]);
    assert_eq!(fx.compound("E@web|db"), [WEB1, WEB2, "db1"]);
    // A regex that does not compile fails the target (Salt's re.error propagates).
    let err = |p: &str| {
        Target::parse(&json!(p), TgtType::Pcre, &Value::Null, ":")
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(err("web("), r#"Invalid pcre target "web(": unclosed group"#);
    assert!(err("(?=web)").starts_with(r#"Invalid pcre target "(?=web)": "#));
    assert!(err("(?i)a)(").starts_with("Invalid pcre target"));
    assert!(matches!(
        compound("web* or E@("),
        Err(TargetError::BadRegex { .. })
    ));
}

#[test]
fn lists_are_salts_substring_tests() {
    let fx = fixture();
    let list = |t: &str| fx.minion_side(&json!(t), TgtType::List);
    assert_eq!(list("web1.example.com,db1"), [WEB1, "db1"]);
    assert_eq!(list("db1,"), ["db1"]);
    assert_eq!(list(",db1"), ["db1"]);
    assert_eq!(list("x,db1,y"), ["db1"]);
    assert_eq!(list("db"), [] as [&str; 0]);
    assert_eq!(list("web1.example.com,,db1"), [WEB1, "db1"]);
    assert_eq!(fx.compound("L@,db1,"), ["db1"]);
    let real = fx.minion_side(&json!(["db1", WEB1, 5]), TgtType::List);
    assert_eq!(real, [WEB1, "db1"]);
    let words = fx.minion_side(
        &json!(["web*", "and", "not", "G@os:Ubuntu"]),
        TgtType::Compound,
    );
    assert_eq!(words, [WEB2]);
}

#[test]
fn type_names_round_trip() {
    for t in TgtType::ALL {
        assert_eq!(TgtType::from_name(t.name()), Some(t));
        assert_eq!(t.to_string(), t.name());
    }
    assert_eq!(TgtType::from_name("grain_pcre"), Some(TgtType::GrainPcre));
    assert_eq!(TgtType::from_name("pillar"), None);
    assert_eq!(TgtType::from_name("Glob"), None);
}

#[test]
fn errors_are_one_line() {
    let err = compound("and\nweb*\t").map(|_| ()).unwrap_err();
    assert_eq!(err.to_string(), "Invalid compound target: and web*");
    let long = format!("and {}", "x".repeat(1000));
    let shown = compound(&long).map(|_| ()).unwrap_err().to_string();
    assert!(
        shown.ends_with('…') && shown.chars().count() < 240,
        "{shown}"
    );
    let err = Target::parse(&json!(5), TgtType::Glob, &Value::Null, ":").map(|_| ());
    assert_eq!(
        err.unwrap_err().to_string(),
        "A glob target must be a string"
    );
    let err = Target::parse(&json!({}), TgtType::List, &Value::Null, ":").map(|_| ());
    assert_eq!(
        err.unwrap_err().to_string(),
        "A list target must be a string or a list of strings"
    );
    let err = Target::parse(&json!(["a", 1]), TgtType::Compound, &Value::Null, ":");
    assert!(matches!(err, Err(TargetError::NotAString { .. })));
}

#[test]
fn targets_clone_and_match_alike() {
    let fx = fixture();
    let target = compound("G@os:Ubuntu or P@os:cent.*").expect("parses");
    let copy = target.clone();
    for (id, grains) in &fx.minions {
        assert_eq!(target.matches(id, grains), copy.matches(id, grains), "{id}");
    }
}
