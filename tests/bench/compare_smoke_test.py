#!/usr/bin/env python3
"""bench/compare/compare.py end to end, briefly: one run of two cases (one member, and three)
against real etcd and Keel, and the JSON and table it writes, with CPU and thread switches per
request. It checks the tool works, not how fast either server is.

Usage: compare_smoke_test.py --keel PATH --keel-bench PATH
"""

import argparse
import json
import os
import signal
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "compat"))
import compat_lib  # noqa: E402

CASES = ("put, 1 member, 1 client", "range s, one key, 3 members, 1000 clients")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    ap.add_argument("--keel-bench", required=True)
    a = ap.parse_args()
    etcd = compat_lib.require_tool("etcd")
    compat_lib.require_tool("etcdctl")
    out = compat_lib.make_tempdir("keel-compare-smoke-")
    cmd = [sys.executable, os.path.join(here, "..", "..", "bench", "compare", "compare.py"),
           "--keel", a.keel, "--bench", a.keel_bench, "--etcd", etcd, "--runs", "1",
           "--duration", "1s", "--skip-footprint", "--out", out]
    for case in CASES:
        cmd += ["--only", case]
    # Its own process group: if it hangs, the servers it started go with it.
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        stdout, stderr = p.communicate()
        raise AssertionError(f"compare.py took over 240 s\nstdout:\n{stdout}\nstderr:\n{stderr}")
    assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}"

    with open(os.path.join(out, "compare.json")) as f:
        j = json.load(f)
    assert j["runs"] == 1 and j["machine"]["cores"] >= 1, j["machine"]
    assert j["machine"]["fdatasync_per_s"] > 0, j["machine"]
    assert [c["case"] for c in j["cases"]] == list(CASES), [c["case"] for c in j["cases"]]
    for c in j["cases"]:
        for kind in ("etcd", "keel"):
            row = c[kind]
            assert len(row["runs"]) == 1, (c["case"], kind)
            assert row["per_s"] > 0 and row["p50_ms"] > 0, (c["case"], kind, row)
            assert row["server_cpu_us"] > 0 and row["bench_cpu_us"] > 0, (c["case"], kind, row)
            assert row["server_switches"] > 0, (c["case"], kind, row)
            by_thread = row["runs"][0]["server_switches_by_thread"]
            assert by_thread, (c["case"], kind, row["runs"][0])
            if kind == "keel" and c["case"].startswith("put"):
                # Keel names its threads; a lone client's put wakes the raft loop, which runs on
                # the peer transport's thread (serializable reads stay on the RPC loop, so only
                # the put is checked).
                assert by_thread.get("keel-raft-io", 0) > 0.5, by_thread
        assert c["ratio"] > 0, c

    with open(os.path.join(out, "compare.md")) as f:
        md = f.read()
    for needle in ("| case | etcd req/s |", "thread switches per request", *CASES):
        assert needle in md, f"{needle!r} missing from compare.md:\n{md}"
    print("compare smoke: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
