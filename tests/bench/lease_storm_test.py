#!/usr/bin/env python3
"""100,000 leases expiring together on one keel member while an unrelated put load runs
(keel-bench lease-expiry --expire-together): every leased key is deleted, each deletion once
and none before its lease's TTL since the grant was sent, and the puts are not stalled: none
fails and none waits longer than a second during the storm. The revocation rate and the put
latencies are printed (figures, not assertions: speed is measured in bench/, see
bench/RESULTS.md).

Usage: lease_storm_test.py --keel PATH --keel-bench PATH [--leases N]
"""

import argparse
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
import compat_lib as cl  # noqa: E402

# Longer than the setup takes on the 2-core CI machine (about 18 s here), so every lease
# falls due within the same second.
TTL_S = 40
STALL_MS = 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    ap.add_argument("--keel-bench", required=True)
    ap.add_argument("--leases", type=int, default=100000)
    a = ap.parse_args()
    server = cl.Server("keel", a.keel)
    server.start()
    tmp = cl.make_tempdir("keel-lease-storm-")
    out_json = os.path.join(tmp, "storm.json")
    cmd = [a.keel_bench, "lease-expiry", "--endpoints", server.endpoint,
           "--leases", str(a.leases), "--lease-ttl", str(TTL_S), "--expire-together",
           "--baseline", "2s", "--expiry-timeout", "120s", "--json", out_json]
    r = subprocess.run(cmd, capture_output=True, timeout=300)
    print(r.stdout.decode(errors="replace"))
    server.stop()
    if r.returncode != 0:
        print(r.stderr.decode(errors="replace"))
        print(f"FAIL keel-bench exited {r.returncode}")
        return 1
    with open(out_json) as f:
        res = json.load(f)["result"]
    exp, setup, writers = res["expiry"], res["setup"], res["writers"]
    storm = writers["windows"]["storm"]
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    check(setup["leases_granted"] == a.leases and setup["keys_attached"] == a.leases,
          f"{a.leases} leases granted, a key attached to each")
    check(setup["granted_ttl_s_min"] > 1,
          f"setup finished before the first lease was due (smallest TTL asked "
          f"{setup['granted_ttl_s_min']} s)")
    check(exp["deleted"] == a.leases and exp["missing"] == 0 and exp["duplicates"] == 0 and
          exp["unexpected"] == 0, f"every leased key deleted once ({exp['deleted']})")
    # Lateness is measured from the grant's answer; a deletion may precede it by at most the
    # grant's round trip (the server starts the TTL when it applies the grant).
    slack_ms = setup["latency_ms"]["max"]
    check(exp["lateness_ms"]["min"] >= -slack_ms,
          f"no lease expired before its TTL since the grant was sent "
          f"(earliest {exp['lateness_ms']['min']:.1f} ms vs grant round trip {slack_ms:.1f} ms)")
    check(writers["error_count"] == 0, "no put failed")
    check(storm["requests"] > 0 and storm["latency_ms"]["max"] < STALL_MS,
          f"puts kept going during the storm: {storm['requests']} puts, max "
          f"{storm['latency_ms']['max']:.1f} ms (limit {STALL_MS:.0f} ms)")
    print(f"figures: {exp['per_s']:.0f} revocations/s over {exp['storm_s']:.2f} s; puts during "
          f"the storm p50 {storm['latency_ms']['p50']:.2f} ms, p99 {storm['latency_ms']['p99']:.2f}"
          f" ms (baseline p99 {writers['windows']['baseline']['latency_ms']['p99']:.2f} ms)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
