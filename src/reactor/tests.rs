//! End-to-end tests of [`react`]: the examples of salt-spec §4.5, §11.4 and §11.5 and of the
//! seed documents, rendered, merged, validated and resolved.

use super::*;
use crate::signature::{Default, Param};
use serde_json::json;

const PROFILE: &[Param] = &[
    Param {
        name: "prof",
        default: Default::Null,
    },
    Param {
        name: "instances",
        default: Default::Null,
    },
];
const CLEAR_GRAINS: &[Param] = &[Param {
    name: "tgt",
    default: Default::Null,
}];
const KEY_DELETE: &[Param] = &[Param {
    name: "match",
    default: Default::Required,
}];
const STATE_OVER: &[Param] = &[
    Param {
        name: "saltenv",
        default: Default::Str("base"),
    },
    Param {
        name: "os_fn",
        default: Default::Null,
    },
];

/// The runner and wheel functions these tests know.
fn sigs(kind: Kind, fun: &str) -> Option<&'static [Param]> {
    match (kind, fun) {
        (Kind::Runner, "cloud.profile") => Some(PROFILE),
        (Kind::Runner, "cache.clear_grains") => Some(CLEAR_GRAINS),
        (Kind::Runner, "state.over") => Some(STATE_OVER),
        (Kind::Wheel, "key.delete") => Some(KEY_DELETE),
        _ => None,
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn run(files: &[(&str, &str)], tag: &str, data: Value) -> Compiled {
    let files: Vec<(PathBuf, String)> = files
        .iter()
        .map(|(p, t)| (PathBuf::from(p), t.to_string()))
        .collect();
    react(&files, tag, &obj(data), &RenderEnv::default(), &sigs)
}

/// The reactions as compact JSON lines, for readable assertions.
fn lines(c: &Compiled) -> Vec<String> {
    assert!(c.abort.is_none(), "aborted: {:?}", c.abort);
    assert!(c.file_errors.is_empty(), "file errors: {:?}", c.file_errors);
    c.reactions
        .iter()
        .map(|r| {
            // Top-level keys sorted so the expectations read the same every time; the order
            // inside `kwarg` is the SLS order and stays.
            let v = serde_json::to_value(r).unwrap_or_default();
            let mut fields: Vec<(&String, &Value)> = v
                .as_object()
                .map(|m| m.iter().filter(|(k, _)| *k != "sls").collect())
                .unwrap_or_default();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = fields
                .into_iter()
                .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
                .collect();
            format!("{{{}}}", inner.join(","))
        })
        .collect()
}

fn messages(notices: &[Notice]) -> Vec<&str> {
    notices.iter().map(|n| n.message.as_str()).collect()
}

// --- salt-spec §4.5, legacy schema ------------------------------------------------------------

const LEGACY: &str = "\
purge_cache:
  local.cmd.run:
    - tgt: 'role:cache'
    - tgt_type: grain        # named 'expr_form' before 2017.7, see §6.6
    - arg:
      - find /var/cache/app -mtime +7 -delete
    - kwarg:
        runas: app
    - ret: smtp              # other LocalClient.cmd_async options allowed at this level

grow_pool:
  runner.cloud.profile:      # runner/wheel: params directly under the function,
    - prof: rocky9_small     # matched by NAME to the runner/wheel signature
    - instances: [app07, app08]

clear_cache: runner.cache.clear_grains   # string shorthand, no args

mark_seen:
  caller.file.touch:          # caller legacy: args = positional list
    - args:
      - /var/run/seen.flag
";

#[test]
fn legacy_schema_of_spec_4_5() {
    let c = run(&[("/srv/reactor/legacy.sls", LEGACY)], "myco/x", json!({}));
    // Definition order (salt-spec §4.4).
    assert_eq!(
        lines(&c),
        [
            r#"{"arg":["find /var/cache/app -mtime +7 -delete"],"fun":"cmd.run","id":"purge_cache","kwarg":{"runas":"app"},"options":{},"ret":"smtp","tgt":"role:cache","tgt_type":"grain","timeout":null,"type":"local"}"#,
            r#"{"arg":[],"fun":"cloud.profile","id":"grow_pool","kwarg":{"prof":"rocky9_small","instances":["app07","app08"]},"type":"runner"}"#,
            r#"{"arg":[],"fun":"cache.clear_grains","id":"clear_cache","kwarg":{"tgt":null},"type":"runner"}"#,
            r#"{"arg":["/var/run/seen.flag"],"fun":"file.touch","id":"mark_seen","kwarg":{},"type":"caller"}"#,
        ]
    );
    assert!(c.skipped.is_empty() && c.warnings.is_empty());
    assert_eq!(c.reactions[0].sls, PathBuf::from("/srv/reactor/legacy.sls"));
    assert_eq!(c.reactions[0].kind(), Kind::Local);
}

// --- salt-spec §4.5, unified schema -----------------------------------------------------------

const UNIFIED: &str = "\
ensure_tmux:
  local.state.single:
    - tgt: 'os_family:Debian'
    - tgt_type: grain
    - args:
      - fun: pkg.installed
      - name: tmux
      - refresh: true
run_orch:
  runner.state.orchestrate:
    - args:
      - mods: orch.rollout
      - pillar:
          src_tag: {{ tag }}
          src_data: {{ data['data']|json }}
drop_key:
  wheel.key.delete:
    - args:
      - match: {{ data['id'] }}
mark_seen:
  caller.file.touch:
    - args:
      - name: /var/run/seen.flag
";

#[test]
fn unified_schema_of_spec_4_5() {
    let c = run(
        &[("/srv/reactor/new.sls", UNIFIED)],
        "myco/deploy",
        json!({"id": "old1", "data": {"ver": 2, "who": "ci"}}),
    );
    assert_eq!(
        lines(&c),
        [
            r#"{"arg":[],"fun":"state.single","id":"ensure_tmux","kwarg":{"fun":"pkg.installed","name":"tmux","refresh":true},"options":{},"ret":null,"tgt":"os_family:Debian","tgt_type":"grain","timeout":null,"type":"local"}"#,
            r#"{"arg":[],"fun":"state.orchestrate","id":"run_orch","kwarg":{"mods":"orch.rollout","pillar":{"src_tag":"myco/deploy","src_data":{"ver":2,"who":"ci"}}},"type":"runner"}"#,
            r#"{"arg":[],"fun":"key.delete","id":"drop_key","kwarg":{"match":"old1"},"type":"wheel"}"#,
            r#"{"arg":[],"fun":"file.touch","id":"mark_seen","kwarg":{"name":"/var/run/seen.flag"},"type":"caller"}"#,
        ]
    );
}

// --- salt-spec §11.5, the translation table ---------------------------------------------------

#[test]
fn translation_table_of_spec_11_5() {
    let sls = "\
a:
  local.cmd.run:
    - tgt: 'web*'
    - args:
      - cmd: uptime
b:
  local.state.apply:
    - tgt: db1
    - args:
      - mods: x
      - pillar: {k: v}
c:
  runner.state.orchestrate:
    - args:
      - mods: orch.a
d:
  wheel.key.accept:
    - args:
      - match: m1
e:
  caller.file.touch:
    - args:
      - name: /tmp/f
f:
  local.cmd.run:
    - tgt: '*'
    - arg: ['uptime']
    - kwarg: {}
g:
  runner.cloud.profile:
    - prof: x
    - instances: [a]
";
    let c = run(&[("/srv/reactor/t.sls", sls)], "t", json!({}));
    let by_id = |id: &str| {
        c.reactions
            .iter()
            .find(|r| r.id == id)
            .map(|r| (r.fun.clone(), json!(r.arg), json!(r.kwarg)))
    };
    assert_eq!(
        by_id("a"),
        Some(("cmd.run".into(), json!([]), json!({"cmd": "uptime"})))
    );
    assert_eq!(
        by_id("b"),
        Some((
            "state.apply".into(),
            json!([]),
            json!({"mods": "x", "pillar": {"k": "v"}})
        ))
    );
    assert_eq!(
        by_id("c"),
        Some((
            "state.orchestrate".into(),
            json!([]),
            json!({"mods": "orch.a"})
        ))
    );
    assert_eq!(
        by_id("d"),
        Some(("key.accept".into(), json!([]), json!({"match": "m1"})))
    );
    assert_eq!(
        by_id("e"),
        Some(("file.touch".into(), json!([]), json!({"name": "/tmp/f"})))
    );
    assert_eq!(
        by_id("f"),
        Some(("cmd.run".into(), json!(["uptime"]), json!({})))
    );
    assert_eq!(
        by_id("g"),
        Some((
            "cloud.profile".into(),
            json!([]),
            json!({"prof": "x", "instances": ["a"]})
        ))
    );
    let kinds: Vec<&str> = c.reactions.iter().map(|r| r.kind().name()).collect();
    // Definition order: a b c d e f g.
    assert_eq!(
        kinds,
        ["local", "local", "runner", "wheel", "caller", "local", "runner"]
    );
    match &c.reactions[0].call {
        Call::Local(t) => {
            assert_eq!((&t.tgt, t.tgt_type.as_str()), (&json!("web*"), "glob"));
        }
        other => panic!("not local: {other:?}"),
    }
}

// --- salt-spec §11.4, the decommission queue --------------------------------------------------

const DECOM: &str = "\
{% for minion in data['items'] %}
delete_key_{{ minion }}:
  wheel.key.delete:
    - args:
      - match: {{ minion }}
{% endfor %}
";

#[test]
fn decom_queue_with_two_items_and_with_none() {
    let tag = "salt/queue/decom/process";
    let data = json!({"items": ["old1", "old2"], "backend": "sqlite", "queue": "decom"});
    let c = run(&[("/srv/reactor/decom.sls", DECOM)], tag, data);
    assert_eq!(
        lines(&c),
        [
            r#"{"arg":[],"fun":"key.delete","id":"delete_key_old1","kwarg":{"match":"old1"},"type":"wheel"}"#,
            r#"{"arg":[],"fun":"key.delete","id":"delete_key_old2","kwarg":{"match":"old2"},"type":"wheel"}"#,
        ]
    );
    let empty = json!({"items": [], "backend": "sqlite", "queue": "decom"});
    let c = run(&[("/srv/reactor/decom.sls", DECOM)], tag, empty);
    assert!(lines(&c).is_empty());
    assert_eq!(c.rendered.len(), 1, "the empty render is still shown");
    assert!(c.rendered[0].text.trim().is_empty());
}

// --- the seed documents -----------------------------------------------------------------------

/// `/srv/reactor/start.sls` as the seed prints it: its list items are not indented under the
/// function, which YAML refuses.
const SEED_START: &str = "\
{% if data['id'] == 'mysql1' %}
delete_file:
 cmd.cmd.run:
   - tgt: 'G@os:CentOS'
- expr_form: compound
- arg:
 - rm -rf /tmp/*
{% endif %}
";

#[test]
fn seed_start_sls_as_printed_is_a_yaml_error_naming_file_and_line() {
    let c = run(
        &[("/srv/reactor/start.sls", SEED_START)],
        "testtag",
        json!({"id": "mysql1"}),
    );
    assert!(c.reactions.is_empty() && c.abort.is_none());
    let [err] = c.file_errors.as_slice() else {
        panic!("expected one file error: {:?}", c.file_errors);
    };
    let text = err.to_string();
    assert!(text.starts_with("/srv/reactor/start.sls:5:"), "{text}");
    assert!(!text.contains('\n'), "{text}");
    assert!(matches!(err, ReactorError::Yaml { line: 5, .. }), "{err:?}");
    // Another minion: the `if` renders nothing, which is no error.
    let c = run(
        &[("/srv/reactor/start.sls", SEED_START)],
        "testtag",
        json!({"id": "web1"}),
    );
    assert!(lines(&c).is_empty());
}

#[test]
fn seed_start_sls_indented_runs_with_expr_form() {
    let fixed = "\
{% if data['id'] == 'mysql1' %}
delete_file:
  cmd.cmd.run:
    - tgt: 'G@os:CentOS'
    - expr_form: compound
    - arg:
      - rm -rf /tmp/*
{% endif %}
";
    let c = run(
        &[("/srv/reactor/start.sls", fixed)],
        "testtag",
        json!({"id": "mysql1"}),
    );
    assert_eq!(
        lines(&c),
        [
            r#"{"arg":["rm -rf /tmp/*"],"fun":"cmd.run","id":"delete_file","kwarg":{},"options":{},"ret":null,"tgt":"G@os:CentOS","tgt_type":"compound","timeout":null,"type":"local"}"#
        ]
    );
    assert_eq!(
        messages(&c.warnings),
        ["Reactor 'delete_file': 'expr_form' is the old name of 'tgt_type'; read as tgt_type: compound"]
    );
}

#[test]
fn seed_other_sls_shorthand_runner() {
    let other = "\
{% if data['data']['state'] == 'refresh' %}
overstate_run:
 runner.state.over
{% endif %}
";
    let c = run(
        &[("/srv/reactor/other.sls", other)],
        "test1xtag",
        json!({"data": {"state": "refresh"}}),
    );
    assert_eq!(
        lines(&c),
        [
            r#"{"arg":[],"fun":"state.over","id":"overstate_run","kwarg":{"saltenv":"base","os_fn":null},"type":"runner"}"#
        ]
    );
}

// --- merging, errors and skips ----------------------------------------------------------------

#[test]
fn duplicate_ids_across_files_later_body_wins() {
    let a = "dup:\n  runner.cloud.profile:\n    - prof: first\nonly_a: runner.cache.clear_grains\n";
    let b = "dup:\n  wheel.key.delete:\n    - args:\n      - match: second\n";
    let c = run(&[("/srv/a.sls", a), ("/srv/b.sls", b)], "t", json!({}));
    assert_eq!(
        lines(&c),
        [
            r#"{"arg":[],"fun":"key.delete","id":"dup","kwarg":{"match":"second"},"type":"wheel"}"#,
            r#"{"arg":[],"fun":"cache.clear_grains","id":"only_a","kwarg":{"tgt":null},"type":"runner"}"#,
        ]
    );
    assert_eq!(c.reactions[0].sls, PathBuf::from("/srv/b.sls"));
}

#[test]
fn a_file_that_fails_to_render_contributes_nothing() {
    let good = "ok: runner.cache.clear_grains\n";
    let c = run(
        &[
            ("/srv/py.sls", "#!py\ndef run():\n    return {}\n"),
            ("/srv/bad.sls", "x: {{ salt['foo.bar']() }}\n"),
            ("/srv/good.sls", good),
        ],
        "t",
        json!({}),
    );
    let errors: Vec<String> = c.file_errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(
        errors[0],
        "/srv/py.sls: renderer 'py' is not supported (brine renders jinja|yaml)"
    );
    assert!(
        errors[1]
            .starts_with("/srv/bad.sls:1: invalid operation: salt['foo.bar'] is not available"),
        "{}",
        errors[1]
    );
    assert_eq!(c.reactions.len(), 1);
    assert_eq!(c.rendered.len(), 1);
}

#[test]
fn invalid_high_data_aborts_every_reaction_of_the_event() {
    let good = "fine: runner.cache.clear_grains\n";
    let bad = "# comment\n\nbroken:\n  local.cmd.run:\n    tgt: web1\n";
    let c = run(
        &[("/srv/good.sls", good), ("/srv/bad.sls", bad)],
        "t",
        json!({}),
    );
    assert!(c.reactions.is_empty());
    assert_eq!(
        c.abort.map(|e| e.to_string()).as_deref(),
        Some(
            "/srv/bad.sls:3: ID 'broken': the arguments of 'local.cmd.run' must be a list of \
             one-key maps (- key: value), found a map"
        )
    );
}

#[test]
fn validation_messages_name_the_id() {
    let cases: &[(&str, &str)] = &[
        (
            "a: [1]\n",
            "ID 'a': must be a map of one function to its list of arguments, found a list",
        ),
        ("a: nodot\n", "ID 'a': 'nodot' is not a function"),
        ("a: {}\n", "ID 'a': declares no function"),
        (
            "a:\n  local.cmd.run: []\n  runner.x.y: []\n",
            "ID 'a': declares more than one function (local.cmd.run, runner.x.y)",
        ),
        (
            "a:\n  foo.bar.baz: []\n",
            "ID 'a': unknown reaction type 'foo' in 'foo.bar.baz'",
        ),
        (
            "a:\n  local.cmd.run:\n    - tgt: x\n      arg: y\n",
            "ID 'a': argument 1 of 'local.cmd.run' has 2 keys",
        ),
        (
            "a:\n  local.cmd.run:\n    - test.ping\n",
            "ID 'a': declares more than one function (cmd.run, test.ping)",
        ),
        (
            "a:\n  local:\n    - tgt: x\n",
            "ID 'a': 'local' names no function",
        ),
        (
            "a:\n  local.cmd.run:\n    - tgt x\n",
            "ID 'a': the function \"tgt x\" has whitespace",
        ),
        (
            "a:\n  local.:\n    - tgt: x\n",
            "ID 'a': 'local.' names no function",
        ),
    ];
    for (sls, want) in cases {
        let c = run(&[("/srv/v.sls", sls)], "t", json!({}));
        let got = c.abort.map(|e| e.to_string()).unwrap_or_default();
        assert!(got.starts_with("/srv/v.sls:1: "), "{sls:?}: {got}");
        assert!(got.contains(want), "{sls:?}: {got}");
    }
    // A type key with the function as a string item, as Salt's states allow.
    let c = run(
        &[(
            "/srv/v.sls",
            "a:\n  local:\n    - test.ping\n    - tgt: x\n",
        )],
        "t",
        json!({}),
    );
    assert_eq!(
        c.reactions.first().map(|r| r.fun.as_str()),
        Some("test.ping")
    );
    // Two invalid IDs: the first is reported, the other counted.
    let c = run(&[("/srv/v.sls", "a: 1\nb: 2\n")], "t", json!({}));
    assert!(c
        .abort
        .map(|e| e.to_string())
        .unwrap_or_default()
        .ends_with("(and 1 more error)"));
}

#[test]
fn bad_arguments_skip_one_reaction_with_salts_log_line() {
    let sls = "\
bad_args:
  runner.state.orchestrate:
    - args:
      - mods: a
        extra: b
no_args:
  wheel.key.delete:
    - args: []
missing_fun:
  runner.nope.nothing:
    - x: 1
no_tgt:
  local.test.ping:
    - args:
      - a: 1
needs_match:
  wheel.key.delete:
    - other: 1
fine:
  runner.cloud.profile:
    - prof: p
    - bogus: 1
";
    let c = run(&[("/srv/s.sls", sls)], "t", json!({}));
    assert_eq!(
        c.reactions
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["fine"]
    );
    assert_eq!(
        messages(&c.skipped),
        [
            "Reactor 'bad_args' failed to execute runner 'state.orchestrate': Incorrect argument format, check the Reactor System documentation for the correct format.",
            "Reactor 'no_args' failed to execute wheel 'key.delete': Incorrect argument format, check the Reactor System documentation for the correct format.",
            "Reactor 'missing_fun' failed to execute runner 'nope.nothing': function not available",
            "Reactor 'no_tgt' failed to execute local 'test.ping': local() missing required argument 'tgt'",
            "Reactor 'needs_match' failed to execute wheel 'key.delete': key.delete takes at least 1 argument (0 given)",
        ]
    );
    assert_eq!(
        messages(&c.warnings),
        ["Reactor 'fine': 'bogus' is not a parameter of runner 'cloud.profile' (ignored)"]
    );
}

#[test]
fn args_wins_over_arg_and_kwarg_with_a_warning() {
    let sls = "\
r:
  local.cmd.run:
    - tgt: web1
    - arg: [ls]
    - kwarg: {cwd: /tmp}
    - args:
      - cmd: uptime
      - bare
c:
  caller.cmd.run:
    - args: [uptime, {x: 1}]
";
    let c = run(&[("/srv/w.sls", sls)], "t", json!({}));
    assert_eq!(
        messages(&c.warnings),
        [
            "Reactor 'r' is ignoring 'arg' param ['ls'] due to presence of 'args' param. Check the Reactor System documentation for the correct argument format.",
            "Reactor 'r' is ignoring 'kwarg' param {'cwd': '/tmp'} due to presence of 'args' param. Check the Reactor System documentation for the correct argument format.",
        ]
    );
    let r = c.reactions.iter().find(|r| r.id == "r");
    assert_eq!(
        r.map(|r| json!(r.kwarg)),
        Some(json!({"cmd": "uptime", "bare": null}))
    );
    // Not a list of one-key maps: the legacy positional form of caller.
    let r = c.reactions.iter().find(|r| r.id == "c");
    assert_eq!(r.map(|r| json!(r.arg)), Some(json!(["uptime", {"x": 1}])));
}

#[test]
fn jinja_features_in_a_reaction() {
    let sls = "\
{% set id = data.get('id') %}
{% do salt.log.debug('starting ' ~ id) %}
{% if tag.startswith('salt/minion/') and id %}
highstate_{{ id }}:
  local.state.apply:
    - tgt: {{ id }}
    - timeout: 30
    - jid_include: true
    - args:
      - pillar: {{ data|yaml }}
{% endif %}
";
    let c = run(
        &[("/srv/start.sls", sls)],
        "salt/minion/web1/start",
        json!({"id": "web1", "_stamp": "2024-05-01T10:00:00.000000"}),
    );
    assert_eq!(
        lines(&c),
        [
            r#"{"arg":[],"fun":"state.apply","id":"highstate_web1","kwarg":{"pillar":{"_stamp":"2024-05-01T10:00:00.000000","id":"web1"}},"options":{"jid_include":true},"ret":null,"tgt":"web1","tgt_type":"glob","timeout":30,"type":"local"}"#
        ]
    );
}

#[test]
fn webhook_guarded_by_an_hmac_signature() {
    // The X-Hub-Signature style check of Salt's webhook docs, with RFC 4231's test case 2.
    let sls = "\
{% set body = data['body'] %}
{% set sig = data['headers'].get('X-Signature', '') %}
{% if salt['hashutil.hmac_signature'](body, 'Jefe', sig) %}
deploy:
  runner.state.orchestrate:
    - args:
      - mods: deploy
{% else %}
{% do salt.log.warning('bad webhook signature') %}
{% endif %}
";
    let signed = json!({"body": "what do ya want for nothing?",
        "headers": {"X-Signature": "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="}});
    let c = run(&[("/srv/hook.sls", sls)], "salt/netapi/hook/deploy", signed);
    assert_eq!(lines(&c).len(), 1);
    let forged = json!({"body": "what do ya want for nothing?", "headers": {}});
    let c = run(&[("/srv/hook.sls", sls)], "salt/netapi/hook/deploy", forged);
    assert!(lines(&c).is_empty());
}

#[test]
fn explicit_order_comes_before_the_rest() {
    let sls = "\
z_first:
  runner.cache.clear_grains:
    - order: 1
a_last:
  runner.cache.clear_grains:
    - order: last
m_middle: runner.cache.clear_grains
";
    let c = run(&[("/srv/o.sls", sls)], "t", json!({}));
    let ids: Vec<&str> = c.reactions.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["z_first", "m_middle", "a_last"]);
}

#[test]
fn errors_display_on_one_line() {
    let e = ReactorError::Invalid {
        file: PathBuf::from("/a.sls"),
        line: None,
        message: "m".into(),
        more: 2,
    };
    assert_eq!(e.to_string(), "/a.sls: m (and 2 more errors)");
    let e = ReactorError::Template {
        file: PathBuf::from("/a.sls"),
        line: None,
        message: "m".into(),
    };
    assert_eq!(e.to_string(), "/a.sls: m");
}
