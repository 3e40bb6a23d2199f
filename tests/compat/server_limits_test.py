#!/usr/bin/python3
"""The backend quota (NOSPACE alarm) and periodic auto-compaction, through etcdctl.

Runs against keel (--keel PATH) or real etcd (--server etcd), so the assertions themselves are
checked against the reference. Waits are polls with deadlines.
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_lib as cl  # noqa: E402

NOSPACE = "etcdserver: mvcc: database space exceeded"
COMPACTED = "etcdserver: mvcc: required revision has been compacted"


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}")


def quota(binary, kind):
    # 4 MiB quota, 256 KiB values: the space runs out after a handful of puts.
    srv = cl.Server(kind, binary, extra_flags=["--quota-backend-bytes", str(4 << 20)]).start()
    ep = srv.endpoint
    # Too long for an argument: etcdctl put reads the value from stdin when none is given.
    value = b"v" * (256 << 10)
    out, err, rc = cl.etcdctl(ep, ["put", "keep", "small"])
    check(rc == 0, "a small put fits the quota")
    failed_at = None
    for i in range(200):
        out, err, rc = cl.etcdctl(ep, ["put", f"big{i}"], stdin=value)
        if rc != 0:
            failed_at = i
            break
    check(failed_at is not None, "puts past the quota are refused")
    check(NOSPACE.encode() in err, f"the refusal is etcd's NOSPACE error ({err[-120:]!r})")
    out, err, rc = cl.etcdctl(ep, ["alarm", "list"])
    check(rc == 0 and b"alarm:NOSPACE" in out, f"alarm list shows NOSPACE ({out!r})")
    out, err, rc = cl.etcdctl(ep, ["put", "tiny", "x"])
    check(rc != 0 and NOSPACE.encode() in err, "with the alarm raised even a tiny put is refused")
    out, err, rc = cl.etcdctl(ep, ["get", "keep", "--print-value-only"])
    check(rc == 0 and out == b"small\n", "reads still work")
    out, err, rc = cl.etcdctl(ep, ["del", "big0"])
    check(rc == 0 and out == b"1\n", "deletes still work")
    out, err, rc = cl.etcdctl(ep, ["alarm", "disarm"])
    check(rc == 0 and b"alarm:NOSPACE" in out, f"disarm reports the alarm it cleared ({out!r})")
    out, err, rc = cl.etcdctl(ep, ["alarm", "list"])
    check(rc == 0 and out == b"", "no alarm after disarm")
    srv.stop()


def auto_compaction(binary, kind):
    srv = cl.Server(kind, binary, extra_flags=["--auto-compaction-mode", "periodic",
                                               "--auto-compaction-retention", "1s"]).start()
    ep = srv.endpoint
    for i in range(5):
        out, err, rc = cl.etcdctl(ep, ["put", "k", f"v{i}"])
        check(rc == 0, f"put {i}")
    out, err, rc = cl.etcdctl(ep, ["get", "k", "--rev", "2", "--print-value-only"])
    check(rc == 0 and out == b"v0\n", "history is readable before the retention passes")
    deadline = time.monotonic() + 20
    compacted = False
    while time.monotonic() < deadline:
        # Keep writing: the periodic policy compacts to revisions it saw at least 1s ago.
        cl.etcdctl(ep, ["put", "tick", "x"])
        out, err, rc = cl.etcdctl(ep, ["get", "k", "--rev", "2"])
        if rc != 0 and COMPACTED.encode() in err:
            compacted = True
            break
        time.sleep(0.2)  # poll interval of a deadline-bounded wait
    check(compacted, "periodic auto-compaction compacted revision 2 within 20s")
    out, err, rc = cl.etcdctl(ep, ["get", "k", "--print-value-only"])
    check(rc == 0 and out == b"v4\n", "the latest value survives compaction")
    srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", help="path to the keel binary")
    ap.add_argument("--server", default="keel", choices=["keel", "etcd"])
    args = ap.parse_args()
    cl.require_tool("etcdctl")
    binary = cl.require_tool("etcd") if args.server == "etcd" else args.keel
    if not binary:
        ap.error("--keel is required for --server keel")
    quota(binary, args.server)
    auto_compaction(binary, args.server)
    print("2 passed, 0 failed")


if __name__ == "__main__":
    main()
