#!/usr/bin/env python3
"""./dev bench: measure the service through nginx against this machine's
floors, measured in the same run.  Prints one table (median, p90, p99 and
the ratio to the baseline) and writes JSON.

    bench/bench.py --base http://127.0.0.1:8787 --json build/bench.json
"""
import argparse, http.client, json, os, shutil, statistics, subprocess, sys, tempfile, time
import threading, urllib.parse

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]

def summary(v):
    return {"median": pct(v, 0.5), "p90": pct(v, 0.9), "p99": pct(v, 0.99), "n": len(v)}

class Api:
    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port or 80
        self.c = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def req(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            try:
                self.c.request(method, path, body=body, headers=headers or {})
                r = self.c.getresponse()
                data = r.read()
                return r.status, data
            except (http.client.HTTPException, OSError):
                self.c.close()
                self.c = http.client.HTTPConnection(self.host, self.port, timeout=120)
                if attempt:
                    raise

    def timed(self, method, path, body=None, headers=None, want=200):
        t = time.perf_counter()
        st, data = self.req(method, path, body, headers)
        ms = (time.perf_counter() - t) * 1000
        if st != want:
            raise SystemExit("bench: %s %s -> %d %s" % (method, path, st, data[:200]))
        return ms, data

def spawnlimit(n):
    src = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tools", "spawnlimit.c")
    if not os.path.exists(src) or not shutil.which("cc"):
        return {}
    exe = tempfile.mktemp(prefix="spawnlimit.")
    subprocess.run(["cc", "-O2", "-o", exe, src], check=True)
    out = subprocess.run([exe, str(n)], capture_output=True, text=True).stdout
    os.unlink(exe)
    res = {}
    for line in out.splitlines():
        name = line.split("  median")[0].strip()
        parts = line.split()
        try:
            med = float(parts[parts.index("median") + 1]) / 1000
            p90 = float(parts[parts.index("p90") + 1]) / 1000
            rate = float(parts[parts.index("rate") + 1])
        except (ValueError, IndexError):
            continue
        res[name] = {"median": med, "p90": p90, "rate": rate}
    return res

def run_cmd_times(argv, n):
    v = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        v.append((time.perf_counter() - t) * 1000)
    return summary(v)

def throughput(base, path, body, conc, total):
    done = [0]
    lock = threading.Lock()
    def loop():
        api = Api(base)
        while True:
            with lock:
                if done[0] >= total:
                    return
                done[0] += 1
            api.timed("POST", path, body)
    t = time.perf_counter()
    th = [threading.Thread(target=loop) for _ in range(conc)]
    for x in th: x.start()
    for x in th: x.join()
    return total / (time.perf_counter() - t)

def floor_rate(conc, total=400):
    # fork+exec+wait of /bin/true from `conc` parallel loops (processes)
    script = "for i in $(seq %d); do /bin/true; done" % (total // conc)
    t = time.perf_counter()
    ps = [subprocess.Popen(["sh", "-c", script]) for _ in range(conc)]
    for p in ps: p.wait()
    return (total // conc) * conc / (time.perf_counter() - t)

def stream_latency(api, sid, n=100):
    body = json.dumps({"stream": True, "command":
        "i=0; while [ $i -lt %d ]; do date +%%s%%N; sleep 0.02; i=$((i+1)); done" % n})
    c = http.client.HTTPConnection(api.host, api.port, timeout=120)
    c.request("POST", "/sandboxes/%s/exec" % sid, body=body)
    r = c.getresponse()
    lat = []
    while True:
        line = r.fp.readline()
        if not line:
            break
        now = time.time_ns()
        if not line.startswith(b"data: "):
            continue
        ev = json.loads(line[6:])
        if ev.get("type") == "stdout":
            for sent in ev["data"].split():
                lat.append((now - int(sent)) / 1e6)
        if ev.get("type") in ("complete", "error"):
            break
    c.close()
    return summary(lat)

def preview_latency(api, base, sid, n):
    """A preview GET through nginx (auth_request to the preview pool, then a
    proxy to the sandbox) against a direct GET of the same file at the
    sandbox's address and port, from here: None when the service has no
    networking or no preview domain."""
    st, _ = api.req("PUT", "/sandboxes/%s/files/workspace/p.txt" % sid, b"ok\n",
                    {"Content-Type": "application/octet-stream"})
    body = json.dumps({"command": "exec python3 -m http.server 8000 --bind 0.0.0.0", "processId": "bench-preview",
                       "cwd": "/workspace"})
    api.req("POST", "/sandboxes/%s/processes" % sid, body)
    st, d = api.req("POST", "/sandboxes/%s/ports" % sid, json.dumps({"port": 8000}))
    if st != 201:
        return None, None
    host = urllib.parse.urlparse(json.loads(d)["data"]["url"]).hostname
    # the sandbox's address: a UDP connect sends nothing, it picks the source
    probe = "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); " \
            "s.connect(('198.51.100.1', 9)); print(s.getsockname()[0])"
    st, d = api.req("POST", "/sandboxes/%s/exec" % sid, json.dumps({"command": "python3 -c \"%s\"" % probe}))
    addr = json.loads(d)["data"]["stdout"].strip() if st == 200 else ""
    if not addr:
        return None, None
    for _ in range(100):
        try:
            c = http.client.HTTPConnection(addr, 8000, timeout=5)
            c.request("GET", "/p.txt"); c.getresponse().read(); c.close()
            break
        except OSError:
            time.sleep(0.1)
    direct = []
    for _ in range(n):
        t = time.perf_counter()
        c = http.client.HTTPConnection(addr, 8000, timeout=30)
        c.request("GET", "/p.txt")
        r = c.getresponse(); r.read(); c.close()
        direct.append((time.perf_counter() - t) * 1000)
        if r.status != 200:
            raise SystemExit("bench: direct GET -> %d" % r.status)
    prev = [api.timed("GET", "/p.txt", headers={"Host": host})[0] for _ in range(n)]
    api.req("DELETE", "/sandboxes/%s/ports/8000" % sid)
    api.req("DELETE", "/sandboxes/%s/processes/bench-preview?signal=KILL" % sid)
    return summary(prev), summary(direct)

def net_rows(base, script="netbench.sh"):
    """The rows of a script run in namespaces of its own: bench/netbench.sh
    (create with networking on vs off, same run; one TCP stream sandbox ->
    stand-in internet vs host -> stand-in), bench/preview.sh (a preview GET
    through nginx vs a direct GET at the sandbox's address)."""
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    exe = os.environ.get("SANDBOXD") or os.path.join(top, "build", "sandboxd")
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/dnsmasq") or not os.path.exists(exe):
        print("bench: network figures skipped (needs root, dnsmasq and %s)" % exe, file=sys.stderr)
        return []
    env = dict(os.environ, SANDBOXD=exe, TOP_SRCDIR=top)
    out = subprocess.run(["bash", os.path.join(top, "bench", script)], env=env,
                         capture_output=True, text=True)
    rows = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    if not rows:
        print("bench: %s failed: %s" % (script, (out.stdout + out.stderr)[-500:]), file=sys.stderr)
    return rows

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8787")
    ap.add_argument("--json", default="build/bench.json")
    ap.add_argument("--n", type=int, default=100)
    # sandboxes at once; the service's --max-running must allow them
    # (./dev up allows 1100: ./dev bench --density 1000)
    ap.add_argument("--density", type=int, default=100)
    # only the preview row (bench/preview.sh runs it in a test-made network)
    ap.add_argument("--preview-only", action="store_true")
    # the network figures (bench/netbench.sh): instances of their own in
    # namespaces of their own, nothing leaves the machine
    ap.add_argument("--no-net", action="store_true")
    a = ap.parse_args()
    api = Api(a.base)
    tag = "b%x" % (int(time.time()) & 0xffffff)
    rows, res = [], {}

    def preview_rows(sid):
        prev, direct = preview_latency(api, a.base, sid, max(a.n, 200))
        if prev:
            rows.append({"name": "preview GET via nginx (auth_request)", **prev,
                         "baseline": "direct GET, sandbox address", "baseline_median": direct["median"],
                         "ratio": prev["median"] / direct["median"]})
        else:
            print("bench: no preview row (the service needs network and preview-domain)", file=sys.stderr)

    if a.preview_only:
        api.timed("POST", "/sandboxes/%s-p" % tag)
        preview_rows("%s-p" % tag)
        report(rows, a.json, {})
        return

    floor = spawnlimit(200)
    setns = floor.get("setns(pidfd)+fork+exec+wait", {})
    fresh = floor.get("fresh ns (+net)+fork+exec+wait", {})
    bwrap = run_cmd_times(["bwrap", "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib64",
                           "/lib64", "--symlink", "usr/lib", "/lib", "--symlink", "usr/bin", "/bin",
                           "/bin/true"], 50) if shutil.which("bwrap") else {}

    def row(name, s, base_name, base):
        r = {"name": name, **s, "baseline": base_name, "baseline_median": base.get("median") if base else None}
        r["ratio"] = (s["median"] / base["median"]) if base and base.get("median") else None
        rows.append(r)

    v = [api.timed("POST", "/sandboxes/%s-c%d" % (tag, i))[0] for i in range(min(a.n, 30))]
    row("create, 30 back to back (POST)", summary(v), "bwrap --unshare-all true", bwrap)
    if fresh:
        rows[-1]["floor_fresh_ns_median"] = fresh["median"]
    # spaced: the service's warm sandboxes (./dev up starts 4 ahead) are made
    # again between two creates, as they would be for creates that come apart
    v = []
    for i in range(min(a.n, 20)):
        time.sleep(0.4)
        v.append(api.timed("POST", "/sandboxes/%s-s%d" % (tag, i))[0])
    row("create, 400 ms apart (POST)", summary(v), "bwrap --unshare-all true", bwrap)
    st, d = api.req("GET", "/images")
    names = [i["name"] for i in json.loads(d)["data"]["images"]] if st == 200 else []
    if "bookworm" in names:
        body = json.dumps({"image": "bookworm"})
        v = [api.timed("POST", "/sandboxes/%s-w%d" % (tag, i), body)[0] for i in range(min(a.n, 30))]
        row("create on bookworm (POST, new sandbox)", summary(v), "bwrap --unshare-all true", bwrap)
    sid = "%s-c0" % tag
    for cmd in ("true", "echo hi"):
        body = json.dumps({"command": cmd})
        api.timed("POST", "/sandboxes/%s/exec" % sid, body)
        v = [api.timed("POST", "/sandboxes/%s/exec" % sid, body)[0] for _ in range(a.n)]
        row("exec %s (round trip)" % cmd, summary(v), "setns+fork+exec floor", setns)
    # a person or an agent runs commands now and then, not back to back:
    # what costs once per idle period (a cgroup move's RCU grace period
    # without favordynmods) shows here, not above
    body = json.dumps({"command": "true"})
    v = []
    for _ in range(20):
        time.sleep(0.2)
        v.append(api.timed("POST", "/sandboxes/%s/exec" % sid, body)[0])
    row("exec true, 200 ms apart", summary(v), "setns+fork+exec floor", setns)
    v = [api.timed("GET", "/sandboxes/%s" % sid)[0] for _ in range(a.n)]
    row("GET status", summary(v), None, None)
    for conc in (1, 2, 4, 8):
        rate = throughput(a.base, "/sandboxes/%s/exec" % sid, json.dumps({"command": "true"}), conc, 200)
        fr = floor_rate(min(conc, 2))
        rows.append({"name": "exec throughput, concurrency %d" % conc, "rate": rate,
                     "baseline": "fork+exec /bin/true, %d loops" % min(conc, 2), "baseline_rate": fr,
                     "ratio": rate / fr})
    for size, label in ((1024, "1 KiB"), (10 << 20, "10 MiB")):
        data = os.urandom(size)
        path = "/sandboxes/%s/files/workspace/bench-%d" % (sid, size)
        with tempfile.NamedTemporaryFile() as f:
            f.write(data); f.flush()
            base = run_cmd_times(["cat", f.name], 20)
        n = 20 if size > 1 << 20 else a.n
        w = [api.timed("PUT", path, data, {"Content-Type": "application/octet-stream"})[0] for _ in range(n)]
        r = [api.timed("GET", path + "?raw=1")[0] for _ in range(n)]
        jb = json.dumps({"content": data.hex() if size <= 1024 else "x" * 10, "encoding": "utf-8"})
        jw = [api.timed("PUT", path + "-json", jb)[0] for _ in range(n)]
        jr = [api.timed("GET", path)[0] for _ in range(n)]
        row("file write raw %s" % label, summary(w), "cat", base)
        row("file read raw %s" % label, summary(r), "cat", base)
        row("file write JSON %s" % ("1 KiB" if size <= 1024 else "(small)"), summary(jw), "cat", base)
        row("file read JSON %s (base64)" % label, summary(jr), "cat", base)
    row("stream: write inside -> event at client", stream_latency(api, sid), None, None)

    # density: N idle sandboxes at once; what each costs (its cgroup's
    # memory: the init and the kernel objects charged to it)
    ids = ["%s-d%d" % (tag, i) for i in range(a.density)]
    t0 = time.perf_counter()
    v = [api.timed("POST", "/sandboxes/%s" % i)[0] for i in ids]
    took = time.perf_counter() - t0
    row("create %d sandboxes, each" % a.density, summary(v), "bwrap --unshare-all true", bwrap)
    mem, running = [], 0
    for i in ids:
        st, d = api.req("GET", "/sandboxes/%s" % i)
        dd = json.loads(d)["data"]
        running += dd.get("status") == "running"
        u = dd.get("usage", {})
        if "memoryBytes" in u:
            mem.append(u["memoryBytes"] / 1024)
    rows.append({"name": "memory per idle sandbox (cgroup, KiB)", "median": pct(mem, 0.5) if mem else None,
                 "p90": pct(mem, 0.9) if mem else None, "n": len(mem)})
    rows.append({"name": "%d sandboxes: created in (s), running at once" % a.density, "median": took,
                 "running": running, "n": a.density})
    for i in ids:
        api.req("DELETE", "/sandboxes/%s" % i)

    if not a.no_net:
        rows.extend(net_rows(a.base))
        rows.extend(net_rows(a.base, "preview.sh"))

    report(rows, a.json, {"floor": floor, "bwrap": bwrap})

def report(rows, path, extra):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump({"rows": rows, **extra, "time": time.time()}, f, indent=1)
    print("%-44s %10s %10s %10s  %-32s %8s" % ("measure", "median", "p90", "p99", "baseline (median)", "ratio"))
    for r in rows:
        if "rate" in r:
            print("%-44s %9.0f/s %10s %10s  %-32s %8.2f" % (r["name"], r["rate"], "", "",
                  "%s %.0f/s" % (r["baseline"], r["baseline_rate"]), r["ratio"]))
            continue
        med = r.get("median")
        base = r.get("baseline")
        if "running" in r:
            print("%-44s %10.1f %10s %10s  %-32s" % (r["name"], med, "", "", "%d of %d running" % (r["running"], r["n"])))
            continue
        bm = r.get("baseline_median")
        print("%-44s %10s %10s %10s  %-32s %8s" % (
            r["name"], "%.2f" % med if med is not None else "-",
            "%.2f" % r["p90"] if r.get("p90") is not None else "-",
            "%.2f" % r["p99"] if r.get("p99") is not None else "-",
            "%s %.2f ms" % (base, bm) if base and bm else "-",
            "%.2f" % r["ratio"] if r.get("ratio") else "-"))
    print("(times in ms; memory in KiB; JSON in %s)" % path)

if __name__ == "__main__":
    main()
