#!/usr/bin/python3
"""Lease expiry timing on one member: a lease never expires before its TTL has run since the
grant (or the last keep-alive) was sent, and its keys are gone no later than one election
timeout (1 s) after its TTL has run since the answer came back. Observed through a watch on
the leased keys' prefix (python3-etcd3), so each deletion is timed when the client sees it.

  lease_expiry_test.py --keel build/bin/keel      (or --server etcd, to check the claims)

Cases: leases of TTL 2, 3 and 4 s granted back to back; leases kept alive three times, one
second apart, then left to expire; a lease granted with TTL 1 (clamped to etcd's minimum,
2 s) expires by the clamped TTL.
"""

import argparse
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_lib as cl  # noqa: E402

try:
    import etcd3
except ImportError as e:  # pragma: no cover
    print(f"SKIP: python3-etcd3 not importable with {sys.executable}: {e}", file=sys.stderr)
    sys.exit(cl.SKIP)

ELECTION_TIMEOUT_S = 1.0
PREFIX = "/expiry/"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel")
    ap.add_argument("--server", choices=["keel", "etcd"], default="keel")
    a = ap.parse_args()
    if a.server == "etcd":
        server = cl.Server("etcd", "etcd")
    else:
        server = cl.Server("keel", a.keel)
    server.start()
    host, port = server.endpoint.split(":")
    client = etcd3.client(host=host, port=int(port))

    deleted = {}  # key -> monotonic time the DELETE event was seen
    lock = threading.Lock()
    events, cancel = client.watch_prefix(PREFIX)

    def collect():
        for ev in events:
            if isinstance(ev, etcd3.events.DeleteEvent):
                with lock:
                    deleted[ev.key.decode()] = time.monotonic()

    watcher = threading.Thread(target=collect, daemon=True)
    watcher.start()

    # key -> (ttl the server reported, sent: start of the last grant/keep-alive, acked: its end)
    expected = {}
    for i, ttl in enumerate([2, 3, 4, 2, 3, 4, 1]):
        key = f"{PREFIX}plain-{i}"
        sent = time.monotonic()
        lease = client.lease(ttl)
        acked = time.monotonic()
        client.put(key, "v", lease=lease)
        expected[key] = (lease.granted_ttl, sent, acked)
    kept = []
    for i in range(3):
        key = f"{PREFIX}kept-{i}"
        lease = client.lease(2)
        client.put(key, "v", lease=lease)
        kept.append((key, lease))
    for _ in range(3):
        for key, lease in kept:
            sent = time.monotonic()
            resp = list(client.refresh_lease(lease.id))
            acked = time.monotonic()
            expected[key] = (resp[0].TTL, sent, acked)
        # Keep-alives a second apart: the leases (TTL 2) must survive between them.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            time.sleep(0.05)  # poll interval of a bounded wait
            with lock:
                early = [k for k, _ in kept if k in deleted]
            if early:
                break

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with lock:
            if all(k in deleted for k in expected):
                break
        time.sleep(0.05)  # poll interval of a deadline-bounded wait
    cancel()

    failures = []
    with lock:
        seen = dict(deleted)
    for key, (ttl, sent, acked) in sorted(expected.items()):
        if key.endswith("plain-6") and ttl != 2:
            failures.append(f"{key}: TTL 1 should be clamped to 2, got {ttl}")
        if key not in seen:
            failures.append(f"{key}: not deleted within the deadline (TTL {ttl})")
            continue
        after_sent = seen[key] - sent
        after_ack = seen[key] - acked
        line = (f"{key}: TTL {ttl} s, deleted {after_sent:.3f} s after the request was sent, "
                f"{after_ack - ttl:+.3f} s past TTL after its answer")
        print(line)
        if after_sent < ttl:
            failures.append(f"{line}: EARLY")
        if after_ack > ttl + ELECTION_TIMEOUT_S:
            failures.append(f"{line}: later than one election timeout past the TTL")
    server.stop()
    for f in failures:
        print("FAIL " + f)
    print(f"{len(expected) - len([f for f in failures])} of {len(expected)} leases on time"
          if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
