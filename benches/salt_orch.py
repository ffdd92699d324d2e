#!/usr/bin/env python3
"""Salt's own figures for brine's orchestration benchmark: a real salt-master (Salt 3007.15) and K
real salt-minions m00..m{K-1} on 127.0.0.1, temp dirs, ephemeral ports (the setup of
tests/fixtures/gen_orch_fixtures.py, with `id: master` in the master config).

    /work/saltvenv/bin/python benches/salt_orch.py [--minions K] [--rounds R] [--wide-rounds W]
                                                    [--warmup N]

Defaults K=10, R=30, W=5, N=1. Two measurements:

1. Reactor-triggered orchestration latency. The master config has
   `reactor: [{'bench/go': [<tmp>/react.sls]}]`; react.sls runs `runner.state.orchestrate` of
   orch.bench, whose one step is `salt.state` of `noop` on m00. Each round subscribes to the master
   bus from this process (salt.utils.event.get_event('master', listen=True)), makes sure the
   subscription is live (fires bench/sync and waits to see it), takes t0 = time.monotonic(), fires
   `bench/go` {'n': i} on the master bus, and takes t1 at the first `salt/job/*/new` whose data fun is
   `state.sls`; the latency is t1 - t0. It then waits for that orchestration's
   `salt/run/<jid>/ret` (fun `runner.state.orchestrate`) and checks its retcode is 0 and the step's
   result is true, before the next round. p50/p99 in ms (index round((n-1)*p) of the sorted values,
   as benches/reactor.rs computes them).
2. Wall time of `salt-run -c <conf> --out json state.orchestrate orch.wide` (one `salt.state` step of
   `noop` on 'm*', i.e. all K minions), the whole process timed, W runs; each must exit 0 with the
   step's result true. Median and min in seconds. Then the master's VmRSS (KiB), summed over the
   salt-master process and every process whose parent chain leads to it.

N untimed warm-up rounds of each measurement run first (the first orchestration renders and caches
the SLS files and loads the runner and state modules). Progress goes to stderr; the last line on
stdout is one JSON object:

    {"salt_version": "3007.15", "minions": K,
     "reactor_to_first_job_ms": {"p50": .., "p99": .., "rounds": R},
     "wide_orchestration_s": {"median": .., "min": .., "runs": W}, "master_rss_kib": ..}

All daemons run in their own process groups and are stopped by group at the end, on error and on
SIGINT/SIGTERM too; afterwards any process still naming the temp dir is reported and killed by pid.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BIN = os.path.dirname(sys.executable)
SALT_MASTER = os.path.join(BIN, "salt-master")
SALT_MINION = os.path.join(BIN, "salt-minion")
SALT_RUN = os.path.join(BIN, "salt-run")

NOOP = "noop:\n  test.succeed_without_changes: []\n"
BENCH = """deploy:
  salt.state:
    - tgt: m00
    - sls: noop
"""
WIDE = """deploy:
  salt.state:
    - tgt: 'm*'
    - sls: noop
"""
REACT = """run:
  runner.state.orchestrate:
    - args:
      - mods: orch.bench
"""
STEP = "salt_|-deploy_|-deploy_|-state"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_configs(tmp, minions):
    ret_port, pub_port = free_port(), free_port()
    while pub_port == ret_port:
        pub_port = free_port()
    mdir = os.path.join(tmp, "master")
    os.makedirs(mdir)
    roots = os.path.join(tmp, "roots")
    os.makedirs(os.path.join(roots, "orch"))
    os.makedirs(os.path.join(tmp, "pillar"))
    files = {"noop.sls": NOOP, "orch/bench.sls": BENCH, "orch/wide.sls": WIDE}
    for rel, text in files.items():
        with open(os.path.join(roots, rel), "w") as f:
            f.write(text)
    react = os.path.join(tmp, "react.sls")
    with open(react, "w") as f:
        f.write(REACT)
    mconf = {
        "id": "master",
        "interface": "127.0.0.1",
        "publish_port": pub_port,
        "ret_port": ret_port,
        "user": "root",
        "root_dir": mdir,
        "pki_dir": os.path.join(mdir, "pki"),
        "cachedir": os.path.join(mdir, "cache"),
        "sock_dir": os.path.join(mdir, "sock"),
        "log_file": os.path.join(mdir, "master.log"),
        "log_level_logfile": "warning",
        "file_roots": {"base": [roots]},
        "pillar_roots": {"base": [os.path.join(tmp, "pillar")]},
        "auto_accept": True,
        "timeout": 5,
        "gather_job_timeout": 5,
        "reactor": [{"bench/go": [react]}],
    }
    with open(os.path.join(mdir, "master"), "w") as f:
        json.dump(mconf, f, indent=1)
    for mid in minions:
        d = os.path.join(tmp, mid)
        os.makedirs(d)
        conf = {
            "id": mid,
            "master": "127.0.0.1",
            "master_port": ret_port,
            "user": "root",
            "root_dir": d,
            "pki_dir": os.path.join(d, "pki"),
            "cachedir": os.path.join(d, "cache"),
            "sock_dir": os.path.join(d, "sock"),
            "log_file": os.path.join(d, "minion.log"),
            "log_level_logfile": "warning",
            "acceptance_wait_time": 1,
            "random_reauth_delay": 0,
            "auth_timeout": 10,
        }
        with open(os.path.join(d, "minion"), "w") as f:
            json.dump(conf, f, indent=1)
    return mdir, mconf


def start(cmd, logname, tmp):
    with open(os.path.join(tmp, logname), "a") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def stop(procs):
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 20
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    time.sleep(1)
    for p in procs:
        # The group may outlive its leader (worker processes); SIGKILL whatever is left of it.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass


def stragglers(tmp):
    """Pids of processes (other than this one) whose command line names the temp dir."""
    out = []
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if tmp in cmd:
            out.append(int(pid))
    return out


def tree_rss_kib(root):
    """VmRSS summed over `root` and every process whose parent chain leads to it."""
    parent = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces or parentheses
        parent[int(pid)] = int(st[st.rindex(")") + 2:].split()[1])
    members = []
    for pid in parent:
        p, seen = pid, 0
        while p and seen < 1000:
            if p == root:
                members.append(pid)
                break
            p = parent.get(p, 0)
            seen += 1
    total = 0
    for pid in members:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total, len(members)


def manage_up(mdir):
    try:
        p = subprocess.run([SALT_RUN, "-c", mdir, "--out", "json", "-l", "quiet", "manage.up"],
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, "manage.up timed out"
    try:
        up = json.loads(p.stdout)
    except ValueError:
        return None, p.stdout + p.stderr
    return (up if isinstance(up, list) else None), p.stdout + p.stderr


def wait_up(mdir, tmp, minions, mprocs, timeout):
    """Until manage.up lists every minion; a minion whose process died is started again."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for mid in minions:
            p = mprocs[mid]
            if p.poll() is not None:
                log(f"minion {mid} exited with {p.returncode}; starting it again")
                mprocs[mid] = start([SALT_MINION, "-c", os.path.join(tmp, mid), "-l", "warning"],
                                    mid + ".out", tmp)
        up, last = manage_up(mdir)
        if up is not None:
            missing = sorted(set(minions) - set(up))
            if not missing:
                return
            log(f"{len(minions) - len(missing)}/{len(minions)} minions up; waiting for "
                + ", ".join(missing[:10]) + ("..." if len(missing) > 10 else ""))
        time.sleep(2)
    raise RuntimeError("minions did not come up: " + last[-2000:])


def pct(v, p):
    v = sorted(v)
    return v[int(round((len(v) - 1) * p))]


def check_orch_return(ret, what):
    """ret: a state.orchestrate return {"data": {"master": {step: {...}}}, "retcode": 0, ...}."""
    if not isinstance(ret, dict):
        raise RuntimeError(f"{what}: unexpected return {ret!r:.2000}")
    if ret.get("retcode", 0) != 0:
        raise RuntimeError(f"{what}: retcode {ret.get('retcode')}: {json.dumps(ret, default=str)[:3000]}")
    data = ret.get("data", {})
    steps = data.get("master") if isinstance(data, dict) else None
    step = steps.get(STEP) if isinstance(steps, dict) else None
    if not isinstance(step, dict) or step.get("result") is not True:
        raise RuntimeError(f"{what}: step not true: {json.dumps(ret, default=str)[:3000]}")
    return step


def answered(step):
    """The minions a successful salt.state step names: those in its changes plus those after
    "No changes made to" in its comment (noop changes nothing, so usually only the latter)."""
    got = set((step.get("changes") or {}).get("ret") or {})
    comment = step.get("comment") or ""
    for lead in ("Updating ", "No changes made to "):
        at = comment.find(lead)
        if at >= 0:
            names = comment[at + len(lead):].split(".", 1)[0]
            got.update(n.strip() for n in names.split(",") if n.strip())
    return sorted(got)


def reactor_round(i, mconf, opts, timeout):
    import salt.utils.event

    with salt.utils.event.get_event("master", sock_dir=mconf["sock_dir"], opts=opts,
                                    listen=True) as ev:
        ev.subscribe("")
        # Make sure the subscription is live before t0: fire a marker until we see it come back.
        sync_tag = f"bench/sync/{i}"
        seen = False
        for _ in range(50):
            ev.fire_event({"n": i}, sync_tag)
            end = time.monotonic() + 1
            while time.monotonic() < end:
                e = ev.get_event(full=True, wait=0.2)
                if e and e["tag"] == sync_tag:
                    seen = True
                    break
            if seen:
                break
        if not seen:
            raise RuntimeError("master bus subscription never saw its own sync event")
        # Drain anything else still queued (e.g. the tail of the previous round).
        while ev.get_event(full=True, wait=0.05, no_block=False):
            pass

        t0 = time.monotonic()
        ev.fire_event({"n": i}, "bench/go")
        t1 = None
        run_jid = None
        ret = None
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            e = ev.get_event(full=True, wait=0.5)
            if not e:
                continue
            tag, data = e["tag"], e["data"] or {}
            parts = tag.split("/")
            fun = data.get("fun") if isinstance(data, dict) else None
            if (t1 is None and len(parts) == 4 and parts[:2] == ["salt", "job"]
                    and parts[3] == "new" and fun == "state.sls"):
                t1 = time.monotonic()
            elif (len(parts) == 4 and parts[:2] == ["salt", "run"] and parts[3] == "new"
                  and fun == "runner.state.orchestrate" and run_jid is None):
                run_jid = parts[2]
            elif (len(parts) == 4 and parts[:2] == ["salt", "run"] and parts[3] == "ret"
                  and fun == "runner.state.orchestrate"
                  and (run_jid is None or parts[2] == run_jid)):
                ret = data
                break
        if t1 is None:
            raise RuntimeError(f"round {i}: no salt/job/*/new of state.sls within {timeout}s")
        if ret is None:
            raise RuntimeError(f"round {i}: the orchestration did not end within {timeout}s")
        check_orch_return(ret.get("return"), f"round {i} (reactor orchestration)")
        return t1 - t0


def wide_run(mdir, timeout):
    cmd = [SALT_RUN, "-c", mdir, "--out", "json", "state.orchestrate", "orch.wide"]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"salt-run exited {p.returncode}: {p.stdout[-3000:]}{p.stderr[-3000:]}")
    out = p.stdout
    try:
        ret = json.loads(out)
    except ValueError:
        at = out.find("\n{")
        try:
            ret = json.loads(out[at + 1:])
        except ValueError:
            raise RuntimeError(f"salt-run output is not JSON: {out[-3000:]}{p.stderr[-3000:]}")
    return dt, ret


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minions", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--wide-rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = ap.parse_args()
    if args.minions < 1 or args.rounds < 1 or args.wide_rounds < 1 or args.warmup < 0:
        ap.error("--minions, --rounds and --wide-rounds must be >= 1, --warmup >= 0")

    import salt.config
    import salt.version

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    width = max(2, len(str(args.minions - 1)))
    minions = [f"m{i:0{width}d}" for i in range(args.minions)]
    tmp = tempfile.mkdtemp(prefix="brine-bench-orch-")
    log("temp dir", tmp)
    mdir, mconf = write_configs(tmp, minions)
    master = None
    mprocs = {}
    ok = False
    try:
        master = start([SALT_MASTER, "-c", mdir, "-l", "warning"], "master.out", tmp)
        deadline = time.monotonic() + 120
        while not os.path.exists(os.path.join(mconf["sock_dir"], "master_event_pub.ipc")):
            if time.monotonic() > deadline or master.poll() is not None:
                raise RuntimeError("master did not start; see " + os.path.join(tmp, "master.out"))
            time.sleep(0.5)
        log("master up, pid", master.pid)
        opts = salt.config.master_config(os.path.join(mdir, "master"))
        for mid in minions:
            mprocs[mid] = start([SALT_MINION, "-c", os.path.join(tmp, mid), "-l", "warning"],
                                mid + ".out", tmp)
        wait_up(mdir, tmp, minions, mprocs, timeout=180 + 15 * len(minions))
        log(f"all {len(minions)} minions up")
        time.sleep(2)

        round_timeout = 120
        for i in range(args.warmup):
            dt = reactor_round(-1 - i, mconf, opts, round_timeout)
            log(f"reactor warm-up {i}: {dt * 1000:.1f} ms")
        lat = []
        for i in range(args.rounds):
            dt = reactor_round(i, mconf, opts, round_timeout)
            lat.append(dt * 1000)
            log(f"reactor round {i}: {dt * 1000:.1f} ms")

        wide_timeout = 300 + 5 * len(minions)
        walls = []
        for i in range(args.warmup + args.wide_rounds):
            dt, ret = wide_run(mdir, wide_timeout)
            step = check_orch_return(ret, f"wide run {i}")
            got = answered(step)
            if got != minions:
                raise RuntimeError(f"wide run {i}: returns from {sorted(got)}, expected {minions}")
            if i < args.warmup:
                log(f"wide warm-up {i}: {dt:.3f} s")
            else:
                walls.append(dt)
                log(f"wide run {i - args.warmup}: {dt:.3f} s")

        rss, nproc = tree_rss_kib(master.pid)
        log(f"master RSS {rss} KiB over {nproc} processes")
        result = {
            "salt_version": salt.version.__version__,
            "minions": len(minions),
            "reactor_to_first_job_ms": {"p50": round(pct(lat, 0.5), 3),
                                        "p99": round(pct(lat, 0.99), 3),
                                        "rounds": len(lat)},
            "wide_orchestration_s": {"median": round(statistics.median(walls), 4),
                                     "min": round(min(walls), 4),
                                     "runs": len(walls)},
            "master_rss_kib": rss,
        }
        ok = True
    finally:
        log("stopping daemons")
        stop([p for p in [master, *mprocs.values()] if p is not None])
        left = stragglers(tmp)
        if left:
            log("still running after stop, killing:", left)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(1)
            left = stragglers(tmp)
            if left:
                log("WARNING: processes survive SIGKILL:", left)
        else:
            log("no salt processes left")
        if ok and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log("logs kept in", tmp)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as e:
        log("interrupted:", e)
        sys.exit(130)
    except Exception:
        import traceback

        traceback.print_exc()
        sys.exit(1)
