#!/usr/bin/python3
"""Leases, etcd and Keel side by side (one member each, fresh per run, alternating):

  lease_bench.py --keel build/bin/keel --bench build/bin/keel-bench [--runs 3]

1. lease-grant: 100 clients grant leases for --duration; grants/s and latency (medians of
   --runs).
2. lease-expiry: --leases leases (default 100,000), one key each, all due within the same
   second (--expire-together), while one client puts unrelated keys: revocations/s, the time
   from the first to the last deletion, and the put latency during the storm against the
   baseline before it (one run each: etcd's storm alone takes ~100 s). etcd caps expiry at
   1,000 revocations/s (leaseRevokeRate); the TTL is chosen so that setup (slower on etcd)
   ends before the leases fall due.

Writes bench/results/lease_bench.json and prints a markdown table.
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

EXPIRY_TTL_S = {"etcd": 120, "keel": 45}


def bench(binary, args, out_json, timeout):
    cmd = [binary] + args + ["--json", out_json]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}")
    with open(out_json) as f:
        return json.load(f)["result"]


def grant(a, server, out_json):
    res = bench(a.bench, ["lease-grant", "--endpoints", server.endpoint, "--clients", "100",
                          "--conns", "4", "--duration", a.duration], out_json, 120)
    lat = res["latency_ms"]
    return {"per_s": res["per_s"], "p50_ms": lat["p50"], "p99_ms": lat["p99"],
            "errors": res.get("error_count", 0)}


def expiry(a, kind, server, out_json):
    res = bench(a.bench, ["lease-expiry", "--endpoints", server.endpoint,
                          "--leases", str(a.leases), "--lease-ttl", str(EXPIRY_TTL_S[kind]),
                          "--expire-together", "--baseline", "5s"], out_json, 900)
    exp, w = res["expiry"], res["writers"]["windows"]
    return {"revocations_per_s": exp["per_s"], "peak_1s": exp["peak_1s_per_s"],
            "storm_s": exp["storm_s"], "deleted": exp["deleted"],
            "setup_per_s": res["setup"]["per_s"],
            "baseline_put_p99_ms": w["baseline"]["latency_ms"]["p99"],
            "storm_put_p50_ms": w["storm"]["latency_ms"]["p50"],
            "storm_put_p99_ms": w["storm"]["latency_ms"]["p99"],
            "storm_put_max_ms": w["storm"]["latency_ms"]["max"],
            "storm_puts_per_s": w["storm"]["per_s"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    ap.add_argument("--etcd", default="etcd")
    ap.add_argument("--bench", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--leases", type=int, default=100000)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "results"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    tmp = cl.make_tempdir("keel-lease-bench-")
    binaries = (("etcd", cl.require_tool(a.etcd)), ("keel", a.keel))
    grants = {"etcd": [], "keel": []}
    expiries = {}
    steps = a.runs * 2 + 2
    step = 0
    for run in range(a.runs):
        for kind, binary in binaries:
            step += 1
            print(f"[{step}/{steps}] lease-grant, run {run + 1}, {kind}", file=sys.stderr,
                  flush=True)
            server = cl.Server(kind, binary).start()
            try:
                r = grant(a, server, os.path.join(tmp, f"grant-{kind}-{run}.json"))
            finally:
                server.stop()
            print(f"    {r['per_s']:,.0f} grants/s, p99 {r['p99_ms']:.1f} ms", file=sys.stderr)
            grants[kind].append(r)
    for kind, binary in binaries:
        step += 1
        print(f"[{step}/{steps}] lease-expiry of {a.leases} leases, {kind}", file=sys.stderr,
              flush=True)
        server = cl.Server(kind, binary).start()
        try:
            expiries[kind] = expiry(a, kind, server, os.path.join(tmp, f"expiry-{kind}.json"))
        finally:
            server.stop()
        e = expiries[kind]
        print(f"    {e['revocations_per_s']:,.0f} revocations/s; puts p99 "
              f"{e['storm_put_p99_ms']:.1f} ms", file=sys.stderr)
    summary = {"nproc": os.cpu_count(), "runs": a.runs, "leases": a.leases,
               "grant": {k: {"median_per_s": statistics.median(r["per_s"] for r in v),
                             "median_p99_ms": statistics.median(r["p99_ms"] for r in v),
                             "runs": v} for k, v in grants.items()},
               "expiry": expiries}
    path = os.path.join(a.out, "lease_bench.json")
    with open(path, "w") as f:
        json.dump(summary, f, indent=1)
    g, e = summary["grant"], expiries
    print("| figure | etcd | Keel | Keel/etcd |")
    print("|---|---|---|---|")
    print(f"| lease grants/s, 100 clients (median of {a.runs}) | {g['etcd']['median_per_s']:,.0f}"
          f" | {g['keel']['median_per_s']:,.0f} | "
          f"{g['keel']['median_per_s'] / g['etcd']['median_per_s']:.2f} |")
    print(f"| grant p99 ms | {g['etcd']['median_p99_ms']:.1f} | {g['keel']['median_p99_ms']:.1f}"
          f" | |")
    print(f"| revocations/s, {a.leases:,} due together | {e['etcd']['revocations_per_s']:,.0f} | "
          f"{e['keel']['revocations_per_s']:,.0f} | "
          f"{e['keel']['revocations_per_s'] / e['etcd']['revocations_per_s']:.1f} |")
    print(f"| first to last deletion, s | {e['etcd']['storm_s']:.1f} | {e['keel']['storm_s']:.2f}"
          f" | |")
    for k, label in (("storm_put_p50_ms", "put p50 during the storm, ms"),
                     ("storm_put_p99_ms", "put p99 during the storm, ms"),
                     ("storm_put_max_ms", "put max during the storm, ms"),
                     ("baseline_put_p99_ms", "put p99 before it (baseline), ms")):
        print(f"| {label} | {e['etcd'][k]:.2f} | {e['keel'][k]:.2f} | |")
    print(f"(JSON: {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
