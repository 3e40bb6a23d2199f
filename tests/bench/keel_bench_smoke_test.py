#!/usr/bin/env python3
"""keel-bench against a running keel: every command for a moment, its --json file, and the
watch check (every event delivered, in order), and the lease commands (keepalive, grant,
a small mass expiry).

Usage: keel_bench_smoke_test.py --keel PATH --keel-bench PATH
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
import compat_lib  # noqa: E402


def run(bench, endpoint, args, tmp, expect_rc=0):
    out_json = os.path.join(tmp, "result.json")
    if os.path.exists(out_json):
        os.remove(out_json)
    cmd = [bench] + args + ["--endpoints", endpoint, "--json", out_json]
    r = subprocess.run(cmd, capture_output=True, timeout=60)
    if isinstance(expect_rc, tuple) and r.returncode in expect_rc:
        expect_rc = r.returncode
    if r.returncode != expect_rc:
        raise AssertionError(f"{' '.join(cmd)}: exit {r.returncode}, want {expect_rc}\n"
                             f"stdout:\n{r.stdout.decode(errors='replace')}\n"
                             f"stderr:\n{r.stderr.decode(errors='replace')}")
    if expect_rc != 0:
        return r, None
    with open(out_json) as f:
        return r, json.load(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    ap.add_argument("--keel-bench", required=True)
    a = ap.parse_args()
    compat_lib.require_tool("etcdctl")
    server = compat_lib.Server("keel", a.keel).start()
    tmp = compat_lib.make_tempdir("keel-bench-smoke-")
    ep = server.endpoint

    for args in (["put", "--total", "300", "--clients", "8", "--key-space-size", "100"],
                 ["put", "--duration", "1s", "--rate", "200", "--clients", "4"],
                 ["range", "--total", "300", "--consistency", "l", "--key-space-size", "100"],
                 ["range", "--total", "300", "--consistency", "s"],
                 ["txn-put", "--total", "200", "--txn-ops", "4", "--key-space-size", "1000"],
                 ["txn-update", "--total", "200", "--clients", "4", "--key-space-size", "10"]):
        r, j = run(a.keel_bench, ep, args, tmp)
        text = r.stdout.decode()
        assert "Requests/sec:" in text and "99.9% in" in text, text
        res = j["result"]
        assert j["command"] == args[0], j
        assert res["error_count"] == 0, res["errors"]
        assert res["count"] > 0 and res["latency_ms"]["p50"] > 0, res
        if "--total" in args:
            assert res["count"] == int(args[args.index("--total") + 1]), res
        if "--rate" in args:
            assert res["per_s"] < 200 * 1.2, res  # paced
    print("unary commands: ok")

    r, j = run(a.keel_bench, ep, ["watch", "--watchers", "200", "--streams", "4",
                                  "--watched-key-total", "2", "--put-rate", "200",
                                  "--total", "100"], tmp)
    ev = j["result"]["events"]
    assert ev["received"] == 200 / 2 * 100 and ev["missing"] == 0, ev
    assert ev["out_of_order"] == 0 and j["result"]["check_passed"], ev
    assert j["result"]["delivery"]["latency_ms"]["p99"] > 0, j["result"]["delivery"]
    r, j = run(a.keel_bench, ep, ["watch", "--watchers", "50", "--streams", "5",
                                  "--watched-key-total", "5", "--watch-prefix",
                                  "--put-rate", "0", "--total", "50"], tmp)
    assert j["result"]["events"]["received"] == 50 * 50, j["result"]["events"]
    print("watch: ok")

    r, j = run(a.keel_bench, ep, ["watch-get", "--watchers", "100", "--streams", "2",
                                  "--events", "4", "--clients", "2"], tmp)
    assert j["result"]["watch_complete"] and j["result"]["watch_events_received"] == 400, j
    print("watch-get: ok")

    r, j = run(a.keel_bench, ep, ["lease-keepalive", "--total", "10"], tmp)
    assert j["result"]["count"] == 10 and j["result"]["revoked"] == 1, j["result"]
    print("lease-keepalive: ok")

    r, j = run(a.keel_bench, ep, ["lease-grant", "--total", "50", "--clients", "4"], tmp)
    res = j["result"]
    assert res["count"] == 50 and res["leases_granted"] == 50, res
    assert res["revoke"]["count"] == 50, res["revoke"]
    print("lease-grant: ok")

    r, j = run(a.keel_bench, ep, ["lease-expiry", "--leases", "50", "--lease-ttl", "2",
                                  "--setup-clients", "8", "--baseline", "1s",
                                  "--expiry-timeout", "30s"], tmp)
    res = j["result"]
    assert res["completed"] and res["setup"]["keys_attached"] == 50, res
    assert res["expiry"]["deleted"] == 50 and res["expiry"]["missing"] == 0, res["expiry"]
    assert res["writers"]["windows"]["baseline"]["requests"] > 0, res["writers"]
    print("lease-expiry: ok")

    r, _ = run(a.keel_bench, ep, ["put", "--bogus"], tmp, expect_rc=2)
    r, _ = run(a.keel_bench, "127.0.0.1:1", ["put", "--dial-timeout", "1s"], tmp, expect_rc=1)
    r, j = run(a.keel_bench, ep, ["put", "--total", "10", "--target-leader"], tmp)
    assert j["config"]["endpoints"] == [ep], j["config"]
    print("errors and --target-leader: ok")


if __name__ == "__main__":
    main()
