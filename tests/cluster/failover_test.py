#!/usr/bin/python3
"""kill -9 of the leader of a 3-member cluster under write load.

  failover_test.py --keel build/bin/keel [--trials N]

Four writers put distinct keys through every member (a writer whose member is down moves on
to the next). Each trial: writes run, the leader is SIGKILLed, the survivors must agree on a
new leader within 3 election timeouts, writes must be acknowledged again; then the old
leader restarts on its data dir and catches up. Finally every acknowledged write must be on
every member (serializable reads, so each member answers from its own state) with the value
acknowledged, and HashKV must be equal on all members at the same revision.
Prints the failover times (kill -> new leader, kill -> first acknowledged write). Last, the
leader gets SIGTERM: it must hand leadership over, so a new leader is there within one
election timeout.
"""

import argparse
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_lib  # noqa: E402
import compat_lib as cl  # noqa: E402
import etcd3  # noqa: E402


class Writers:
    def __init__(self, cluster, count=4):
        self.cluster = cluster
        self.acked = {}  # key -> value
        self.acks = []  # (sent, acknowledged) monotonic times
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(count)]

    def run(self, w):
        seq = 0
        which = w
        clients = {}
        while not self.stop_flag.is_set():
            m = self.cluster.members[which % len(self.cluster.members)]
            which += 1
            if not m.alive():
                continue
            c = clients.get(m.name)
            if c is None:
                c = clients[m.name] = etcd3.client("127.0.0.1", m.client_port, timeout=1)
            # Every attempt writes a fresh key: a put that timed out may still commit later
            # (it never completed, so linearizability lets it take effect at any point), and
            # a retry under the same key could then be overwritten by it.
            key, value = f"w{w}/{seq:07d}", f"v{seq}-{m.name}"
            seq += 1
            sent = time.monotonic()
            try:
                c.put(key, value)
            except Exception:  # unavailable, timeout, leader changed: not acknowledged
                clients.pop(m.name, None)
                continue
            with self.lock:
                self.acked[key] = value
                self.acks.append((sent, time.monotonic()))

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=30)

    def count(self):
        with self.lock:
            return len(self.acked)

    def wait_more(self, n, timeout=30):
        """Until n more writes than now are acknowledged (load before and after a kill)."""
        target = self.count() + n
        deadline = time.monotonic() + timeout
        while self.count() < target and time.monotonic() < deadline:
            time.sleep(0.01)  # poll interval of a deadline-bounded wait
        return self.count() >= target

    def wait_acks(self, after, timeout):
        """Seconds from `after` until the first write sent after it is acknowledged, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                acked = [a for s, a in self.acks[-200:] if s > after]
                if acked:
                    return min(acked) - after
            time.sleep(0.01)  # poll interval of a deadline-bounded wait
        return None


def read_all(member):
    out, err, rc = cl.etcdctl(member.endpoint, ["get", "w", "--prefix", "--consistency=s"],
                              timeout=60)
    if rc != 0:
        raise RuntimeError(f"get on {member.name}: {err.decode()}")
    lines = out.decode().split("\n")
    return dict(zip(lines[0::2], lines[1::2]))


def wait_applied_equal(cluster, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        st = [m.status() for m in cluster.members]
        if all(st) and len({s["raftAppliedIndex"] if "raftAppliedIndex" in s else
                            s["header"]["revision"] for s in st}) == 1:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # poll interval of a deadline-bounded wait


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    ap.add_argument("--trials", type=int, default=2)
    a = ap.parse_args()
    cl.require_tool("etcdctl")
    cluster = cluster_lib.Cluster(a.keel, size=3).start()
    limit = 3 * cluster.election_timeout_ms / 1000.0
    failures = []
    writers = Writers(cluster)
    writers.start()
    try:
        if writers.wait_acks(0, 15) is None:
            failures.append("no write acknowledged before the first kill")
        for trial in range(a.trials):
            if not writers.wait_more(300):
                failures.append(f"trial {trial}: writes stalled before the kill")
            leader = cluster.leader()
            if leader is None:
                failures.append(f"trial {trial}: no leader")
                break
            before = writers.count()
            t0 = time.monotonic()
            leader.kill()
            survivors = [m for m in cluster.members if m is not leader]
            new = cluster.leader(survivors, timeout=limit + 5)
            t_leader = time.monotonic() - t0
            t_write = writers.wait_acks(t0, 15)
            print(f"trial {trial}: killed {leader.name} with {before} writes acknowledged; new "
                  f"leader {new.name if new else None} after {t_leader:.2f}s; first write "
                  f"acknowledged {t_write if t_write is None else round(t_write, 2)}s after the "
                  f"kill")
            if new is None or new is leader or t_leader > limit:
                failures.append(f"trial {trial}: no new leader within {limit}s "
                                f"({t_leader:.2f}s)")
            if t_write is None:
                failures.append(f"trial {trial}: no write acknowledged after the kill")
            writers.wait_more(100)  # the survivors take writes meanwhile
            leader.launch()  # same ports, same data dir
            leader.wait_healthy(30)
        # A graceful stop of the leader: it hands leadership over before exiting, so the
        # others need not wait out an election timeout.
        writers.wait_more(300)
        leader = cluster.leader()
        t0 = time.monotonic()
        leader.proc.send_signal(signal.SIGTERM)
        survivors = [m for m in cluster.members if m is not leader]
        new = cluster.leader(survivors, timeout=limit + 5)
        t_leader = time.monotonic() - t0
        code = leader.stop()
        print(f"SIGTERM to leader {leader.name}: exit {code}; new leader "
              f"{new.name if new else None} {t_leader:.2f}s after the signal")
        if code != 0 or new is None or t_leader > cluster.election_timeout_ms / 1000.0:
            failures.append(f"SIGTERM: leadership not handed over within an election timeout "
                            f"({t_leader:.2f}s, exit {code})")
        leader.launch()
        leader.wait_healthy(30)
    finally:
        writers.stop()
    acked = dict(writers.acked)
    print(f"{len(acked)} writes acknowledged in total")
    if not wait_applied_equal(cluster):
        failures.append("members did not converge to the same applied state")
    hashes = {}
    for m in cluster.members:
        got = read_all(m)
        lost = [k for k, v in acked.items() if got.get(k) != v]
        if lost:
            failures.append(f"{m.name} lost {len(lost)} acknowledged writes, e.g. {lost[:3]}")
    rev = min(cluster.hashkv(m)["header"]["revision"] for m in cluster.members)
    for m in cluster.members:
        h = cluster.hashkv(m, rev)
        hashes[m.name] = h["hash"]
    print(f"HashKV at revision {rev}: {hashes}")
    if len(set(hashes.values())) != 1:
        failures.append(f"HashKV differs at revision {rev}: {hashes}")
    cluster.stop()
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
