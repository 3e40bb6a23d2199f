#!/usr/bin/python3
"""Slow consumer, end to end: a Watch stream whose client does not read while 2,000 puts of
10 KB (with prev_kv, ~40 MB of events) are made through another connection. gRPC flow control
stops the server's writes, the stream's queue in the hub fills, its watcher falls back to
catch-up from history. Checks: every put still succeeds promptly (a slow stream never blocks
apply), keel's memory does not grow by the size of the backlog, and once the client reads it
gets every event, in order, with the right prev_kv. Run with /usr/bin/python3.
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
import compat_lib as cl  # noqa: E402
from grpc_watch_diff_test import Stream, create, grpc, pb  # noqa: E402

PUTS = 2000
VALUE_BYTES = 10_000
KEYS = 50


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def put_all(kv):
    t0 = time.monotonic()
    for i in range(PUTS):
        value = (b"%06d" % i) * (VALUE_BYTES // 6)
        kv.Put(pb.PutRequest(key=b"s/%02d" % (i % KEYS), value=value), timeout=10)
    return time.monotonic() - t0


def control_growth_mb(binary):
    """keel's RSS growth for the same puts with no watch: RocksDB memtables and caches."""
    s = cl.Server("keel", binary).start()
    channel = grpc.insecure_channel(s.endpoint)
    try:
        before = rss_kb(s.proc.pid)
        put_all(pb.KVStub(channel))
        return (rss_kb(s.proc.pid) - before) / 1024
    finally:
        channel.close()
        s.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    a = ap.parse_args()
    cl.require_tool("etcdctl")
    control_mb = control_growth_mb(a.keel)
    s = cl.Server("keel", a.keel).start()
    watch_channel = grpc.insecure_channel(s.endpoint)
    put_channel = grpc.insecure_channel(s.endpoint)  # its own connection: no shared window
    kv = pb.KVStub(put_channel)
    try:
        w = Stream(watch_channel)
        created = w.send(create(b"s/", b"s0", prev_kv=True), 1)[0]
        assert created.created, created
        start = created.header.revision + 1
        rss_before = rss_kb(s.proc.pid)
        put_seconds = put_all(kv)
        growth_mb = (rss_kb(s.proc.pid) - rss_before) / 1024
        backlog_mb = 2 * PUTS * VALUE_BYTES / (1 << 20)
        print(f"{PUTS} puts in {put_seconds:.1f} s while the watcher did not read; keel RSS "
              f"grew {growth_mb:.0f} MB ({control_mb:.0f} MB without a watch; backlog "
              f"{backlog_mb:.0f} MB)")
        events = []
        deadline = time.monotonic() + 60
        while len(events) < PUTS and time.monotonic() < deadline:
            r = next(w.responses)
            assert not r.canceled, r
            events.extend(r.events)
        w.close()
        assert len(events) == PUTS, f"got {len(events)} of {PUTS} events"
        last = {}
        for i, e in enumerate(events):
            key = b"s/%02d" % (i % KEYS)
            value = (b"%06d" % i) * (VALUE_BYTES // 6)
            assert e.kv.key == key and e.kv.value == value, f"event {i} wrong: {e.kv.key}"
            assert e.kv.mod_revision == start + i, f"event {i} at {e.kv.mod_revision}"
            if key in last:
                assert e.prev_kv.value == last[key], f"event {i}: wrong prev_kv"
            else:
                assert not e.HasField("prev_kv"), f"event {i}: unexpected prev_kv"
            last[key] = value
        # The backlog must not sit in memory: the hub holds 4 MiB per stream (plus one
        # catch-up chunk), gRPC its flow-control window; allow that and some noise.
        assert growth_mb < control_mb + backlog_mb / 2, (
            f"keel RSS grew {growth_mb:.0f} MB, {control_mb:.0f} MB without a watch")
        print(f"slow client: all {PUTS} events in order with prev_kv")
        return 0
    finally:
        watch_channel.close()
        put_channel.close()
        s.stop()


if __name__ == "__main__":
    sys.exit(main())
