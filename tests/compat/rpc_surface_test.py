#!/usr/bin/python3
"""The gRPC surface outside the etcd services Keel serves, over raw gRPC calls:
- gRPC's health check (grpc.health.v1.Health/Check) answers as real etcd's does: SERVING for
  the server as a whole (""), NOT_FOUND for a service name it does not know;
- a method nobody serves answers UNIMPLEMENTED at once, on both (an unknown service);
- Keel answers UNIMPLEMENTED at once for the etcd RPCs it does not serve yet (Auth,
  Maintenance.Snapshot, Defragment, Hash), rather than leaving the call hanging.
Run with /usr/bin/python3 (Debian's python3-grpcio).
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_lib as cl  # noqa: E402

try:
    import grpc
except ImportError as e:  # pragma: no cover
    print(f"SKIP: grpc not importable with {sys.executable}: {e}", file=sys.stderr)
    sys.exit(cl.SKIP)

HEALTH = "/grpc.health.v1.Health/Check"
SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}


def health_request(service):
    name = service.encode()
    return b"\x0a" + bytes([len(name)]) + name if name else b""


def outcome(call):
    try:
        return ("OK", call())
    except grpc.RpcError as e:
        return (str(e.code()), e.details())


def probe(endpoint, keel_only):
    with grpc.insecure_channel(endpoint) as ch:
        def unary(method, body=b""):
            return outcome(lambda: ch.unary_unary(method)(body, timeout=5))

        def server_stream(method, body=b""):
            return outcome(lambda: list(ch.unary_stream(method)(body, timeout=5)))

        got = {
            "health": unary(HEALTH, health_request("")),
            "health unknown service": unary(HEALTH, health_request("no.such.Service")),
            "unknown method": unary("/no.such.Service/Method"),
        }
        if keel_only:
            got["auth status"] = unary("/etcdserverpb.Auth/AuthStatus")
            got["defragment"] = unary("/etcdserverpb.Maintenance/Defragment")
            got["hash"] = unary("/etcdserverpb.Maintenance/Hash")
            got["snapshot"] = server_stream("/etcdserverpb.Maintenance/Snapshot")
        return got


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keel", required=True)
    ap.add_argument("--etcd", default="etcd")
    opts = ap.parse_args()
    etcd = cl.require_tool(opts.etcd)
    e = cl.Server("etcd", etcd).start()
    want = probe(e.endpoint, keel_only=False)
    e.stop()
    k = cl.Server("keel", opts.keel).start()
    got = probe(k.endpoint, keel_only=True)
    k.stop()

    bad = 0

    def check(name, ok, detail):
        nonlocal bad
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        bad += 0 if ok else 1

    check("etcd health", want["health"] == ("OK", SERVING), want["health"])
    for name in ("health", "health unknown service", "unknown method"):
        check(f"keel {name} as etcd", got[name][0] == want[name][0], f"{got[name]} vs {want[name]}")
    for name in ("auth status", "defragment", "hash", "snapshot"):
        check(f"keel {name}", got[name][0] == "StatusCode.UNIMPLEMENTED", got[name])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
