//! The text of `brine-states(7)`: SLS files, requisites, the state modules and their
//! arguments, test mode, the file server and pillar, as brine's state engine runs them.

use super::flags::Section;

/// The page's one-line summary.
pub const SUMMARY: &str = "SLS files, requisites and state modules of brine's state system";

/// The page's sections, in order.
pub const SECTIONS: &[Section] = &[
    Section {
        title: "DESCRIPTION",
        body: "A state run makes a minion match what its SLS files describe. It runs in a child process of brine-minion (or of brine-call --local), started as brine-minion --module-child state.run, so the minion's event loop keeps answering and its memory returns to its idle figure when the run ends. SLS files come from the master's file server (file_roots in brine-master.conf(5)) through the minion's authenticated session, cached under cachedir/files/SALTENV and fetched again only when their sha256 differs; masterless (file_client: local, or brine-call --local) they come from the minion's own file_roots. Salt's SLS files, top files and reactor files that call state functions work unchanged.\n\nThe functions: state.apply [MODS] (state.sls when MODS are given, else state.highstate), state.sls MODS, state.highstate, state.test [MODS] (test=True), state.single FUN NAME [key=value ...], state.show_sls MODS, state.show_low_sls MODS, state.show_highstate, state.show_lowstate, state.show_top and state.running. MODS is a comma-separated string or a list. They take test=True|False, saltenv=ENV, pillarenv=ENV, pillar={...} (merged over the compiled pillar for this run), exclude=SLS,... , state_events=True, queue=True and concurrent=True.",
    },
    Section {
        title: "SLS FILES",
        body: "An SLS file is rendered with Jinja and then read as YAML (a first line #!jinja|yaml or #!yaml chooses; any other renderer is an error naming the file). The template sees salt (salt['grains.get'], salt['pillar.get'], salt['config.get'], salt['cmd.run'], salt['test.ping'], ...), grains, pillar, opts, sls, saltenv, slspath, tpldir, tplfile and tplpath, with the reactor's filters and Python-style methods (see brine-reactor(5)). salt://web/nginx is web/nginx.sls or web/nginx/init.sls.\n\nThe YAML maps IDs to state declarations:\n\n  nginx:\n    pkg.installed: []\n    service.running:\n      - enable: True\n      - watch:\n        - file: /etc/nginx/nginx.conf\n  /etc/nginx/nginx.conf:\n    file.managed:\n      - source: salt://web/nginx.conf\n      - template: jinja\n      - mode: 644\n\nThe name of a state is its ID unless name: says otherwise; names: [a, b, {c: [args]}] makes one state per name. include: [other, .relative, ..up] renders other files first; extend: {ID: {state: [args]}} changes states of included files (requisite lists are appended to, other arguments replaced); exclude: [{sls: glob}, {id: ID}] drops states. States run in the order they are written (state_auto_order, included files first) unless order: N, first, last or a negative number says otherwise; ties sort by state, name and function. A state is returned under the tag STATE_|-ID_|-NAME_|-FUNCTION with name, result (True, False or None in test mode), comment, changes, __run_num__, __sls__, __id__, start_time and duration, exactly as Salt 3007 returns it; a run that cannot compile returns Salt's list of error strings instead.",
    },
    Section {
        title: "REQUISITES",
        body: "require: [{STATE: PATTERN} | {id: PATTERN} | {sls: PATTERN} | PATTERN] runs the named states first and skips this one (result False, comment One or more requisite failed: SLS.ID) when one failed; patterns are globs over names and IDs. watch: is require that also calls the module's mod_watch (service restart, cmd.run of cmd.wait, test's Watch statement fired.) when a watched state changed something. onchanges: runs only when a named state changed something (else result True and State was not run because none of the onchanges reqs changed); onfail: only when one failed (else State was not run because onfail req did not change). require_any, watch_any, onchanges_any and onfail_any need one of the list; onfail_all needs all. require_in, watch_in, onchanges_in and onfail_in add the requisite to the named states. A requisite naming no state gives The following requisites were not found; a loop gives A recursive requisite was found or Recursive requisite found.\n\nonlyif: CMD | [CMD, ...] runs the state only when every command exits 0, unless: only when one does not, creates: PATH | [PATH, ...] only when a path is missing (the state is then True with skip_watch); check_cmd: CMD decides the result after the state ran. retry: {attempts: N, interval: SECONDS, splay: SECONDS, until: True} runs a state again while its result is not until (in test mode the comment only says it would), with Salt's Attempt N: Returned a result of ... comment. failhard: True (or failhard in the minion configuration) stops the run at the first failure. fire_event: True (or a string) sends salt/state_result/JID/MINION/NAME; state_events: True sends salt/job/JID/prog/MINION/N after each state.\n\nLeft out on purpose: prereq, listen, use, parallel and slots. Each is refused at compile time with an error naming the state and the file, never skipped silently.",
    },
    Section {
        title: "STATE MODULES",
        body: "test: nop, succeed_without_changes, succeed_with_changes, fail_without_changes, fail_with_changes (comment), configurable_test_state (changes, result, comment, warnings, allow_test_mode_failure), show_notification (text).\n\ncmd: run (name is the command; cwd, runas, env as a map or a list of maps, shell, timeout, stateful, success_retcodes; changes are pid, retcode, stdout and stderr; result is retcode 0), wait (runs only through a watch), script (source salt://x.sh or a path, args, the same options).\n\nfile: managed (source salt://, a local path or http(s):// with source_hash, or a list of them; contents, contents_pillar, contents_grains; template: jinja with context and defaults; user, group, mode, makedirs, dir_mode, replace, create, show_changes; changes hold the unified diff or New file), directory (user, group, mode, makedirs, force), absent, symlink (target, force, makedirs, user, group), append (text), replace (pattern, repl, count, flags, append_if_not_found, prepend_if_not_found, not_found_content, backup). Every file is written to a temporary file in its directory, fsynced and renamed, so a crash never leaves half a file.\n\npkg (apt and dpkg): installed, removed, latest (name, pkgs, version, sources of .deb files from salt:// or a path, refresh). service (systemd when /run/systemd/system exists, else /etc/init.d scripts through service): running (enable, reload), dead, enabled, disabled, and mod_watch (restart, or reload with reload: True). user: present (uid, gid, groups, home, createhome, shell, fullname, system), absent (purge). group: present (gid, members, addusers, delusers), absent.",
    },
    Section {
        title: "TEST MODE",
        body: "test=True (or test: True in the minion configuration, which a call's test=False overrides) runs every state in test mode: nothing is changed, a state that would change something returns result None and says what (The file P is set to be changed; Command \"C\" would have been executed), and the run's retcode stays 0 unless a state would fail.",
    },
    Section {
        title: "CONCURRENCY",
        body: "A run holds cachedir/state.lock. A second run while it is held returns Salt's ['The function \"state.apply\" is running as PID N and was started at TIME with jid JID'] with retcode 1; queue=True waits for the lock instead (what a reactor on salt/minion/*/start usually wants), and concurrent=True runs without it. state.running lists the runs in progress in the same words.",
    },
    Section {
        title: "PILLAR",
        body: "The master renders pillar_roots (top.sls with the minion's grains, Jinja then YAML) for each minion and sends it sealed to that minion's session at start, on saltutil.refresh_pillar and after the master's SIGHUP; templates see it as pillar and salt['pillar.get']. A pillar that did not render makes state runs return ['Pillar failed to render with the following messages:', ...] with retcode 5.",
    },
    Section {
        title: "RETCODES AND OUTPUT",
        body: "A run's retcode is 0 when every state succeeded (a failure handled by an onfail_stop: False handler counts as success), 2 when one failed, 1 for compile errors and refused runs, and 5 for a pillar that did not render. brine-call exits 1 on any non-zero retcode unless --retcode-passthrough. The job return of a state function says out: highstate, so brine(1), brine-call(1) and brine-run(1) print it with the highstate outputter (state_output, state_verbose), and a reactor rule on salt/job/*/ret/* reads the state dict as data['return'].",
    },
    Section {
        title: "SEE ALSO",
        body: "brine-call(1), brine(1), brine-minion.conf(5), brine-master.conf(5), brine-reactor(5)",
    },
];
