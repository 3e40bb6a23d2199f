#!/usr/bin/python3
"""Basic operations through Debian's python3-etcd3 client (gRPC, no etcdctl in the path),
asserting results. Runs against keel (--keel PATH) or real etcd (--server etcd), so the
assertions themselves are checked against the reference.

Must be run with /usr/bin/python3: the python3 first on PATH may not see Debian's modules.
"""

import argparse
import os
import sys
import time
import traceback

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_lib as cl  # noqa: E402

try:
    import etcd3
    import grpc
except ImportError as e:  # pragma: no cover
    print(f"SKIP: python3-etcd3 not importable with {sys.executable}: {e}", file=sys.stderr)
    sys.exit(cl.SKIP)


class Checker:
    def __init__(self):
        self.failures = []
        self.passed = 0

    def eq(self, what, got, want):
        if got == want:
            self.passed += 1
        else:
            self.failures.append(f"{what}: got {got!r}, want {want!r}")

    def true(self, what, cond):
        self.eq(what, bool(cond), True)

    def grpc_error(self, what, fn, code, details):
        try:
            fn()
        except grpc.RpcError as e:
            self.eq(f"{what} (code)", e.code(), code)
            self.eq(f"{what} (message)", e.details(), details)
            return
        except Exception as e:  # etcd3 translates some codes into its own exceptions
            self.failures.append(f"{what}: raised {type(e).__name__}: {e}, want gRPC {code}")
            return
        self.failures.append(f"{what}: no error, want {code} {details!r}")


def run(c, k):
    tx = c.transactions
    rev0 = c.get_response("nothing").header.revision
    k.eq("fresh store revision", rev0, 1)

    # put / get
    r = c.put("foo", "bar")
    k.eq("put revision", r.header.revision, 2)
    k.true("put header cluster_id", r.header.cluster_id != 0)
    k.true("put header member_id", r.header.member_id != 0)
    k.true("put header raft_term", r.header.raft_term >= 1)
    v, meta = c.get("foo")
    k.eq("get value", v, b"bar")
    k.eq("get key", meta.key, b"foo")
    k.eq("get version", meta.version, 1)
    k.eq("get create_revision", meta.create_revision, 2)
    k.eq("get mod_revision", meta.mod_revision, 2)
    k.eq("get lease", meta.lease_id, 0)
    k.eq("get missing", c.get("missing"), (None, None))
    r = c.put("foo", "baz", prev_kv=True)
    k.eq("put prev_kv value", r.prev_kv.value, b"bar")
    k.eq("put prev_kv version", r.prev_kv.version, 1)
    v, meta = c.get("foo", serializable=True)
    k.eq("serializable get", (v, meta.version, meta.mod_revision), (b"baz", 2, 3))
    c.put(b"bin\x00\xff", b"\x00\x01\xfe")
    v, meta = c.get(b"bin\x00\xff")
    k.eq("binary key/value", (v, meta.key), (b"\x00\x01\xfe", b"bin\x00\xff"))

    # prefixes and ranges
    for i, val in enumerate(["c", "a", "b"]):
        c.put(f"/p/{i}", val)
    got = [(m.key, v) for v, m in c.get_prefix("/p/")]
    k.eq("get_prefix", got, [(b"/p/0", b"c"), (b"/p/1", b"a"), (b"/p/2", b"b")])
    got = [m.key for v, m in c.get_prefix("/p/", sort_order="descend")]
    k.eq("get_prefix descend", got, [b"/p/2", b"/p/1", b"/p/0"])
    got = [v for v, m in c.get_prefix("/p/", sort_order="ascend", sort_target="value")]
    k.eq("get_prefix by value", got, [b"a", b"b", b"c"])
    got = [m.key for v, m in c.get_range("/p/0", "/p/2")]
    k.eq("get_range", got, [b"/p/0", b"/p/1"])
    # python3-etcd3 0.12 drops limit and count_only: send those RangeRequests directly.
    def raw_range(**kw):
        return c.kvstub.Range(etcd3.etcdrpc.RangeRequest(**kw), c.timeout)
    resp = raw_range(key=b"/p/", range_end=b"/p0", limit=2)
    k.eq("limit: kvs", len(resp.kvs), 2)
    k.eq("limit: more", resp.more, True)
    k.eq("limit: count", resp.count, 3)
    resp = c.get_prefix_response("/p/", keys_only=True)
    k.eq("keys_only values", [kv.value for kv in resp.kvs], [b"", b"", b""])
    resp = raw_range(key=b"/p/", range_end=b"/p0", count_only=True)
    k.eq("count_only", (len(resp.kvs), resp.count), (0, 3))
    all_keys = [m.key for v, m in c.get_all()]
    k.eq("get_all", all_keys, [b"/p/0", b"/p/1", b"/p/2", b"bin\x00\xff", b"foo"])

    # delete
    k.eq("delete existing", c.delete("foo"), True)
    k.eq("delete missing", c.delete("foo"), False)
    k.eq("get deleted", c.get("foo"), (None, None))
    r = c.delete("/p/0", prev_kv=True, return_response=True)
    k.eq("delete prev_kv", (r.deleted, r.prev_kvs[0].value), (1, b"c"))
    r = c.delete_prefix("/p/")
    k.eq("delete_prefix deleted", r.deleted, 2)
    k.eq("prefix gone", list(c.get_prefix("/p/")), [])
    c.put("foo", "again")
    _, meta = c.get("foo")
    k.eq("re-created version", meta.version, 1)
    k.true("re-created create_revision is new", meta.create_revision > 3)

    # replace / put_if_not_exists / transaction
    k.eq("replace matching", c.replace("foo", "again", "new"), True)
    k.eq("replace value", c.get("foo")[0], b"new")
    k.eq("replace not matching", c.replace("foo", "again", "newer"), False)
    k.eq("value unchanged", c.get("foo")[0], b"new")
    k.eq("put_if_not_exists new", c.put_if_not_exists("fresh", "1"), True)
    k.eq("put_if_not_exists existing", c.put_if_not_exists("fresh", "2"), False)
    k.eq("fresh value", c.get("fresh")[0], b"1")

    rev = c.get_response("foo").header.revision
    ok, responses = c.transaction(
        compare=[tx.value("foo") == "new", tx.version("foo") > 0, tx.create("nosuch") == 0,
                 tx.mod("foo") < rev + 1],
        success=[tx.put("t1", "a"), tx.get("foo"), tx.delete("fresh")],
        failure=[tx.put("t1", "never")])
    k.eq("txn succeeded", ok, True)
    k.eq("txn responses", len(responses), 3)
    k.eq("txn get result", [kv[0] for kv in responses[1]], [b"new"])
    k.eq("txn delete result", responses[2].response_delete_range.deleted, 1)
    k.eq("txn one revision", c.get_response("t1").header.revision, rev + 1)
    ok, responses = c.transaction(compare=[tx.value("foo") != "new"],
                                  success=[tx.put("t1", "never")],
                                  failure=[tx.put("t2", "b"), tx.get("t1")])
    k.eq("txn failure branch", ok, False)
    k.eq("txn failure get", [kv[0] for kv in responses[1]], [b"a"])
    k.eq("t1 untouched", c.get("t1")[0], b"a")
    k.eq("t2 written", c.get("t2")[0], b"b")
    # Compare over a range (Compare.range_end, field 64): every key in [t1, t3) has version 1.
    ok, _ = c.transaction(compare=[etcd3.transactions.Version("t1", "t3") == 1],
                          success=[], failure=[])
    k.eq("txn compare range_end", ok, True)
    # Nested txn (3.3).
    ok, responses = c.transaction(compare=[], success=[
        tx.txn(compare=[tx.value("t1") == "a"], success=[tx.put("t3", "c")], failure=[])],
        failure=[])
    k.eq("nested txn", (ok, c.get("t3")[0]), (True, b"c"))

    # errors: clients match on code and message text
    k.grpc_error("empty key put", lambda: c.put("", "v"), grpc.StatusCode.INVALID_ARGUMENT,
                 "etcdserver: key is not provided")
    k.grpc_error("unknown lease", lambda: c.put("k", "v", lease=1234),
                 grpc.StatusCode.NOT_FOUND, "etcdserver: requested lease not found")
    k.grpc_error("too large", lambda: c.put("k", b"x" * (1600 * 1024)),
                 grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: request is too large")
    k.grpc_error("duplicate key in txn",
                 lambda: c.transaction(compare=[], success=[tx.put("d", "1"), tx.put("d", "2")],
                                       failure=[]),
                 grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request")
    k.grpc_error("too many txn ops",
                 lambda: c.transaction(compare=[], success=[tx.put(f"m{i}", "v") for i in range(129)],
                                       failure=[]),
                 grpc.StatusCode.INVALID_ARGUMENT,
                 "etcdserver: too many operations in txn request")

    # compaction
    cur = c.put("cpt", "1").header.revision
    c.put("cpt", "2")
    c.compact(cur + 1)
    k.grpc_error("read at compacted revision", lambda: raw_range(key=b"cpt", revision=cur),
                 grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted")
    k.grpc_error("read at future revision",
                 lambda: raw_range(key=b"cpt", revision=cur + 100),
                 grpc.StatusCode.OUT_OF_RANGE,
                 "etcdserver: mvcc: required revision is a future revision")
    k.grpc_error("compact again", lambda: c.compact(cur), grpc.StatusCode.OUT_OF_RANGE,
                 "etcdserver: mvcc: required revision has been compacted")
    r = raw_range(key=b"cpt", revision=cur + 1)
    k.eq("read at compact revision", [kv.value for kv in r.kvs], [b"2"])

    # status and members
    st = c.status()
    k.eq("status version", st.version, "3.4.23")
    k.true("status db_size", st.db_size > 0)
    k.true("status leader found among members", st.leader is not None)
    k.true("status raft_index", st.raft_index > 0)
    k.true("status raft_term", st.raft_term >= 1)
    members = list(c.members)
    k.eq("one member", len(members), 1)
    if members:
        m = members[0]
        k.eq("member name", m.name, "default")
        k.eq("leader is the member", st.leader.id if st.leader else None, m.id)
    alarms = list(c.list_alarms())
    k.eq("no alarms", alarms, [])
    # Maintenance.HashKV (python3-etcd3's hash() calls Maintenance.Hash, which keel does not
    # implement; HashKV is the one clients and the corruption check use).
    h = c.maintenancestub.HashKV(etcd3.etcdrpc.HashKVRequest(revision=0), c.timeout)
    k.true("hashkv hash", h.hash != 0)
    k.eq("hashkv compact_revision", h.compact_revision, cur + 1)
    k.eq("hashkv header revision", h.header.revision, c.get_response("x").header.revision)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", choices=["keel", "etcd"], default="keel")
    ap.add_argument("--keel")
    ap.add_argument("--etcd", default="etcd")
    opts = ap.parse_args()
    cl.require_tool("etcdctl")
    binary = opts.keel if opts.server == "keel" else cl.require_tool(opts.etcd)
    if not binary:
        ap.error("--keel PATH is required for --server keel")
    t0 = time.monotonic()
    srv = cl.Server(opts.server, binary).start()
    c = etcd3.client(host="127.0.0.1", port=srv.client_port, timeout=10)
    k = Checker()
    try:
        run(c, k)
    except Exception:
        k.failures.append("unexpected exception:\n" + traceback.format_exc())
    finally:
        c.close()
        srv.stop()
    for f in k.failures:
        print("FAIL:", f)
    print(f"python3-etcd3 against {opts.server}: {k.passed} checks passed, {len(k.failures)} failed, "
          f"{time.monotonic() - t0:.1f}s")
    return 1 if k.failures else 0


if __name__ == "__main__":
    sys.exit(main())
