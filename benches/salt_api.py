#!/usr/bin/env python3
"""A real Salt 3007.15 salt-master and salt-api (rest_cherrypy) on 127.0.0.1, for brine-api's
benchmarks to measure against.

    /work/saltvenv/bin/python benches/salt_api.py --port P --dir D

Writes D/master (root_dir D/root, user root, interface 127.0.0.1, publish_port and ret_port
picked free by this script, rest_cherrypy on 127.0.0.1:P without TLS and with
webhook_disable_auth, netapi_enable_clients [local, runner], external_auth
{sharedsecret: {bench: ['.*', '@runner']}}, sharedsecret s3cret), starts salt-master and
salt-api from the same bin directory as this Python (each in its own process group, output in
D/master.out and D/api.out), and waits until the master's request server is up
(sock_dir/workers.ipc) and `POST /hook/bench` answers 200 with {"success": true} (the event
reached the master's bus). Then it prints one line on stdout:

    ready <salt-api pid> <salt-master pid>

and blocks until stdin closes (or SIGTERM/SIGINT), then stops both process groups: SIGTERM,
up to 20 s, then SIGKILL of whatever is left in each group. It exits 1 with the last lines of
the daemons' output on stderr if they do not come up within --timeout seconds (default 120).
"""
import argparse
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BIN = os.path.dirname(sys.executable)
SALT_MASTER = os.path.join(BIN, "salt-master")
SALT_API = os.path.join(BIN, "salt-api")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port(taken):
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port


def write_config(d, api_port):
    ret_port = free_port({api_port})
    pub_port = free_port({api_port, ret_port})
    root = os.path.join(d, "root")
    os.makedirs(root, exist_ok=True)
    conf = {
        "id": "bench-master",
        "interface": "127.0.0.1",
        "publish_port": pub_port,
        "ret_port": ret_port,
        "user": "root",
        "root_dir": root,
        "pki_dir": os.path.join(root, "pki"),
        "cachedir": os.path.join(root, "cache"),
        "sock_dir": os.path.join(root, "sock"),
        "pidfile": os.path.join(root, "salt-master.pid"),
        "log_file": os.path.join(root, "master.log"),
        "api_pidfile": os.path.join(root, "salt-api.pid"),
        "api_logfile": os.path.join(root, "api.log"),
        "log_level_logfile": "warning",
        "file_roots": {"base": [os.path.join(root, "srv", "salt")]},
        "pillar_roots": {"base": [os.path.join(root, "srv", "pillar")]},
        "rest_cherrypy": {
            "port": api_port,
            "host": "127.0.0.1",
            "disable_ssl": True,
            "webhook_disable_auth": True,
        },
        "netapi_enable_clients": ["local", "runner"],
        "external_auth": {"sharedsecret": {"bench": [".*", "@runner"]}},
        "sharedsecret": "s3cret",
    }
    for sub in ("srv/salt", "srv/pillar"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    # JSON is YAML: the master config is read with Salt's YAML loader.
    with open(os.path.join(d, "master"), "w") as f:
        json.dump(conf, f, indent=1)
    return conf, os.path.join(root, "sock")


def start(cmd, out_path):
    with open(out_path, "ab") as out:
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
    for p in procs:
        # Worker processes may outlive their group leader; SIGKILL what is left of each group.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass


def hook_ok(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/hook/bench", data=b'{"ready": true}',
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status == 200 and json.loads(r.read()) == {"success": True}
    except (urllib.error.URLError, OSError, ValueError):
        return False


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True, help="rest_cherrypy port")
    ap.add_argument("--dir", required=True, help="config and state directory (created)")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()
    d = os.path.abspath(args.dir)
    os.makedirs(d, exist_ok=True)
    _, sock_dir = write_config(d, args.port)

    procs = []
    done = threading.Event()

    def on_signal(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        master = start([SALT_MASTER, "-c", d, "-l", "warning"], os.path.join(d, "master.out"))
        procs.append(master)
        api = start([SALT_API, "-c", d, "-l", "warning"], os.path.join(d, "api.out"))
        procs.append(api)
        deadline = time.monotonic() + args.timeout
        while True:
            if done.is_set():
                return 1
            for p, name in ((master, "salt-master"), (api, "salt-api")):
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode}")
            if os.path.exists(os.path.join(sock_dir, "workers.ipc")) and hook_ok(args.port):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"not up after {args.timeout:.0f} s")
            time.sleep(0.25)
        print(f"ready {api.pid} {master.pid}", flush=True)

        # select, not a reader thread: a thread blocked in read() crashes interpreter shutdown
        fd = sys.stdin.fileno()
        while not done.is_set():
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready and not os.read(fd, 65536):
                break
        return 0
    except RuntimeError as e:
        log(f"salt_api.py: {e}")
        for name in ("master.out", "api.out", "root/master.log", "root/api.log"):
            t = tail(os.path.join(d, name))
            if t:
                log(f"--- {name}\n{t}")
        return 1
    finally:
        stop(procs)


if __name__ == "__main__":
    sys.exit(main())
