#!/usr/bin/env python3
"""./dev soak [SEC]: mixed load at concurrency 16 with streams, then the
service back to its baseline (issue 16).  Not in CI; bounded (at most 600 s
of load, then at most 60 s to settle).

    bench/soak.py --base http://127.0.0.1:8787 --pidfile STATE/sandboxd.pid \\
        --instance dev --seconds 300

Before the load (sandboxes made, every operation done once) and after it
(streams closed, the pool trimmed to its spares) it measures the master
(RSS, fds), the workers (how many, RSS, private memory, fds), the mounts
and the service's cgroups; it fails when any answer was a 5xx, a request
failed, or what was measured is not back to the baseline.
"""
import argparse, collections, glob, http.client, json, os, random, subprocess, sys, threading, time
import urllib.parse

STREAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "streams.py")


class Client:
    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port or 80
        self.c = None

    def req(self, method, path, body=None, headers=None, stream=False):
        """(status, body); a stream is read to its end.  Status 0: no answer."""
        for attempt in (0, 1):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(self.host, self.port, timeout=60)
                h = dict(headers or {})
                if isinstance(body, (dict, list)):
                    body = json.dumps(body)
                    h["Content-Type"] = "application/json"
                self.c.request(method, path, body=body, headers=h)
                r = self.c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                if self.c:
                    self.c.close()
                self.c = None
                if attempt:
                    return 0, b""


def proc_status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def private_kb(pid):
    n = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith(("Private_Dirty:", "Private_Clean:")):
                    n += int(line.split()[1])
    except OSError:
        pass
    return n


def nfds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


def children(pid):
    out = []
    for t in glob.glob("/proc/%d/task/*/children" % pid):
        try:
            out += [int(x) for x in open(t).read().split()]
        except OSError:
            pass
    return out


def comm(pid):
    try:
        return open("/proc/%d/comm" % pid).read().strip()
    except OSError:
        return ""


def cgroups(instance, serials):
    """The service's cgroups, but the exec cgroups (e<serial>) of the
    workers alive: each worker keeps one in each sandbox it ran a command
    in, until it exits, so they go with the count of workers.  An exec
    cgroup of a worker that is gone is a leak: counted apart too."""
    n = leaked = 0
    for top in glob.glob("/sys/fs/cgroup/sandboxd-%s" % instance) + glob.glob("/sys/fs/cgroup/*/sandboxd-%s" % instance):
        n += 1
        for _, dirs, _ in os.walk(top):
            for d in dirs:
                if d[:1] == "e" and d[1:].isdigit():
                    if d[1:] in serials:
                        continue
                    leaked += 1
                n += 1
    return n, leaked


def serial_of(pid):
    try:
        title = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return None
    parts = title.split()
    return parts[-1][1:] if len(parts) == 3 and parts[1] == "worker" and parts[2][:1] == "e" else None


def mounts(master, data):
    """Mounts of the host's namespace under the data dir, and loop devices
    backed by a file under it (the sandboxes' disks): ours, not those of
    whatever else runs on the host."""
    data = os.path.realpath(data) + "/"
    n = sum(1 for line in open("/proc/%d/mountinfo" % master) if (line.split()[4] + "/").startswith(data))
    for f in glob.glob("/sys/block/loop*/loop/backing_file"):
        try:
            n += open(f).read().strip().startswith(data)
        except OSError:
            pass
    return n


def measure(master, instance, data):
    workers = [p for p in children(master) if comm(p) == "sandboxd-worker"]
    cg, leaked = cgroups(instance, {serial_of(p) for p in workers} - {None})
    return {
        "master_rss_kb": proc_status(master, "VmRSS"),
        "master_fds": nfds(master),
        "workers": len(workers),
        "workers_rss_kb": sum(proc_status(p, "VmRSS") for p in workers),
        "worker_private_kb_max": max([private_kb(p) for p in workers] or [0]),
        "worker_fds_max": max([nfds(p) for p in workers] or [0]),
        "mounts": mounts(master, data),
        "cgroups": cg,
        "exec_cgroups_of_gone_workers": leaked,
    }


class Soak:
    def __init__(self, a):
        self.a = a
        self.codes = collections.Counter()
        self.bad = []
        self.ops = collections.Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        tag = "soak%x" % (int(time.time()) & 0xffffff)
        self.ids = ["%s-%d" % (tag, k) for k in range(4)]

    def note(self, op, st, body=b""):
        with self.lock:
            self.codes[st] += 1
            self.ops[op] += 1
            if st == 0 or st >= 500:
                self.bad.append("%s -> %d %s" % (op, st, body[:160]))

    def one(self, c, rnd):
        sid = rnd.choice(self.ids)
        base = "/sandboxes/" + sid
        k = rnd.random()
        if k < 0.25:
            st, b = c.req("POST", base + "/exec", {"command": "true"})
            self.note("exec true", st, b)
        elif k < 0.35:
            st, b = c.req("POST", base + "/exec", {"command": "echo hi; ls / >/dev/null; cat /etc/os-release"})
            self.note("exec echo", st, b)
        elif k < 0.45:
            st, b = c.req("GET", base)
            self.note("status", st, b)
        elif k < 0.50:
            st, b = c.req("GET", "/healthz")
            self.note("healthz", st, b)
        elif k < 0.60:
            name = "/files/workspace/soak-%d" % rnd.randrange(8)
            st, b = c.req("PUT", base + name, os.urandom(1024), {"Content-Type": "application/octet-stream"})
            self.note("file write", st, b)
            st, b = c.req("GET", base + name + "?raw=1")
            self.note("file read", st, b)
        elif k < 0.65:
            st, b = c.req("GET", base + "/ls?path=/workspace")
            self.note("ls", st, b)
        elif k < 0.70:
            st, b = c.req("GET", base + "/history")
            self.note("history", st, b)
        elif k < 0.78:
            st, b = c.req("POST", base + "/exec",
                          {"command": "for i in 1 2 3; do echo $i; sleep 0.1; done", "stream": True})
            self.note("exec stream", st, b)
        elif k < 0.86:
            st, b = c.req("POST", base + "/processes", {"command": "echo started; sleep 0.3; echo done"})
            self.note("process start", st, b)
            if st == 200:
                pid = json.loads(b)["data"]["id"]
                st, b = c.req("GET", "%s/processes/%s/logs?stream=1" % (base, pid))
                self.note("log follow", st, b)
                st, b = c.req("GET", "%s/processes/%s" % (base, pid))
                self.note("process get", st, b)
        elif k < 0.90:
            st, b = c.req("GET", "/metrics")
            self.note("metrics", st, b)
        else:
            st, b = c.req("POST", base + "/exec", {"command": "head -c 200000 /dev/urandom | base64"})
            self.note("exec 270 KB out", st, b)

    def loop(self, n):
        c, rnd = Client(self.a.base), random.Random(n)
        while not self.stop.is_set():
            self.one(c, rnd)

    def holder(self):
        """50 long streams (40 log follows, 10 streamed execs) opened, held
        for 15 s, closed, again, while the load runs."""
        rounds = 0
        while not self.stop.is_set():
            args = [sys.executable, STREAMS, "--base", self.a.base, "--hold", "15", "--wait", "60"]
            for sid in self.ids:
                args += ["--follow", "%s/bg:10" % sid]
            for sid in self.ids[:2]:
                args += ["--exec", "%s:5" % sid]
            out = subprocess.run(args, capture_output=True, text=True).stdout.splitlines()
            rounds += 1
            first = out[0] if out else ""
            st = 200 if first == 'open 50 statuses {"200": 50}' else 0
            self.note("50 long streams held", st, first.encode())
        self.rounds = rounds

    def setup(self):
        c = Client(self.a.base)
        for sid in self.ids:
            for method, path, body in (("POST", "/sandboxes/" + sid, None),
                                       ("POST", "/sandboxes/%s/processes" % sid,
                                        {"command": "sleep 3600", "processId": "bg"})):
                st, b = c.req(method, path, body)
                if st != 200:
                    raise SystemExit("soak: %s %s -> %d %s" % (method, path, st, b[:200]))
        rnd = random.Random(0)
        for _ in range(60):	# every operation once or more: what it loads is in the baseline
            self.one(c, rnd)

    def teardown(self):
        c = Client(self.a.base)
        for sid in self.ids:
            c.req("DELETE", "/sandboxes/" + sid)


def pool(c, name):
    st, d = c.req("GET", "/metrics")
    for line in d.decode(errors="replace").splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--instance", required=True)
    ap.add_argument("--data", required=True, help="the service's data dir")
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=16)
    a = ap.parse_args()
    a.seconds = max(10, min(a.seconds, 600))
    master = int(open(a.pidfile).read())
    s = Soak(a)
    s.setup()
    c = Client(a.base)
    time.sleep(3)
    before = measure(master, a.instance, a.data)
    print("soak: %d s of load at concurrency %d, 50 long streams opened and closed every ~15 s" %
          (a.seconds, a.concurrency), flush=True)
    t0 = time.monotonic()
    th = [threading.Thread(target=s.loop, args=(n,)) for n in range(a.concurrency)]
    th.append(threading.Thread(target=s.holder))
    for t in th:
        t.start()
    peak = {"workers": 0, "streams": 0}
    while time.monotonic() - t0 < a.seconds:
        time.sleep(5)
        m = measure(master, a.instance, a.data)
        peak["workers"] = max(peak["workers"], m["workers"])
        peak["streams"] = max(peak["streams"], pool(c, "sandboxd_pool_streams"))
    s.stop.set()
    for t in th:
        t.join()
    took = time.monotonic() - t0
    # settle: the streams' workers gone, the pool trimmed to its spares
    # (workers at start, or max-spare when more: the pool may keep that many)
    spares = max(before["workers"], pool(c, "sandboxd_pool_max_spare_workers"),
                 pool(c, "sandboxd_pool_start_workers"))
    for _ in range(120):
        after = measure(master, a.instance, a.data)
        if (pool(c, "sandboxd_pool_streams") == 0 and after["workers"] <= spares and
                after["cgroups"] <= before["cgroups"] and after["mounts"] <= before["mounts"]):
            break
        time.sleep(0.5)
    time.sleep(1)
    after = measure(master, a.instance, a.data)
    s.teardown()
    total = sum(s.codes.values())
    print("requests: %d in %.0f s (%.0f/s); statuses %s; peak workers %d, peak streams %d" % (
        total, took, total / took, json.dumps(dict(sorted(s.codes.items()))), peak["workers"], peak["streams"]))
    print("by operation: %s" % ", ".join("%s %d" % kv for kv in sorted(s.ops.items())))
    # back to baseline: counts exactly; memory within a small allowance
    # (malloc arenas, LMDB pages read: not growth per request)
    allow = {"master_rss_kb": 1024, "workers_rss_kb": 0, "worker_private_kb_max": 2048}
    ok = True
    print("%-24s %10s %10s  %s" % ("measure", "before", "after", "verdict"))
    for k in before:
        if k == "workers":
            good = after[k] <= spares
            print("%-24s %10d %10d  %s" % (k, before[k], after[k],
                                           ("ok" if good else "NOT back") + " (at most %d: the spares)" % spares))
        elif k == "workers_rss_kb":
            # the sum goes with the count: compared per worker
            b = before[k] / max(before["workers"], 1)
            v = after[k] / max(after["workers"], 1)
            good = v <= b * 1.25 + 1024
            print("%-24s %10.0f %10.0f  %s" % ("worker_rss_kb_avg", b, v, "ok" if good else "NOT back"))
        else:
            good = after[k] <= before[k] + allow.get(k, 0)
            print("%-24s %10d %10d  %s" % (k, before[k], after[k], "ok" if good else "NOT back"))
        ok &= good
    if s.bad:
        ok = False
        print("failed or 5xx answers (%d), the first ones:" % len(s.bad))
        for line in s.bad[:10]:
            print("  " + line)
    print("soak: %s" % ("passed" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
