#!/usr/bin/python3
"""Figures for a local 3-member cluster: put throughput/latency and failover time.

  bench/scripts/cluster_bench.py --keel build/bin/keel --bench build/bin/keel-bench \
      [--etcd etcd] [--trials 20] [--duration 10s] [--out bench/results]

Put: keel-bench put against all three members (1 client on 1 connection; 1000 clients on 16
connections), 256-byte values, --duration each, on a fresh cluster of each server; etcd 3.4
(Debian) runs the same for reference. Failover: writers (python3-etcd3, 1 s request
timeout) put through every member; the leader is SIGKILLed; measured from the kill to the
first acknowledged write sent after it, and to the survivors agreeing on a new leader; the
old leader restarts before the next trial. Writes <out>/cluster_bench.json and prints
Markdown.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tests", "cluster"))
import cluster_lib  # noqa: E402
import compat_lib as cl  # noqa: E402
import failover_test  # noqa: E402


def put_run(bench, cluster, clients, conns, duration, tmp, tag):
    path = os.path.join(tmp, f"put-{tag}-{clients}.json")
    subprocess.run([bench, "put", "--endpoints", cluster.endpoints(), "--clients", str(clients),
                    "--conns", str(conns), "--duration", duration, "--val-size", "256",
                    "--key-space-size", "100000", "--json", path],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    with open(path) as f:
        r = json.load(f)["result"]
    lat = r["latency_ms"]
    return {"per_s": r["per_s"], "p50_ms": lat["p50"], "p99_ms": lat["p99"],
            "errors": r.get("error_count", 0)}


def failover(binary, trials):
    cluster = cluster_lib.Cluster(binary, size=3).start()
    writers = failover_test.Writers(cluster)
    writers.start()
    results = []
    try:
        for trial in range(trials):
            time.sleep(1.0)
            leader = cluster.leader()
            t0 = time.monotonic()
            leader.kill()
            survivors = [m for m in cluster.members if m is not leader]
            new = cluster.leader(survivors, timeout=20)
            t_leader = time.monotonic() - t0
            t_write = writers.wait_acks(t0, 20)
            print(f"  trial {trial + 1}/{trials}: new leader {t_leader:.2f}s, first write "
                  f"{t_write if t_write is None else round(t_write, 2)}s", file=sys.stderr)
            results.append({"leader_s": t_leader if new else None, "write_s": t_write})
            leader.launch()
            leader.wait_healthy(30)
    finally:
        writers.stop()
        cluster.stop()
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--etcd", default="etcd")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--out", default=os.path.join(here, "..", "results"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    tmp = cl.make_tempdir("keel-cluster-bench-")
    puts = {}
    for kind, binary in (("etcd", cl.require_tool(a.etcd)), ("keel", a.keel)):
        for clients, conns in ((1, 1), (1000, 16)):
            cluster = cluster_lib.Cluster(binary, size=3, kind=kind).start()
            try:
                puts[f"{kind}-{clients}"] = put_run(a.bench, cluster, clients, conns,
                                                    a.duration, tmp, kind)
            finally:
                cluster.stop()
            r = puts[f"{kind}-{clients}"]
            print(f"{kind} put, {clients} clients: {r['per_s']:,.0f}/s p50 {r['p50_ms']:.2f} ms "
                  f"p99 {r['p99_ms']:.2f} ms", file=sys.stderr)
    print("keel failover:", file=sys.stderr)
    fo = failover(a.keel, a.trials)
    writes = [r["write_s"] for r in fo if r["write_s"] is not None]
    leaders = [r["leader_s"] for r in fo if r["leader_s"] is not None]
    summary = {
        "put": puts,
        "failover": {"trials": fo,
                     "write_median_s": statistics.median(writes) if writes else None,
                     "write_worst_s": max(writes) if writes else None,
                     "leader_median_s": statistics.median(leaders) if leaders else None,
                     "leader_worst_s": max(leaders) if leaders else None,
                     "failed_trials": len(fo) - len(writes)},
    }
    with open(os.path.join(a.out, "cluster_bench.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("| put, 3 members | etcd req/s | etcd p50 / p99 ms | Keel req/s | Keel p50 / p99 ms |")
    print("|---|---|---|---|---|")
    for clients in (1, 1000):
        e, k = puts[f"etcd-{clients}"], puts[f"keel-{clients}"]
        print(f"| {clients} client{'s' if clients > 1 else ''} | {e['per_s']:,.0f} | "
              f"{e['p50_ms']:.2f} / {e['p99_ms']:.2f} | {k['per_s']:,.0f} | "
              f"{k['p50_ms']:.2f} / {k['p99_ms']:.2f} |")
    f = summary["failover"]
    print(f"\nFailover over {len(fo)} trials (leader SIGKILL): first acknowledged write after "
          f"the kill median {f['write_median_s']:.2f} s, worst {f['write_worst_s']:.2f} s; "
          f"new leader agreed median {f['leader_median_s']:.2f} s, worst "
          f"{f['leader_worst_s']:.2f} s; {f['failed_trials']} trials without a write.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
