#!/usr/bin/env python3
"""A plain-Python listener on a brine bus socket, for tests and the bus bench.

Speaks the local frame protocol with the standard library only: subscribes to a tag
prefix, reads sequenced events ('Q' frames) and salt/event/lost notices ('E' frames), and
prints one JSON line when COUNT events (plus any announced lost) have been seen, or the
daemon closed. --sleep-every N --sleep S makes it a slow reader.
"""
import argparse
import json
import socket
import struct
import sys
import time


def mp_str(s):
    b = s.encode()
    if len(b) < 32:
        return bytes([0xA0 | len(b)]) + b
    return bytes([0xD9, len(b)]) + b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("prefix")
    ap.add_argument("count", type=int)
    ap.add_argument("--sleep-every", type=int, default=0)
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--rcvbuf", type=int, default=0)
    a = ap.parse_args()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if a.rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    s.connect(a.socket)
    sub = bytes([0x82]) + mp_str("match_type") + mp_str("startswith") + mp_str("tag") + mp_str(a.prefix)
    s.sendall(struct.pack(">I", len(sub) + 1) + b"S" + sub)
    print("subscribed", flush=True)
    buf = bytearray()
    events = lost = gaps = 0
    first = last = None
    resume = None
    t0 = None
    while events + lost < a.count:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        if t0 is None:
            t0 = time.monotonic()
        buf += chunk
        pos = 0
        n = len(buf)
        while n - pos >= 4:
            (flen,) = struct.unpack_from(">I", buf, pos)
            if n - pos - 4 < flen:
                break
            kind = buf[pos + 4]
            if kind == 0x51:  # Q: sequence number, then the event
                (seq,) = struct.unpack_from(">Q", buf, pos + 5)
                if last is not None and seq != last + 1 and seq != resume:
                    gaps += 1
                if first is None:
                    first = seq
                last = seq
                resume = None
                events += 1
                if a.sleep_every and events % a.sleep_every == 0:
                    time.sleep(a.sleep)
            elif kind == 0x45:  # E: a notice for this listener alone
                body = bytes(buf[pos + 5 : pos + 4 + flen])
                if body.startswith(b"salt/event/lost\n\n"):
                    # count and next_seq are msgpack ints after their keys.
                    lost += _int_after(body, b"count")
                    resume = _int_after(body, b"next_seq")
            pos += 4 + flen
        del buf[:pos]
    elapsed = time.monotonic() - t0 if t0 else 0.0
    print(json.dumps({"events": events, "lost": lost, "gaps": gaps, "first": first,
                      "last": last, "seconds": elapsed}), flush=True)


def _int_after(body, key):
    i = body.find(mp_str(key.decode()))
    if i < 0:
        return 0
    j = i + len(mp_str(key.decode()))
    t = body[j]
    if t < 0x80:
        return t
    fmt = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q"}.get(t)
    if fmt is None:
        return 0
    return struct.unpack_from(fmt, body, j + 1)[0]


if __name__ == "__main__":
    sys.exit(main())
