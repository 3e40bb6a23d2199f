"""Shared helpers for Keel's compatibility and crash tests (run with /usr/bin/python3).

Starts a single-member `keel` or real `etcd` on free ports chosen at run time, in a fresh
temporary data dir, waits for it with a deadline (polling `etcdctl endpoint health`), and
guarantees that every process it started is killed when the test exits, however it exits
(normal return, exception, SIGINT/SIGTERM/SIGHUP).
"""

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77  # ctest SKIP_RETURN_CODE: a required tool is missing.

_servers = []
_procs = []  # helper processes started with spawn()
_tempdirs = []
_keep_tempdirs = False


def _die_with_parent():
    # If this test is SIGKILLed (e.g. a ctest timeout), atexit never runs: let the kernel kill
    # the server too (PR_SET_PDEATHSIG = 1).
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=30)
    for s in list(_servers):
        s.kill()
    if not _keep_tempdirs:
        for d in _tempdirs:
            shutil.rmtree(d, ignore_errors=True)


def _on_signal(signum, frame):
    # SystemExit unwinds every `finally`, then atexit runs _cleanup().
    raise SystemExit(128 + signum)


atexit.register(_cleanup)
for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def keep_tempdirs(keep=True):
    global _keep_tempdirs
    _keep_tempdirs = keep


def make_tempdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    _tempdirs.append(d)
    return d


def require_tool(path_or_name):
    found = shutil.which(path_or_name)
    if not found:
        print(f"SKIP: {path_or_name} not found", file=sys.stderr)
        sys.exit(SKIP)
    return found


def free_ports(n):
    """n distinct currently free TCP ports on 127.0.0.1 (bound together, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def spawn(argv, **popen_kwargs):
    """Popen for a helper process (e.g. a background `etcdctl lock`) that cannot outlive the
    test: SIGKILLed at exit if still running, and by the kernel if the test is SIGKILLed."""
    p = subprocess.Popen(argv, preexec_fn=_die_with_parent, **popen_kwargs)
    _procs.append(p)
    return p


def etcdctl_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    env["ETCDCTL_API"] = "3"
    return env


class Server:
    """One single-member server process: kind is "keel" or "etcd"."""

    def __init__(self, kind, binary, data_dir=None, log_dir=None, extra_flags=()):
        self.kind = kind
        self.binary = binary
        self.data_dir = data_dir or os.path.join(make_tempdir(f"keel-compat-{kind}-"), "data")
        self.log_dir = log_dir or os.path.dirname(self.data_dir)
        self.extra_flags = list(extra_flags)
        self.proc = None
        self.client_port = None
        self.peer_port = None
        self.log_path = None
        self._starts = 0
        _servers.append(self)

    @property
    def endpoint(self):
        return f"127.0.0.1:{self.client_port}"

    def _argv(self):
        c = f"http://127.0.0.1:{self.client_port}"
        p = f"http://127.0.0.1:{self.peer_port}"
        return [self.binary, "--name", "default", "--data-dir", self.data_dir,
                "--listen-client-urls", c, "--advertise-client-urls", c,
                "--listen-peer-urls", p, "--initial-advertise-peer-urls", p,
                "--initial-cluster", f"default={p}"] + self.extra_flags

    def start(self, timeout=30.0, same_ports=True):
        """Start (or restart on the same data dir) and wait until healthy.

        The first start picks free ports and retries with new ones (and a wiped data dir) a few
        times in case another process took a port between choosing and binding it. A restart
        keeps the ports by default so that clients keep working.
        """
        fresh = self._starts == 0
        attempts = 3 if fresh else 1
        last_err = None
        for _ in range(attempts):
            if fresh or not same_ports:
                self.client_port, self.peer_port = free_ports(2)
            if fresh:
                shutil.rmtree(self.data_dir, ignore_errors=True)
            self._starts += 1
            self.log_path = os.path.join(self.log_dir, f"{self.kind}-{self._starts}.log")
            log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(self._argv(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         preexec_fn=_die_with_parent)
            log.close()
            try:
                self.wait_healthy(timeout)
                return self
            except RuntimeError as e:
                last_err = e
                self.kill()
        raise last_err

    def wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode} before becoming "
                                   f"healthy; log tail:\n{self.log_tail()}")
            try:
                r = subprocess.run(["etcdctl", f"--endpoints={self.endpoint}", "--dial-timeout=1s",
                                    "--command-timeout=2s", "endpoint", "health"],
                                   capture_output=True, env=etcdctl_env(), timeout=10)
                # etcdctl 3.4 prints the health line on stderr.
                if r.returncode == 0 and b"is healthy" in r.stdout + r.stderr:
                    return
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind} not healthy within {timeout}s; log tail:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.1)  # poll interval of a deadline-bounded wait

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    def kill(self):
        """SIGKILL the server (its whole process group) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)

    def stop(self, timeout=15.0):
        """SIGTERM, wait with a deadline, SIGKILL if it does not stop. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"{self.kind} did not stop within {timeout}s of SIGTERM")


def etcdctl(endpoint, args, stdin=b"", timeout=30):
    """Runs etcdctl; returns (stdout bytes, stderr bytes, exit code)."""
    r = subprocess.run(["etcdctl", f"--endpoints={endpoint}"] + list(args), input=stdin,
                       capture_output=True, env=etcdctl_env(), timeout=timeout)
    return r.stdout, r.stderr, r.returncode
