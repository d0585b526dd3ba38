#!/usr/bin/env python3
"""The README's speed table from ./dev bench's JSON: one column per run;
of ./dev bench --goals's JSON (build/bench-goals.json), the goals' table:
per goal and run, the median of the per-round ratios, their range and how
many rounds met the goal.

    bench/table.py build/bench.json [MORE.json...]
    bench/table.py build/bench-goals.json [MORE.json...]
"""
import json, sys

# (label in the table, row name in the JSON (its start), what to print)
ROWS = [
    ("nginx `return 200` (static)", "nginx return 200", "ms"),
    ("nginx → libfcgi responder floor (2 workers)", "nginx -> libfcgi responder floor", "ms"),
    ("**status** (`GET /sandboxes/:id`)", "GET status", "ms"),
    ("fork + exec + wait `/bin/true`", "fork+exec+wait /bin/true", "ms"),
    ("setns (6 namespaces) + fork + exec + wait", "setns (6 ns)+fork+exec+wait", "ms"),
    ("**exec `true`** (round trip)", "exec true (round trip)", "ms"),
    ("exec `true`, 200 ms apart", "exec true, 200 ms apart", "ms"),
    ("`bwrap --unshare-all true`", "bwrap --unshare-all true", "ms"),
    ("`runc run` (new container, limits, `true`, deleted)", "runc run true", "ms"),
    ("`runc exec true` into a running container", "runc exec true", "ms"),
    ("**create, cold**, back to back", "create, cold, back to back", "ms"),
    ("**create, warm claim**", "create, warm claim", "ms"),
    ("create on bookworm", "create on bookworm", "ms"),
    ("1 KiB file write (synced)", "file write raw 1 KiB", "ms"),
    ("responder floor throughput, concurrency 4 (R)", "responder floor throughput", "rate"),
    ("setns + fork + exec, 2 loops (F)", "setns+fork+exec, 2 loops", "rate"),
    ("composed floor 1/(1/R + 1/F)", "composed floor", "rate"),
    ("**exec `true` throughput, concurrency 4**", "exec true throughput, concurrency 4", "rate"),
    ("burst: creates from 4 clients", "burst:", "burst"),
    ("memory per idle sandbox (its cgroup)", "memory per idle sandbox", "kib"),
]

def find(run, start):
    for r in run["rows"]:
        if r["name"].startswith(start):
            return r
    return None

def cell(r, kind):
    if r is None:
        return "–"
    if kind == "ms":
        return "%.2f ms" % r["median"]
    if kind == "rate":
        return "%s/s" % format(round(r["rate"]), ",")
    if kind == "burst":
        n = r["name"].split()[1]
        claims = "" if r.get("claims") is None else ", %d claims" % r["claims"]
        return "%s/s over %s (%.0f s%s)" % (format(round(r["rate"]), ","), format(int(n), ","), r["seconds"], claims)
    if kind == "kib":
        return "%.0f KiB" % r["median"]
    return "?"

def goals_table(runs):
    def load(r):
        v = [x["figures"]["load"] for x in r["rounds"]]
        return "%.1f-%.1f" % (min(v), max(v))
    heads = ["run %d (%s, %d rounds, load avg %s)" % (i + 1, r["machine"]["date"], r["sizes"]["rounds"], load(r))
             for i, r in enumerate(runs)]
    print("| goal (issue 18): median of the rounds' ratios (range), rounds that met it | %s |" % " | ".join(heads))
    print("| --- |%s" % (" --- |" * len(runs)))
    names = []
    for r in runs:
        names += [g["name"] for g in r["goals"] if g["name"] not in names]
    for name in names:
        cells = []
        for r in runs:
            g = [x for x in r["goals"] if x["name"] == name]
            if not g:
                cells.append("–")
                continue
            g = g[0]
            cells.append("%.2f (%.2f-%.2f), %d of %d, %s" % (g["median"], g["min"], g["max"], g["met"], g["rounds"],
                         "met" if g["verdict"] else "**not met**"))
        print("| %s | %s |" % (name.replace(" x ", " × "), " | ".join(cells)))

def main():
    runs = [json.load(open(p)) for p in sys.argv[1:]]
    if not runs:
        sys.exit("usage: bench/table.py BENCH.json [MORE.json...]")
    if all(r.get("mode") == "goals" for r in runs):
        return goals_table(runs)
    if any(r.get("mode") == "goals" for r in runs):
        sys.exit("bench/table.py: ./dev bench's runs and --goals runs make different tables: one kind at a time")
    heads = ["run %d (%s, load avg %s)" % (i + 1, r["machine"]["date"], r["machine"]["loadavg"][0])
             if len(runs) > 1 else "median (%s, load avg %s)" % (r["machine"]["date"], r["machine"]["loadavg"][0])
             for i, r in enumerate(runs)]
    print("| what | %s |" % " | ".join(heads))
    print("| --- |%s" % (" ---: |" * len(runs)))
    for label, start, kind in ROWS:
        cells = [cell(find(r, start), kind) for r in runs]
        if any(c != "–" for c in cells):
            print("| %s | %s |" % (label, " | ".join(cells)))
    print()
    print("| goal (issue 18) | %s |" % " | ".join("run %d" % (i + 1) for i in range(len(runs))))
    print("| --- |%s" % (" --- |" * len(runs)))
    for k, g in enumerate(runs[0].get("goals", [])):
        cells = []
        for r in runs:
            gg = [x for x in r.get("goals", []) if x["name"] == g["name"]]
            cells.append("%.2f, %s" % (gg[0]["ratio"], "met" if gg[0]["met"] else "**not met**") if gg else "–")
        print("| %s | %s |" % (g["name"].replace(" x ", " × "), " | ".join(cells)))

if __name__ == "__main__":
    main()
