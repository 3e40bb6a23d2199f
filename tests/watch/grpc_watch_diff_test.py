#!/usr/bin/python3
"""Differential test of the Watch stream at the gRPC level: the same requests, one at a time,
against a fresh real etcd and a fresh keel; every response must be identical after zeroing
cluster id, member id and raft term. Covers what etcdctl cannot send: client-chosen watch
ids and the duplicate-id refusal, auto ids, cancel of a known and an unknown id,
progress_request, filters, prev_kv, a compacted start, fragments. Run with /usr/bin/python3.

python3-etcd3's generated protos predate watch_id and progress_request, so requests are
encoded by hand (a few protobuf varint/bytes fields) and responses decoded with its
WatchResponse (the newer fields are not needed to compare).
"""

import argparse
import os
import queue
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
import compat_lib as cl  # noqa: E402

try:
    import grpc
    from etcd3 import etcdrpc as pb
    from google.protobuf import text_format
except ImportError as e:  # pragma: no cover
    print(f"SKIP: python3-etcd3 not importable with {sys.executable}: {e}", file=sys.stderr)
    sys.exit(cl.SKIP)


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(num, v):
    return varint(num << 3) + varint(v)


def f_bytes(num, b):
    return varint((num << 3) | 2) + varint(len(b)) + b


def create(key, range_end=b"", start=0, watch_id=0, prev_kv=False, filters=(), fragment=False):
    inner = f_bytes(1, key)
    if range_end:
        inner += f_bytes(2, range_end)
    if start:
        inner += f_varint(3, start)
    if filters:
        inner += f_bytes(5, b"".join(varint(f) for f in filters))
    if prev_kv:
        inner += f_varint(6, 1)
    if watch_id:
        inner += f_varint(7, watch_id)
    if fragment:
        inner += f_varint(8, 1)
    return f_bytes(1, inner)


def cancel(watch_id):
    return f_bytes(2, f_varint(1, watch_id) if watch_id else b"")


def progress():
    return f_bytes(3, b"")


class Stream:
    def __init__(self, channel):
        self.requests = queue.Queue()
        call = channel.stream_stream("/etcdserverpb.Watch/Watch",
                                     request_serializer=lambda b: b,
                                     response_deserializer=pb.WatchResponse.FromString)
        self.responses = call(iter(self.requests.get, None), timeout=30,
                              metadata=[("hasleader", "true")])

    def send(self, req, expect):
        """Sends one request and returns the `expect` responses it should cause."""
        self.requests.put(req)
        return [next(self.responses) for _ in range(expect)]

    def close(self):
        self.requests.put(None)


def show(resp):
    resp.header.cluster_id = 0
    resp.header.member_id = 0
    resp.header.raft_term = 0
    text = text_format.MessageToString(resp, as_one_line=True)
    # python3-etcd3's WatchResponse predates `fragment` (field 7): it survives as an unknown
    # field, visible in the serialized bytes.
    if resp.SerializeToString().endswith(b"\x38\x01") or b"\x38\x01" in _unknown(resp):
        text += " fragment: true"
    return text


def _unknown(resp):
    whole = resp.SerializeToString()
    known = pb.WatchResponse()
    known.CopyFrom(resp)
    known.DiscardUnknownFields()
    return whole[len(known.SerializeToString()):]


def run(kind, binary):
    out = run_main(kind, binary)
    out += run_fragments(kind, binary)
    return out


def run_fragments(kind, binary):
    """One txn overwriting 10 keys of 140 KB: with prev_kv its one revision is ~2.8 MB, past
    etcd's watch response limit (the 1.5 MiB --max-request-bytes plus 512 KiB). A watch that
    asked for fragments gets it in fragments; one that did not gets it whole."""
    s = cl.Server(kind, binary).start()
    channel = grpc.insecure_channel(s.endpoint, options=[
        ("grpc.max_receive_message_length", 16 * 1024 * 1024)])
    kv = pb.KVStub(channel)
    out = []
    try:
        for i in range(10):
            kv.Put(pb.PutRequest(key=b"f%d" % i, value=b"a" * 140_000), timeout=10)
        w = Stream(channel)
        step(out, w, "create whole", create(b"f", b"g", prev_kv=True, watch_id=1), 1)
        step(out, w, "create fragment", create(b"f", b"g", prev_kv=True, watch_id=2,
                                                fragment=True), 1)
        txn = pb.TxnRequest(success=[
            pb.RequestOp(request_put=pb.PutRequest(key=b"f%d" % i, value=b"b" * 140_000))
            for i in range(10)])
        kv.Txn(txn, timeout=10)
        got = {1: [], 2: []}
        while len(got[1]) < 1 or sum(n for n, _ in got[2]) < 10:
            r = next(w.responses)
            got[r.watch_id].append((len(r.events), "fragment: true" in show(r)))
        out.append(f"whole: {got[1]}")
        out.append(f"fragments (events, marked): {got[2]}")
        w.close()
    except grpc.RpcError as e:
        out.append(f"RPC ERROR {e.code()} {e.details()!r}")
    finally:
        channel.close()
        s.stop()
    return out


def step(out, stream, name, req, expect):
    for r in stream.send(req, expect):
        out.append(f"{name}: {show(r)}")


def run_main(kind, binary):
    s = cl.Server(kind, binary).start()
    channel = grpc.insecure_channel(s.endpoint)
    kv = pb.KVStub(channel)
    out = []

    def put(k, v):
        kv.Put(pb.PutRequest(key=k, value=v), timeout=10)

    def step(stream, name, req, expect):
        for r in stream.send(req, expect):
            out.append(f"{name}: {show(r)}")

    try:
        put(b"a", b"1")                                   # 2
        put(b"a", b"2")                                   # 3
        put(b"b", b"1")                                   # 4
        w = Stream(channel)
        step(w, "create id 5", create(b"a", watch_id=5), 1)
        step(w, "duplicate id 5", create(b"b", watch_id=5), 1)
        step(w, "auto id", create(b"b"), 1)
        step(w, "auto id again", create(b"c"), 1)
        step(w, "client id 1", create(b"z", watch_id=1), 1)
        step(w, "auto id skips 1", create(b"d"), 1)
        step(w, "progress", progress(), 1)
        put(b"a", b"3")                                   # 5: for id 5
        out.append(f"event: {show(next(w.responses))}")
        step(w, "cancel 5", cancel(5), 1)
        step(w, "cancel unknown (no answer)", cancel(99), 0)
        step(w, "progress after unknown cancel", progress(), 1)
        step(w, "history prev_kv nodelete", create(b"a", start=2, prev_kv=True,
                                                     filters=[1], watch_id=20), 2)
        step(w, "history noput", create(b"a", range_end=b"c", start=1, filters=[0],
                                        watch_id=21), 1)
        kv.DeleteRange(pb.DeleteRangeRequest(key=b"a"), timeout=10)   # 6: only id 21 wants it
        out.append(f"delete event: {show(next(w.responses))}")
        w.close()
        kv.Compact(pb.CompactionRequest(revision=4, physical=True), timeout=10)
        w2 = Stream(channel)
        step(w2, "compacted start", create(b"a", start=3), 2)
        step(w2, "start at compaction", create(b"a", range_end=b"\0", start=4), 2)
        step(w2, "from now, range with empty key", create(b"", range_end=b"\0"), 1)
        put(b"q", b"1")                                   # 7
        # Two watchers, one revision: etcd's order between watchers is a map's iteration
        # order, so compare them sorted by watch id.
        both = sorted([next(w2.responses), next(w2.responses)], key=lambda r: r.watch_id)
        out += [f"events of two watchers: {show(r)}" for r in both]
        w2.close()
    except grpc.RpcError as e:
        out.append(f"RPC ERROR {e.code()} {e.details()!r}")
    finally:
        channel.close()
        s.stop()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel", required=True)
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    cl.require_tool("etcdctl")
    etcd = run("etcd", cl.require_tool("etcd"))
    keel = run("keel", a.keel)
    if a.v:
        print("\n".join(etcd))
    bad = 0
    for i in range(max(len(etcd), len(keel))):
        e = etcd[i] if i < len(etcd) else "(none)"
        k = keel[i] if i < len(keel) else "(none)"
        if e != k:
            bad += 1
            print(f"etcd: {e}\nkeel: {k}\n")
    if bad:
        print(f"{bad} of {len(etcd)} responses differ")
        return 1
    print(f"watch gRPC diff: {len(etcd)} responses identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
