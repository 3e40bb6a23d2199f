#!/usr/bin/python3
"""A follower restarted after the leader compacted its log past it catches up via a snapshot.

  snapshot_test.py --keel build/bin/keel

3 members with --snapshot-count 100 --experimental-snapshot-catchup-entries 50. One follower
is SIGKILLed; 600 puts, deletes and a kv compaction go to the others (the raft log is
compacted several times meanwhile); the follower restarts. It must say it restored a
snapshot, then serve every key (serializable reads: its own state), replay history to a
watch from the start revision the compaction left, and agree on HashKV. Then all three are
SIGKILLed and restarted: each recovers from its own snapshot plus log.
"""

import argparse
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_lib  # noqa: E402
import compat_lib as cl  # noqa: E402
import etcd3  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    a = ap.parse_args()
    cl.require_tool("etcdctl")
    cluster = cluster_lib.Cluster(a.keel, size=3, extra_flags=[
        "--snapshot-count", "100", "--experimental-snapshot-catchup-entries", "50"]).start()
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    leader = cluster.leader()
    follower = next(m for m in cluster.members if m is not leader)
    follower.kill()
    c = etcd3.client("127.0.0.1", leader.client_port, timeout=10)
    for i in range(600):
        c.put(f"k/{i:04d}", f"v{i}")
    for i in range(0, 600, 10):
        c.delete(f"k/{i:04d}")
    compact_at = c.put("marker", "m").header.revision
    c.compact(compact_at)
    for i in range(600, 650):
        c.put(f"k/{i:04d}", f"v{i}")
    want = {f"k/{i:04d}": f"v{i}" for i in range(650) if i >= 600 or i % 10 != 0}
    follower.launch()
    deadline = time.monotonic() + 60
    got = {}
    while time.monotonic() < deadline:
        out, _, rc = cl.etcdctl(follower.endpoint, ["get", "k/", "--prefix", "--consistency=s"])
        if rc == 0:
            lines = out.decode().split("\n")
            got = dict(zip(lines[0::2], lines[1::2]))
            if got == want:
                break
        time.sleep(0.2)  # poll interval of a deadline-bounded wait
    check(got == want, f"the restarted follower serves all {len(want)} live keys from its own "
                       f"state (has {len(got)})")
    with open(follower.log_path, "rb") as f:
        log = f.read().decode("utf-8", "replace")
    check("restored a snapshot from the leader" in log, "the follower installed a snapshot")
    # History after the compaction, replayed by a watch on the follower.
    w = subprocess.Popen(["etcdctl", f"--endpoints={follower.endpoint}", "watch", "k/",
                          "--prefix", f"--rev={compact_at}"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=cl.etcdctl_env(),
                         start_new_session=True)
    events = []
    deadline = time.monotonic() + 20
    while len(events) < 50 and time.monotonic() < deadline:
        line = w.stdout.readline().decode().strip()
        if line in ("PUT", "DELETE"):
            key = w.stdout.readline().decode().strip()
            w.stdout.readline()
            events.append(key)
    w.kill()
    check(events == [f"k/{i:04d}" for i in range(600, 650)],
          f"a watch on the follower from revision {compact_at} replays the 50 later puts "
          f"({len(events)} seen)")
    out, err, rc = cl.etcdctl(follower.endpoint, ["get", "k/0001", "--rev=2"])
    check(rc != 0 and b"compacted" in err, "a read below the compaction is refused on the "
                                           "follower too")
    rev = min(cluster.hashkv(m)["header"]["revision"] for m in cluster.members)
    hashes = {m.name: cluster.hashkv(m, rev)["hash"] for m in cluster.members}
    check(len(set(hashes.values())) == 1, f"HashKV equal at revision {rev}: {hashes}")
    # Every member's own log is compacted now: kill -9 all of them; each must come back from
    # its snapshot plus the log after it, with the same data.
    for m in cluster.members:
        m.kill()
    for m in cluster.members:
        m.launch()
    for m in cluster.members:
        m.wait_healthy(30)
    for m in cluster.members:
        out, _, rc = cl.etcdctl(m.endpoint, ["get", "k/", "--prefix", "--consistency=s"])
        lines = out.decode().split("\n")
        got = dict(zip(lines[0::2], lines[1::2]))
        check(rc == 0 and got == want, f"{m.name} restarted from its snapshot and log with "
                                       f"every key")
    after = {m.name: cluster.hashkv(m, rev)["hash"] for m in cluster.members}
    check(after == hashes, f"HashKV at revision {rev} unchanged after the restarts: {after}")
    cluster.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
