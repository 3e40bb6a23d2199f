#!/usr/bin/python3
"""`etcdctl watch` against keel, compared with what real etcd prints for the same sequence.

  etcdctl_watch_test.py --keel build/bin/keel     # check keel against golden/etcdctl_watch.txt
  etcdctl_watch_test.py --server etcd              # check real etcd against the golden file
  etcdctl_watch_test.py --regenerate               # rewrite the golden file from real etcd

One fresh server; a fixed list of writes, then watches replaying history (--rev, --prefix,
--prev-kv, a key range, -w json, a compacted start), interactive sessions (`watch -i`: several
watches, progress, invalid lines, EOF), and live watches started before more writes (single
key, prefix with --prev-kv, json, the exec form). A watch is done when its
output holds the expected number of lines (or etcdctl exits), with a deadline; then it is
stopped. Normalized: cluster/member ids and raft term in JSON headers.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
import compat_lib as cl  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "etcdctl_watch.txt")
TXN = b'\nput foo/c 3\ndel foo/a\n\n\n'

# (name, etcdctl watch args, lines of output that complete it, as etcd prints them; None =
# wait for etcdctl to exit). An extra event after them would show in the next case's
# revisions or not at all: the randomized hub test covers "nothing extra".
HISTORY = [
    ("key_from_rev", ["watch", "foo", "--rev=1"], 9),
    ("prefix_from_rev", ["watch", "--prefix", "foo", "--rev=1"], 21),
    ("prev_kv_from_rev", ["watch", "--prev-kv", "foo", "--rev=3"], 10),
    ("range_from_rev", ["watch", "foo/", "foo/d", "--rev=2"], 12),
    ("json_from_rev", ["watch", "--prefix", "foo/", "--rev=6", "-w", "json"], 1),
]
# Started before the writes they see. They name the next revision (9) as their start: a watch
# from "now" would race with the first write, as etcdctl says nothing when a watch is created.
# Their text output is the same whether the server has them synced or catching up.
LIVE = [
    ("live_key", ["watch", "live", "--rev=9"], 9),
    ("live_prefix_prev_kv", ["watch", "--prefix", "--prev-kv", "live", "--rev=9"], 16),
]
# Started after those writes: the header revision (shown by -w json and the exec form's
# ETCD_WATCH_REVISION) of a catch-up response is the current revision, in etcd and keel.
AFTER_LIVE = [
    ("json_catch_up", ["watch", "live", "--rev=9", "-w", "json"], 1),
    ("exec_catch_up", ["watch", "live", "--rev=9", "--", "sh", "-c",
                       "echo $ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY $ETCD_WATCH_VALUE "
                       "$ETCD_WATCH_REVISION"], 12),
]
# `etcdctl watch -i`: lines fed on stdin one at a time, each once the output so far holds the
# given number of lines (so "progress" follows the events it must follow); then stdin closes.
INTERACTIVE = [
    ("interactive", ["watch", "-i"], [
        ("watch foo --rev=1", 9),
        ("progress", 10),
        ("watch --prefix foo/ --rev=6 --prev-kv", 21),
        ("bogus", 22),
        ("watch", 23),
    ]),
    ("interactive_json", ["watch", "-i", "-w", "json"], [
        ("watch --prefix foo/ --rev=6", 1),
        ("progress", 2),
    ]),
]
AFTER_COMPACTION = [
    ("compacted_start", ["watch", "foo", "--rev=2"], None),
    ("start_at_compaction", ["watch", "--prefix", "foo", "--rev=4", "--prev-kv"], 19),
]


def normalize(text):
    text = re.sub(r'"cluster_id":\d+', '"cluster_id":ID', text)
    text = re.sub(r'"member_id":\d+', '"member_id":ID', text)
    return re.sub(r'"raft_term":\d+', '"raft_term":T', text)


class Watch:
    def __init__(self, server, tmpdir, name, args, lines, interactive=False):
        self.name, self.args, self.lines = name, args, lines
        self.path = os.path.join(tmpdir, name + ".out")
        self.out = open(self.path, "wb")
        self.proc = subprocess.Popen(["etcdctl", f"--endpoints={server.endpoint}"] + args,
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.PIPE if interactive else subprocess.DEVNULL,
                                     env=cl.etcdctl_env(), start_new_session=True)

    def text(self):
        with open(self.path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_lines(self, lines, timeout=15.0):
        """Until etcdctl exits or has printed `lines` lines (None: until it exits)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                return
            if lines is not None and self.text().count("\n") >= lines:
                return
            if time.monotonic() > deadline:
                return  # compared as is: the diff shows what is missing
            time.sleep(0.05)  # poll interval of a deadline-bounded wait

    def interact(self, steps):
        """Feeds each stdin line once the output holds the lines before it, then EOF."""
        before = 0
        for line, lines_after in steps:
            self.wait_lines(before)
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
            before = lines_after
        self.wait_lines(before)
        self.proc.stdin.close()
        self.lines = None  # etcdctl exits at EOF
        return self.finish()

    def finish(self, timeout=15.0):
        self.wait_lines(self.lines, timeout)
        code = self.proc.poll()
        if code is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            code = "killed"
        self.out.close()
        return (f"== {self.name}\n$ etcdctl {' '.join(self.args)}\n"
                f"{normalize(self.text())}-- exit {code}\n")


def run(server):
    tmp = cl.make_tempdir("keel-watch-ctl-")
    ep = server.endpoint

    def ctl(*args, stdin=b""):
        out, err, rc = cl.etcdctl(ep, list(args), stdin=stdin)
        if rc != 0:
            raise RuntimeError(f"etcdctl {args} failed: {err.decode()}")

    ctl("put", "foo", "bar")          # 2
    ctl("put", "foo", "baz")          # 3
    ctl("put", "foo/a", "1")          # 4
    ctl("del", "foo")                 # 5
    ctl("put", "foo/b", "2")          # 6
    ctl("txn", stdin=TXN)             # 7: put foo/c, del foo/a
    ctl("put", "other", "x")          # 8
    report = []
    for name, args, lines in HISTORY:
        report.append(Watch(server, tmp, name, args, lines).finish())
    for name, args, steps in INTERACTIVE:
        report.append(Watch(server, tmp, name, args, None, interactive=True).interact(steps))
    live = [Watch(server, tmp, name, args, lines) for name, args, lines in LIVE]
    ctl("put", "live", "1")           # 9
    ctl("put", "live/x", "2")         # 10
    ctl("put", "live", "3")           # 11
    ctl("del", "live")                # 12
    for w in live:
        report.append(w.finish())
    for name, args, lines in AFTER_LIVE:
        report.append(Watch(server, tmp, name, args, lines).finish())
    ctl("compact", "4")
    for name, args, lines in AFTER_COMPACTION:
        report.append(Watch(server, tmp, name, args, lines).finish())
    return "".join(report)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keel")
    ap.add_argument("--server", choices=["etcd"])
    ap.add_argument("--regenerate", action="store_true")
    a = ap.parse_args()
    cl.require_tool("etcdctl")
    if a.keel:
        server = cl.Server("keel", a.keel).start()
    else:
        server = cl.Server("etcd", cl.require_tool("etcd")).start()
    try:
        got = run(server)
    finally:
        server.stop()
    if a.regenerate:
        with open(GOLDEN, "w") as f:
            f.write(got)
        print(f"wrote {GOLDEN}")
        return 0
    with open(GOLDEN) as f:
        want = f.read()
    if got == want:
        print("etcdctl watch: identical to etcd")
        return 0
    import difflib
    sys.stdout.writelines(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                               "etcd (golden)", server.kind))
    return 1


if __name__ == "__main__":
    sys.exit(main())
