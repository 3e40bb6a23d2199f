#!/usr/bin/python3
"""Golden-file etcdctl suite: the same fixed list of etcdctl 3.4 commands against `keel` and
against real etcd, with outputs compared byte for byte after a narrow normalization.

  etcdctl_golden.py --keel build/bin/keel            # check keel against tests/compat/golden/
  etcdctl_golden.py --server etcd                    # check real etcd against the golden files
  etcdctl_golden.py --regenerate                     # rewrite the golden files from real etcd
  etcdctl_golden.py --keel ... --only 04_txn -v      # one group, print every diff

The cases run in order against ONE fresh server, so revisions are deterministic and are
compared exactly. Normalization (see normalize()) touches only: cluster and member ids
(decimal and hex), raft term, raft index / applied index, "took" timings, db sizes, the
endpoint and peer address:port; plus etcdctl's own client-side noise that is not server
output: the timestamp / client UUID of clientv3's "retrying of unary invoker failed" log line
(its gRPC code and message are kept), and Go's goroutine dump after an etcdctl panic (the
panic line is kept).
"""

import argparse
import difflib
import os
import re
import shlex
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_lib as cl  # noqa: E402

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
# The golden files hold this etcdctl's (and etcd's) exact output; another version prints
# differently, so the comparison would be meaningless.
ETCD_VERSION = "3.4.23"


def C(cmd, stdin=None, stdin_desc=None, args=None):
    """One etcdctl invocation. cmd is shell-like (shlex); args (a list of str/bytes) overrides."""
    return {"args": args if args is not None else shlex.split(cmd), "stdin": stdin,
            "stdin_desc": stdin_desc}


def T(text, flags="", desc=None):
    """An `etcdctl txn` fed `text` on stdin (compares, blank, success ops, blank, failure ops)."""
    return C(f"txn {flags}".strip(), stdin=text.encode(), stdin_desc=desc)


def big(n, ch=b"a"):
    return ch * n


# ---------------------------------------------------------------------------------------------
# The fixed list. Revisions in comments are what real etcd produces; the golden files hold
# the truth.
# ---------------------------------------------------------------------------------------------
SORT_TARGETS = ["CREATE", "KEY", "MODIFY", "VALUE", "VERSION"]

GROUPS = [
    ("01_put", [
        C("put foo bar"),                          # rev 2
        C("put foo bar2 -w json"),                 # rev 3
        C("put --prev-kv foo bar3"),               # rev 4
        C("put --prev-kv foo bar4 -w json"),       # rev 5
        C("put --prev-kv foo bar5 -w fields"),     # rev 6
        C("put --prev-kv newkey v -w json"),       # rev 7 (no previous kv)
        C("put --prev-kv newkey2 v -w fields"),    # rev 8
        # A data set whose orders by KEY, CREATE, MODIFY, VERSION and VALUE all differ:
        # KEY a/1 a/2 a/3; CREATE a/2 a/3 a/1; MODIFY a/2 a/1 a/3; VERSION a/1 a/3 a/2;
        # VALUE a/3 a/2 a/1.
        C("put a/2 first"),                        # rev 9
        C("put a/2 second"),                       # rev 10
        C("put a/2 m"),                            # rev 11: a/2 version 3
        C("put a/3 x"),                            # rev 12
        C("put a/1 z"),                            # rev 13
        C("put a/3 a"),                            # rev 14: a/3 version 2
        C("put b 1"),
        C("put c 2 -w fields"),
        C("put", args=["put", b"z\xff", b"hi\xfe"]),
        C("put", args=["put", b"z\xfe\x01", b"bin"]),
        C("put 'key with spaces' 'value with spaces'"),
        C("put empty ''"),
        C("put fromstdin", stdin=b"value-from-stdin"),
        C("put --ignore-value foo -w json"),       # keeps foo's value, bumps mod_revision
        C("put --ignore-lease foo bar6"),
        C("put --ignore-value nokey"),             # error: key not found
        C("put --ignore-lease nokey v"),           # error: key not found
    ]),
    ("02_get", [
        C("get foo"),
        C("get foo -w json"),
        C("get foo -w fields"),
        C("get foo -w table"),
        C("get nosuch"),
        C("get nosuch -w json"),
        C("get nosuch -w fields"),
        C("get a/ --prefix"),
        C("get a/ --prefix -w json"),
        C("get a/ --prefix -w fields"),
        C("get a/2 --from-key"),
        C("get a/2 --from-key -w json"),
        C("get a/ --prefix --limit 2"),
        C("get a/ --prefix --limit 2 -w json"),
        C("get a/ --prefix --limit 2 -w fields"),
        C("get '' --from-key --limit 3 -w json"),
        C("get '' --prefix --keys-only"),
        C("get a/ --prefix --order DESCEND"),
        C("get a/ --prefix --order ASCEND -w json"),
    ] + [C(f"get a/ --prefix --sort-by {t}") for t in SORT_TARGETS]
      + [C(f"get a/ --prefix --sort-by {t} --order DESCEND") for t in SORT_TARGETS]
      + [C(f"get a/ --prefix --sort-by {t} --order ASCEND -w json") for t in SORT_TARGETS] + [
        C("get a/ --prefix --sort-by VALUE --order DESCEND --limit 2 -w json"),
        C("get --from-key a/ --sort-by MODIFY --order DESCEND --limit 3 --keys-only"),
        C("get a/ --prefix --keys-only"),
        C("get a/ --prefix --keys-only -w json"),
        C("get a/ --prefix --keys-only -w fields"),
        C("get a/ --prefix --print-value-only"),
        C("get a/ --prefix --print-value-only --limit 1"),
        C("get a/ --prefix --rev 10"),
        C("get a/ --prefix --rev 10 -w json"),
        C("get a/ --prefix --rev 12 -w fields"),
        C("get foo --rev 1"),
        C("get foo --rev 1 -w json"),
        C("get foo --consistency=s"),
        C("get foo --consistency=s -w json"),
        C("get a/ --prefix --consistency=s --rev 13"),
        C("get a/1 a/3"),
        C("get a/1 a/3 -w json"),
        C("get a/ b -w fields"),
        C("get b a"),                              # range_end < key: nothing
        C("get a/1 a/1"),                          # range_end == key: nothing
        C("get --hex foo"),
        C("get --hex z --prefix"),
        C("get --hex z --prefix -w fields"),
        C("get z --prefix -w json"),
        C("get --hex a/ --prefix --keys-only"),
        C("get 'key with spaces'"),
        C("get empty -w json"),
        C("get fromstdin --print-value-only"),
        C("get --sort-by NOSUCH a/ --prefix"),     # client-side error
    ]),
    ("03_del", [
        C("del nosuch"),                           # 0, revision unchanged
        C("del nosuch -w json"),
        C("del foo"),
        C("get foo -w json"),
        C("del --prev-kv newkey"),
        C("del --prev-kv newkey2 -w json"),
        C("put d/1 1"), C("put d/2 2"), C("put d/3 3"), C("put e/1 4"), C("put e/2 5"),
        C("del d/ --prefix -w json"),
        C("del d/ --prefix"),                      # nothing left
        C("del --prev-kv --from-key e/ -w fields"),
        C("get '' --from-key --keys-only"),
        C("del a/1 a/2 --prev-kv"),                # range [a/1, a/2): a/1 only
        C("del b a"),                              # range_end < key
        C("put a/1 again"),
        C("get a/1 -w json"),                      # new create_revision, version 1
        C("del --prev-kv a/ --prefix -w json"),
        C("del --prefix ''"),                      # deletes everything that is left
        C("get '' --from-key -w json"),
    ]),
    ("04_txn", [
        C("put t1 v1"), C("put t2 v2"),
        T('value("t1") = "v1"\nversion("t2") = "1"\n\nput t1 x\nget t2\ndel t2\n\nput t3 never\n\n'),
        T('value("t1") = "nope"\n\nput t3 never\n\nget t1\nput t3 y\n\n'),
        T('create("t1") > "0"\nmod("t1") < "100000"\nversion("nosuch") = "0"\nvalue("t1") != "zz"\n\n'
          'get t1\n\nget t3\n\n'),
        T('create("t1") < "1"\n\nput never x\n\nget t1\nget nosuch\n\n'),
        T('mod("t3") = "0"\n\nput t3 a\n\nput t3 b\n\n', "-w json"),
        T('value("t1") = "x"\n\nput t1 y\nget t1 --prefix\ndel nothere\n\n\n', "-w json"),
        T('value("t1") = "no"\n\n\nget t1\n\n', "-w json"),
        T('version("t1") > "1"\n\nput t1 z\nget t1\n\n\n', "-w fields"),
        T('version("t1") = "100"\n\n\nput t4 w\ndel t3 --prev-kv\n\n', "-w fields"),
        T('value("t1") = "z"\n\nput t5 five\nget t --prefix --keys-only\n\n\n', "-i"),
        T('\n\n\n'),                               # empty txn: read-only, no revision bump
        T('\n\n\n', "-w json"),
        T('\nput tp1 1\nput tp2 2\ndel --prefix tp\n\n\n'),  # error: overlapping keys
        T('\nget t1\nget t1\n\n\n'),               # two reads of one key are fine
        T('\nput --prev-kv t1 pk\n\n\n', "-w json"),
        T('put t1 1\n\n\n\n'),                     # client-side: malformed comparison
        T('value("t1") = "pk"\n\nput t6 6\n'),     # input ends without the final blank lines
        C("get t --prefix -w json"),
    ]),
    ("05_compact", [
        C("put cpt v1 -w json"),                   # rev 48
        C("put cpt v2"),                           # rev 49
        C("put cpt v3"),                           # rev 50
        C("get cpt -w json"),
        C("compaction 0"),
        C("compaction 1000"),                      # future
        C("compaction 40"),
        C("compaction 40"),                        # already compacted
        C("compaction 39"),
        C("get t1 --rev 39"),                      # compacted
        C("get t --prefix --rev 40 -w json"),      # == compact revision: readable
        C("get t --prefix --rev 41"),
        C("compaction 49"),
        C("get cpt --rev 48"),                     # compacted
        C("get cpt --rev 48 -w json"),
        C("get cpt --rev 49"),                     # == compact revision: readable
        C("get cpt --rev 50 -w json"),
        C("get cpt --rev 51"),                     # current + 1: future
        C("get cpt --rev 1000 -w json"),
        C("get cpt --rev 49 --consistency=s"),
        C("get cpt --rev 1000 --consistency=s"),
        C("get '' --from-key --rev 49 --keys-only"),
        C("del cpt --prefix --prev-kv"),           # rev 51
        C("get cpt --rev 50"),                     # history before the delete
        C("compaction --physical 51"),
        C("get cpt --rev 50"),
        C("get cpt --rev 51 -w json"),
        C("compaction 51 -w json"),
        T('\nget cpt --rev 50\n\n\n'),
        T('\nget t1\n\n\n'),
        C("get '' --from-key -w json"),
    ]),
    ("06_cluster", [
        C("endpoint status"),
        C("endpoint status -w json"),
        C("endpoint status -w fields"),
        C("endpoint status -w table"),
        C("endpoint status --cluster"),
        C("endpoint health"),
        C("endpoint health -w json"),
        C("endpoint health -w fields"),
        C("endpoint health -w table"),
        C("endpoint health --cluster"),
        C("member list"),
        C("member list -w json"),
        C("member list -w fields"),
        C("member list -w table"),
        C("alarm list"),
        C("alarm list -w json"),
        C("alarm list -w fields"),                 # etcdctl 3.4 panics: etcd sends no header
        C("alarm list -w table"),
        C("alarm disarm"),
        C("alarm disarm -w json"),
    ]),
    ("07_errors", [
        C("put '' v"),
        C("put '' v -w json"),
        C("get ''"),
        C("del ''"),
        T('\nput "" v\n\n\n'),
        C("put big", stdin=big(1600 * 1024), stdin_desc="1,638,400 bytes of 'a'"),   # > 1.5 MiB
        C("put big", stdin=big(2200 * 1024), stdin_desc="2,252,800 bytes of 'a'"),   # > gRPC max
        C("put big", stdin=big(1500 * 1000), stdin_desc="1,500,000 bytes of 'a'"),   # fits
        C("get big --keys-only -w json"),
        C("del big"),
        T("\n" + "".join(f"put k{i} v\n" for i in range(129)) + "\n\n",
          desc="no compares; 129 puts k0..k128; no failure ops"),
        T("\n\n" + "".join(f"put k{i} v\n" for i in range(129)) + "\n",
          desc="no compares; no success ops; 129 puts k0..k128 as failure ops"),
        T("\n" + "".join(f"put k{i} v\n" for i in range(128)) + "\n\n",
          desc="no compares; 128 puts k0..k127; no failure ops"),
        C("get k --prefix --limit 1 -w json"),
        C("del k --prefix"),
        T('\nput dup 1\nput dup 2\n\n\n'),
        T('\nput dup 1\ndel dup\n\n\n'),
        T('value("x") = "y"\n\nput ok 1\n\nput dup 1\nput dup 2\n\n'),  # dup in the other branch
        T('\ndel dup\ndel dup\n\n\n'),             # two deletes of one key
        C("put --lease=1234 k v"),
        C("put --lease=1234 k v -w json"),
        T('\nput --lease=1234 k v\n\n\n'),
        C("get k"),
        C("get foo --rev=-1"),                     # negative revision
        C("get foo --limit=-1"),
        C("compaction -- -5"),
        C("get foo --order=SIDEWAYS"),             # client-side errors
        C("get"),
        C("put onlykey"),
        C("del"),
        C("endpoint status -w json"),              # revision unchanged by every refusal above
    ]),
    ("08_edges", [
        C("put ok 1 -w json"),
        C("put", args=["put", b"\xff", b"ff"]),
        C("put", args=["put", b"\xff\xff", b"ffff"]),
        C("put", args=["put", b"\xfe", b"fe"]),
        C("put", args=["put", b"\x7f", b"7f"]),
        C("put", args=["put", b"\x01", b"01"]),
        C("get --prefix --hex", args=["get", "--prefix", "--hex", b"\xff"]),   # range_end "\0"
        C("get --prefix -w json", args=["get", "--prefix", "-w", "json", b"\xff"]),
        C("get --from-key --hex", args=["get", "--from-key", "--hex", b"\x7f"]),
        C("get --hex", args=["get", "--hex", b"\x01", b"\xfe"]),         # [\x01, \xfe)
        C("get '' --from-key --keys-only --hex --sort-by VALUE --order DESCEND"),
        T('value("nosuch") = ""\n\nget ok\n\nget nosuch\n\n'),     # value compare on a missing key fails
        T('value("nosuch") != "x"\n\nget ok\n\nget nosuch\n\n'),
        T('ver("ok") = "1"\nc("ok") > "0"\nm("ok") > "0"\nval("ok") = "1"\n\nget ok\n\n\n'),
        T('value("ok") > "0"\nvalue("ok") < "2"\n\nget ok\n\n\n'),
        T('version("ok") = "x"\n\n\n\n'),                 # client-side: bad number
        C("get '' --from-key --rev 60 --sort-by VERSION --order DESCEND --limit 1 -w json"),  # no ties
        C("del --prefix --prev-kv -w json", args=["del", "--prefix", "--prev-kv", "-w", "json", b"\xff"]),
        C("del --from-key ''"),
        C("get '' --from-key -w json"),
    ]),
]


# ---------------------------------------------------------------------------------------------
# Normalization
# ---------------------------------------------------------------------------------------------
RETRY_RE = re.compile(
    r'^\{"level":"warn","ts":"[^"]*","caller":"([^"]*)","msg":"([^"]*)","target":'
    r'"endpoint://client-[0-9a-f-]+/[^"]*","attempt":(\d+),"error":"(.*)"\}$')

# (regex, replacement) applied to every line after the address and id substitution.
FIELD_RULES = [
    # Terms are normalized only when non-zero: nested txn headers carry raft_term 0.
    (re.compile(r'"raft_term":[1-9]\d*'), '"raft_term":<TERM>'),
    (re.compile(r'"raftTerm":[1-9]\d*'), '"raftTerm":<TERM>'),
    (re.compile(r'"RaftTerm" : [1-9]\d*'), '"RaftTerm" : <TERM>'),
    (re.compile(r'"raftIndex":\d+'), '"raftIndex":<INDEX>'),
    (re.compile(r'"RaftIndex" : \d+'), '"RaftIndex" : <INDEX>'),
    (re.compile(r'"raftAppliedIndex":\d+'), '"raftAppliedIndex":<INDEX>'),
    (re.compile(r'"RaftAppliedIndex" : \d+'), '"RaftAppliedIndex" : <INDEX>'),
    (re.compile(r'"dbSize":\d+'), '"dbSize":<DBSIZE>'),
    (re.compile(r'"dbSizeInUse":\d+'), '"dbSizeInUse":<DBSIZE>'),
    (re.compile(r'"DBSize" : \d+'), '"DBSize" : <DBSIZE>'),
    (re.compile(r'took = \S+'), 'took = <TOOK>'),
    (re.compile(r'"took":"[^"]*"'), '"took":"<TOOK>"'),
    (re.compile(r'"Took" : \S+'), '"Took" : <TOOK>'),
]

# Columns of `endpoint status` (simple and table): endpoint, id, version, db size, is leader,
# is learner, raft term, raft index, raft applied index, errors.
STATUS_NORM = {3: "<DBSIZE>", 6: "<TERM>", 7: "<INDEX>", 8: "<INDEX>"}
# Columns of `endpoint health -w table`: endpoint, health, took, error.
HEALTH_NORM = {2: "<TOOK>"}


class Normalizer:
    def __init__(self, endpoint_ports, peer_ports, cluster_id, member_ids):
        """Ports and member ids are lists: a cluster run answers from any of its members."""
        self.subs = []
        for port in endpoint_ports:
            self.subs.append((re.compile(re.escape(f"127.0.0.1:{port}") + r"(?!\d)"),
                              "<ENDPOINT>"))
        for port in peer_ports:
            self.subs.append((re.compile(re.escape(f"127.0.0.1:{port}") + r"(?!\d)"), "<PEER>"))
        # Ids, whole tokens only; decimal (json, fields) and hex (simple, table).
        ids = [(cluster_id, "<CLUSTER_ID>")] + [(m, "<MEMBER_ID>") for m in member_ids]
        for value, name in ids:
            for text in (str(value), format(value, "x")):
                self.subs.append((re.compile(r"(?<![0-9A-Za-z])" + text + r"(?![0-9A-Za-z])"),
                                  name))

    def line(self, s):
        m = RETRY_RE.match(s)
        if m:
            s = f'<clientv3 warn> {m.group(1)}: {m.group(2)}: attempt {m.group(3)}: {m.group(4)}'
        for rx, rep in self.subs:
            s = rx.sub(rep, s)
        for rx, rep in FIELD_RULES:
            s = rx.sub(rep, s)
        return s

    def text(self, raw, status_like):
        s = raw.decode("utf-8", "backslashreplace")
        if s.startswith("panic: "):
            # Keep the panic message, drop the goroutine dump (addresses vary run to run).
            first = s.split("\n", 1)[0]
            return first + "\n<goroutine dump elided>\n"
        out = []
        for ln in s.split("\n"):
            ln = self.line(ln)
            if status_like == "status":
                ln = self._columns(ln, STATUS_NORM, 10)
            elif status_like == "health":
                ln = self._columns(ln, HEALTH_NORM, 4)
            elif status_like == "member":
                # Only the table layout: its column widths follow the id's length.
                ln = self._columns(ln, {}, 6) if ln.startswith(("|", "+")) else ln
            out.append(ln)
        return "\n".join(out)

    @staticmethod
    def _columns(ln, norm, ncols):
        if ln.startswith("|") and ln.endswith("|"):
            cells = [c.strip() for c in ln[1:-1].split("|")]
            if len(cells) == ncols and cells[0] not in ("ENDPOINT", "ID"):
                for i, rep in norm.items():
                    cells[i] = rep
                # Table column widths follow the cell contents: compare cells, not padding.
                return "| " + " | ".join(cells) + " |"
            if len(cells) == ncols:
                return "| " + " | ".join(cells) + " |"
            return ln
        if ln.startswith("+") and set(ln) <= set("+-"):
            return "+<table rule>+"
        if ln.startswith(("<ENDPOINT>, ", "http://<ENDPOINT>, ")):
            cells = ln.split(", ")
            if len(cells) == ncols:
                for i, rep in norm.items():
                    cells[i] = rep
                return ", ".join(cells)
        return ln


def kind_of(args):
    a = [x for x in args if isinstance(x, str)]
    if a[:2] == ["endpoint", "status"]:
        return "status"
    if a[:2] == ["endpoint", "health"]:
        return "health"
    if a[:2] == ["member", "list"]:
        return "member"
    return None


def show_arg(a):
    if isinstance(a, bytes):
        try:
            txt = a.decode("ascii")
            if txt.isprintable():
                return shlex.quote(txt)
        except UnicodeDecodeError:
            pass
        return "$'" + "".join(f"\\x{b:02x}" if (b < 0x20 or b > 0x7e or b in b"'\\")
                              else chr(b) for b in a) + "'"
    return shlex.quote(a)


def render_case(case, out, err, rc, norm):
    lines = ["### etcdctl " + " ".join(show_arg(a) for a in case["args"])]
    if case["stdin"] is not None:
        if case["stdin_desc"]:
            lines.append(f"<<< stdin: {case['stdin_desc']}")
        else:
            lines.append("<<< stdin:")
            for ln in case["stdin"].decode().split("\n"):
                lines.append("< " + ln)
    k = kind_of(case["args"])
    lines.append("--- stdout")
    lines.append(norm.text(out, k))
    lines.append("--- stderr")
    lines.append(norm.text(err, k))
    lines.append(f"--- exit {rc}")
    return "\n".join(lines) + "\n"


def learn_ids(endpoint):
    """cluster id and member id as the server reports them (to substitute by value)."""
    import json
    out, err, rc = cl.etcdctl(endpoint, ["member", "list", "-w", "json"])
    if rc != 0:
        raise RuntimeError(f"member list failed: {err.decode()}")
    j = json.loads(out)
    return j["header"]["cluster_id"], j["header"]["member_id"]


def etcdctl_version_ok():
    """True when etcdctl is ETCD_VERSION; else says why the golden comparison is skipped."""
    out, _, _ = cl.etcdctl("127.0.0.1:1", ["version"])
    if f"etcdctl version: {ETCD_VERSION}\n".encode() in out:
        return True
    print(f"SKIP: the golden files are etcdctl {ETCD_VERSION}'s output; this etcdctl says "
          f"{out.decode(errors='replace').strip()!r}", file=sys.stderr)
    return False


def etcd_version_ok(binary):
    """True when the reference server binary is etcd ETCD_VERSION; else says so."""
    import subprocess
    v = subprocess.run([binary, "--version"], capture_output=True).stdout.decode()
    if f"etcd Version: {ETCD_VERSION}\n" in v:
        return True
    print(f"refusing: the reference must be etcd {ETCD_VERSION}; {binary} says {v!r}")
    return False


def settle_group(opts, name, text, failed=False):
    """One group's output: written to --out-dir if given; with --regenerate, written as its
    golden file (unless the server failed one of the group's own checks); otherwise compared
    with the golden file. Returns None when all is well, else what went wrong (a diff)."""
    path = os.path.join(opts.golden_dir, name + ".txt")
    if opts.out_dir:
        os.makedirs(opts.out_dir, exist_ok=True)
        with open(os.path.join(opts.out_dir, name + ".txt"), "w") as f:
            f.write(text)
    if opts.regenerate:
        if failed:
            return "the server failed a check; golden file NOT written:\n" + text
        os.makedirs(opts.golden_dir, exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        print(f"wrote {path}")
        return None
    try:
        with open(path) as f:
            want = f.read()
    except FileNotFoundError:
        return f"missing golden file {path} (run with --regenerate)"
    if want == text and not failed:
        return None
    folder = os.path.basename(os.path.normpath(opts.golden_dir))
    diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True),
                                        f"{folder}/{name}.txt", f"{opts.server}/{name}.txt"))
    return diff or text


def print_failures(failures, verbose):
    """(name, text) pairs; a name ending in "shutdown" or "(shutdown)" is a server that did not stop cleanly."""
    for name, diff in failures:
        kind = "FAILURE" if name.endswith(("shutdown", "(shutdown)")) else "MISMATCH"
        print(f"=== {kind} in {name}")
        lines = diff.splitlines()
        print("\n".join(lines if verbose else lines[:200]))
        if not verbose and len(lines) > 200:
            print(f"... ({len(lines) - 200} more diff lines; -v for all)")


def server_binary(ap, opts):
    """The server a golden script runs: etcd when regenerating or asked for, else --keel."""
    if opts.regenerate:
        opts.server = "etcd"
    if opts.server == "keel":
        if not opts.keel or not os.access(opts.keel, os.X_OK):
            ap.error("--keel PATH (an executable) is required for --server keel")
        return opts.keel
    return cl.require_tool(opts.etcd)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", choices=["keel", "etcd"], default="keel")
    ap.add_argument("--keel", help="path of the keel binary (for --server keel)")
    ap.add_argument("--etcd", default="etcd", help="path of the etcd binary")
    ap.add_argument("--regenerate", action="store_true",
                    help="run against real etcd and rewrite the golden files")
    ap.add_argument("--golden-dir", default=GOLDEN_DIR)
    ap.add_argument("--out-dir", help="also write this run's normalized outputs here")
    ap.add_argument("--only", action="append", help="run only these groups (prefix match)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print full diffs")
    ap.add_argument("--cluster", type=int, default=1, metavar="N",
                    help="keel only: run against an N-member cluster, case k on member k mod N "
                         "(the cluster group, whose output names one member, is left out)")
    ap.add_argument("--keep", action="store_true", help="keep the temp data dir and logs")
    opts = ap.parse_args()

    cl.require_tool("etcdctl")
    if not etcdctl_version_ok():
        return cl.SKIP
    binary = server_binary(ap, opts)
    cl.keep_tempdirs(opts.keep)

    t0 = time.monotonic()
    if opts.server == "etcd" and not etcd_version_ok(binary):
        return 1
    if opts.cluster > 1:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "cluster"))
        import cluster_lib
        cluster = cluster_lib.Cluster(binary, size=opts.cluster).start()
        servers = cluster.members
    else:
        cluster = None
        servers = [cl.Server(opts.server, binary).start()]
    srv = servers[0]
    print(f"{opts.server} healthy at {' '.join(s.endpoint for s in servers)} in "
          f"{time.monotonic() - t0:.1f}s (data {srv.data_dir})")
    ids = [learn_ids(s.endpoint) for s in servers]
    norm = Normalizer([s.client_port for s in servers], [s.peer_port for s in servers],
                      ids[0][0], [i[1] for i in ids])

    groups = [g for g in GROUPS if not opts.only or any(g[0].startswith(p) for p in opts.only)]
    if cluster:
        groups = [g for g in groups if g[0] != "06_cluster"]
    failures = []
    ncases = 0
    for name, cases in groups:
        rendered = []
        for case in cases:
            target = servers[ncases % len(servers)]
            out, err, rc = cl.etcdctl(target.endpoint, case["args"], stdin=case["stdin"] or b"")
            rendered.append(render_case(case, out, err, rc, norm))
            ncases += 1
        problem = settle_group(opts, name, "\n".join(rendered))
        if problem:
            failures.append((name, problem))

    for s in servers:
        code = s.stop()
        if code not in (0, None) and opts.server == "keel":
            failures.append(("shutdown", f"keel exited with {code} on SIGTERM; log tail:\n"
                                         f"{s.log_tail()}"))
    elapsed = time.monotonic() - t0
    if opts.regenerate:
        print(f"regenerated {len(groups)} golden files ({ncases} cases) in {elapsed:.1f}s")
        return 0
    print_failures(failures, opts.verbose)
    print(f"{ncases} cases in {len(groups)} groups against {opts.server}: "
          f"{len(groups) - len([f for f in failures if f[0] != 'shutdown'])}/{len(groups)} groups "
          f"match, {elapsed:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
