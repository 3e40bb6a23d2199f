#!/usr/bin/python3
"""Periodic progress notifications: a watch created with progress_notify on a quiet key gets a
header-only response (no events, current revision) every
--experimental-watch-progress-notify-interval. Runs against keel (--keel PATH) or real etcd
(--server etcd), so the expectation is checked against the reference. Run with
/usr/bin/python3 (Debian's python3-etcd3).
"""

import argparse
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
import compat_lib as cl  # noqa: E402

try:
    import etcd3
except ImportError as e:  # pragma: no cover
    print(f"python3-etcd3 not importable with {sys.executable}: {e}", file=sys.stderr)
    sys.exit(cl.SKIP)

INTERVAL_S = 1.0
WATCH_FOR_S = 3.6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", help="path to the keel binary")
    ap.add_argument("--server", default="keel", choices=["keel", "etcd"])
    args = ap.parse_args()
    cl.require_tool("etcdctl")
    binary = cl.require_tool("etcd") if args.server == "etcd" else args.keel
    if not binary:
        ap.error("--keel is required for --server keel")
    srv = cl.Server(args.server, binary,
                    extra_flags=["--experimental-watch-progress-notify-interval", "1s"]).start()
    client = etcd3.client(host="127.0.0.1", port=srv.client_port)
    client.put("other", "x")  # revision 2; the watched key never changes
    responses, cancel = client.watch_response("quiet", progress_notify=True)
    # The iterator blocks between responses: a timer cancels the watch to end it.
    timer = threading.Timer(WATCH_FOR_S, cancel)
    timer.start()
    t0 = time.monotonic()
    seen = [(time.monotonic() - t0, r.header.revision, len(r.events)) for r in responses]
    timer.cancel()
    srv.stop()
    print(f"responses (seconds, revision, events): {seen}")
    failures = []
    if len(seen) < 3:
        failures.append(f"expected >= 3 progress notifications in {WATCH_FOR_S}s, got {len(seen)}")
    if any(events != 0 for _, _, events in seen):
        failures.append("a progress notification carried events")
    if any(rev != 2 for _, rev, _ in seen):
        failures.append("progress notifications must carry the current revision (2)")
    gaps = [b[0] - a[0] for a, b in zip(seen, seen[1:])]
    if any(g < 0.5 * INTERVAL_S or g > 2.5 * INTERVAL_S for g in gaps):
        failures.append(f"notifications not about {INTERVAL_S}s apart: {gaps}")
    for f in failures:
        print(f"FAIL: {f}")
    print(f"{1 if not failures else 0} passed, {1 if failures else 0} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
