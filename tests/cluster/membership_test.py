#!/usr/bin/python3
"""Membership changes while writes continue, with etcdctl as an operator would use it.

  membership_test.py --keel build/bin/keel

A writer keeps putting keys through the original members the whole time. Steps:
add a learner (etcdctl member add --learner), start it with --initial-cluster-state existing;
it serves serializable reads of everything written, refuses writes and linearizable reads
("rpc not supported for learner"); promote it (on the leader); it then takes writes;
move-leader to it; remove one original member (that process exits by itself); update the
new member's peer URLs; finally every acknowledged write is on every remaining member and
HashKV agrees. Also checked: etcd's refusals (a used peer URL, promoting a voter, removing an
unknown member, a second learner).
"""

import argparse
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_lib  # noqa: E402
import compat_lib as cl  # noqa: E402
import etcd3  # noqa: E402


ctl = cluster_lib.ctl


def last_line(text):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def wait_until(pred, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)  # poll interval of a deadline-bounded wait
    return pred()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    a = ap.parse_args()
    cl.require_tool("etcdctl")
    cluster = cluster_lib.Cluster(a.keel, size=3).start()
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    acked = {}
    stop = threading.Event()
    writers_members = list(cluster.members[:2])  # m3 is removed later

    def writer():
        clients = [etcd3.client("127.0.0.1", m.client_port, timeout=2) for m in writers_members]
        seq = 0
        while not stop.is_set():
            key = f"w/{seq:06d}"
            try:
                clients[seq % len(clients)].put(key, str(seq))
                acked[key] = str(seq)
            except Exception:
                pass  # not acknowledged: allowed to be lost
            seq += 1

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    eps = cluster.endpoints()

    # A fourth member, added as a learner and started to join.
    m4 = cluster_lib.Member("keel", a.keel, "m4", cluster)
    m4.client_port, m4.peer_port = cl.free_ports(2)
    peer4 = f"http://127.0.0.1:{m4.peer_port}"
    out, err, rc = ctl(eps, "member", "add", "m4", f"--peer-urls={peer4}", "--learner")
    check(rc == 0 and "ETCD_INITIAL_CLUSTER_STATE=\"existing\"" in out,
          f"member add --learner ({last_line(err) or 'ok'})")
    _, err, rc = ctl(eps, "member", "add", "m5", f"--peer-urls={peer4}")
    check(rc != 0 and "Peer URLs already exists" in err, "a used peer URL is refused")
    _, err, rc = ctl(eps, "member", "add", "m5", "--peer-urls=http://127.0.0.1:1", "--learner")
    check(rc != 0 and "too many learner members" in err, "a second learner is refused")
    cluster.members.append(m4)
    m4.state = "existing"
    m4.launch()
    check(wait_until(lambda: ctl(m4.endpoint, "get", "w/000000", "--consistency=s")[2] == 0),
          "the learner joined and serves serializable reads")
    _, err, rc = ctl(m4.endpoint, "put", "x", "y", timeout="2s")
    check(rc != 0 and "not supported for learner" in err, "the learner refuses writes")
    _, err, rc = ctl(m4.endpoint, "get", "x", timeout="2s")
    check(rc != 0 and "not supported for learner" in err,
          "the learner refuses linearizable reads")
    # A joined member publishes its name through raft; until that applies, `member list`
    # shows it unnamed (as etcd's does).
    def member_list():
        return json.loads(ctl(eps, "member", "list", "-w", "json")[0])["members"]
    check(wait_until(lambda: any(m.get("name") == "m4" for m in member_list())),
          "the learner's name is published")
    members = member_list()
    id4 = next(m["ID"] for m in members if m.get("name") == "m4")
    id1 = next(m["ID"] for m in members if m.get("name") == "m1")
    _, err, rc = ctl(eps, "member", "promote", format(id1, "x"))
    check(rc != 0 and "can only promote a learner member" in err, "promoting a voter is refused")

    # Promote through the leader (a follower answers "not leader", as documented).
    def promote():
        leader = cluster.leader(cluster.members[:3])
        _, err, rc = ctl(leader.endpoint, "member", "promote", format(id4, "x"))
        return rc == 0
    check(wait_until(promote, 20), "member promote of the caught-up learner")
    check(wait_until(lambda: ctl(m4.endpoint, "put", "via-m4", "1")[2] == 0),
          "the promoted member takes writes")
    leader = cluster.leader()
    _, err, rc = ctl(leader.endpoint, "move-leader", format(id4, "x"))
    check(rc == 0 and cluster.leader() is m4, f"move-leader to the new member "
                                              f"({last_line(err) or 'ok'})")

    # Remove m3: it stops by itself.
    m3 = cluster.members[2]
    members = member_list()
    id3 = next(m["ID"] for m in members if m.get("name") == "m3")
    _, err, rc = ctl(m4.endpoint, "member", "remove", format(id3, "x"))
    check(rc == 0, f"member remove ({last_line(err) or 'ok'})")
    check(wait_until(lambda: not m3.alive(), 15), "the removed member's process exits")
    cluster.members.remove(m3)
    _, err, rc = ctl(m4.endpoint, "member", "remove", format(id3, "x"))
    check(rc != 0 and "member not found" in err, "removing it again: member not found")
    _, err, rc = ctl(m4.endpoint, "member", "update", format(id4, "x"), f"--peer-urls={peer4}")
    check(rc == 0, f"member update ({last_line(err) or 'ok'})")

    # A few more writes after the last change, then stop the writer.
    count = len(acked)
    wait_until(lambda: len(acked) >= count + 50)
    stop.set()
    t.join(timeout=30)
    print(f"{len(acked)} writes acknowledged during the changes")
    for m in cluster.members:
        def has_all(m=m):
            out, _, rc = ctl(m.endpoint, "get", "w/", "--prefix", "--consistency=s",
                             timeout="20s")
            if rc != 0:
                return False
            lines = out.split("\n")
            got = dict(zip(lines[0::2], lines[1::2]))
            return all(got.get(k) == v for k, v in acked.items())
        check(wait_until(has_all, 30), f"{m.name} has every acknowledged write")
    rev = min(cluster.hashkv(m)["header"]["revision"] for m in cluster.members)
    hashes = {m.name: cluster.hashkv(m, rev)["hash"] for m in cluster.members}
    check(len(set(hashes.values())) == 1, f"HashKV equal at revision {rev}: {hashes}")
    cluster.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
