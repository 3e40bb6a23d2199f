#!/usr/bin/python3
"""Watch fan-out, Keel and real etcd side by side (issue: Watch API benchmark).

  bench/scripts/watch_fanout.py --keel build/bin/keel --bench build/bin/keel-bench \
      [--runs 3] [--duration 10s] [--out bench/results]

Each run starts a fresh single member of each server on ephemeral 127.0.0.1 ports (same
disk, etcd 3.4 defaults), then runs `keel-bench watch` against it for every configuration;
runs alternate etcd and Keel so machine noise hits both. Reported per configuration and
server: the median over runs of events delivered per second and of delivery latency p50/p99
(put sent -> event received; the put's own commit latency is included), plus whether every
event arrived in order. Writes <out>/watch_fanout.json and prints a Markdown table.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "compat"))
import compat_lib as cl  # noqa: E402

# (name, keel-bench watch flags). The configuration first.
CONFIGS = [
    ("10k watchers / 100 streams / 1000 puts/s, 8 B values",
     ["--watchers", "10000", "--streams", "100", "--put-rate", "1000", "--watch-prefix"]),
    ("10k watchers / 100 streams / 100 puts/s, 8 B values",
     ["--watchers", "10000", "--streams", "100", "--put-rate", "100", "--watch-prefix"]),
    ("10k watchers / 100 streams / 1000 puts/s, 256 B values",
     ["--watchers", "10000", "--streams", "100", "--put-rate", "1000", "--watch-prefix",
      "--val-size", "256"]),
]


def run_one(bench, endpoint, flags, duration, out_json):
    argv = [bench, "watch", "--endpoints", endpoint, "--duration", duration,
            "--drain-timeout", "5s", "--json", out_json] + flags
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    with open(out_json) as f:
        result = json.load(f)["result"]
    ev, dl = result["events"], result["delivery"]
    return {
        "events_per_s": ev["per_s"],
        "offered_per_s": ev.get("offered_per_s"),
        "received": ev["received"],
        "missing": ev["missing"],
        "out_of_order": ev["out_of_order"],
        "p50_ms": dl["latency_ms"]["p50"] if "latency_ms" in dl else dl.get("p50_ms"),
        "p99_ms": dl["latency_ms"]["p99"] if "latency_ms" in dl else dl.get("p99_ms"),
        "exit": proc.returncode,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    ap.add_argument("--etcd", default="etcd")
    ap.add_argument("--bench", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "results"))
    ap.add_argument("--only", type=int, help="run only configuration number N (0-based)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    tmp = cl.make_tempdir("keel-watch-bench-")
    configs = CONFIGS if a.only is None else [CONFIGS[a.only]]
    results = {name: {"etcd": [], "keel": []} for name, _ in configs}
    total = a.runs * len(configs) * 2
    step = 0
    for run in range(a.runs):
        for kind, binary in (("etcd", cl.require_tool(a.etcd)), ("keel", a.keel)):
            for name, flags in configs:
                step += 1
                print(f"[{step}/{total}] run {run + 1} {kind}: {name}", file=sys.stderr, flush=True)
                server = cl.Server(kind, binary).start()
                try:
                    r = run_one(a.bench, server.endpoint, flags, a.duration,
                                os.path.join(tmp, f"{kind}-{run}-{step}.json"))
                finally:
                    server.stop()
                print(f"    {r['events_per_s']:,.0f} events/s, p50 {r['p50_ms']:.1f} ms, "
                      f"p99 {r['p99_ms']:.1f} ms, missing {r['missing']}", file=sys.stderr)
                results[name][kind].append(r)
    summary = []
    for name, _ in configs:
        row = {"config": name}
        for kind in ("etcd", "keel"):
            rs = results[name][kind]
            row[kind] = {k: statistics.median(r[k] for r in rs)
                         for k in ("events_per_s", "p50_ms", "p99_ms")}
            row[kind]["out_of_order"] = sum(r["out_of_order"] for r in rs)
            row[kind]["runs"] = rs
        row["ratio_events"] = row["keel"]["events_per_s"] / max(row["etcd"]["events_per_s"], 1)
        summary.append(row)
    path = os.path.join(a.out, "watch_fanout.json")
    with open(path, "w") as f:
        json.dump({"runs": a.runs, "duration": a.duration, "nproc": os.cpu_count(),
                   "results": summary}, f, indent=1)
    print("| configuration | etcd events/s | etcd p50 / p99 ms | Keel events/s | "
          "Keel p50 / p99 ms | Keel/etcd |")
    print("|---|---|---|---|---|---|")
    for row in summary:
        e, k = row["etcd"], row["keel"]
        print(f"| {row['config']} | {e['events_per_s']:,.0f} | {e['p50_ms']:.1f} / "
              f"{e['p99_ms']:.1f} | {k['events_per_s']:,.0f} | {k['p50_ms']:.1f} / "
              f"{k['p99_ms']:.1f} | {row['ratio_events']:.2f} |")
    print(f"(medians of {a.runs} runs; JSON: {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
