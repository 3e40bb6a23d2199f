#!/usr/bin/python3
"""Differential gRPC test: the same raw etcd API requests (through python3-etcd3's generated
stubs, so fields etcdctl cannot set are reachable: min/max revision filters, count_only, nested
txns, compare range_end, ignore_value/ignore_lease, alarms) against a fresh real etcd and a
fresh keel; the responses must be identical after zeroing cluster id, member id, raft term,
leader, raft index and db size. Run with /usr/bin/python3.

Deliberately left out, because etcd 3.4.23 itself misbehaves: a RangeRequest with an unknown
sort_order (3.4 ignores it; keel, like etcd 3.5, answers "etcdserver: invalid sort option") and
one with an unknown sort_target (etcd 3.4 panics and exits).
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_lib as cl  # noqa: E402

try:
    import etcd3
    import grpc
    from etcd3 import etcdrpc as pb
    from google.protobuf import text_format
except ImportError as e:  # pragma: no cover
    print(f"SKIP: python3-etcd3 not importable with {sys.executable}: {e}", file=sys.stderr)
    sys.exit(cl.SKIP)


def run(kind, binary):
    s = cl.Server(kind, binary).start()
    c = etcd3.client(host="127.0.0.1", port=s.client_port, timeout=10)
    out = []

    def call(name, fn, req):
        try:
            r = fn(req, 10)
            if r.HasField("header"):
                r.header.cluster_id = 0
                r.header.member_id = 0
                r.header.raft_term = 0
            if isinstance(r, pb.StatusResponse):
                r.dbSize = 0
                r.leader = 0
                r.raftIndex = 0
                r.raftTerm = 0
            out.append(f"{name}: OK {text_format.MessageToString(r, as_one_line=True)}")
        except grpc.RpcError as e:
            out.append(f"{name}: ERR {e.code()} {e.details()!r}")

    kv = c.kvstub
    for i, (k, v) in enumerate([(b"a", b"3"), (b"b", b"1"), (b"c", b"2"), (b"a", b"4"), (b"d", b"0")]):
        call(f"put{i}", kv.Put, pb.PutRequest(key=k, value=v))
    R = pb.RangeRequest
    call("sort none target value", kv.Range, R(key=b"a",range_end=b"\0",sort_target=R.VALUE))
    call("sort desc key limit2", kv.Range, R(key=b"a",range_end=b"\0",sort_order=R.DESCEND,limit=2))
    call("min_mod", kv.Range, R(key=b"a",range_end=b"\0",min_mod_revision=4))
    call("max_mod", kv.Range, R(key=b"a",range_end=b"\0",max_mod_revision=3))
    call("min_create", kv.Range, R(key=b"a",range_end=b"\0",min_create_revision=3))
    call("max_create limit", kv.Range, R(key=b"a",range_end=b"\0",max_create_revision=3, limit=1))
    call("count_only limit", kv.Range, R(key=b"a",range_end=b"\0",count_only=True, limit=1))
    call("count_only keys_only", kv.Range, R(key=b"a",range_end=b"\0",count_only=True, keys_only=True))
    call("all \\0 \\0", kv.Range, R(key=b"\0",range_end=b"\0", keys_only=True))
    call("negative limit", kv.Range, R(key=b"a",range_end=b"\0",limit=-1))
    call("empty key with range_end", kv.Range, R(key=b"",range_end=b"b"))
    call("rev 0 explicit", kv.Range, R(key=b"a",revision=0))
    call("rev -3", kv.Range, R(key=b"a",revision=-3))
    P = pb.PutRequest
    call("ignore_value+value", kv.Put, P(key=b"a",value=b"x",ignore_value=True))
    call("ignore_lease+lease", kv.Put, P(key=b"a",lease=5,ignore_lease=True))
    call("ignore_value ok", kv.Put, P(key=b"a",ignore_value=True, prev_kv=True))
    call("ignore_lease ok", kv.Put, P(key=b"a",value=b"y",ignore_lease=True))
    D = pb.DeleteRangeRequest
    call("del nothing prev", kv.DeleteRange, D(key=b"zz",prev_kv=True))
    call("del range prev", kv.DeleteRange, D(key=b"c",range_end=b"e",prev_kv=True))
    T, Cm, RO = pb.TxnRequest, pb.Compare, pb.RequestOp
    call("txn cmp range_end", kv.Txn, T(compare=[Cm(key=b"a",range_end=b"c",target=Cm.VERSION,result=Cm.GREATER,version=0)],success=[RO(request_range=R(key=b"a",range_end=b"c"))]))
    call("txn cmp lease", kv.Txn, T(compare=[Cm(key=b"a",target=Cm.LEASE,result=Cm.EQUAL,lease=0)]))
    call("txn cmp missing mod=0", kv.Txn, T(compare=[Cm(key=b"nope",target=Cm.MOD,result=Cm.EQUAL,mod_revision=0)]))
    call("txn cmp missing value", kv.Txn, T(compare=[Cm(key=b"nope",target=Cm.VALUE,result=Cm.NOT_EQUAL,value=b"x")]))
    call("txn nested", kv.Txn, T(success=[RO(request_txn=T(success=[RO(request_put=P(key=b"n1",value=b"1"))])), RO(request_put=P(key=b"n2",value=b"2"))]))
    call("txn nested dup", kv.Txn, T(success=[RO(request_txn=T(success=[RO(request_put=P(key=b"n1",value=b"1"))])), RO(request_put=P(key=b"n1",value=b"2"))]))
    call("txn nested dup branches", kv.Txn, T(success=[RO(request_txn=T(success=[RO(request_put=P(key=b"n1",value=b"1"))], failure=[RO(request_put=P(key=b"n1",value=b"3"))]))]))
    call("txn put then range same key", kv.Txn, T(success=[RO(request_put=P(key=b"n3",value=b"1")), RO(request_range=R(key=b"n3"))]))
    call("txn delete then put", kv.Txn, T(success=[RO(request_delete_range=D(key=b"n", range_end=b"o")), RO(request_put=P(key=b"n9",value=b"1"))]))
    call("txn range at compact/future", kv.Txn, T(success=[RO(request_range=R(key=b"a", revision=1000))]))
    call("txn empty key put", kv.Txn, T(success=[RO(request_put=P(key=b"",value=b"1"))]))
    call("txn cmp empty key", kv.Txn, T(compare=[Cm(key=b"",target=Cm.VERSION,result=Cm.EQUAL,version=0)]))
    call("txn 128 ops nested", kv.Txn, T(success=[RO(request_txn=T(success=[RO(request_range=R(key=b"a"))]*128))]))
    call("txn 129 compares", kv.Txn, T(compare=[Cm(key=b"a",target=Cm.VERSION,result=Cm.GREATER,version=0)]*129))
    call("compact physical", kv.Compact, pb.CompactionRequest(revision=3, physical=True))
    call("range after compact rev 3", kv.Range, R(key=b"a",range_end=b"\0",revision=3))
    call("status", c.maintenancestub.Status, pb.StatusRequest())
    call("hashkv 2", c.maintenancestub.HashKV, pb.HashKVRequest(revision=2))
    call("alarm get", c.maintenancestub.Alarm, pb.AlarmRequest(action=0))
    call("alarm activate", c.maintenancestub.Alarm, pb.AlarmRequest(action=1, memberID=1, alarm=1))
    call("alarm get2", c.maintenancestub.Alarm, pb.AlarmRequest(action=0))
    call("put while nospace", kv.Put, P(key=b"q",value=b"1"))
    call("del while nospace", kv.DeleteRange, D(key=b"q"))
    call("txn ro nospace", kv.Txn, T(success=[RO(request_range=R(key=b"a"))]))
    call("status nospace", c.maintenancestub.Status, pb.StatusRequest())
    call("alarm deactivate", c.maintenancestub.Alarm, pb.AlarmRequest(action=2, memberID=1, alarm=1))
    call("put after", kv.Put, P(key=b"q",value=b"1"))
    c.close()
    code = s.stop()
    if kind == "keel" and code != 0:
        out.append(f"keel exited with {code} on SIGTERM")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keel", required=True)
    ap.add_argument("--etcd", default="etcd")
    opts = ap.parse_args()
    cl.require_tool("etcdctl")
    etcd = cl.require_tool(opts.etcd)
    t0 = time.monotonic()
    want = run("etcd", etcd)
    got = run("keel", opts.keel)
    bad = 0
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else "(nothing)"
        g = got[i] if i < len(got) else "(nothing)"
        if w != g:
            bad += 1
            print(f"etcd: {w}\nkeel: {g}\n")
    print(f"{len(want)} requests, {bad} differences, {time.monotonic() - t0:.1f}s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
