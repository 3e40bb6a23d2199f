#!/usr/bin/python3
"""Crash test: every acknowledged put survives kill -9.

  1. Start a fresh server; N sequential acknowledged puts; kill -9; restart on the same data
     dir; every acknowledged put must be readable with its value and its mod_revision.
  2. Concurrent writers (several clients, new keys and overwrites of phase-1 keys) and kill -9
     in the middle of the load; restart; again every acknowledged write must be there. A write
     that was in flight when the server died may or may not have happened, but if it did, it
     holds exactly the value that was sent; keys never sent must not exist.
  3. Restart once more after a clean SIGTERM and check everything again, plus that revisions
     kept increasing and that writes still work.

Uses python3-etcd3 (run with /usr/bin/python3); --server etcd runs the same test against real
etcd to check the test itself.
"""

import argparse
import faulthandler
import gc
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_lib as cl  # noqa: E402

try:
    import etcd3
    import grpc
except ImportError as e:  # pragma: no cover
    print(f"SKIP: python3-etcd3 not importable with {sys.executable}: {e}", file=sys.stderr)
    sys.exit(cl.SKIP)


class Ledger:
    """What the clients know: acknowledged writes (key -> value, revision) and in-flight ones."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}        # key -> (value, header revision of the ack)
        self.uncertain = {}    # key -> set of values sent without an answer
        self.sent_keys = set()
        self.deleted = set()   # keys whose acknowledged delete is their latest acked write
        self.max_rev = 0
        self.compacted = None  # (compact revision, key, value of key at that revision)
        self.acks = 0

    def sending(self, key, value):
        with self.lock:
            self.sent_keys.add(key)
            self.uncertain.setdefault(key, set()).add(value)

    def acked_put(self, key, value, rev):
        with self.lock:
            self.uncertain[key].discard(value)
            if not self.uncertain[key]:
                del self.uncertain[key]
            prev = self.acked.get(key)
            if prev is None or prev[1] < rev:
                self.acked[key] = (value, rev)
                self.deleted.discard(key)
            self.max_rev = max(self.max_rev, rev)
            self.acks += 1


def client(srv):
    return etcd3.client(host="127.0.0.1", port=srv.client_port, timeout=10)


def writer(srv, ledger, keys_values, stop, errors):
    c = client(srv)
    try:
        for key, value in keys_values:
            if stop.is_set():
                return
            ledger.sending(key, value)
            try:
                r = c.put(key, value)
            except Exception as e:  # the server died: this write stays uncertain
                errors.append(f"{type(e).__name__}")
                return
            ledger.acked_put(key, value, r.header.revision)
    finally:
        c.close()


def check_compaction(srv, compacted):
    """The acknowledged compaction survived: below it reads fail, at it they work."""
    rev, key, value = compacted
    problems = []
    c = client(srv)
    try:
        try:
            c.kvstub.Range(etcd3.etcdrpc.RangeRequest(key=key, revision=rev - 1), c.timeout)
            problems.append(f"read at revision {rev - 1} below the compaction at {rev} succeeded")
        except grpc.RpcError as e:
            if e.details() != "etcdserver: mvcc: required revision has been compacted":
                problems.append(f"read below the compaction: {e.code()} {e.details()!r}")
        r = c.kvstub.Range(etcd3.etcdrpc.RangeRequest(key=key, revision=rev), c.timeout)
        if [kv.value for kv in r.kvs] != [value]:
            problems.append(f"read at the compaction revision {rev}: {list(r.kvs)!r}, want {value!r}")
    finally:
        c.close()
    return problems


def verify(srv, ledger, phase, prefixes):
    """Every acked write readable with its value; in-flight ones either absent/old or as sent."""
    problems = []
    c = client(srv)
    try:
        found = {}
        for p in prefixes:
            for value, meta in c.get_prefix(p):
                found[meta.key] = (value, meta.mod_revision)
        head = c.get_response("none").header.revision
    finally:
        c.close()
    for key, (value, rev) in ledger.acked.items():
        got = found.get(key)
        maybe = ledger.uncertain.get(key, set())
        if got is None:
            problems.append(f"acked key {key!r} missing")
        elif got[0] == value:
            if got[1] != rev:
                problems.append(f"{key!r}: mod_revision {got[1]}, acked at revision {rev}")
        elif got[0] not in maybe:
            problems.append(f"{key!r}: value {got[0]!r}, acked {value!r}")
    for key, (value, _) in found.items():
        if key in ledger.deleted and value not in ledger.uncertain.get(key, set()):
            problems.append(f"key {key!r} was deleted (acknowledged) but reads {value!r}")
        elif key not in ledger.sent_keys:
            problems.append(f"key {key!r} was never written")
        elif key not in ledger.acked and value not in ledger.uncertain.get(key, set()):
            problems.append(f"unacked key {key!r} has value {value!r} that was never sent")
    if head < ledger.max_rev:
        problems.append(f"revision went back: store at {head}, an ack said {ledger.max_rev}")
    if ledger.compacted:
        problems += check_compaction(srv, ledger.compacted)
    print(f"[{phase}] {len(ledger.acked)} acked keys verified, {len(ledger.uncertain)} in flight "
          f"at the kill, store revision {head}: {'OK' if not problems else 'FAILED'}")
    return problems


def main():
    faulthandler.enable()  # a crash of the client library prints where it happened
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", choices=["keel", "etcd"], default="keel")
    ap.add_argument("--keel")
    ap.add_argument("--etcd", default="etcd")
    ap.add_argument("--puts", type=int, default=3000, help="sequential puts in phase 1")
    ap.add_argument("--writers", type=int, default=4, help="concurrent clients in phase 2")
    ap.add_argument("--kill-after", type=int, default=2000,
                    help="phase 2: kill -9 once this many writes were acknowledged")
    ap.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    opts = ap.parse_args()
    cl.require_tool("etcdctl")
    binary = opts.keel if opts.server == "keel" else cl.require_tool(opts.etcd)
    if not binary:
        ap.error("--keel PATH is required for --server keel")
    cl.keep_tempdirs(opts.keep)

    t0 = time.monotonic()
    problems = []
    srv = cl.Server(opts.server, binary).start()
    ledger = Ledger()
    token = f"{os.getpid()}-{int(time.time())}"

    # Phase 1: sequential acknowledged puts, then kill -9 with no load running.
    t = time.monotonic()
    errors = []
    writer(srv, ledger, [(f"crash/a/{i:06d}".encode(), f"a{i}-{token}".encode())
                         for i in range(opts.puts)], threading.Event(), errors)
    if errors or ledger.acks != opts.puts:
        problems.append(f"phase 1: {ledger.acks}/{opts.puts} puts acknowledged; errors {errors[:3]}")
    # An acknowledged range delete and compaction, immediately followed by the kill.
    c = client(srv)
    try:
        r = c.delete_prefix(b"crash/a/0001")   # keys 000100..000199
        with ledger.lock:
            for i in range(100, 200):
                key = f"crash/a/{i:06d}".encode()
                ledger.acked.pop(key, None)
                ledger.deleted.add(key)
            ledger.max_rev = max(ledger.max_rev, r.header.revision)
        if r.deleted != 100:
            problems.append(f"phase 1: delete_prefix deleted {r.deleted}, want 100")
        compact_rev = opts.puts // 2
        c.compact(compact_rev)
        key = f"crash/a/{compact_rev - 2:06d}".encode()   # written at revision compact_rev
        ledger.compacted = (compact_rev, key, ledger.acked[key][0])
    finally:
        c.close()
    print(f"[phase 1] {ledger.acks} sequential puts in {time.monotonic() - t:.1f}s, delete of 100 "
          f"keys, compaction at {compact_rev}; kill -9")
    srv.kill()
    srv.start()
    problems += verify(srv, ledger, "phase 1 after kill -9", [b"crash/"])

    # Phase 2: concurrent writers; kill -9 in the middle of the load.
    plans = []
    for w in range(opts.writers):
        plan = []
        for i in range(opts.puts):
            if i % 4 == 3:   # overwrite a phase-1 key (each writer its own keys)
                j = (i * opts.writers + w) % opts.puts
                plan.append((f"crash/a/{j:06d}".encode(), f"b{w}-{i}-{token}".encode()))
            else:
                plan.append((f"crash/b/{w}/{i:06d}".encode(), f"b{w}-{i}-{token}".encode()))
        plans.append(plan)
    stop = threading.Event()
    errors = []
    start_acks = ledger.acks
    threads = [threading.Thread(target=writer, args=(srv, ledger, plans[w], stop, errors))
               for w in range(opts.writers)]
    t = time.monotonic()
    for th in threads:
        th.start()
    deadline = time.monotonic() + 60
    while ledger.acks - start_acks < opts.kill_after and any(th.is_alive() for th in threads):
        if time.monotonic() > deadline:
            problems.append("phase 2: load did not reach the kill point within 60s")
            break
        time.sleep(0.005)  # polling the ack counter, bounded by the deadline above
    still_running = sum(th.is_alive() for th in threads)
    srv.kill()
    for th in threads:
        th.join(timeout=30)
        if th.is_alive():
            problems.append("phase 2: a writer did not finish within 30s of the kill")
    stop.set()
    print(f"[phase 2] {ledger.acks - start_acks} concurrent puts acknowledged in "
          f"{time.monotonic() - t:.1f}s; kill -9 with {still_running}/{opts.writers} writers "
          f"running; {len(ledger.uncertain)} writes in flight")
    if still_running == 0:
        problems.append("phase 2: the load finished before the kill (raise --puts)")
    # The restart forks (Popen with preexec_fn). Let the writers' closed gRPC channels be
    # destroyed first: one CI run saw this process (python3-grpcio) die of SIGSEGV right here.
    gc.collect()
    srv.start()
    problems += verify(srv, ledger, "phase 2 after kill -9 mid-load", [b"crash/"])

    # Phase 3: clean stop and restart; writes still work and revisions keep increasing.
    code = srv.stop()
    if opts.server == "keel" and code != 0:
        problems.append(f"phase 3: keel exited with {code} on SIGTERM")
    srv.start()
    problems += verify(srv, ledger, "phase 3 after SIGTERM", [b"crash/"])
    c = client(srv)
    try:
        r = c.put("crash/after", "ok")
        if r.header.revision <= ledger.max_rev:
            problems.append(f"phase 3: new write at revision {r.header.revision} <= {ledger.max_rev}")
        if c.get("crash/after")[0] != b"ok":
            problems.append("phase 3: write after restart not readable")
    finally:
        c.close()
    srv.stop()

    for p in problems[:50]:
        print("FAIL:", p)
    if len(problems) > 50:
        print(f"... and {len(problems) - 50} more")
    print(f"crash test against {opts.server}: {'PASSED' if not problems else 'FAILED'} "
          f"in {time.monotonic() - t0:.1f}s")
    if problems:
        print(f"server log tail:\n{srv.log_tail()}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
