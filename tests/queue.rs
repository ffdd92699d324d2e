//! The queue system end to end through brine-run against a running master: the seed's
//! commands with their exact output, every function on both backends, Salt's sqlite files,
//! queued runner calls, the master schedule, and durability under SIGKILL.

use crate::common::*;
use brine::bus::Request;
use brine::client::BusClient;
use brine::matcher::MatchType;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// Runs brine-run and returns (stdout, exit status).
fn run(m: &Master, args: &[&str]) -> (String, i32) {
    let o = m.run(args);
    (stdout(&o), o.status.code().unwrap_or(-1))
}

/// Runs brine-run and checks its output and a zero exit.
fn check(m: &Master, args: &[&str], want: &str) {
    let (out, code) = run(m, args);
    assert_eq!(out, want, "brine-run {}", args.join(" "));
    assert_eq!(code, 0, "brine-run {} exit status", args.join(" "));
}

#[test]
fn the_seed_commands_print_what_the_seed_shows() {
    let m = Master::start();
    // The seed's session on the default (lmdb) backend; `list_queue` is Salt's
    // `list_queues`, and process_queue prints the map it returns, as Salt does.
    check(&m, &["queue.list_queues", "backend=sqlite"], "");
    check(&m, &["queue.insert", "myqueue", "item1"], "True\n");
    check(
        &m,
        &["queue.insert", "myqueue", r#"["item2", "item3"]"#],
        "True\n",
    );
    check(&m, &["queue.list_queues"], "- myqueue\n");
    check(
        &m,
        &["queue.list_items", "myqueue"],
        "- item1\n- item2\n- item3\n",
    );
    check(&m, &["queue.list_length", "myqueue"], "3\n");
    check(&m, &["queue.pop", "myqueue"], "- item1\n");
    check(&m, &["queue.pop", "myqueue", "2"], "- item2\n- item3\n");
    check(&m, &["queue.insert", "myqueue", "item1"], "True\n");
    check(
        &m,
        &["queue.process_queue", "myqueue"],
        "backend:\n    lmdb\nitems:\n    - item1\nqueue:\n    myqueue\n",
    );
    check(
        &m,
        &["queue.insert", "myqueue", r#"["item1", "item2", "item3"]"#],
        "True\n",
    );
    check(&m, &["queue.delete", "myqueue", "item1"], "True\n");
    check(
        &m,
        &["queue.delete", "myqueue", r#"["item2", "item3"]"#],
        "True\n",
    );
    check(&m, &["queue.list_length", "myqueue"], "0\n");
    // salt-spec §5.2 on the sqlite backend.
    check(
        &m,
        &["queue.insert", "myqueue", "['a','b']", "backend=sqlite"],
        "True\n",
    );
    check(
        &m,
        &["queue.list_length", "myqueue", "backend=sqlite"],
        "2\n",
    );
    check(
        &m,
        &["queue.list_items", "myqueue", "backend=sqlite"],
        "- a\n- b\n",
    );
    check(
        &m,
        &["queue.insert", "myqueue", "a", "backend=sqlite"],
        "Item already exists in this queue. sqlite error: UNIQUE constraint failed: myqueue.name\n",
    );
    check(
        &m,
        &["queue.process_queue", "myqueue", "all", "backend=sqlite"],
        "backend:\n    sqlite\nitems:\n    - a\n    - b\nqueue:\n    myqueue\n",
    );
}

#[test]
fn every_function_on_both_backends() {
    let m = Master::start();
    for backend in ["lmdb", "sqlite"] {
        let b = format!("backend={backend}");
        let b = b.as_str();
        let dup = |one: bool| {
            let head = if one {
                "Item already exists in this queue."
            } else {
                "One or more items already exists in this queue."
            };
            match backend {
                "sqlite" => format!("{head} sqlite error: UNIQUE constraint failed: q1.name\n"),
                _ => format!("{head}\n"),
            }
        };
        // FIFO: inserted out of lexical order, popped in insertion order.
        check(&m, &["queue.insert", "q1", "zulu", b], "True\n");
        check(&m, &["queue.insert", "q1", "[mike, alpha]", b], "True\n");
        check(&m, &["queue.insert", "q1", "alpha", b], &dup(true));
        check(&m, &["queue.insert", "q1", "[new, zulu]", b], &dup(false));
        check(
            &m,
            &["queue.list_items", "q1", b],
            "- zulu\n- mike\n- alpha\n",
        );
        check(&m, &["queue.insert", "q2", "x", b], "True\n");
        check(&m, &["queue.list_queues", b], "- q1\n- q2\n");
        check(&m, &["queue.list_length", "q1", b], "3\n");
        check(&m, &["queue.pop", "q1", b], "- zulu\n");
        check(
            &m,
            &["queue.pop", "q1", "quantity=10", b],
            "- mike\n- alpha\n",
        );
        check(&m, &["queue.pop", "q1", "all", b], "");
        check(&m, &["queue.pop", "q1", "0", b], "");
        check(&m, &["queue.delete", "q2", "[x, absent]", b], "True\n");
        check(&m, &["queue.delete", "nosuchqueue", "x", b], "True\n");
        check(&m, &["queue.list_length", "q2", b], "0\n");
        let (out, code) = run(&m, &["queue.pop", "q1", "lots", b]);
        assert_eq!(
            out,
            "Exception occurred in runner queue.pop: Quantity must be an integer or \"all\".\nError: \"invalid literal for int() with base 10: 'lots'\".\n"
        );
        assert_eq!(code, 1);
        let (out, code) = run(&m, &["queue.insert", "q1", "42", b]);
        assert!(
            out.contains("a queue item must be a string or a map, not int 42"),
            "{out}"
        );
        assert_eq!(code, 1);
        let (out, code) = run(&m, &["queue.list_items", "a/b", b]);
        assert!(out.contains("invalid queue name 'a/b'"), "{out}");
        assert_eq!(code, 1);
        // Maps are items too (what insert_runner stores).
        check(
            &m,
            &["queue.insert", "q3", "{fun: test.x, args: []}", b],
            "True\n",
        );
        // lmdb compares maps by value; sqlite compares stored text, as Salt does.
        let want = match backend {
            "sqlite" => "True\n".to_string(),
            _ => dup(true),
        };
        check(
            &m,
            &["queue.insert", "q3", "{args: [], fun: test.x}", b],
            &want,
        );
    }
    let (out, code) = run(&m, &["queue.list_queues", "backend=redis"]);
    assert_eq!(
        out,
        "Exception occurred in runner queue.list_queues: Function \"redis.list_queues\" is not available\n"
    );
    assert_eq!(code, 1);
    // Migration copies and reports counts; items already there are skipped.
    check(&m, &["queue.insert", "mig", "[one, two, three]"], "True\n");
    check(
        &m,
        &["queue.insert", "mig", "two", "backend=sqlite"],
        "True\n",
    );
    check(
        &m,
        &["queue.migrate", "lmdb", "sqlite", "mig"],
        "mig:\n    ----------\n    copied:\n        2\n    skipped:\n        1\n",
    );
    check(
        &m,
        &["queue.list_items", "mig", "backend=sqlite"],
        "- two\n- one\n- three\n",
    );
}

#[test]
fn a_queue_directory_written_by_salt_is_read() {
    let mut m = Master::start();
    let dir = m.dir.path().join("salt-queues");
    std::fs::create_dir_all(&dir).unwrap();
    // Exactly what Salt's sqlite_queue.py does: an unquoted table named after the queue,
    // items as SQL literals with doubled single quotes, maps as JSON with ' for ".
    let c = rusqlite::Connection::open(dir.join("saltq.db")).unwrap();
    c.execute_batch("CREATE TABLE saltq(id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
        .unwrap();
    for item in [
        "web9",
        "db3",
        "it''s",
        "{''fun'': ''event.send'', ''args'': [''from/salt''], ''kwargs'': {}}",
    ] {
        c.execute(&format!("INSERT INTO saltq (name) VALUES ('{item}')"), [])
            .unwrap();
    }
    drop(c);
    m.set_extra(&format!("sqlite_queue_dir: {}", dir.display()));
    m.signal(libc::SIGHUP);
    m.wait_log("configuration reloaded", 1);
    check(&m, &["queue.list_queues", "backend=sqlite"], "- saltq\n");
    check(&m, &["queue.list_length", "saltq", "backend=sqlite"], "4\n");
    check(
        &m,
        &["queue.list_items", "saltq", "backend=sqlite"],
        "- web9\n- db3\n- it's\n- {'fun': 'event.send', 'args': ['from/salt'], 'kwargs': {}}\n",
    );
    check(
        &m,
        &["queue.pop", "saltq", "2", "backend=sqlite"],
        "- web9\n- db3\n",
    );
    // And Salt reads what brine wrote.
    check(
        &m,
        &["queue.insert", "saltq", "new1", "backend=sqlite"],
        "True\n",
    );
    let c = rusqlite::Connection::open(dir.join("saltq.db")).unwrap();
    let names: Vec<String> = c
        .prepare("SELECT name FROM saltq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(names.contains(&"new1".to_string()), "{names:?}");
    let _ = m.stop();
}

#[test]
fn process_queue_fires_its_event_and_runner_calls_run_in_order() {
    let m = Master::start_with("runner_queue: {queue: runq}\n");
    let watcher = m.event(&["--tag", "salt/queue/*", "--count", "2"]);
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "").unwrap();
    m.wait_subscribed(2);
    check(&m, &["queue.insert", "jobs", "[a, b]"], "True\n");
    check(
        &m,
        &["queue.process_queue", "jobs", "all"],
        "backend:\n    lmdb\nitems:\n    - a\n    - b\nqueue:\n    jobs\n",
    );
    // Empty: the event still fires, with no items.
    check(
        &m,
        &["queue.process_queue", "jobs"],
        "backend:\n    lmdb\nitems:\nqueue:\n    jobs\n",
    );
    let text = stdout(&output_within(watcher, T));
    assert_eq!(text.matches("salt/queue/jobs/process").count(), 2, "{text}");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let ev = c.next_event(Some(T)).unwrap();
        if ev.tag == "salt/queue/jobs/process" {
            seen.push(ev.data);
        }
    }
    assert_eq!(seen[0]["items"], json!(["a", "b"]));
    assert_eq!(seen[0]["queue"], "jobs");
    assert_eq!(seen[0]["backend"], "lmdb");
    assert_eq!(seen[1]["items"], json!([]));
    // A bad quantity: progress event with the error, False.
    check(&m, &["queue.process_queue", "jobs", "x"], "False\n");
    loop {
        let ev = c.next_event(Some(T)).unwrap();
        if ev.tag.ends_with("/progress") {
            assert!(ev.data["errors"]
                .as_str()
                .unwrap()
                .starts_with("Quantity must be an integer or \"all\"."));
            break;
        }
    }
    // Queued runner calls, run in order by process_runner.
    check(
        &m,
        &[
            "queue.insert_runner",
            "event.send",
            "first/tag",
            r#"kwargs={"data": {"n": 1}}"#,
        ],
        "True\n",
    );
    check(
        &m,
        &["queue.insert_runner", "event.send", "second/tag"],
        "True\n",
    );
    check(
        &m,
        &["queue.list_items", "runq"],
        "|_\n  ----------\n  args:\n      - first/tag\n  fun:\n      event.send\n  kwargs:\n      ----------\n      data:\n          ----------\n          n:\n              1\n|_\n  ----------\n  args:\n      - second/tag\n  fun:\n      event.send\n  kwargs:\n      ----------\n",
    );
    check(&m, &["queue.process_runner", "5"], "None\n");
    let mut tags = Vec::new();
    while tags.len() < 2 {
        let ev = c.next_event(Some(T)).unwrap();
        if ev.tag == "first/tag" {
            assert_eq!(ev.data["n"], 1);
        }
        if ev.tag == "first/tag" || ev.tag == "second/tag" {
            tags.push(ev.tag);
        }
    }
    assert_eq!(tags, ["first/tag", "second/tag"]);
    check(&m, &["queue.list_length", "runq"], "0\n");
    // The same on Salt's sqlite format, where the call is stored as Salt stores it.
    check(
        &m,
        &[
            "queue.insert_runner",
            "event.send",
            "third/tag",
            "queue=sq",
            "backend=sqlite",
        ],
        "True\n",
    );
    check(
        &m,
        &["queue.list_items", "sq", "backend=sqlite"],
        "- {'fun': 'event.send', 'args': ['third/tag'], 'kwargs': {}}\n",
    );
    check(
        &m,
        &["queue.process_runner", "queue=sq", "backend=sqlite"],
        "None\n",
    );
    loop {
        let ev = c.next_event(Some(T)).unwrap();
        if ev.tag == "third/tag" {
            break;
        }
    }
    let (out, code) = run(&m, &["queue.insert_runner", "no.such"]);
    assert!(out.contains("'no.such' is not available."), "{out}");
    assert_eq!(code, 1);
}

#[test]
fn the_schedule_runs_process_queue_as_configured() {
    // salt-spec §11.4, with seconds instead of minutes.
    let m = Master::start_with(
        "schedule:\n  decom_queue:\n    function: queue.process_queue\n    seconds: 1\n    args: [decom]\n    kwargs: {quantity: all}\n  broken:\n    function: nope.nope\n    seconds: 1\n",
    );
    m.wait_log(
        "schedule entry broken: nope.nope is not a runner function",
        1,
    );
    let mut c = m.client();
    c.subscribe(MatchType::StartsWith, "salt/").unwrap();
    m.wait_subscribed(1);
    check(&m, &["queue.insert", "decom", "['old1','old2']"], "True\n");
    loop {
        let ev = c.next_event(Some(T)).unwrap();
        if ev.tag == "salt/queue/decom/process" && ev.data["items"] != json!([]) {
            assert_eq!(ev.data["items"], json!(["old1", "old2"]));
            assert_eq!(ev.data["queue"], "decom");
            break;
        }
    }
    // The runner events of a scheduled run.
    loop {
        let ev = c.next_event(Some(T)).unwrap();
        if ev.tag.starts_with("salt/run/") && ev.tag.ends_with("/ret") {
            assert_eq!(ev.data["fun"], "runner.queue.process_queue");
            assert_eq!(ev.data["user"], "Schedule");
            break;
        }
    }
    check(&m, &["queue.list_length", "decom"], "0\n");
}

fn call(c: &mut BusClient, fun: &str, arg: Vec<Value>) -> Option<Value> {
    let req = Request {
        fun: fun.into(),
        arg,
        kwarg: Map::new(),
        user: Some("test".into()),
        send_return: false,
    };
    c.call(&req, Some(Duration::from_secs(10)))
        .ok()
        .map(|a| a.ret)
}

/// salt-spec §5 durability: SIGKILL at random moments while 16 clients insert and pop.
#[test]
fn answered_writes_survive_sigkill_and_pops_are_exactly_once() {
    let mut m = Master::start();
    let sock = m.socket();
    let stop = Arc::new(AtomicBool::new(false));
    #[derive(Default)]
    struct Seen {
        answered: HashSet<String>,
        maybe: HashSet<String>,
        popped: Vec<String>,
        lost_pops: usize,
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut threads = Vec::new();
    for t in 0..16 {
        let (sock, stop, seen) = (sock.clone(), stop.clone(), seen.clone());
        threads.push(std::thread::spawn(move || {
            let mut n = 0u64;
            let mut client: Option<BusClient> = None;
            while !stop.load(Ordering::Relaxed) {
                let Some(c) = client.as_mut() else {
                    client = BusClient::connect(&sock).ok();
                    if client.is_none() {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    continue;
                };
                n += 1;
                let item = format!("c{t}-{n}");
                let r = call(c, "queue.insert", vec![json!("crash"), json!(item)]);
                let mut s = seen.lock().unwrap();
                match r {
                    Some(Value::Bool(true)) => {
                        s.answered.insert(item);
                    }
                    Some(other) => panic!("insert answered {other}"),
                    None => {
                        s.maybe.insert(item);
                        client = None;
                        continue;
                    }
                }
                drop(s);
                if n.is_multiple_of(3) {
                    let r = call(c, "queue.pop", vec![json!("crash"), json!(1)]);
                    let mut s = seen.lock().unwrap();
                    match r {
                        Some(Value::Array(items)) => s
                            .popped
                            .extend(items.into_iter().map(|v| v.as_str().unwrap().to_owned())),
                        Some(other) => panic!("pop answered {other}"),
                        None => {
                            s.lost_pops += 1;
                            client = None;
                        }
                    }
                }
            }
        }));
    }
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..6 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(150 + rng % 350));
        m.signal(libc::SIGKILL);
        m.wait_exit(T);
        m.spawn();
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let mut c = m.client();
    let rest = match call(&mut c, "queue.pop", vec![json!("crash"), json!("all")]) {
        Some(Value::Array(a)) => a,
        other => panic!("final pop: {other:?}"),
    };
    let s = seen.lock().unwrap();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for item in s
        .popped
        .iter()
        .map(String::as_str)
        .chain(rest.iter().filter_map(Value::as_str))
    {
        *count.entry(item).or_default() += 1;
    }
    let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "popped twice or popped and back: {twice:?}"
    );
    for item in count.keys() {
        assert!(
            s.answered.contains(*item) || s.maybe.contains(*item),
            "{item} appeared from nowhere"
        );
    }
    let missing: Vec<_> = s
        .answered
        .iter()
        .filter(|i| !count.contains_key(i.as_str()))
        .collect();
    // A pop committed just before the kill took one item whose answer never arrived.
    assert!(
        missing.len() <= s.lost_pops,
        "{} answered inserts are gone, only {} pops were cut off: {missing:?}",
        missing.len(),
        s.lost_pops
    );
    assert!(
        s.answered.len() > 100,
        "the clients did work: {}",
        s.answered.len()
    );
    eprintln!(
        "crash test: {} answered inserts, {} uncertain, {} popped, {} cut-off pops, {} gone with them",
        s.answered.len(),
        s.maybe.len(),
        s.popped.len(),
        s.lost_pops,
        missing.len()
    );
}

/// A client that sends several requests before reading gets the answers in request order,
/// though a queue operation is answered only after the commit and an error at once.
#[test]
fn pipelined_answers_keep_request_order() {
    use brine::wire::kind;
    let m = Master::start();
    let mut c = m.client();
    let reqs = [
        ("queue.insert", vec![json!("ordered"), json!("x")]),
        ("queue.list_items", vec![json!("a/b")]),
        ("manage.up", vec![]),
        ("queue.list_length", vec![json!("ordered")]),
    ];
    for (fun, arg) in &reqs {
        let req = Request {
            fun: (*fun).into(),
            arg: arg.clone(),
            kwarg: Map::new(),
            user: None,
            send_return: false,
        };
        c.send_frame(kind::REQUEST, &rmp_serde::to_vec_named(&req).unwrap())
            .unwrap();
    }
    let mut answers = Vec::new();
    while answers.len() < reqs.len() {
        let (k, p) = c.next_frame(Some(T)).unwrap();
        if k == kind::ANSWER {
            let a: brine::bus::Answer = rmp_serde::from_slice(&p).unwrap();
            answers.push(a.ret);
        }
    }
    assert_eq!(answers[0], json!(true));
    assert!(answers[1].as_str().unwrap().contains("invalid queue name"));
    assert_eq!(answers[2], json!([]));
    assert_eq!(answers[3], json!(1));
}
