//! The text of `brine-reactor(5)`: the reactor's rule map, its SLS files, both argument
//! schemas, throttling and errors, with the seeds' examples written with correct YAML.

use super::flags::Section;

/// The page's one-line summary.
pub const SUMMARY: &str = "reactor rules and reaction files of brine-master and brine-minion";

/// The page's sections, in order.
pub const SECTIONS: &[Section] = &[
    Section {
        title: "DESCRIPTION",
        body: "The reactor turns events into actions. brine-master runs one over its event bus when its configuration has reactor: rules; brine-minion runs one over its own bus for caller reactions when the minion configuration has them. Rule files are Salt's reactor SLS files: Jinja, then YAML, with the same names, data and argument formats, so existing reactor files work unchanged.\n\nEvents are handled one at a time, in order, inside the daemon's event loop: the tag is matched, every matched file is rendered and compiled, and the reactions are carried out. local reactions publish their job at once; runner and wheel reactions wait in a queue of at most reactor_worker_hwm reactions (past it a reaction is dropped, logged and counted) that every turn of the loop works through.",
    },
    Section {
        title: "RULES",
        body: "reactor: in the master configuration (or in a master.d/*.conf file) is a list. Each element maps one tag glob to one SLS path or a list of them; paths may be file globs:\n\n  reactor:\n    - 'salt/minion/*/start':\n      - /srv/reactor/start.sls\n      - /srv/reactor/monitor.sls\n    - 'test1*tag':\n      - /srv/reactor/other.sls\n\nreactor: may instead be the path of a YAML file holding that list. Tags match with Python's fnmatch over the whole tag: * matches any run of characters, / included, ? one character, [seq] and [!seq] a class; matching is case-sensitive. Every matching element contributes its files, in configuration order, duplicates included. The rules are compiled into an index, so the cost per event does not grow with the number of rules.\n\nAn element may also be written with brine's throttle (Salt has none):\n\n  reactor:\n    - tag: 'myco/alert/*'\n      sls: [/srv/reactor/alert.sls]\n      throttle: {once_within: 300, group_by: [data.id]}\n\nThe rule then fires at most once per once_within seconds for each distinct value of the group_by names (tag, data, or a path into the data such as data.id or data.data.host; none: once per window for the rule). Suppressed events are counted and shown by brine-run reactor.list.\n\nA broken element or file is logged with the file (and the line and column, for a YAML error) and left out; the other rules keep working. SIGHUP re-reads the rules; brine-run reactor.add and reactor.delete change them until then.",
    },
    Section {
        title: "RENDERING",
        body: "Each file is rendered with Jinja (minijinja), with Python-style methods (data.get('id'), .startswith, .items(), .split, ...), {% set %}, {% do %}, loops and the filters json, tojson, yaml, default, length and join. The context holds tag, data (the event's data, _stamp included; an event a minion sent with event.send or fire_master carries its own data under data['data']), opts (the daemon's settings, without secrets) and salt, with salt['environ.get'], salt['config.get'], salt['grains.get'] (the daemon's host), salt['pillar.get'] (its default: brine has no pillar), salt['hashutil.hmac_signature'] (to check a webhook's signature) and salt.log.info and the other levels. Any other salt[...] function is a render error naming it. A first line #!jinja|yaml or #!yaml is honoured; any other renderer (#!py) is an error. A template runs with a fuel limit, so a runaway loop stops with an error instead of stalling the daemon.\n\nThe result is read as YAML. Its top-level IDs from all matched files are merged: a later file's ID replaces an earlier one's body in the earlier one's place. Each ID holds one TYPE.FUNCTION key, where TYPE is local (or cmd), runner, wheel or caller, and its arguments as a list of one-key maps; ID: runner.FUNCTION alone runs a function without arguments. Reactions run in the order they are written, an explicit - order: first.",
    },
    Section {
        title: "ARGUMENTS",
        body: "The unified schema puts every argument, by name, under args:\n\n  drop_key:\n    wheel.key.delete:\n      - args:\n        - match: {{ data['id'] }}\n  ensure_tmux:\n    local.state.single:\n      - tgt: 'os_family:Debian'\n      - tgt_type: grain\n      - args:\n        - fun: pkg.installed\n        - name: tmux\n\nThe legacy schema gives local reactions arg (a list) and kwarg (a map), and runner and wheel reactions their parameters directly under the function, matched by name:\n\n  purge_cache:\n    local.cmd.run:\n      - tgt: 'role:cache'\n      - tgt_type: grain\n      - arg:\n        - find /var/cache/app -mtime +7 -delete\n  grow_pool:\n    runner.cloud.profile:\n      - prof: rocky9_small\n\nWith args present, arg and kwarg are ignored with Salt's warning; args that is not a list of one-key maps skips the reaction with Salt's Incorrect argument format message (for caller, a plain list is the legacy positional form). tgt_type defaults to glob; expr_form is its old name. A reaction that cannot run is logged with Salt's message and skipped; the others still run.",
    },
    Section {
        title: "REACTIONS",
        body: "local publishes a job to tgt exactly as brine(1) does, as the master's user. runner runs a runner function and wheel a wheel function in the master; their salt/run/JID/* and salt/wheel/JID/* events carry user Reactor. Events whose data has user Reactor are never matched, which keeps runner and wheel reactions from triggering themselves; a local reaction whose job fires the tag it reacts to is a loop only a throttle stops. caller runs an execution function on the minion whose own reactor matched the event (a reactor: section in the minion configuration, matching events on the minion's bus); the master skips caller reactions and a minion skips the others.\n\nWheel functions: key.list_all, key.list, key.accept, key.reject, key.delete, key.finger (each with match), minions.connected and config.values. They can be run by hand as brine-run wheel.key.accept match=m1.",
    },
    Section {
        title: "ERRORS",
        body: "A file that cannot be read, rendered or parsed, and merged reactions that do not validate, drop every reaction of that event, as in Salt. The error is logged with the file, the line and the column where known, and fired on the bus as salt/reactor/error with tag (the event's), sls (the file) and error (the one-line message), so that someone watching the bus with brine-event sees why nothing happened.",
    },
    Section {
        title: "DRY RUN",
        body: "brine-run reactor.test TAG [DATA] shows which rules the event matches (and which a throttle would hold), the rendered text of each file, and the reactions that would run with their resolved arguments, or the errors; it runs nothing and changes no throttle.",
    },
    Section {
        title: "EXAMPLES",
        body: "The seed's examples, with correct indentation. Delete temporary files on CentOS minions when mysql1 starts:\n\n  {% if data['id'] == 'mysql1' %}\n  delete_file:\n    cmd.cmd.run:\n      - tgt: 'G@os:CentOS'\n      - expr_form: compound\n      - arg:\n        - rm -rf /tmp/*\n  {% endif %}\n\nRun on a minion as soon as it starts:\n\n  highstate_on_start:\n    local.cmd.run:\n      - tgt: {{ data['id'] }}\n      - arg:\n        - /usr/local/bin/bootstrap\n\nAccept pending keys (a rule on salt/auth):\n\n  {% if data.get('act') == 'pend' %}\n  accept_key:\n    wheel.key.accept:\n      - args:\n        - match: {{ data['id'] }}\n  {% endif %}\n\nDecommission the minions a queue collected (a rule on salt/queue/decom/process, with the master's schedule running queue.process_queue decom all):\n\n  {% for minion in data['items'] %}\n  delete_key_{{ minion }}:\n    wheel.key.delete:\n      - args:\n        - match: {{ minion }}\n  {% endfor %}\n\nSend an alert by mail and to a web hook from minion mon1:\n\n  mail_ops:\n    local.smtp.send_msg:\n      - tgt: mon1\n      - args:\n        - recipient: ops@example.com\n        - subject: \"ALERT {{ data['host'] }}\"\n        - message: \"disk full on {{ data['host'] }}\"\n  notify:\n    local.http.query:\n      - tgt: mon1\n      - args:\n        - url: https://hooks.example.com/alert\n        - method: POST\n        - data: {{ data|json }}",
    },
    Section {
        title: "SEE ALSO",
        body: "brine-master(8), brine-master.conf(5), brine-minion.conf(5), brine-run(1), brine-event(1)",
    },
];
