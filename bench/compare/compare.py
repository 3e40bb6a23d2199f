#!/usr/bin/python3
"""Keel and real etcd side by side: the same topology, flags and keel-bench matrix for both.

  bench/compare/compare.py --keel build/bin/keel --bench build/bin/keel-bench \
      [--etcd etcd] [--runs 3] [--duration 10s] [--keys 1000000] [--only NAME ...]
      [--out bench/results]

For every run, each case starts a fresh server of each kind (1 or 3 members on 127.0.0.1,
data on the same disk, etcd 3.4 defaults and Keel's equivalents), runs keel-bench, stops it.
Runs alternate etcd and Keel case by case so machine noise hits both. Reported: the median
over runs of requests/s and p50/p99 latency, and Keel/etcd. Then, once per server: resident
memory of a single member after loading --keys keys of 256 bytes, its data-dir size, and
the time from start to serving (endpoint health) after a SIGTERM restart with those keys.
Also the machine: cores and the disk's 1 KiB write+fdatasync rate. Writes
<out>/compare.json and <out>/compare.md; progress on stderr.
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

# (name, members, keel-bench arguments). Targets of issue 7 in the names' order.
CASES = [
    ("put, 3 members, 1000 clients", 3,
     ["put", "--clients", "1000", "--conns", "16", "--val-size", "256",
      "--key-space-size", "100000"]),
    ("put, 3 members, 1 client", 3,
     ["put", "--clients", "1", "--val-size", "256", "--key-space-size", "100000"]),
    ("put, 1 member, 1 client", 1,
     ["put", "--clients", "1", "--val-size", "256", "--key-space-size", "100000"]),
    ("range l, one key, 3 members, 1000 clients", 3,
     ["range", "bench-key", "--consistency", "l", "--clients", "1000", "--conns", "16"]),
    ("range s, one key, 3 members, 1000 clients", 3,
     ["range", "bench-key", "--consistency", "s", "--clients", "1000", "--conns", "16"]),
    ("txn-update (Kubernetes-style), 3 members, 200 clients", 3,
     ["txn-update", "--clients", "200", "--conns", "8", "--key-space-size", "1000",
      "--val-size", "256"]),
    ("watch fan-out, 1 member, 10k watchers / 100 streams / 1000 puts/s", 1,
     ["watch", "--watchers", "10000", "--streams", "100", "--put-rate", "1000",
      "--watch-prefix", "--drain-timeout", "5s"]),
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def start(kind, binary, members):
    if members == 1:
        return [cl.Server(kind, binary).start()], None
    c = cluster_lib.Cluster(binary, size=members, kind=kind).start()
    return c.members, c


def stop(servers, cluster):
    if cluster:
        cluster.stop()
    else:
        for s in servers:
            s.stop()


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def context_switches(pid):
    """Voluntary + involuntary context switches of every thread of a process, by thread name."""
    by_name = {}
    task_dir = f"/proc/{pid}/task"
    for tid in os.listdir(task_dir):
        try:
            with open(os.path.join(task_dir, tid, "comm")) as f:
                name = f.read().strip()
            with open(os.path.join(task_dir, tid, "status")) as f:
                n = sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
        except OSError:  # the thread ended meanwhile
            continue
        by_name[name] = by_name.get(name, 0) + n
    return by_name


def switches_of(servers):
    total = {}
    for s in servers:
        for name, n in context_switches(s.proc.pid).items():
            total[name] = total.get(name, 0) + n
    return total


def run_case(bench, servers, args, duration, path):
    endpoints = ",".join(s.endpoint for s in servers)
    if args[0] == "range":  # the key must exist
        cl.etcdctl(servers[0].endpoint, ["put", "bench-key", "x" * 256])
    # CPU per request of the servers and of keel-bench: on a small machine the two share the
    # cores, so these bound what any server could reach there.
    server_cpu0 = sum(cpu_seconds(s.proc.pid) for s in servers)
    # Thread switches per request: what a hand-off between threads costs beyond its CPU (a
    # wake-up, a cold cache). Go's goroutine switches do not count; only the kernel's do.
    switches0 = switches_of(servers)
    child0 = os.times()
    subprocess.run([bench] + args + ["--endpoints", endpoints, "--duration", duration,
                                     "--json", path],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
    child1 = os.times()
    server_cpu = sum(cpu_seconds(s.proc.pid) for s in servers) - server_cpu0
    switches = {name: n - switches0.get(name, 0) for name, n in switches_of(servers).items()}
    bench_cpu = (child1.children_user + child1.children_system -
                 child0.children_user - child0.children_system)
    with open(path) as f:
        r = json.load(f)["result"]
    if args[0] == "watch":
        lat = r["delivery"]["latency_ms"]
        return {"per_s": r["events"]["per_s"], "p50_ms": lat["p50"], "p99_ms": lat["p99"]}
    lat = r["latency_ms"]
    requests = max(r.get("requests") or r.get("count") or 1, 1)
    return {"per_s": r["per_s"], "p50_ms": lat["p50"], "p99_ms": lat["p99"],
            "server_cpu_us": 1e6 * server_cpu / requests,
            "bench_cpu_us": 1e6 * bench_cpu / requests,
            "server_switches": sum(switches.values()) / requests,
            "server_switches_by_thread": {name: n / requests for name, n in switches.items()
                                          if n / requests >= 0.01}}


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def footprint(kind, binary, bench, keys, tmp):
    s = cl.Server(kind, binary).start()
    t0 = time.monotonic()
    subprocess.run([bench, "put", "--endpoints", s.endpoint, "--clients", "256", "--conns", "8",
                    "--total", str(keys), "--key-space-size", str(keys), "--sequential-keys",
                    "--val-size", "256", "--json", os.path.join(tmp, f"load-{kind}.json")],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600)
    load_s = time.monotonic() - t0
    time.sleep(2)  # let background flushes settle before sampling memory
    rss = rss_kb(s.proc.pid)
    s.stop()
    size = dir_bytes(s.data_dir)
    t0 = time.monotonic()
    s.start(timeout=300)  # same data dir; returns once endpoint health answers
    restart_s = time.monotonic() - t0
    rss_after = rss_kb(s.proc.pid)
    s.stop()
    return {"keys": keys, "load_s": load_s, "rss_mib": rss / 1024.0,
            "rss_after_restart_mib": rss_after / 1024.0, "data_dir_mib": size / 2**20,
            "restart_s": restart_s}


def fdatasync_rate(tmp, seconds=2.0):
    path = os.path.join(tmp, "fsync-probe")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC)
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        os.write(fd, b"x" * 1024)
        os.fdatasync(fd)
        n += 1
    os.close(fd)
    return n / (time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--etcd", default="etcd")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--skip-footprint", action="store_true")
    ap.add_argument("--only", action="append", help="cases whose name starts with this")
    ap.add_argument("--out", default=os.path.join(here, "..", "results"))
    a = ap.parse_args()
    etcd = cl.require_tool(a.etcd)
    os.makedirs(a.out, exist_ok=True)
    tmp = cl.make_tempdir("keel-compare-")
    cases = [c for c in CASES if not a.only or any(c[0].startswith(p) for p in a.only)]
    machine = {"cores": os.cpu_count(), "fdatasync_per_s": fdatasync_rate(tmp)}
    log(f"machine: {machine['cores']} cores, {machine['fdatasync_per_s']:,.0f} fdatasync/s")
    results = {name: {"etcd": [], "keel": []} for name, _, _ in cases}
    step, total = 0, a.runs * len(cases) * 2
    for run in range(a.runs):
        for name, members, args in cases:
            for kind, binary in (("etcd", etcd), ("keel", a.keel)):
                step += 1
                servers, cluster = start(kind, binary, members)
                try:
                    r = run_case(a.bench, servers, args, a.duration,
                                 os.path.join(tmp, f"{step}.json"))
                finally:
                    stop(servers, cluster)
                results[name][kind].append(r)
                log(f"[{step}/{total}] {kind:4} {name}: {r['per_s']:,.0f}/s p50 "
                    f"{r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms")
    table = []
    for name, _, _ in cases:
        row = {"case": name}
        for kind in ("etcd", "keel"):
            rs = results[name][kind]
            keys = [k for k in ("per_s", "p50_ms", "p99_ms", "server_cpu_us", "bench_cpu_us",
                                "server_switches")
                    if all(k in r for r in rs)]
            row[kind] = {k: statistics.median(r[k] for r in rs) for k in keys}
            row[kind]["runs"] = rs
        row["ratio"] = row["keel"]["per_s"] / max(row["etcd"]["per_s"], 1e-9)
        table.append(row)
    fp = {}
    if not a.skip_footprint:
        for kind, binary in (("etcd", etcd), ("keel", a.keel)):
            log(f"{kind}: loading {a.keys:,} keys of 256 bytes ...")
            fp[kind] = footprint(kind, binary, a.bench, a.keys, tmp)
            log(f"  {fp[kind]}")
    out = {"machine": machine, "runs": a.runs, "duration": a.duration, "cases": table,
           "footprint": fp}
    with open(os.path.join(a.out, "compare.json"), "w") as f:
        json.dump(out, f, indent=1)
    lines = [f"Machine: {machine['cores']} cores, disk {machine['fdatasync_per_s']:,.0f} "
             f"1 KiB write+fdatasync/s. Medians of {a.runs} run(s) of {a.duration}.", "",
             "| case | etcd req/s | etcd p50 / p99 ms | Keel req/s | Keel p50 / p99 ms | Keel/etcd |",
             "|---|---|---|---|---|---|"]
    for row in table:
        e, k = row["etcd"], row["keel"]
        lines.append(f"| {row['case']} | {e['per_s']:,.0f} | {e['p50_ms']:.2f} / {e['p99_ms']:.2f} "
                     f"| {k['per_s']:,.0f} | {k['p50_ms']:.2f} / {k['p99_ms']:.2f} | "
                     f"{row['ratio']:.2f} |")
    cpu_rows = [row for row in table if "server_cpu_us" in row["keel"]]
    if cpu_rows:
        lines += ["", "CPU per request, µs (servers: all members together; keel-bench: the "
                  "load generator, sharing the same cores):", "",
                  "| case | etcd servers | Keel servers | keel-bench vs etcd / vs Keel "
                  "| thread switches per request, etcd / Keel servers |",
                  "|---|---|---|---|---|"]
        for row in cpu_rows:
            e, k = row["etcd"], row["keel"]
            switches = (f"{e['server_switches']:.1f} / {k['server_switches']:.1f}"
                        if "server_switches" in k else "")
            lines.append(f"| {row['case']} | {e['server_cpu_us']:.0f} | {k['server_cpu_us']:.0f} | "
                         f"{e['bench_cpu_us']:.0f} / {k['bench_cpu_us']:.0f} | {switches} |")
    if fp:
        lines += ["", f"| {a.keys:,} keys of 256 B | etcd | Keel | Keel/etcd |", "|---|---|---|---|"]
        for key, label in (("rss_mib", "resident memory after loading (MiB)"),
                           ("rss_after_restart_mib", "resident memory after restart (MiB)"),
                           ("data_dir_mib", "data dir (MiB)"),
                           ("restart_s", "restart to serving (s)"),
                           ("load_s", "load time (s)")):
            e, k = fp["etcd"][key], fp["keel"][key]
            lines.append(f"| {label} | {e:,.1f} | {k:,.1f} | {k / max(e, 1e-9):.2f} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "compare.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
