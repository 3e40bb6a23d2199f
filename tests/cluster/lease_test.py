#!/usr/bin/python3
"""Leases across leader failures on a 3-member cluster.

  lease_test.py --keel build/bin/keel

1. kill -9 of the leader. A lease kept alive (etcdctl lease keep-alive through the two
   followers) survives for three TTLs; a lease nobody keeps alive expires, not before its TTL
   and no later than TTL + the failover + one election timeout; a long lease keeps its
   remaining TTL across the change instead of restarting it (checkpointed through raft).
   The killed member comes back with the same leases and keys (HashKV equal).
2. The leader is cut off (fault file) for longer than a TTL while a lease is kept alive
   through the majority: the deposed leader revokes nothing, the lease and its key live on
   every member after healing, HashKV equal.
"""

import argparse
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_lib  # noqa: E402
import compat_lib as cl  # noqa: E402

TTL = 6


ctl = cluster_lib.ctl


def grant(endpoints, ttl):
    out, err, rc = ctl(endpoints, "lease", "grant", str(ttl))
    m = re.match(r"lease ([0-9a-f]+) granted with TTL\((\d+)s\)", out)
    if rc != 0 or not m:
        raise RuntimeError(f"lease grant: {out} {err}")
    return m.group(1)


def exists(endpoints, key, consistency="l"):
    out, err, rc = ctl(endpoints, "get", key, f"--consistency={consistency}")
    if rc != 0:
        return None  # unknown (no leader yet)
    return out.strip() != ""


def remaining(endpoints, lease):
    out, _, rc = ctl(endpoints, "lease", "timetolive", lease)
    m = re.search(r"remaining\((-?\d+)s\)", out)
    return int(m.group(1)) if rc == 0 and m else None


def keep_alive(endpoints, lease):
    return cl.spawn(["etcdctl", f"--endpoints={endpoints}", "lease", "keep-alive", lease],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cl.etcdctl_env())


def wait_gone(endpoints, key, deadline):
    """Monotonic time at which `key` was first seen deleted, or None by the deadline."""
    while time.monotonic() < deadline:
        if exists(endpoints, key) is False:
            return time.monotonic()
        time.sleep(0.05)  # poll interval of a deadline-bounded wait
    return None


def stays(endpoints, key, until):
    """True if `key` exists at every look until `until` (unanswered looks are retried)."""
    while time.monotonic() < until:
        if exists(endpoints, key) is False:
            return False
        time.sleep(0.2)  # poll interval of a deadline-bounded observation
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    a = ap.parse_args()
    cl.require_tool("etcdctl")
    tmp = cl.make_tempdir("keel-lease-")
    faults = {n: os.path.join(tmp, f"faults-{n}") for n in ("m1", "m2", "m3")}
    cluster = cluster_lib.Cluster(a.keel, size=3)
    for m in cluster.members:
        m.extra_flags += ["--experimental-peer-fault-file", faults[m.name]]
    cluster.start()
    election = cluster.election_timeout_ms / 1000.0
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            failures.append(what)

    # ---- 1. kill -9 of the leader ----
    leader = cluster.leader()
    followers = [m for m in cluster.members if m is not leader]
    fe = cluster.endpoints(followers)
    kept = grant(fe, TTL)
    t_sent = time.monotonic()
    dropped = grant(fe, TTL)
    long_lease = grant(fe, 60)
    t_long = time.monotonic()
    for key, lease in (("kept", kept), ("dropped", dropped), ("long", long_lease)):
        _, err, rc = ctl(fe, "put", key, "v", f"--lease={lease}")
        check(rc == 0, f"put {key} with its lease ({err.strip()})")
    ka = keep_alive(fe, kept)
    # Let part of the TTLs run before the failure, so a restarted TTL would show: until the
    # 60 s lease reports at most 57 s left.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = remaining(fe, long_lease)
        if left is not None and left <= 57:
            break
        time.sleep(0.1)  # poll interval of a deadline-bounded wait
    t_kill = time.monotonic()
    leader.kill()
    new_leader = cluster.leader(followers, timeout=15)
    failover = time.monotonic() - t_kill
    check(new_leader is not None, f"a new leader after kill -9 ({failover:.2f} s)")
    gone = wait_gone(fe, "dropped", t_sent + TTL + failover + election + 5)
    check(gone is not None, "the lease nobody keeps alive expires")
    if gone is not None:
        check(gone - t_sent >= TTL, f"... not before its TTL ({gone - t_sent:.2f} s after grant)")
        late = gone - t_sent - TTL
        check(late <= failover + election + 1.0,
              f"... within TTL + failover + one election timeout ({late:+.2f} s past TTL, "
              f"failover {failover:.2f} s)")
    left = remaining(cluster.endpoints([new_leader]), long_lease)
    bound = 60 - (time.monotonic() - t_long) + election + 1
    check(left is not None and 0 < left <= bound,
          f"the 60 s lease kept its remaining TTL across the change ({left} s left, "
          f"at most {bound:.1f} allowed)")
    check(stays(fe, "kept", t_sent + 3 * TTL), "the lease kept alive survives three TTLs")
    check(exists(fe, "long") is True, "the 60 s lease's key is still there")
    leader.launch()
    leader.wait_healthy(30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and exists(leader.endpoint, "kept", "s") is not True:
        time.sleep(0.05)  # poll interval of a deadline-bounded wait
    check(exists(leader.endpoint, "kept", "s") is True and
          exists(leader.endpoint, "dropped", "s") is False,
          "the restarted member has the kept key and not the expired one")

    # ---- 2. a deposed leader revokes nothing ----
    leader = cluster.leader()
    others = [m for m in cluster.members if m is not leader]
    oe = cluster.endpoints(others)
    cut = grant(oe, TTL)
    _, err, rc = ctl(oe, "put", "cut", "v", f"--lease={cut}")
    check(rc == 0, f"put cut with its lease ({err.strip()})")
    ka2 = keep_alive(oe, cut)
    with open(faults[leader.name], "w") as f:
        f.write("\n".join(m.name for m in others) + "\n")
    check(cluster.leader(others, timeout=15) is not None, "the majority elects its own leader")
    check(stays(oe, "cut", time.monotonic() + TTL + 2),
          "while the old leader is cut off for longer than the TTL, the lease lives")
    with open(faults[leader.name], "w") as f:
        f.write("")
    deadline = time.monotonic() + 20
    hashes = None
    while time.monotonic() < deadline:
        try:
            hashes = {m.name: cluster.hashkv(m)["hash"] for m in cluster.members}
        except RuntimeError:
            hashes = None
        if hashes and len(set(hashes.values())) == 1 and \
                exists(leader.endpoint, "cut", "s") is True:
            break
        time.sleep(0.1)  # poll interval of a deadline-bounded wait
    check(exists(leader.endpoint, "cut", "s") is True, "the healed old leader has the key")
    check(hashes is not None and len(set(hashes.values())) == 1, f"HashKV equal ({hashes})")
    for p in (ka, ka2):
        p.kill()
    cluster.stop()
    print("PASS" if not failures else f"{len(failures)} FAILURES")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
