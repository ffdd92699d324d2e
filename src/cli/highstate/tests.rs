use super::*;
use serde_json::json;

/// Every case of Salt's own output (`tests/fixtures/salt/highstate.json`), byte for byte;
/// a miss names the case and its options and shows the first line that differs.
#[test]
fn matches_salt() {
    let doc: Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/salt/highstate.json"))
            .expect("fixture is JSON");
    let datas = doc["data"].as_object().expect("fixture has data");
    let cases = doc["cases"].as_array().expect("fixture has cases");
    assert!(cases.len() > 500, "{} cases", cases.len());
    let mut misses = Vec::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let opts = HighstateOpts::from_opts(case["opts"].as_object().expect("opts"));
        let got = format(&datas[name], &opts);
        let want = case["text"].as_str().expect("text");
        if got != want {
            let (g, w): (Vec<&str>, Vec<&str>) =
                (got.split('\n').collect(), want.split('\n').collect());
            let at = (0..g.len().max(w.len()))
                .find(|i| g.get(*i) != w.get(*i))
                .unwrap_or(0);
            misses.push(format!(
                "{name} {}: line {}\n  want {:?}\n   got {:?}",
                case["opts"],
                at + 1,
                w.get(at).unwrap_or(&"<end>"),
                g.get(at).unwrap_or(&"<end>")
            ));
        }
    }
    assert!(
        misses.is_empty(),
        "{} of {} cases differ:\n{}",
        misses.len(),
        cases.len(),
        misses.join("\n")
    );
}

/// The example of spec-states.md C.5, readable: the layout of one state and the summary.
#[test]
fn one_state_and_its_summary() {
    let data = json!({"web1": {"file_|-/tmp/motd_|-/tmp/motd_|-managed": {
        "name": "/tmp/motd", "changes": {"diff": "New file"}, "result": true,
        "comment": "File /tmp/motd updated", "__sls__": "motd", "__run_num__": 0,
        "start_time": "10:00:00.000001", "duration": 3.512, "__id__": "/tmp/motd"}}});
    let want = "web1:
----------
          ID: /tmp/motd
    Function: file.managed
      Result: True
     Comment: File /tmp/motd updated
     Started: 10:00:00.000001
    Duration: 3.512 ms
     Changes:   
              ----------
              diff:
                  New file

Summary for web1
------------
Succeeded: 1 (changed=1)
Failed:    0
------------
Total states run:     1
Total run time:   3.512 ms";
    assert_eq!(format(&data, &HighstateOpts::default()), want);
}

#[test]
fn a_compile_error_lists_each_message() {
    let data = json!({"m1": ["No matching sls found for 'x' in env 'base'"]});
    assert_eq!(
        format(&data, &HighstateOpts::default()),
        "m1:\n    Data failed to compile:\n----------\n    No matching sls found for 'x' in env 'base'"
    );
}

#[test]
fn a_return_salt_cannot_read_prints_nested() {
    // No comment: Salt's KeyError, and try_printout's nested outputter.
    let data =
        json!({"m1": {"test_|-a_|-a_|-nop": {"result": true, "changes": {}, "__run_num__": 0}}});
    assert_eq!(
        format(&data, &HighstateOpts::default()),
        output::render(Outputter::Nested, &data)
    );
    assert_eq!(format(&json!([1]), &HighstateOpts::default()), "- 1");
}

#[test]
fn options_are_read_with_salt_defaults() {
    let d = HighstateOpts::from_opts(&Map::new());
    assert_eq!(d, HighstateOpts::default());
    assert!(d.state_verbose && d.state_output_profile && !d.state_output_diff);
    assert_eq!(d.state_output, "full");
    let o = json!({"state_output": "terse_id", "state_verbose": false, "state_tabular": 1,
                   "state_output_pct": "yes", "arg": ["x", {"__kwarg__": true, "exclude": "True,"}]});
    let o = HighstateOpts::from_opts(o.as_object().unwrap());
    assert_eq!(o.state_output, "terse_id");
    assert!(!o.state_verbose && !o.state_tabular && o.state_output_pct);
    assert_eq!(o.cli_kwargs.get("exclude"), Some(&json!("True,")));
}

#[test]
fn state_functions_are_salts() {
    assert!(is_state_function("state.apply"));
    assert!(is_state_function("state.sls"));
    assert!(is_state_function("state.single"));
    assert!(!is_state_function("state.show_sls"));
    assert!(!is_state_function("test.ping"));
}

#[test]
fn odd_values_do_not_panic() {
    let odd = [
        json!({"m": {"a": {"result": [1], "__run_num__": 0}}}),
        json!({"m": {"x_|-y": {"result": true, "changes": {}, "comment": "", "__run_num__": 0}}}),
        json!({"m": {"x": {"result": true, "changes": {}, "comment": "", "__run_num__": 0}}}),
        json!({"m": {"x_|-y_|-z_|-w": {"result": true, "changes": {"out": "highstate", "ret": 5},
                                        "comment": "", "__run_num__": 0}}}),
        json!({"m": {"x_|-y_|-z_|-w": {"result": true, "name": "state.sls", "changes": [],
                                        "comment": "", "__run_num__": 0, "duration": "nan"}}}),
        json!({"m": {"x_|-y_|-z_|-w": {"result": null, "changes": {}, "comment": "",
                                        "__run_num__": u64::MAX, "duration": 1e308, "warnings": {"k": 1}}}}),
        json!({"return": {"data": {"m": {"jid": 1, "fun": 2, "return": null}}}}),
        json!(null),
        json!(1.5),
    ];
    let mut all = Vec::new();
    for out in ["full", "terse_id", "filter", "mixed", "changes"] {
        for verbose in [true, false] {
            all.push(HighstateOpts {
                state_output: out.into(),
                state_verbose: verbose,
                state_compress_ids: verbose,
                state_tabular: !verbose,
                state_output_pct: true,
                state_output_exclude: json!(5),
                ..HighstateOpts::default()
            });
        }
    }
    for v in &odd {
        for o in &all {
            let _ = format(v, o);
        }
    }
}
