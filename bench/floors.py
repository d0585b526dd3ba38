"""The floors and peers ./dev bench measures beside the service, in the same
run (bench/bench.py imports this):

  front()     nginx configured as the service's (nginx/sandboxd-dev.conf.in,
              only the upstream socket differs, plus one `return 200`
              location) in front of build/bench/fcgi-floor, the smallest
              libfcgi responder pool; both stopped on the way out, errors
              included
  spawn()     build/bench/spawn-floor: fork+exec, setns+fork+exec, latency
              and rate from parallel loops
  runc_rows() `runc run` (a new container with memory, pids and cpu limits,
              running true, deleted) and `runc exec` into a running one
  runc()      the same, set up once and measured as often as asked (the
              goals' rounds)
  rate()      requests a second at a concurrency, from client processes
"""
import contextlib, json, os, shutil, signal, socket, subprocess, sys, tempfile, time

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
# where fcgi-floor and spawn-floor were built: the tree's build/, or another
# (a test's, make check's build dir: SBD_BENCH_BUILD)
BUILD = os.environ.get("SBD_BENCH_BUILD") or os.path.join(TOP, "build")
RUNC = "/usr/sbin/runc"

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

def busy_cores():
    """A reader of the machine's busy CPUs (in cores) since it was made,
    from /proc/stat: every process's, other jobs' too."""
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    t0, i0 = read()
    def since():
        t, i = read()
        return (os.cpu_count() or 1) * (1 - (i - i0) / max(1, t - t0))
    return since

def front_conf(template, state, port, sock, static_body):
    """The service's dev nginx config, as ./dev up writes it, with `sock`
    for the service's socket and one more location, /.bench-static, that
    answers `static_body` from nginx itself.  The preview servers stay (on
    a host name nothing asks for) so that the config is the same."""
    with open(template) as f:
        conf = f.read()
    for k, v in (("@STATE@", state), ("@LISTEN@", "127.0.0.1:%d" % port), ("@SOCKET@", sock),
                 ("@PREVIEW_SOCKET@", sock), ("@PREVIEW_HOST_RE@", r"bench\.invalid"),
                 ("@PREVIEW_HOST@", "bench.invalid")):
        conf = conf.replace(k, v)
    first = "\t\tlocation / {\n"
    if first not in conf:
        raise SystemExit("bench: %s has no 'location / {' to put the static row beside" % template)
    static = ("\t\tlocation = /.bench-static {\n\t\t\tdefault_type application/json;\n"
              "\t\t\treturn 200 '%s';\n\t\t}\n" % static_body)
    return conf.replace(first, static + first, 1)

@contextlib.contextmanager
def front(body_bytes, workers=2):
    """Yields the base URL of an nginx as the service's in front of the
    responder floor (`workers` processes answering `body_bytes` of JSON);
    /.bench-static is nginx's own `return 200` of a body as long."""
    exe = os.path.join(BUILD, "bench", "fcgi-floor")
    if not os.path.exists(exe) or not shutil.which("nginx"):
        raise FileNotFoundError("%s or nginx" % exe)
    state = tempfile.mkdtemp(prefix="sbd-bench-front.")
    os.chmod(state, 0o711)
    os.mkdir(os.path.join(state, "nginx-tmp"))
    sock = os.path.join(state, "floor.sock")
    port = free_port()
    static = '{"success":true,"data":{"pad":"%s"}}\\n' % ("x" * max(0, body_bytes - 35))
    with open(os.path.join(state, "nginx.conf"), "w") as f:
        f.write(front_conf(os.path.join(TOP, "nginx", "sandboxd-dev.conf.in"), state, port, sock, static))
    floor = subprocess.Popen([exe, sock, str(workers), str(body_bytes)], stdin=subprocess.DEVNULL)
    pidfile = os.path.join(state, "nginx.pid")
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.02)
        subprocess.run(["nginx", "-c", os.path.join(state, "nginx.conf"), "-p", state,
                        "-e", os.path.join(state, "nginx-error.log")], check=True)
        base = "http://127.0.0.1:%d" % port
        for _ in range(100):
            try:
                c = socket.create_connection(("127.0.0.1", port), timeout=1)
                c.close()
                break
            except OSError:
                time.sleep(0.02)
        yield base
    finally:
        for _ in range(50):
            try:
                with open(pidfile) as f:
                    os.kill(int(f.read()), signal.SIGTERM)
                break
            except (OSError, ValueError):
                time.sleep(0.02)
        floor.terminate()
        floor.wait()
        for _ in range(100):
            if not os.path.exists(pidfile):
                break
            time.sleep(0.02)
        shutil.rmtree(state, ignore_errors=True)

def spawn(n, loops=2, rates=False):
    """spawn-floor's rows by name ({} when it cannot run here)."""
    exe = os.path.join(BUILD, "bench", "spawn-floor")
    if not os.path.exists(exe):
        print("bench: no %s (./dev build)" % exe, file=sys.stderr)
        return {}
    out = subprocess.run([exe, str(n), str(loops)] + (["rates"] if rates else []),
                         capture_output=True, text=True)
    if out.returncode:
        print("bench: spawn-floor: %s" % out.stderr.strip(), file=sys.stderr)
    return {r["name"]: r for r in (json.loads(l) for l in out.stdout.splitlines() if l.startswith("{"))}

def rate(base, method, path, body, conc, total, want=(200, 201), tolerate=False):
    """Requests a second: `conc` client processes (not threads: the client
    must not be held to one core by Python's lock), each with a keep-alive
    connection (opened with an untimed GET /healthz), `total` requests in
    all, started together.  `path` is a path or path(client, i) for the
    i-th request of a client.  Returns (rate, busy cores meanwhile); a
    failed request ends the run unless `tolerate` (the rate counts it)."""
    from bench import Api
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pids = []
    for k in range(conc):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(go_w)
                api = Api(base)
                api.req("GET", "/healthz")
                os.write(ready_w, b"r")
                os.read(go_r, 1)
                failed = 0
                for i in range(total // conc):
                    p = path(k, i) if callable(path) else path
                    st, d = api.req(method, p, body)
                    if st not in want:
                        if not failed:
                            print("bench: %s %s -> %d %s" % (method, p, st, d[:200]), file=sys.stderr)
                        failed += 1
                code = min(failed, 250)
            finally:
                os._exit(code)
        pids.append(pid)
    os.close(go_r)
    os.close(ready_w)
    for _ in range(conc):
        os.read(ready_r, 1)
    os.close(ready_r)
    busy = busy_cores()
    t = time.perf_counter()
    os.close(go_w)
    failed = 0
    for pid in pids:
        st = os.waitpid(pid, 0)[1]
        failed += os.WEXITSTATUS(st) if os.WIFEXITED(st) else 250
    took = time.perf_counter() - t
    cores = busy()
    if failed and not tolerate:
        raise SystemExit("bench: %d requests of %s %s failed" % (failed, method, path))
    return (total // conc) * conc / took, cores

def runc_config(bundle, args, limits, userns):
    """runc's default spec with the sandboxes' limits (memory, pids, cpu
    quota), the host's /usr bind-mounted read-only as the bwrap row has it,
    an empty read-only root and `args`; with a user namespace (uid 0 ->
    100000, as a sandbox's) when `userns`."""
    subprocess.run([RUNC, "spec", "--bundle", bundle], check=True)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        c = json.load(f)
    c["process"]["terminal"] = False
    c["process"]["args"] = args
    c["root"] = {"path": "rootfs", "readonly": True}
    c["mounts"].append({"destination": "/usr", "type": "bind", "source": "/usr",
                        "options": ["rbind", "ro", "nosuid", "nodev"]})
    c["linux"]["resources"] = {
        "memory": {"limit": limits["memoryMb"] << 20, "swap": limits["memoryMb"] << 20},
        "pids": {"limit": limits["pids"]},
        "cpu": {"quota": int(limits["cpus"] * 100000), "period": 100000}}
    if userns:
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    with open(path, "w") as f:
        json.dump(c, f)
    root = os.path.join(bundle, "rootfs")
    os.mkdir(root)
    for d in ("usr", "proc", "dev", "sys", "tmp"):
        os.mkdir(os.path.join(root, d))
    for l in ("bin", "lib", "lib64", "sbin"):
        os.symlink("usr/" + l, os.path.join(root, l))

class Runc:
    """runc's bundles in `work` (runc_config), as runc() finds they run here:
    run(n) and exec(n) time that many, a summary each."""
    def __init__(self, work, limits):
        self.work, self.limits = work, limits
        self.state = os.path.join(work, "state")
        self.tag = "sandboxd-bench-runc-%d" % os.getpid()
        self.quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
        self.held = None
        self.runs = 0
        self.userns = None

    def setup(self):
        """False when runc cannot run a container here, with or without a
        user namespace (said on stderr)."""
        for userns in (True, False):
            self.run_b = os.path.join(self.work, "run-%d" % userns)
            os.mkdir(self.run_b)
            runc_config(self.run_b, ["/bin/true"], self.limits, userns)
            r = subprocess.run([RUNC, "--root", self.state, "run", "--bundle", self.run_b, self.tag + "-try"],
                               **self.quiet)
            if r.returncode == 0:
                self.userns = userns
                return True
            print("bench: runc run %s a user namespace: %s" % ("with" if userns else "without",
                  r.stderr.decode().strip()[-300:]), file=sys.stderr)
        return False

    def run(self, n):
        from bench import summary
        v = []
        for _ in range(n):
            t = time.perf_counter()
            r = subprocess.run([RUNC, "--root", self.state, "run", "--bundle", self.run_b,
                                "%s-%d" % (self.tag, self.runs)], **self.quiet)
            v.append((time.perf_counter() - t) * 1000)
            self.runs += 1
            if r.returncode:
                raise SystemExit("bench: runc run: %s" % r.stderr.decode()[-300:])
        return summary(v)

    def exec(self, n):
        from bench import summary
        if not self.held:
            hold_b = os.path.join(self.work, "hold")
            os.mkdir(hold_b)
            runc_config(hold_b, ["/bin/sleep", "infinity"], self.limits, self.userns)
            self.held = self.tag + "-held"
            # its sleep keeps the stdio it is given: nothing to read to its end
            subprocess.run([RUNC, "--root", self.state, "run", "-d", "--bundle", hold_b, self.held], check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        v = []
        for _ in range(n):
            t = time.perf_counter()
            r = subprocess.run([RUNC, "--root", self.state, "exec", self.held, "/bin/true"], **self.quiet)
            v.append((time.perf_counter() - t) * 1000)
            if r.returncode:
                raise SystemExit("bench: runc exec: %s" % r.stderr.decode()[-300:])
        return summary(v)

@contextlib.contextmanager
def runc(limits):
    """Yields a Runc with the sandboxes' default limits and a user namespace
    (without one when runc cannot make it here), or None without runc; its
    containers and bundles go on the way out."""
    if not os.path.exists(RUNC) or os.geteuid() != 0:
        print("bench: no %s (or not root): no runc rows" % RUNC, file=sys.stderr)
        yield None
        return
    work = tempfile.mkdtemp(prefix="sbd-bench-runc.")
    os.chmod(work, 0o711)   # the user namespace's root reaches the rootfs
    r = Runc(work, limits)
    try:
        yield r if r.setup() else None
    finally:
        if r.held:
            subprocess.run([RUNC, "--root", r.state, "delete", "-f", r.held], **r.quiet)
        shutil.rmtree(work, ignore_errors=True)

def runc_rows(n, limits):
    """`runc run` of true in a new container (created, run, deleted: runc
    run without -d deletes it when it exits) and `runc exec` of true into a
    running one, both with the sandboxes' default limits and a user
    namespace; without one when runc cannot make it here.  {} without
    runc."""
    with runc(limits) as r:
        if not r:
            return {}
        return {"userns": r.userns, "run": r.run(n), "exec": r.exec(n)}
