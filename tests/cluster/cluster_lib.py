"""A local multi-member Keel (or etcd) cluster for multi-process tests (run with /usr/bin/python3).

Ports are chosen at run time; every process is killed when the test exits (compat_lib's
cleanup). Members are compat_lib.Server objects, so start/stop/kill/log_tail work as there.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
import compat_lib as cl  # noqa: E402



def ctl(target, *args, timeout="5s"):
    """etcdctl with a command timeout against a Member or an endpoints string:
    (stdout, stderr, exit code) as text."""
    endpoints = target if isinstance(target, str) else target.endpoint
    out, err, rc = cl.etcdctl(endpoints, [f"--command-timeout={timeout}"] + list(args))
    return out.decode(), err.decode(), rc

class Member(cl.Server):
    def __init__(self, kind, binary, name, cluster, extra_flags=()):
        super().__init__(kind, binary, extra_flags=extra_flags)
        self.name = name
        self.cluster = cluster
        self.state = "new"

    def _argv(self):
        c = f"http://127.0.0.1:{self.client_port}"
        p = f"http://127.0.0.1:{self.peer_port}"
        return [self.binary, "--name", self.name, "--data-dir", self.data_dir,
                "--listen-client-urls", c, "--advertise-client-urls", c,
                "--listen-peer-urls", p, "--initial-advertise-peer-urls", p,
                "--initial-cluster", self.cluster.initial_cluster(),
                "--initial-cluster-state", self.state] + self.extra_flags

    def launch(self):
        """Starts the process without waiting for health (a member alone has no quorum)."""
        self._starts += 1
        self.log_path = os.path.join(self.log_dir, f"{self.name}-{self._starts}.log")
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self._argv(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=cl._die_with_parent)
        log.close()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def status(self, timeout=3):
        """etcdctl endpoint status as a dict (Status of this member), or None."""
        try:
            out, _, rc = cl.etcdctl(self.endpoint, ["--dial-timeout=1s",
                                                    f"--command-timeout={timeout}s",
                                                    "endpoint", "status", "-w", "json"],
                                    timeout=timeout + 5)
        except subprocess.TimeoutExpired:
            return None
        if rc != 0:
            return None
        return json.loads(out)[0]["Status"]


class Cluster:
    def __init__(self, binary, size=3, kind="keel", extra_flags=(), election_timeout_ms=1000):
        self.binary = binary
        self.election_timeout_ms = election_timeout_ms
        flags = list(extra_flags)
        if election_timeout_ms != 1000:
            flags += ["--election-timeout", str(election_timeout_ms),
                      "--heartbeat-interval", str(max(10, election_timeout_ms // 10))]
        ports = cl.free_ports(2 * size)
        self.members = []
        for i in range(size):
            m = Member(kind, binary, f"m{i + 1}", self, extra_flags=flags)
            m.client_port, m.peer_port = ports[2 * i], ports[2 * i + 1]
            self.members.append(m)

    def initial_cluster(self):
        return ",".join(f"{m.name}=http://127.0.0.1:{m.peer_port}" for m in self.members)

    def endpoints(self, members=None):
        return ",".join(m.endpoint for m in (members or self.members))

    def start(self, timeout=30.0):
        for m in self.members:
            m.launch()
        for m in self.members:
            m.wait_healthy(timeout)
        return self

    def stop(self):
        for m in self.members:
            try:
                m.stop()
            except RuntimeError:
                m.kill()

    def leader(self, members=None, timeout=15.0):
        """The member every live member agrees leads, waiting up to `timeout`; None if none."""
        deadline = time.monotonic() + timeout
        members = [m for m in (members or self.members) if m.alive()]
        while True:
            leads = set()
            ok = True
            for m in members:
                st = m.status()
                if st is None or st.get("leader", 0) == 0:
                    ok = False
                    break
                leads.add(st["leader"])
            if ok and len(leads) == 1:
                lead = leads.pop()
                for m in members:
                    st = m.status()
                    if st and st["header"]["member_id"] == lead:
                        return m
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)  # poll interval of a deadline-bounded wait

    def hashkv(self, m, revision=0):
        out, err, rc = cl.etcdctl(m.endpoint, ["endpoint", "hashkv", f"--rev={revision}",
                                               "-w", "json"])
        if rc != 0:
            raise RuntimeError(f"hashkv on {m.name}: {err.decode()}")
        return json.loads(out)[0]["HashKV"]
