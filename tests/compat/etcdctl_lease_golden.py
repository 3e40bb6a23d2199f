#!/usr/bin/python3
"""Golden-file etcdctl suite for leases, locks and elections: fixed etcdctl 3.4 scenarios run
against `keel` and against real etcd, outputs compared byte for byte after a narrow
normalization (the golden files are recorded from real etcd 3.4.23).

  etcdctl_lease_golden.py --keel build/bin/keel          # check keel against golden_lease/
  etcdctl_lease_golden.py --server etcd                  # check real etcd against them
  etcdctl_lease_golden.py --regenerate                   # rewrite golden_lease/ from real etcd
  etcdctl_lease_golden.py --keel ... --only 04_lock -v   # one group, print every diff

Each group runs against its OWN fresh server, so revisions (compared exactly) and lease ids do
not depend on the other groups, and `--only` gives the same output as a full run. A group is a
script: etcdctl commands run to completion (`### etcdctl ...`), background etcdctl processes
(`### [A] etcdctl lock ... &`) that the script signals, and timed expectations (`### wait:` /
`### check:`) whose bounds are asserted here and recorded in the golden file as `--- ok`.

Normalization, on top of etcdctl_golden.Normalizer (cluster/member id, raft term, endpoint,
clientv3 retry-warning noise):
  * lease ids -> <LEASE_n>, numbered per group in order of first appearance, only where
    etcdctl prints a lease id: `lease <hex> granted|keepalived|revoked|already expired`, the
    id lines of `lease list`, a lock/election key `mylock/<hex>`, `myelection/<hex>`, and the
    decimal `"ID":`, `"id":`, `"lease":` (json) and `"ID" :`, `"Lease" :` (fields) values.
    The literal ids the cases type (0x1234) and 0 stay as they are.
  * the REMAINING ttl of `lease timetolive` (simple, json, fields) -> <REMAINING> when it is
    within [granted-2, granted] and granted > 0; anything else is left as printed (so a wrong
    value shows in the diff). The granted TTL and every other TTL are exact.
  * lists etcd prints in Go map order (unspecified): the ids of `lease list` and the keys of
    `lease timetolive --keys` are sorted (after the id substitution).
"""

import argparse
import functools
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import traceback

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_lib as cl  # noqa: E402
import etcdctl_golden as eg  # noqa: E402

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_lease")
LOCK = "mylock"
ELECTION = "myelection"
UNKNOWN_ID = 0x1234         # an id no server grants here; typed literally by the cases
FIXED_IDS = {0, UNKNOWN_ID}  # never replaced by a placeholder

CMD_TIMEOUT_S = 10.0        # one foreground etcdctl command
START_S = 10.0              # a background etcdctl connects and prints its key
HANDOVER_S = 3.0            # clean release (key deleted) -> the next waiter prints its key
SILENT_S = 1.0              # a waiter must stay silent this long while the holder holds
EXIT_S = 5.0                # a signalled etcdctl exits
POLL_S = 0.05               # poll interval of every deadline-bounded wait
LOCK_TTL_S = 5              # `etcdctl lock --ttl`
EXPIRY_EARLY_S = 1.0        # a lease may expire at most this much before its TTL ...
EXPIRY_LATE_S = 3.0         # ... and at most this much after (etcd checks every 500 ms)


# ---------------------------------------------------------------------------------------------
# Normalization
# ---------------------------------------------------------------------------------------------
def _natural(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


class LeaseNormalizer:
    """etcdctl_golden.Normalizer plus lease ids, remaining TTLs and map-ordered lists."""

    _ID_RE = re.compile(
        r"(?P<hex>(?<=lease )[0-9a-f]+(?= (?:granted|keepalived|revoked|already expired))"
        rf"|(?:(?<={LOCK}/)|(?<={ELECTION}/))[0-9a-f]+(?![0-9A-Za-z]))"
        r'|(?P<dec>(?:(?<="ID":)|(?<="id":)|(?<="lease":)|(?<="ID" : )|(?<="Lease" : ))\d+)')
    _LIST_HEAD_RE = re.compile(r"^found \d+ leases$")
    _REMAINING = [
        (re.compile(r"granted with TTL\((\d+)s\), remaining\((-?\d+)s\)"),
         "granted with TTL({g}s), remaining({r}s)", 1, 2),
        (re.compile(r'"ttl":(-?\d+),"granted-ttl":(\d+)'), '"ttl":{r},"granted-ttl":{g}', 2, 1),
        (re.compile(r'"TTL" : (-?\d+)\n"GrantedTTL" : (\d+)'), '"TTL" : {r}\n"GrantedTTL" : {g}',
         2, 1),
    ]

    def __init__(self, base):
        self.base = base
        self.ids = {}

    def placeholder(self, value):
        if value in FIXED_IDS:
            return None
        if value not in self.ids:
            self.ids[value] = f"<LEASE_{len(self.ids) + 1}>"
        return self.ids[value]

    def _sub_id(self, m):
        value = int(m.group(), 16) if m.group("hex") else int(m.group())
        return self.placeholder(value) or m.group()

    def text(self, raw, kind=None):
        s = self.base.text(raw, kind)
        lines = s.split("\n")
        in_list = False
        for i, ln in enumerate(lines):
            if in_list and re.fullmatch(r"[0-9a-f]+", ln):
                lines[i] = self.placeholder(int(ln, 16)) or ln
                continue
            in_list = bool(self._LIST_HEAD_RE.match(ln))
            lines[i] = self._ID_RE.sub(self._sub_id, ln)
        s = "\n".join(lines)
        for rx, fmt, gi, ri in self._REMAINING:
            s = rx.sub(lambda m: self._remaining(m, fmt, gi, ri), s)
        return self._sort_lists(s)

    @staticmethod
    def _remaining(m, fmt, gi, ri):
        granted, remaining = int(m.group(gi)), int(m.group(ri))
        r = "<REMAINING>" if granted > 0 and granted - 2 <= remaining <= granted else remaining
        return fmt.format(g=granted, r=r)

    @staticmethod
    def _sort_lists(s):
        lines = s.split("\n")
        # `lease list`: the id lines after "found N leases".
        if lines and LeaseNormalizer._LIST_HEAD_RE.match(lines[0]):
            n = 1
            while n < len(lines) and lines[n]:
                n += 1
            lines[1:n] = sorted(lines[1:n], key=_natural)
        # -w fields: runs of `"ID" : ` (lease list) and `"Key" : ` (timetolive --keys) lines.
        out, i = [], 0
        while i < len(lines):
            prefix = next((p for p in ('"ID" : ', '"Key" : ') if lines[i].startswith(p)), None)
            j = i + 1
            if prefix:
                while j < len(lines) and lines[j].startswith(prefix):
                    j += 1
                out.extend(sorted(lines[i:j], key=_natural))
            else:
                out.append(lines[i])
            i = j
        s = "\n".join(out)
        s = re.sub(r"attached keys\(\[([^\]]*)\]\)",
                   lambda m: "attached keys([" + " ".join(sorted(m.group(1).split(), key=_natural))
                   + "])", s)
        s = re.sub(r'"leases":\[([^\]]*)\]',
                   lambda m: '"leases":[' + ",".join(sorted(re.findall(r"\{[^}]*\}", m.group(1)),
                                                            key=_natural)) + "]", s)
        s = re.sub(r'"keys":\[([^\]]*)\]',
                   lambda m: '"keys":[' + ",".join(sorted(m.group(1).split(","))) + "]", s)
        return s


# ---------------------------------------------------------------------------------------------
# A group: one fresh server, a transcript, background etcdctl processes, timed expectations
# ---------------------------------------------------------------------------------------------
_VAR_RE = re.compile(r"\{(\w+)\}")
_SAVE_RES = [re.compile(rb"^lease ([0-9a-f]+) granted", re.M),
             re.compile(rb'"ID":(\d+)'), re.compile(rb'"ID" : (\d+)')]
_KEY_LINE_RE = re.compile(rf"^(?:{LOCK}|{ELECTION})/([0-9a-f]+)$".encode(), re.M)
SIGNAMES = {signal.SIGINT: "INT", signal.SIGTERM: "TERM", signal.SIGKILL: "KILL"}


class GroupStopped(Exception):
    """A timed expectation failed: the rest of the group depends on it, so the group stops
    (which also bounds the run time of a server that gets leases wrong)."""


def _stops_on_failure(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        if self.failed:
            raise GroupStopped()
        return result
    return wrapper


class Group:
    """What a group function drives: etcdctl commands, background etcdctl processes and timed
    expectations against one server, recorded as the normalized transcript."""

    def __init__(self, endpoint, norm, work_dir):
        self.endpoint = endpoint
        self.norm = norm
        self.work_dir = work_dir
        self.vars = {}     # name -> lease id (int), e.g. "L1" or a background process label
        self.procs = {}    # label -> {"proc", "out", "err"}
        self.lines = []
        self.failed = False
        self.notes = []    # measured timings, printed with -v

    # -- transcript ---------------------------------------------------------------------------
    def emit(self, *lines):
        self.lines.extend(lines)

    def fail(self, what):
        self.failed = True
        self.emit(f"--- FAILED: {what}")

    @_stops_on_failure
    def verdict(self, ok, why):
        if ok:
            self.emit("--- ok")
        else:
            self.fail(why)
        return ok

    def text(self):
        return "\n".join(self.lines) + "\n"

    def _display(self, template):
        def sub(m):
            v = self.vars.get(m.group(1))
            return m.group() if v is None else (self.norm.placeholder(v) or format(v, "x"))
        return _VAR_RE.sub(sub, template)

    def _actual(self, template):
        missing = [n for n in _VAR_RE.findall(template) if n not in self.vars]
        if missing:
            return None, missing
        return _VAR_RE.sub(lambda m: format(self.vars[m.group(1)], "x"), template), []

    # -- foreground commands ------------------------------------------------------------------
    @_stops_on_failure
    def run(self, cmd, stdin=None, save=None):
        """Runs `etcdctl cmd` ({NAME} = a saved lease id, in hex) and records its output.
        save=NAME learns the lease id the command printed (simple, json or fields)."""
        self.emit(f"### etcdctl {self._display(cmd)}")
        if stdin is not None:
            self.emit("<<< stdin:", *("< " + ln for ln in self._display(stdin).split("\n")))
        actual, missing = self._actual(cmd)
        actual_in, missing_in = self._actual(stdin) if stdin is not None else ("", [])
        if missing or missing_in:
            self.fail(f"unknown lease id {missing + missing_in}")
            return None
        try:
            out, err, rc = cl.etcdctl(self.endpoint, shlex.split(actual),
                                      stdin=actual_in.encode(), timeout=CMD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.fail(f"no exit within {CMD_TIMEOUT_S} s")
            return None
        if save:
            m = next((m for m in (r.search(out) for r in _SAVE_RES) if m), None)
            if m:
                v = m.group(1).decode()
                self.vars[save] = int(v, 16) if m.re is _SAVE_RES[0] else int(v)
        self.emit("--- stdout", self.norm.text(out), "--- stderr", self.norm.text(err),
                  f"--- exit {rc}")
        return out, err, rc

    # -- background processes -----------------------------------------------------------------
    @_stops_on_failure
    def spawn(self, label, cmd):
        self.emit(f"### [{label}] etcdctl {self._display(cmd)} &")
        actual, missing = self._actual(cmd)
        if missing:
            self.fail(f"unknown lease id {missing}")
            return
        out = os.path.join(self.work_dir, f"{label}.out")
        err = os.path.join(self.work_dir, f"{label}.err")
        with open(out, "wb") as fo, open(err, "wb") as fe:
            proc = cl.spawn(["etcdctl", f"--endpoints={self.endpoint}"] + shlex.split(actual),
                            stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                            env=cl.etcdctl_env(), start_new_session=True)
        self.procs[label] = {"proc": proc, "out": out, "err": err}

    def stdout_of(self, label):
        with open(self.procs[label]["out"], "rb") as f:
            return f.read()

    @_stops_on_failure
    def wait_lines(self, label, n, within_s, since=None, not_before_s=None, what=None):
        """Waits until [label] has printed n lines: within within_s of `since` (default now),
        and not before not_before_s; `what` names the event at `since`. Records the lines;
        learns the lease id of a printed lock/election key as vars[label]. Returns the seconds
        waited, or None."""
        t0 = time.monotonic() if since is None else since
        event = what or "the start of the wait"
        bound = f"within {within_s:g} s of {event}" if not_before_s is None else \
            f"{not_before_s:g} s to {within_s:g} s after {event}"
        self.emit(f"### wait: [{label}] prints {n} line(s), {bound}")
        deadline = t0 + within_s
        while True:
            exited = self.procs[label]["proc"].poll() is not None
            got = self.stdout_of(label)  # read after the exit check: nothing is lost
            now = time.monotonic()
            if got.count(b"\n") >= n or now > deadline or exited:
                break
            time.sleep(POLL_S)  # poll interval of a deadline-bounded wait
        took = now - t0
        nlines = got.count(b"\n")
        done = nlines >= n
        m = _KEY_LINE_RE.search(got)
        if m and label not in self.vars:
            self.vars[label] = int(m.group(1), 16)
        if not done:
            why = f"{nlines} lines after {took:.2f} s"
            if self.procs[label]["proc"].poll() is not None:
                why += f" (exited {self.procs[label]['proc'].returncode})"
            self.fail(why)
        elif not_before_s is not None and took < not_before_s:
            self.fail(f"printed after {took:.2f} s, before {not_before_s:g} s")
        else:
            self.emit("--- ok")
        self.emit(f"--- [{label}] stdout so far", self.norm.text(got))
        if not done:
            with open(self.procs[label]["err"], "rb") as f:
                self.emit(f"--- [{label}] stderr so far", self.norm.text(f.read()))
        if done:
            self.notes.append(f"[{label}] printed {n} lines after {took:.2f} s")
        return took if done else None

    @_stops_on_failure
    def expect_silent(self, label, for_s, why):
        """[label] must print nothing (more) for for_s seconds."""
        self.emit(f"### check: [{label}] prints nothing for {for_s:g} s {why}")
        before = self.stdout_of(label)
        deadline = time.monotonic() + for_s
        while time.monotonic() < deadline:
            if self.stdout_of(label) != before or self.procs[label]["proc"].poll() is not None:
                break
            time.sleep(POLL_S)  # poll interval of a deadline-bounded wait
        got = self.stdout_of(label)
        rc = self.procs[label]["proc"].poll()
        self.verdict(got == before and rc is None,
                     f"printed {self.norm.text(got[len(before):])!r}, exit {rc}")

    def kill(self, label, sig):
        """Sends sig to [label]; returns the monotonic time it was sent."""
        self.emit(f"### kill -{SIGNAMES[sig]} [{label}]")
        t = time.monotonic()
        self.procs[label]["proc"].send_signal(sig)
        return t

    @_stops_on_failure
    def wait_exit(self, label, within_s=EXIT_S):
        """Waits for [label] to exit and records its whole stdout, stderr and exit status."""
        p = self.procs[label]["proc"]
        self.emit(f"### wait: [{label}] exits within {within_s:g} s")
        try:
            rc = p.wait(timeout=within_s)
            self.emit("--- ok")
        except subprocess.TimeoutExpired:
            self.fail("still running")
            p.kill()
            rc = p.wait(timeout=30)
        with open(self.procs[label]["err"], "rb") as f:
            err = f.read()
        status = f"signal {SIGNAMES.get(-rc, -rc)}" if rc < 0 else str(rc)
        self.emit(f"--- [{label}] stdout", self.norm.text(self.stdout_of(label)),
                  f"--- [{label}] stderr", self.norm.text(err), f"--- [{label}] exit {status}")

    def count_keys(self, prefix):
        out, _, rc = cl.etcdctl(self.endpoint, ["get", prefix, "--prefix", "--keys-only"],
                                timeout=CMD_TIMEOUT_S)
        return sum(1 for ln in out.split(b"\n") if ln.startswith(prefix.encode())) if rc == 0 \
            else -1

    @_stops_on_failure
    def wait_keys(self, prefix, n, within_s=START_S):
        """Waits until n keys exist under prefix (a campaigner or waiter has queued)."""
        self.emit(f"### wait: {n} keys under {prefix}, within {within_s:g} s")
        deadline = time.monotonic() + within_s
        while (got := self.count_keys(prefix)) != n and time.monotonic() < deadline:
            time.sleep(POLL_S)  # poll interval of a deadline-bounded wait
        self.verdict(got == n, f"{got} keys")

    @_stops_on_failure
    def wait_gone(self, key, t0, not_before_s, within_s):
        """Waits until key no longer exists, between not_before_s and within_s after t0."""
        self.emit(f"### wait: {key} is deleted, {not_before_s:g} s to {within_s:g} s after the "
                  "grant")
        deadline = t0 + within_s
        while (got := self.count_keys(key)) != 0 and time.monotonic() < deadline:
            time.sleep(POLL_S)  # poll interval of a deadline-bounded wait
        took = time.monotonic() - t0
        self.notes.append(f"{key} deleted {took:.2f} s after the grant")
        if got != 0:
            return self.fail(f"still there after {took:.2f} s")
        self.verdict(took >= not_before_s, f"deleted after {took:.2f} s")

    def close(self):
        for p in self.procs.values():
            if p["proc"].poll() is None:
                p["proc"].kill()
                p["proc"].wait(timeout=30)


# ---------------------------------------------------------------------------------------------
# The groups. Whatever etcd prints is the truth; the comments say what it printed when the
# golden files were recorded.
# ---------------------------------------------------------------------------------------------
def g01_grant(g):
    g.run("lease grant 10", save="L1")
    g.run("lease grant 20 -w json", save="L2")
    g.run("lease grant 30 -w fields", save="L3")
    g.run("lease list")                        # sorted: etcd prints them in Go map order
    g.run("lease list -w json")
    g.run("lease list -w fields")
    g.run("lease timetolive {L1}")
    g.run("lease timetolive {L2} -w json")
    g.run("lease timetolive {L3} -w fields")
    g.run("lease timetolive {L1} --keys")      # attached keys([])
    g.run("lease timetolive {L1} --keys -w json")   # "keys":null
    g.run("lease keep-alive --once {L1}")
    g.run("lease keep-alive --once {L2} -w json")
    g.run("lease keep-alive --once {L3} -w fields")
    g.run("lease timetolive {L1}")
    g.run("lease grant 9000000000 -w json", save="LMAX")   # etcd's MaxLeaseTTL
    g.run("lease grant 9000000001")            # too large lease TTL
    g.run("lease timetolive {LMAX}")
    g.run("lease revoke {LMAX}")
    g.run("lease revoke {L1}")
    g.run("lease revoke {L2} -w json")
    g.run("lease revoke {L3} -w fields")
    g.run("lease list")                        # found 0 leases
    g.run("lease list -w json")
    g.run("get '' --prefix -w json")           # no key was ever written: revision 1
    # Client-side refusals (etcdctl's own messages).
    g.run("lease grant")
    g.run("lease grant abc")
    g.run("lease grant 10 -w table")
    g.run("lease timetolive")
    g.run("lease revoke")
    g.run("lease revoke zz")
    g.run("lease keep-alive")


def g02_attach(g):
    g.run("lease grant 30", save="L1")
    g.run("put --lease={L1} lk1 v1")
    g.run("put --lease={L1} lk2 v2 -w json")
    g.run("put lk3 v3")                        # no lease
    g.run("get lk1 -w json")
    g.run("get lk --prefix -w json")
    g.run("get lk --prefix -w fields")
    g.run("lease timetolive {L1} --keys")      # keys sorted: etcd prints them in map order
    g.run("lease timetolive {L1} --keys -w json")
    g.run("lease timetolive {L1} --keys -w fields")
    g.run("put --ignore-lease lk1 v1b")        # keeps the lease
    g.run("put lk2 v2b")                       # a put without --lease detaches lk2
    g.run("txn", stdin="\nput --lease={L1} lk4 v4\n\n\n")
    g.run("get lk --prefix -w json")
    g.run("lease timetolive {L1} --keys")      # lk1 lk4
    g.run("lease grant 30", save="L2")
    g.run("put --lease={L2} lk4 v4b")          # moves lk4 to the other lease
    g.run("lease timetolive {L1} --keys")
    g.run("lease timetolive {L2} --keys")
    g.run("lease revoke {L1}")                 # deletes lk1 in one revision
    g.run("get lk --prefix -w json")
    g.run("lease timetolive {L1}")             # already expired
    g.run("lease timetolive {L1} -w json")     # ttl -1, granted-ttl 0
    g.run("lease timetolive {L1} --keys")
    g.run("lease revoke {L1}")                 # requested lease not found
    g.run("lease keep-alive --once {L1}")
    g.run("put --lease={L1} lk5 v")
    g.run("lease revoke {L2}")
    g.run("get lk --prefix -w json")
    # An id nobody granted.
    g.run("lease revoke 1234")
    g.run("lease timetolive 1234")
    g.run("lease timetolive 1234 -w json")
    g.run("lease keep-alive --once 1234")
    g.run("put --lease=1234 k v")
    g.run("put --lease=1234 k v -w json")
    g.run("txn", stdin="\nput --lease=1234 k v\n\n\n")
    g.run("put --lease=zz k v")                # client-side: not hex
    g.run("get '' --prefix -w json")           # revision unchanged by the refusals


def g03_expiry(g):
    g.run("lease grant 1", save="L1")          # below the minimum: etcd grants its min TTL
    granted = time.monotonic()
    g.run("put --lease={L1} ek v")
    g.run("lease timetolive {L1} --keys")
    g.run("lease grant 1 -w json", save="L2")
    g.run("lease grant 0", save="L3")
    # etcd's min TTL is ceil(1.5 x election timeout) = 2 s: the key lives ~2 s, not 1.
    g.wait_gone("ek", granted, not_before_s=1.5, within_s=2 + EXPIRY_LATE_S)
    g.run("get ek -w json")                    # deleted by the expiry: one revision
    g.run("lease timetolive {L1} --keys")      # already expired
    g.run("lease keep-alive --once {L1}")
    g.run("lease revoke {L1}")
    g.emit(f"### wait: leases {g._display('{L2}')} and {g._display('{L3}')} (no keys) expire, "
           f"within {2 + EXPIRY_LATE_S:g} s of the grant")
    deadline = granted + 2 + EXPIRY_LATE_S
    while time.monotonic() < deadline:
        out, _, _ = cl.etcdctl(g.endpoint, ["lease", "list"], timeout=CMD_TIMEOUT_S)
        if out.startswith(b"found 0 leases"):
            break
        time.sleep(POLL_S)  # poll interval of a deadline-bounded wait
    g.verdict(out.startswith(b"found 0 leases"), out.decode(errors="replace"))
    g.run("lease list")
    g.run("lease timetolive {L2} -w json")
    g.run("get '' --prefix -w json")           # an expiry without keys is no revision


def g04_lock(g):
    ttl = LOCK_TTL_S
    # Mutual exclusion, clean release.
    g.spawn("A", f"lock --ttl {ttl} {LOCK}")
    g.wait_lines("A", 2, START_S)              # "mylock/<id>" and the (empty) value
    g.spawn("B", f"lock --ttl {ttl} {LOCK}")
    g.wait_keys(f"{LOCK}/", 2)                 # B has queued its key
    g.expect_silent("B", SILENT_S, "while [A] holds the lock")
    g.run(f"get {LOCK} --prefix --sort-by CREATE -w fields")
    g.run("lease list")
    t = g.kill("A", signal.SIGTERM)            # etcdctl unlocks on SIGINT/SIGTERM
    g.wait_lines("B", 2, HANDOVER_S, since=t, what="the SIGTERM")
    g.wait_exit("A")
    # etcdctl lock deletes its key but does not revoke its session lease: it lives on.
    g.run("lease keep-alive --once {A}")
    g.run("lease timetolive {A} --keys")
    g.run(f"get {LOCK} --prefix -w fields")
    # The holder dies without unlocking: the next waiter gets the lock when the lease expires.
    g.spawn("C", f"lock --ttl {ttl} {LOCK}")
    g.wait_keys(f"{LOCK}/", 2)
    g.run("lease keep-alive --once {B}")       # B's lease now expires ttl s from here
    t = g.kill("B", signal.SIGKILL)
    g.wait_exit("B")
    g.run("lease timetolive {B} --keys")       # B's key outlives B until the lease expires
    took = g.wait_lines("C", 2, ttl + EXPIRY_LATE_S, since=t, not_before_s=ttl - EXPIRY_EARLY_S,
                        what="the kill -9 (when B's lease expires)")
    if took is not None:
        g.notes.append(f"kill -9 hand-over after {took:.2f} s (lease TTL {ttl} s)")
    g.run("lease timetolive {B}")              # already expired
    g.run(f"get {LOCK} --prefix -w fields")    # C's key only
    g.kill("C", signal.SIGINT)
    g.wait_exit("C")
    g.run(f"get {LOCK} --prefix -w json")      # no key left


def g05_lock_exec(g):
    g.run(f"lock {LOCK} echo hello")
    g.run(f"lock {LOCK} -- sh -c 'echo $ETCD_LOCK_KEY $ETCD_LOCK_REV'")
    g.run(f"lock {LOCK} -- sh -c 'exit 3'")    # etcdctl 3.4 exits 1, not 3
    g.run(f"lock {LOCK} nosuchcmd")
    g.run(f"lock --ttl {LOCK_TTL_S} {LOCK} -- sh -c 'echo $ETCD_LOCK_KEY'")
    g.run("lock")
    g.run(f"get {LOCK} --prefix -w json")      # every holder unlocked
    # The command runs only once the lock is free.
    g.spawn("A", f"lock {LOCK}")
    g.wait_lines("A", 2, START_S)
    g.spawn("E", f"lock {LOCK} echo hello")
    g.wait_keys(f"{LOCK}/", 2)
    g.expect_silent("E", SILENT_S, "while [A] holds the lock")
    t = g.kill("A", signal.SIGINT)
    g.wait_lines("E", 1, HANDOVER_S, since=t, what="the SIGINT")
    g.wait_exit("E")
    g.wait_exit("A")
    g.run(f"get {LOCK} --prefix -w json")


def g06_elect(g):
    g.spawn("P1", f"elect {ELECTION} p1")
    g.wait_lines("P1", 2, START_S)             # "myelection/<id>", "p1"
    g.spawn("O", f"elect -l {ELECTION}")
    g.wait_lines("O", 2, START_S)              # the observer prints the current leader
    g.spawn("P2", f"elect {ELECTION} p2")
    g.wait_keys(f"{ELECTION}/", 2)
    g.expect_silent("P2", SILENT_S, "while [P1] leads")
    g.run(f"get {ELECTION} --prefix --sort-by CREATE -w fields")
    t = g.kill("P1", signal.SIGINT)            # resigns: deletes its key
    g.wait_lines("P2", 2, HANDOVER_S, since=t, what="the SIGINT")
    g.wait_lines("O", 4, HANDOVER_S, since=t, what="the SIGINT")
    g.wait_exit("P1")
    # Resigning does not revoke the session lease (etcdctl elect's session TTL is 60 s).
    g.run("lease keep-alive --once {P1}")
    g.run("lease timetolive {P1} --keys")
    # A leader that dies without resigning keeps leading until its lease goes. etcdctl elect
    # has no --ttl (its session TTL is 60 s), so the expiry is stood in for by a revoke.
    g.spawn("P3", f"elect {ELECTION} p3")
    g.wait_keys(f"{ELECTION}/", 2)
    g.kill("P2", signal.SIGKILL)
    g.wait_exit("P2")
    g.expect_silent("P3", SILENT_S, "while dead [P2]'s lease lives")
    g.run("lease keep-alive --once {P2}")
    g.run("lease timetolive {P2} --keys")
    t = time.monotonic()
    g.run("lease revoke {P2}")
    g.wait_lines("P3", 2, HANDOVER_S, since=t, what="the revoke")
    g.wait_lines("O", 6, HANDOVER_S, since=t, what="the revoke")
    g.run(f"get {ELECTION} --prefix -w fields")
    g.kill("O", signal.SIGTERM)
    g.wait_exit("O")
    g.kill("P3", signal.SIGINT)
    g.wait_exit("P3")
    g.run(f"get {ELECTION} --prefix -w json")  # no key left
    g.run("elect")
    g.run(f"elect {ELECTION}")
    g.run(f"elect -l {ELECTION} p")


GROUPS = [
    ("01_grant", g01_grant),
    ("02_attach", g02_attach),
    ("03_expiry", g03_expiry),
    ("04_lock", g04_lock),
    ("05_lock_exec", g05_lock_exec),
    ("06_elect", g06_elect),
]


# ---------------------------------------------------------------------------------------------
def run_group(fn, kind, binary):
    """Runs one group against a fresh server; returns (transcript, whether a check failed,
    timing notes, a shutdown problem or None)."""
    srv = cl.Server(kind, binary).start()
    try:
        cluster_id, member_id = eg.learn_ids(srv.endpoint)
        base = eg.Normalizer([srv.client_port], [srv.peer_port], cluster_id, [member_id])
        g = Group(srv.endpoint, LeaseNormalizer(base), cl.make_tempdir("keel-lease-golden-"))
        try:
            g.notes.append(f"server data {srv.data_dir}, etcdctl outputs {g.work_dir}")
            fn(g)
        except GroupStopped:
            g.emit("### group stopped at the first failed expectation")
        except Exception:  # a bug here, or a server that misbehaves past what run() handles
            g.emit("### ABORTED", traceback.format_exc())
            g.failed = True
        finally:
            g.close()
    finally:
        code = srv.stop()
    shutdown = None
    if code not in (0, None) and kind == "keel":
        shutdown = f"keel exited with {code} on SIGTERM; log tail:\n{srv.log_tail()}"
    return g.text(), g.failed, g.notes, shutdown


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", choices=["keel", "etcd"], default="keel")
    ap.add_argument("--keel", help="path of the keel binary (for --server keel)")
    ap.add_argument("--etcd", default="etcd", help="path of the etcd binary")
    ap.add_argument("--regenerate", action="store_true",
                    help="run against real etcd and rewrite the golden files")
    ap.add_argument("--golden-dir", default=GOLDEN_DIR)
    ap.add_argument("--out-dir", help="also write this run's normalized outputs here")
    ap.add_argument("--only", action="append", help="run only these groups (prefix match)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print full diffs and the measured hand-over / expiry times")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp data dirs, server logs and etcdctl outputs (paths printed)")
    opts = ap.parse_args()

    cl.require_tool("etcdctl")
    if not eg.etcdctl_version_ok():
        return cl.SKIP
    binary = eg.server_binary(ap, opts)
    if opts.server == "etcd" and not eg.etcd_version_ok(binary):
        return 1
    cl.keep_tempdirs(opts.keep)

    t0 = time.monotonic()
    groups = [g for g in GROUPS if not opts.only or any(g[0].startswith(p) for p in opts.only)]
    failures = []
    for name, fn in groups:
        tg = time.monotonic()
        text, failed, notes, shutdown = run_group(fn, opts.server, binary)
        if shutdown:
            failures.append((f"{name} (shutdown)", shutdown))
        print(f"{name}: {time.monotonic() - tg:.1f}s" + (" (a check failed)" if failed else ""))
        if opts.verbose or opts.keep:
            for n in notes:
                print(f"  {n}")
        problem = eg.settle_group(opts, name, text, failed)
        if problem:
            failures.append((name, problem))

    elapsed = time.monotonic() - t0
    bad = len({name for name, _ in failures if not name.endswith("(shutdown)")})
    eg.print_failures(failures, opts.verbose)
    if opts.regenerate:
        print(f"regenerated {len(groups) - bad}/{len(groups)} golden files in "
              f"{elapsed:.1f}s")
    else:
        print(f"{len(groups)} groups against {opts.server}: "
              f"{len(groups) - bad}/{len(groups)} match, {elapsed:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
