#!/usr/bin/env python3
"""./dev bench: measure the service through nginx against this machine's
floors and peers, measured in the same run (bench/floors.py: nginx's own
`return 200`, nginx -> the smallest libfcgi responder pool, setns + fork +
exec, bwrap, runc run and runc exec), and the issue 18 goals against them.
Prints one table (median, p90, p99 and the ratio to the baseline) and the
goals, and writes JSON (bench/table.py makes the README's table of it).

    bench/bench.py --base http://127.0.0.1:8787 --json build/bench.json \
        --log /var/lib/sandboxd-dev/sandboxd.log
    bench/bench.py --load ...: exec true with 0, 50 and 200 streams open
    bench/bench.py --goals [--rounds K] ...: only the goals, each ratio
        measured in K rounds, the service's figure and its floor's back to
        back (run_goals); build/bench-goals.json
"""
import argparse, http.client, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time
import threading, urllib.parse

# no bench/__pycache__: EXTRA_DIST ships bench/ as it is
sys.dont_write_bytecode = True
import floors

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

def run_cmd_times(argv, n):
    v = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        v.append((time.perf_counter() - t) * 1000)
    return summary(v)

# the bwrap row: every namespace new, the host's /usr read-only on an empty
# root, as runc's bundle has it (floors.runc_config)
BWRAP = ["bwrap", "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib64", "/lib64",
         "--symlink", "usr/lib", "/lib", "--symlink", "usr/bin", "/bin", "/bin/true"]

def bwrap_times(n):
    return run_cmd_times(BWRAP, n) if shutil.which("bwrap") else {}

def front_batch(fapi, api, sid, n):
    """nginx's own return, nginx -> the responder floor and the service's
    status read, one of each in turn, n times, so that the machine's load
    hits them alike: the three lists of ms."""
    st, fl, sv = [], [], []
    for _ in range(n):
        st.append(fapi.timed("GET", "/.bench-static")[0])
        fl.append(fapi.timed("GET", "/sandboxes/x")[0])
        sv.append(api.timed("GET", "/sandboxes/%s" % sid)[0])
    return st, fl, sv

def exec_batch(api, sid, body, n):
    """n execs back to back, after one not counted: their summary."""
    api.timed("POST", "/sandboxes/%s/exec" % sid, body)
    return summary([api.timed("POST", "/sandboxes/%s/exec" % sid, body)[0] for _ in range(n)])

def cold_creates(api, logs, ids, body):
    """Cold creates, back to back: each asks for the default limits by name
    (`body`), which a warm sandbox never serves (warm.c: asks_defaults), so
    that each is made from nothing; the log (sandbox.created has warm= for
    a claim) and the warm gauge, which must not move, say they were cold.
    Returns (summary, claims, [warm gauge before, after])."""
    warm_before = metric(api, WARM)
    mark = logs.mark()
    v = [api.timed("POST", "/sandboxes/%s" % i, body)[0] for i in ids]
    claims = logs.claims(mark, ids)
    warm_after = metric(api, WARM)
    if claims or (claims is None and warm_after != warm_before):
        print("bench: a cold create claimed a warm sandbox (%s claims, warm %s -> %s): not a cold figure"
              % (claims, warm_before, warm_after), file=sys.stderr)
    return summary(v), claims, [warm_before, warm_after]

def wait_full(api, full, tries=100):
    """Until the warm pool holds `full` sandboxes again (5 s at most)."""
    for _ in range(tries):
        if (metric(api, WARM) or 0) >= full:
            return
        time.sleep(0.05)

def warm_claims(api, logs, ids, full):
    """Warm claims: each create waits until the pool is full again (`full`
    warm sandboxes: 4 under ./dev up) and 400 ms more (the filler's last
    steps after the record), as creates that come apart find it; the log
    says each was a claim.  Returns (summary, claims)."""
    v = []
    mark = logs.mark()
    for i in ids:
        wait_full(api, full)
        time.sleep(0.4)
        v.append(api.timed("POST", "/sandboxes/%s" % i)[0])
    claims = logs.claims(mark, ids)
    if claims is not None and claims < len(ids):
        print("bench: %d of %d spaced creates were not claims" % (len(ids) - claims, len(ids)),
              file=sys.stderr)
    return summary(v), claims

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

def holder(base, follows, execs):
    """bench/streams.py holding `follows` log follows and `execs` streamed
    execs over the load sandboxes; returns it once every one is open."""
    args = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "streams.py"),
            "--base", base, "--wait", "120"]
    for k in range(LOAD_SANDBOXES):
        f = follows // LOAD_SANDBOXES + (k < follows % LOAD_SANDBOXES)
        e = execs // LOAD_SANDBOXES + (k < execs % LOAD_SANDBOXES)
        if f:
            args += ["--follow", "%s/bg:%d" % (LOAD_IDS[k], f)]
        if e:
            args += ["--exec", "%s:%d" % (LOAD_IDS[k], e)]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    want = 'open %d statuses {"200": %d}' % (follows + execs, follows + execs)
    if line != want:
        p.kill()
        raise SystemExit("bench --load: holder said %r, not %r" % (line, want))
    return p

def metric(api, name):
    st, d = api.req("GET", "/metrics")
    for line in d.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None

LOAD_SANDBOXES = 5
LOAD_IDS = []

def run_load(a):
    """exec `true` latency (p50/p99, sequential) and throughput (concurrency
    4) with 0, 50 and 200 streams open (4 log follows to 1 streamed exec,
    over 5 sandboxes), the no-stream figures as the baseline; goal: p99
    with 200 <= 2 x p99 with none.  Twice: in a sandbox of its own (another
    tenant: what the pool does) and in one of the 5 (a fifth of the streams
    are its own: its init answers their polls too)."""
    api = Api(a.base)
    tag = "L%x" % (int(time.time()) & 0xffffff)
    LOAD_IDS[:] = ["%s-%d" % (tag, k) for k in range(LOAD_SANDBOXES)]
    quiet = "%s-q" % tag
    api.timed("POST", "/sandboxes/%s" % quiet)
    for sid in LOAD_IDS:
        api.timed("POST", "/sandboxes/%s" % sid)
        api.timed("POST", "/sandboxes/%s/processes" % sid,
                  json.dumps({"command": "sleep 3600", "processId": "bg"}))
    body = json.dumps({"command": "true"})
    rows = []
    for streams in (0, 50, 200):
        h = holder(a.base, streams * 4 // 5, streams // 5) if streams else None
        open_now = metric(api, "sandboxd_pool_streams")
        for where, sid in (("own sandbox", quiet), ("a streamed one", LOAD_IDS[0])):
            for _ in range(10):
                api.timed("POST", "/sandboxes/%s/exec" % sid, body)
            v = [api.timed("POST", "/sandboxes/%s/exec" % sid, body)[0] for _ in range(a.load_n)]
            rate = throughput(a.base, "/sandboxes/%s/exec" % sid, body, 4, a.load_n)
            hz = [api.timed("GET", "/healthz")[0] for _ in range(50)]
            workers = metric(api, "sandboxd_workers")
            rows.append({"streams": streams, "where": where, "open": open_now, "workers": workers,
                         "exec_true": summary(v), "rate": rate, "healthz": summary(hz)})
        if h:
            h.stdin.close()
            h.wait()
        # the streams' workers leave: wait until none is open
        for _ in range(600):
            if metric(api, "sandboxd_pool_streams") == 0:
                break
            time.sleep(0.1)
    for sid in LOAD_IDS + [quiet]:
        api.req("DELETE", "/sandboxes/%s" % sid)
    print("%-40s %7s %7s %10s %11s %11s %7s" % ("exec true, N streams open, in", "p50", "p99", "p99/p99(0)",
                                              "exec/s (c4)", "healthz p99", "workers"))
    for r in rows:
        e = r["exec_true"]
        base = [b for b in rows if b["streams"] == 0 and b["where"] == r["where"]][0]
        print("%-40s %7.2f %7.2f %10.2f %11.0f %11.2f %7.0f" % (
            "%d (%d seen), %s" % (r["streams"], r["open"] or 0, r["where"]), e["median"], e["p99"],
            e["p99"] / base["exec_true"]["p99"], r["rate"], r["healthz"]["p99"], r["workers"] or 0))
    for where in ("own sandbox", "a streamed one"):
        mine = [r for r in rows if r["where"] == where]
        ratio = mine[-1]["exec_true"]["p99"] / mine[0]["exec_true"]["p99"]
        print("goal p99(200)/p99(0) <= 2, %s: %.2f %s" % (where, ratio, "met" if ratio <= 2 else "NOT met"))
    print("(ms; %d execs per row, sequential, then %d at concurrency 4)" % (a.load_n, a.load_n))
    os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
    with open(a.json, "w") as f:
        json.dump({"load": rows, "time": time.time()}, f, indent=1)

# The issue 18 goals: (key, name, op, limit, what the service's figure is
# held against)
GOALS = [
    ("status", "status <= 1.2 x responder floor", "<=", 1.2, "responder floor"),
    ("exec", "exec true <= 1.2 x (responder floor + setns floor)", "<=", 1.2, "responder floor + setns floor"),
    ("cold", "cold create <= 0.25 x runc run", "<=", 0.25, "runc run"),
    ("warm", "warm claim <= 0.5 x bwrap", "<=", 0.5, "bwrap"),
    ("rate", "exec throughput c4 >= 0.8 x composed floor", ">=", 0.8, "composed floor 1/(1/R + 1/F)"),
]

def pair(first, second, flip):
    """Both measures, one after the other, in the order `flip` says (the
    rounds alternate it): their results, first's first."""
    if flip:
        b = second()
        return first(), b
    a = first()
    return a, second()

def settle(api, quiet=1.5, most=30):
    """The warm gauge once it has stayed the same `quiet` seconds (the
    filler done): how many warm sandboxes the service keeps full."""
    last, since, t0 = None, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < most:
        v = metric(api, WARM) or 0
        if v != last:
            last, since = v, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(0.1)
    return int(last or 0)

def goals_round(k, a, api, fapi, fbase, rc, logs, tag, sid, limits, full):
    """One round: each goal's service figure and its floor or peer back to
    back, short batches, the order flipped every other round; the ratio of
    each.  Same definitions as ./dev bench's rows (the helpers above)."""
    flip = k % 2 == 1
    n, rate_n = a.n, a.rate_n
    g, parts = {}, {"load": os.getloadavg()[0]}
    # status and the responder floor: a request of each in turn (front_batch)
    front_batch(fapi, api, sid, 5)
    _, fl, sv = front_batch(fapi, api, sid, n)
    front, status = summary(fl), summary(sv)
    g["status"] = (status["median"], front["median"])
    # exec true and the setns floor (spawn-floor's latencies, n of each):
    # the floor is the round's front plus the setns spawn
    body = json.dumps({"command": "true"})
    ex, sp = pair(lambda: exec_batch(api, sid, body, n), lambda: floors.spawn(n), flip)
    setns = sp.get("setns+fork+exec+wait", {}).get("median")
    if setns:
        g["exec"] = (ex["median"], front["median"] + setns)
    parts.update(front=front["median"], status=status["median"], exec_true=ex["median"], setns=setns)
    # exec throughput at concurrency 4 and the composed floor of R (the
    # responder floor at concurrency 4, 10 x as many requests) and F (2
    # spawn loops): exec, R, F or F, R, exec
    steps = [lambda: floors.rate(a.base, "POST", "/sandboxes/%s/exec" % sid, body, 4, rate_n)[0],
             lambda: floors.rate(fbase, "GET", "/sandboxes/x", None, 4, 10 * rate_n)[0],
             lambda: floors.spawn(rate_n, 2, rates=True).get("setns+fork+exec+wait, 2 loops", {}).get("rate")]
    got = [None] * 3
    for i in (reversed(range(3)) if flip else range(3)):
        got[i] = steps[i]()
    rate, R, F = got
    if F:
        composed = 1 / (1 / R + 1 / F)
        g["rate"] = (rate, composed)
        parts.update(R=R, F=F, composed=composed)
    parts["exec_rate_c4"] = rate
    # cold creates back to back (the default limits by name: cold_creates)
    # and runc run, as many; the cold ones destroyed before the claims
    nc = min(n, a.goal_creates)
    ids = ["%s-%dc%d" % (tag, k, i) for i in range(nc)]
    if rc:
        (cold, claims, gauge), run = pair(lambda: cold_creates(api, logs, ids, cold_body(limits)),
                                          lambda: rc.run(nc), flip)
        g["cold"] = (cold["median"], run["median"])
        parts.update(cold=cold["median"], runc_run=run["median"], cold_claims=claims, cold_warm_gauge=gauge)
        for i in ids:
            api.timed("POST", "/sandboxes/%s/destroy" % i)
    # warm claims, each once the pool is full again and 400 ms more
    # (warm_claims), and a batch of bwrap as long as main's back to back
    if full:
        wait_full(api, full)
        nw = min(n, a.goal_claims)
        ids = ["%s-%dw%d" % (tag, k, i) for i in range(nw)]
        (warm, claims), bw = pair(lambda: warm_claims(api, logs, ids, full), lambda: bwrap_times(n), flip)
        if bw:
            g["warm"] = (warm["median"], bw["median"])
            parts.update(warm=warm["median"], bwrap=bw["median"], warm_claims=claims)
        for i in ids:
            api.timed("POST", "/sandboxes/%s/destroy" % i)
        wait_full(api, full)
    res = {}
    for key, name, op, limit, what in GOALS:
        if key in g and g[key][1]:
            num, den = g[key]
            ratio = num / den
            res[key] = {"measured": num, "against": den, "ratio": ratio,
                        "met": ratio <= limit if op == "<=" else ratio >= limit}
    return {"round": k + 1, "order": "floor first" if flip else "service first", "goals": res, "figures": parts,
            "time": time.time()}

def run_goals(a):
    """./dev bench --goals: issue 18's goals, each a ratio of a service
    figure to a floor or peer, measured in --rounds rounds; in each round a
    goal's two figures are measured back to back (short batches, the order
    alternating between rounds), so that the machine's load, which moves
    minute to minute here, hits both alike.  A round's ratio is a figure;
    the goal's verdict is the median over the rounds (and how many met
    it).  Writes build/bench-goals.json; bench/table.py makes a table."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    api = Api(a.base)
    logs = LogWatch(a.log)
    tag = "g%x" % (int(time.time()) & 0xffffff)
    sid = "%s-x" % tag
    api.timed("POST", "/sandboxes/%s" % sid)
    _, d = api.timed("GET", "/sandboxes/%s" % sid)
    status_bytes = len(d)
    limits = json.loads(d)["data"]["limits"]
    full = settle(api)
    if not full:
        print("bench: the service keeps no warm sandboxes: no warm claim goal", file=sys.stderr)
    t0 = time.monotonic()
    rounds = []
    with floors.front(status_bytes) as fbase, floors.runc(limits) as rc:
        runc_userns = rc.userns if rc else None
        fapi = Api(fbase)
        for k in range(a.rounds):
            rounds.append(goals_round(k, a, api, fapi, fbase, rc, logs, tag, sid, limits, full))
            r = rounds[-1]
            print("round %d/%d (%s, load %.1f): %s" % (k + 1, a.rounds, r["order"], r["figures"]["load"],
                  ", ".join("%s %.2f" % (key, v["ratio"]) for key, v in r["goals"].items())), file=sys.stderr)
    api.req("POST", "/sandboxes/%s/destroy" % sid)
    goals = []
    for key, name, op, limit, what in GOALS:
        v = [r["goals"][key] for r in rounds if key in r["goals"]]
        if not v:
            continue
        ratios = [x["ratio"] for x in v]
        goals.append({"key": key, "name": name, "goal": "%s %s" % (op, limit), "what": what,
                      "median": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
                      "met": sum(x["met"] for x in v), "rounds": len(v),
                      "measured": statistics.median(x["measured"] for x in v),
                      "against": statistics.median(x["against"] for x in v),
                      "verdict": (statistics.median(ratios) <= limit) if op == "<=" else
                                 (statistics.median(ratios) >= limit)})
    out = {"mode": "goals", "goals": goals, "rounds": rounds, "machine": machine(),
           "seconds": time.monotonic() - t0,
           "sizes": {"rounds": a.rounds, "n": a.n, "rate_n": a.rate_n, "creates": min(a.n, a.goal_creates),
                     "claims": min(a.n, a.goal_claims), "warm_pool": full},
           "runc_userns": runc_userns}
    os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(out, f, indent=1)
    print_goals(out, a.json)

def print_goals(out, path):
    print("%-52s %8s %13s %9s  %s" % ("goal (issue 18), ratio per round", "median", "range", "met", "verdict"))
    for g in out["goals"]:
        print("%-52s %8.2f %6.2f-%-6.2f %3d of %-3d  %s" % (g["name"], g["median"], g["min"], g["max"], g["met"],
              g["rounds"], "met" if g["verdict"] else "NOT met"))
    print("(%d rounds in %.0f s, load avg %s; the medians of the figures: %s; JSON in %s)" % (
        out["sizes"]["rounds"], out["seconds"], out["machine"]["loadavg"][0],
        ", ".join("%s %.2f / %.2f" % (g["key"], g["measured"], g["against"]) for g in out["goals"]), path))

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
    ap.add_argument("--n", type=int, default=200)
    # requests per throughput row (the responder floor's: 10 times as many),
    # spawns per loop of the spawn rates
    ap.add_argument("--rate-n", type=int, default=2000)
    # the service's log: which creates claimed a warm sandbox
    ap.add_argument("--log")
    # creates from 4 clients at once for the burst row (0: none); the
    # service's --max-running must allow them (./dev up allows 1100)
    ap.add_argument("--burst", type=int, default=1000)
    # sandboxes at once; the service's --max-running must allow them
    # (./dev up allows 1100: ./dev bench --density 1000)
    ap.add_argument("--density", type=int, default=100)
    ap.add_argument("--load", action="store_true",
                    help="only exec true with 0, 50 and 200 streams open (issue 16)")
    ap.add_argument("--load-n", type=int, default=400)
    ap.add_argument("--goals", action="store_true",
                    help="only the issue 18 goals, each ratio measured --rounds times (build/bench-goals.json)")
    ap.add_argument("--rounds", type=int, default=7)
    # per round of --goals: cold creates (and runc runs), warm claims, at
    # most (and at most --n)
    ap.add_argument("--goal-creates", type=int, default=20)
    ap.add_argument("--goal-claims", type=int, default=10)
    # only the preview row (bench/preview.sh runs it in a test-made network)
    ap.add_argument("--preview-only", action="store_true")
    # the network figures (bench/netbench.sh): instances of their own in
    # namespaces of their own, nothing leaves the machine
    ap.add_argument("--no-net", action="store_true")
    a = ap.parse_args()
    if a.load:
        if a.json.endswith("bench.json"):
            a.json = a.json[:-len("bench.json")] + "bench-load.json"
        return run_load(a)
    if a.goals:
        if a.json.endswith("bench.json"):
            a.json = a.json[:-len("bench.json")] + "bench-goals.json"
        return run_goals(a)
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

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    n = a.n
    logs = LogWatch(a.log)

    def row(name, s, base_name, base, **more):
        r = {**s, "name": name, "baseline": base_name, "baseline_median": base.get("median") if base else None}
        r["ratio"] = (s["median"] / base["median"]) if base and base.get("median") else None
        r.update(more)
        rows.append(r)
        return r

    # a sandbox for the exec and status rows; its status answer's size is
    # the responder floor's body, its limits runc's
    sid = "%s-x" % tag
    api.timed("POST", "/sandboxes/%s" % sid)
    _, d = api.timed("GET", "/sandboxes/%s" % sid)
    status_bytes = len(d)
    limits = json.loads(d)["data"]["limits"]

    # the front: nginx's own return, nginx -> responder floor, the service's
    # status read, interleaved so that the machine's load hits them alike;
    # then the floor's throughput at concurrency 4 (R)
    with floors.front(status_bytes) as fbase:
        fapi = Api(fbase)
        front_batch(fapi, api, sid, 20)
        st, fl, sv = front_batch(fapi, api, sid, n)
        # three times, the median: the machine's other load comes and goes
        rr = sorted(floors.rate(fbase, "GET", "/sandboxes/x", None, 4, 10 * a.rate_n) for _ in range(3))
        front_rate, front_busy = rr[1]
    static, front = summary(st), summary(fl)
    row("nginx return 200 (static, %d bytes)" % status_bytes, static, None, None)
    row("nginx -> libfcgi responder floor (2 workers)", front, "nginx static", static)
    status = row("GET status", summary(sv), "responder floor", front)

    # spawn: fork+exec and setns+fork+exec, one at a time and 2 loops (F)
    sp = floors.spawn(max(n, 400))
    setns = sp.get("setns+fork+exec+wait", {})
    fork1 = sp.get("fork+exec+wait", {})
    rates = []
    for _ in range(3):
        busy = floors.busy_cores()
        rates.append(floors.spawn(a.rate_n, 2, rates=True))
        rates[-1]["busy_cores"] = busy()
    def med_rate(name):
        v = sorted(x.get(name, {}).get("rate") or 0 for x in rates)
        return v[1] or None
    spawn_rate = med_rate("setns+fork+exec+wait, 2 loops")
    fork_rate = med_rate("fork+exec+wait, 2 loops")
    sp["rates"] = rates
    if fork1:
        row("fork+exec+wait /bin/true", fork1, None, None)
    if setns:
        row("setns (6 ns)+fork+exec+wait /bin/true", setns, "fork+exec+wait", fork1)
    exec_floor = {"median": front["median"] + setns["median"]} if setns else {}
    for cmd in ("true", "echo hi"):
        r = row("exec %s (round trip)" % cmd, exec_batch(api, sid, json.dumps({"command": cmd}), n),
                "responder floor + setns floor", exec_floor)
        if cmd == "true":
            exec_true = r
    # a person or an agent runs commands now and then, not back to back:
    # what costs once per idle period (a cgroup move's RCU grace period
    # without favordynmods) shows here, not above
    body = json.dumps({"command": "true"})
    v = []
    for _ in range(20):
        time.sleep(0.2)
        v.append(api.timed("POST", "/sandboxes/%s/exec" % sid, body)[0])
    row("exec true, 200 ms apart", summary(v), "responder floor + setns floor", exec_floor)

    # The composed floor of exec throughput.  An exec is two stages of CPU
    # work on the same cores: a front round trip (client, nginx, a FastCGI
    # worker) and a spawn (setns + fork + exec + wait).  Measured each alone
    # with every core busy: the responder floor at concurrency 4 (R req/s)
    # and 2 spawn loops (F spawns/s, one a core).  When both saturate the
    # cores (the busy-cores figures say whether they did), a request costs
    # 1/R and a spawn 1/F of the machine, so the most execs a second the
    # machine can do is 1/(1/R + 1/F): nothing of the service's own counted.
    composed = 1 / (1 / front_rate + 1 / spawn_rate) if spawn_rate else None
    rows.append({"name": "responder floor throughput, concurrency 4 (R)", "rate": front_rate,
                 "busy_cores": front_busy})
    if spawn_rate:
        rows.append({"name": "setns+fork+exec, 2 loops (F)", "rate": spawn_rate,
                     "busy_cores": sorted(x["busy_cores"] for x in rates)[1],
                     "baseline": "fork+exec, 2 loops", "baseline_rate": fork_rate, "ratio": spawn_rate / fork_rate})
        rows.append({"name": "composed floor 1/(1/R + 1/F)", "rate": composed})
    exec_rates = {}
    for conc in (1, 2, 4, 8):
        # concurrency 4 (the goal's) three times, the median
        rr = sorted(floors.rate(a.base, "POST", "/sandboxes/%s/exec" % sid, body, conc, a.rate_n)
                    for _ in range(3 if conc == 4 else 1))
        rate, busy = rr[len(rr) // 2]
        exec_rates[conc] = rate
        r = {"name": "exec true throughput, concurrency %d" % conc, "rate": rate, "busy_cores": busy}
        if composed:
            r.update({"baseline": "composed floor", "baseline_rate": composed, "ratio": rate / composed})
        rows.append(r)

    # peers: bwrap, runc run, runc exec (limits as the sandboxes')
    bwrap = bwrap_times(n)
    if bwrap:
        row("bwrap --unshare-all true", bwrap, None, None)
    runc = floors.runc_rows(min(n, 100), limits)
    if runc:
        ns = "" if runc["userns"] else ", no user ns"
        row("runc run true (new container, limits%s)" % ns, runc["run"], None, None)
        row("runc exec true (running container%s)" % ns, runc["exec"], "runc run", runc["run"])

    # cold creates, back to back (cold_creates: the default limits by name)
    cold_ids = ["%s-c%d" % (tag, i) for i in range(min(n, 30))]
    v, claims, gauge = cold_creates(api, logs, cold_ids, cold_body(limits))
    cold = row("create, cold, back to back", v, "runc run", runc.get("run"), claims=claims, warm_gauge=gauge)
    # gone before the claims, which then find the room the cold ones found
    gone = [api.timed("POST", "/sandboxes/%s/destroy" % i)[0] for i in cold_ids]

    # warm claims, each once the pool (as full as before the cold ones) is
    # full again (warm_claims)
    warm_ids = ["%s-s%d" % (tag, i) for i in range(min(n, 20))]
    v, claims = warm_claims(api, logs, warm_ids, gauge[0] or 0)
    warm = row("create, warm claim (pool full again)", v, "bwrap --unshare-all true", bwrap, claims=claims)

    st, d = api.req("GET", "/images")
    names = [i["name"] for i in json.loads(d)["data"]["images"]] if st == 200 else []
    if "bookworm" in names:
        body = json.dumps({"image": "bookworm"})
        v = [api.timed("POST", "/sandboxes/%s-w%d" % (tag, i), body)[0] for i in range(min(n, 30))]
        row("create on bookworm (POST, new sandbox)", summary(v), "bwrap --unshare-all true", bwrap)
    for size, label in ((1024, "1 KiB"), (10 << 20, "10 MiB")):
        data = os.urandom(size)
        path = "/sandboxes/%s/files/workspace/bench-%d" % (sid, size)
        with tempfile.NamedTemporaryFile() as f:
            f.write(data); f.flush()
            base = run_cmd_times(["cat", f.name], 20)
        k = 20 if size > 1 << 20 else n
        w = [api.timed("PUT", path, data, {"Content-Type": "application/octet-stream"})[0] for _ in range(k)]
        r = [api.timed("GET", path + "?raw=1")[0] for _ in range(k)]
        jb = json.dumps({"content": data.hex() if size <= 1024 else "x" * 10, "encoding": "utf-8"})
        jw = [api.timed("PUT", path + "-json", jb)[0] for _ in range(k)]
        jr = [api.timed("GET", path)[0] for _ in range(k)]
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
    # every sandbox this run made goes for good (their uid slots too), so a
    # second run on the same data dir has the same room as the first
    made = [sid] + warm_ids
    if "bookworm" in names:
        made += ["%s-w%d" % (tag, i) for i in range(min(n, 30))]
    v = gone + [api.timed("POST", "/sandboxes/%s/destroy" % i)[0] for i in ids + made]
    row("destroy (POST .../destroy), each", summary(v), None, None)

    if a.burst:
        burst_row(a, api, logs, tag, rows)

    if not a.no_net:
        rows.extend(net_rows(a.base))
        rows.extend(net_rows(a.base, "preview.sh"))

    # the issue 18 goals, each a ratio to a floor or a peer of this run
    goals = []
    def goal(name, num, den, op, limit, what):
        if num is None or not den:
            return
        ratio = num / den
        goals.append({"name": name, "measured": num, "against": den, "what": what, "ratio": ratio,
                      "goal": "%s %s" % (op, limit), "met": ratio <= limit if op == "<=" else ratio >= limit})
    goal("status <= 1.2 x responder floor", status["median"], front["median"], "<=", 1.2,
         "responder floor")
    if setns:
        goal("exec true <= 1.2 x (responder floor + setns floor)", exec_true["median"], exec_floor["median"],
             "<=", 1.2, "responder floor + setns floor")
    if runc:
        goal("cold create <= 0.25 x runc run", cold["median"], runc["run"]["median"], "<=", 0.25, "runc run")
    if bwrap:
        goal("warm claim <= 0.5 x bwrap", warm["median"], bwrap["median"], "<=", 0.5, "bwrap")
    goal("exec throughput c4 >= 0.8 x composed floor", exec_rates[4], composed, ">=", 0.8,
         "composed floor 1/(1/R + 1/F)")
    extra = {"floors": {"static": static, "front": front, "front_rate_c4": front_rate, "spawn": sp,
                        "composed": composed, "bwrap": bwrap, "runc": runc, "status_bytes": status_bytes},
             "goals": goals, "machine": machine()}
    report(rows, a.json, extra)

WARM = 'sandboxd_sandboxes{state="warm"}'

def cold_body(limits):
    """A create's body that names the default limits (`limits`: a sandbox's
    made without a body), which no warm sandbox serves."""
    return json.dumps({"limits": {k: limits[k] for k in ("memoryMb", "pids", "cpus")}})

class LogWatch:
    """The service's log from a point on: which creates claimed a warm
    sandbox (sandbox.created says warm=...); None without a log."""
    def __init__(self, path):
        self.path = path if path and os.path.exists(path) else None

    def mark(self):
        return os.path.getsize(self.path) if self.path else 0

    def claims(self, mark, ids, wait=5):
        if not self.path:
            return None
        want = set(ids)
        for _ in range(int(wait / 0.1)):
            with open(self.path, "rb") as f:
                f.seek(mark)
                seen = {}
                for line in f.read().decode(errors="replace").splitlines():
                    if "event=sandbox.created " not in line:
                        continue
                    kv = dict(x.split("=", 1) for x in line.split() if "=" in x)
                    if kv.get("id") in want:
                        seen[kv["id"]] = "warm" in kv
            if len(seen) == len(want):
                break
            time.sleep(0.1)
        return sum(seen.values())

def burst_row(a, api, logs, tag, rows):
    """A burst: a.burst creates of the defaults from 4 clients at once,
    creates a second over all of them while the warm pool refills as it
    can (the log says how many were claims); then every one destroyed."""
    ids = ["%s-b%d" % (tag, i) for i in range(a.burst)]
    mark = logs.mark()
    t = time.perf_counter()
    try:
        rate, busy = floors.rate(a.base, "POST", lambda k, i: "/sandboxes/%s-b%d" % (tag, k + 4 * i), None, 4,
                                 a.burst, tolerate=True)
        took = time.perf_counter() - t
        claims = logs.claims(mark, ids, wait=30)
    finally:
        t = time.perf_counter()
        made = sum(api.req("POST", "/sandboxes/%s/destroy" % i)[0] == 200 for i in ids)
    rows.append({"name": "burst: %d creates from 4 clients" % a.burst, "rate": rate, "busy_cores": busy,
                 "claims": claims, "made": made, "seconds": took, "destroy_seconds": time.perf_counter() - t})
    if made < a.burst:
        print("bench: the burst made %d of %d sandboxes" % (made, a.burst), file=sys.stderr)

def machine():
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {"cpus": os.cpu_count(), "loadavg": load, "kernel": os.uname().release,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

def report(rows, path, extra):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump({"rows": rows, **extra, "time": time.time()}, f, indent=1)
    print("%-46s %10s %10s %10s  %-36s %8s" % ("measure", "median", "p90", "p99", "baseline (median)", "ratio"))
    for r in rows:
        if "rate" in r:
            base = "%s %.0f/s" % (r["baseline"], r["baseline_rate"]) if r.get("baseline") else ""
            more = (" busy %.1f cores" % r["busy_cores"]) if r.get("busy_cores") else ""
            if r.get("claims") is not None:
                more += " claims %d" % r["claims"]
            print("%-46s %9.0f/s %21s  %-36s %8s%s" % (r["name"], r["rate"], "", base,
                  "%.2f" % r["ratio"] if r.get("ratio") else "", more))
            continue
        med = r.get("median")
        base = r.get("baseline")
        if "running" in r:
            print("%-46s %10.1f %10s %10s  %-36s" % (r["name"], med, "", "", "%d of %d running" % (r["running"], r["n"])))
            continue
        bm = r.get("baseline_median")
        print("%-46s %10s %10s %10s  %-36s %8s%s" % (
            r["name"], "%.2f" % med if med is not None else "-",
            "%.2f" % r["p90"] if r.get("p90") is not None else "-",
            "%.2f" % r["p99"] if r.get("p99") is not None else "-",
            "%s %.2f ms" % (base, bm) if base and bm else "-",
            "%.2f" % r["ratio"] if r.get("ratio") else "-",
            " claims %d of %d" % (r["claims"], r["n"]) if r.get("claims") is not None else ""))
    print("(times in ms; memory in KiB; JSON in %s)" % path)
    for g in extra.get("goals", []):
        print("goal %-52s %8.2f  (%s) %s" % (g["name"], g["ratio"], g["goal"], "met" if g["met"] else "NOT met"))
    if extra.get("goals"):
        print("(one run's ratios, each measured apart from its floor: the goals' verdicts are ./dev bench --goals)")

if __name__ == "__main__":
    main()
