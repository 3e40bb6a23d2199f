#!/usr/bin/python3
"""A member cut off from the others cannot acknowledge writes or serve linearizable reads;
it catches up once healed.

  partition_test.py --keel build/bin/keel

The cut goes through the member's test-only fault file (--experimental-peer-fault-file): the
isolated member drops every raft message to and from the other two, connections stay up.
Checked: on the isolated member a put and a linearizable get fail (no leader / timeout)
while the majority keeps acknowledging writes; serializable reads there still answer from
its stale state; after healing it serves the majority's writes, HashKV equal everywhere.
"""

import argparse
import functools
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_lib  # noqa: E402
import compat_lib as cl  # noqa: E402


# Quick failures: the isolated member is expected to time out.
ctl = functools.partial(cluster_lib.ctl, timeout="3s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    a = ap.parse_args()
    cl.require_tool("etcdctl")
    tmp = cl.make_tempdir("keel-partition-")
    faults = {n: os.path.join(tmp, f"faults-{n}") for n in ("m1", "m2", "m3")}
    cluster = cluster_lib.Cluster(a.keel, size=3)
    for m in cluster.members:
        m.extra_flags += ["--experimental-peer-fault-file", faults[m.name]]
    cluster.start()
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    _, _, rc = ctl(cluster.members[0], "put", "before", "1")
    check(rc == 0, "put before the partition")
    leader = cluster.leader()
    # Isolate a follower (then, in a second round, the leader itself).
    for round_name, victim in (("follower", next(m for m in cluster.members if m is not leader)),
                               ("leader", leader)):
        others = [m for m in cluster.members if m is not victim]
        with open(faults[victim.name], "w") as f:
            f.write("\n".join(m.name for m in others) + "\n")
        # The victim sees no leader once the fault file was read and its election timeout
        # passed (CheckQuorum for a leader; pre-vote keeps a follower from disrupting the
        # majority). Only then is the cut certainly in force.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            st = victim.status()
            if st is not None and st.get("leader", 0) == 0:
                break
            time.sleep(0.05)  # poll interval of a deadline-bounded wait
        check(st is not None and st.get("leader", 0) == 0,
              f"{round_name} cut off: the isolated member lost its leader")
        majority_leader = cluster.leader(others, timeout=15)
        check(majority_leader is not None and majority_leader is not victim,
              f"{round_name} cut off: the majority has a leader of its own")
        key = f"during-{round_name}"
        _, err, rc = ctl(others[0], "put", key, "majority", timeout="10s")
        check(rc == 0, f"{round_name} cut off: the majority acknowledges a write ({err.strip()})")
        _, err, rc = ctl(victim, "put", "lost-" + round_name, "x")
        check(rc != 0, f"{round_name} cut off: a put on the isolated member is not acknowledged "
                       f"({err.strip().splitlines()[-1] if err.strip() else 'acknowledged!'})")
        out, err, rc = ctl(victim, "get", key)
        check(rc != 0, f"{round_name} cut off: a linearizable get on the isolated member fails "
                       f"({err.strip().splitlines()[-1] if err.strip() else out.strip()})")
        out, _, rc = ctl(victim, "get", "before", "--consistency=s")
        check(rc == 0 and "before" in out,
              f"{round_name} cut off: a serializable get answers from local state")
        os.remove(faults[victim.name])
        deadline = time.monotonic() + 20
        while True:
            out, _, rc = ctl(victim, "get", key, "--print-value-only")
            if rc == 0 and out.strip() == "majority":
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)  # poll interval of a deadline-bounded wait
        check(rc == 0 and out.strip() == "majority",
              f"{round_name} healed: the isolated member serves the majority's write")
        for m in cluster.members:
            out, _, rc = ctl(m, "get", "lost-" + round_name, "--consistency=s")
            check(rc == 0 and out.strip() == "", f"{round_name} healed: {m.name} has no trace "
                                                 f"of the unacknowledged put")
    rev = min(cluster.hashkv(m)["header"]["revision"] for m in cluster.members)
    hashes = {m.name: cluster.hashkv(m, rev)["hash"] for m in cluster.members}
    check(len(set(hashes.values())) == 1, f"HashKV equal at revision {rev}: {hashes}")
    cluster.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
