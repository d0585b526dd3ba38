#!/usr/bin/env python3
"""Mutation check of the security tests (./dev mutate; not in CI: slow).

Each mutation in t/mutations.txt is one small edit a plausible bug would
make: applied to a scratch copy of the tree (never to the worktree), built
incrementally in one configured build dir, and the tests it lists are run.
A test that fails kills the mutation; a mutation whose tests all pass
survived: the suite does not catch that bug.  The edit is reverted before
the next one, whatever happens.

Before any mutation, the unmutated scratch build must pass t/unit-names: it
proves that the cgroup code refuses "..", so that a mutation which removes
a check above it (the router's projectId check) cannot make an end-to-end
test kill every process of the host.

Usage: t/mutate.py [--list] [--scratch DIR] [--keep-going] [NAME-GLOB...]
"""
import argparse
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def unescape(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == '\\' and i + 1 < len(s):
            n = s[i + 1]
            out.append({'n': '\n', 't': '\t', '\\': '\\'}.get(n, '\\' + n))
            i += 2
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def load(path):
    """Blocks of `key: value` lines, separated by blank lines; # comments.
    A block may hold more than one edit: each further `find:` starts one
    more in the same file, each further `file:` one in another file (a bug
    whose parts live in two places, or a defence whose two layers must both
    go for the test to see anything)."""
    muts, cur, lineno = [], {}, 0
    keys = {'name', 'file', 'find', 'replace', 'tests', 'needs', 'why'}
    with open(path) as f:
        for raw in f:
            lineno += 1
            line = raw.rstrip('\n')
            if line.startswith('#'):
                continue
            if not line.strip():
                if cur:
                    muts.append(cur)
                    cur = {}
                continue
            key, sep, val = line.partition(':')
            if not sep or key not in keys:
                sys.exit(f'{path}:{lineno}: expected one of {sorted(keys)}: {line!r}')
            if val.startswith(' '):
                val = val[1:]
            if key == 'name' and cur:
                sys.exit(f'{path}:{lineno}: a blank line must end the mutation before {val}')
            cur.setdefault('line', lineno)
            edits = cur.setdefault('edits', [])
            if key == 'file':
                edits.append({'file': val})
            elif key == 'find':
                if not edits:
                    sys.exit(f'{path}:{lineno}: find before file')
                if 'find' in edits[-1]:
                    edits.append({'file': edits[-1]['file']})
                edits[-1]['find'] = unescape(val)
            elif key == 'replace':
                if not edits or 'find' not in edits[-1] or 'replace' in edits[-1]:
                    sys.exit(f'{path}:{lineno}: replace without its find')
                edits[-1]['replace'] = unescape(val)
            elif key in cur:
                sys.exit(f'{path}:{lineno}: a second {key}')
            else:
                cur[key] = val
    if cur:
        muts.append(cur)
    names = set()
    for m in muts:
        for k in ('name', 'tests'):
            if k not in m:
                sys.exit(f'{path}:{m["line"]}: mutation without {k}')
        if not m.get('edits'):
            sys.exit(f'{path}:{m["line"]}: mutation without file')
        for e in m['edits']:
            for k in ('find', 'replace'):
                if k not in e:
                    sys.exit(f'{path}:{m["line"]}: an edit of {e["file"]} without {k}')
        if m['name'] in names:
            sys.exit(f'{path}:{m["line"]}: duplicate name {m["name"]}')
        names.add(m['name'])
        m['file'] = m['edits'][0]['file']
        m['tests'] = m['tests'].split()
    return muts


def sh(cmd, log, timeout=None, cwd=None):
    with open(log, 'a') as out:
        out.write(f'$ {" ".join(cmd)}\n')
        out.flush()
        try:
            return subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                                  cwd=cwd).returncode
        except subprocess.TimeoutExpired:
            out.write('(timed out)\n')
            return 124


def sync_tree(src):
    """Copy the worktree's files (tracked and new, not ignored) into src,
    keeping mtimes, so that make rebuilds only what changed since the last
    run.  A file the worktree no longer has is left: harmless."""
    files = subprocess.run(['git', '-C', TOP, 'ls-files', '-co', '--exclude-standard', '-z'],
                           check=True, capture_output=True).stdout.split(b'\0')
    for f in files:
        if not f:
            continue
        f = f.decode()
        s, d = os.path.join(TOP, f), os.path.join(src, f)
        if not os.path.isfile(s):
            continue
        st = os.stat(s)
        try:
            dt = os.stat(d)
            if dt.st_mtime_ns == st.st_mtime_ns and dt.st_size == st.st_size:
                continue
        except FileNotFoundError:
            pass
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copy2(s, d)


def build(bdir, targets, log):
    """all first, then the unit tests: in one make, with -j, both would
    build libsandbox.a at once (all recurses) and step on each other."""
    jobs = str(os.cpu_count() or 1)
    groups = [['all']] if 'all' in targets else []
    groups.append([t for t in targets if t != 'all'])
    return all(sh(['make', '-C', bdir, '-s', '-j' + jobs] + g, log) == 0 for g in groups if g)


def run_tests(bdir, tests, log, timeout):
    """make check of exactly these, with the environment the suite gets:
    'failed' when one of them reports a failure (its .trs says so), 'passed'
    when each ran and passed, 'timeout', or 'error' (a test did not run: a
    build failure is no kill)."""
    trs = [os.path.join(bdir, (t[:-2] if t.endswith('.t') else t) + '.trs') for t in tests]
    for f in trs:
        for old in (f, f[:-4] + '.log'):
            if os.path.exists(old):
                os.unlink(old)
    rc = sh(['make', '-C', bdir, 'check', 'TESTS=' + ' '.join(tests)], log, timeout=timeout)
    if rc == 124:
        return 'timeout'
    results = []
    for f in trs:
        try:
            with open(f) as fh:
                m = re.search(r'^:global-test-result: (\S+)', fh.read(), re.M)
        except FileNotFoundError:
            m = None
        results.append(m.group(1) if m else None)
    if any(r in ('FAIL', 'ERROR', 'XPASS') for r in results):
        return 'failed'
    if None in results or rc != 0:
        return 'error'
    return 'passed'


def targets_for(tests):
    units = [t for t in tests if not t.endswith('.t')]
    return units if len(units) == len(tests) else ['all'] + units


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--list', action='store_true', help='list the mutations and exit')
    ap.add_argument('--scratch', default=os.environ.get('SANDBOXD_MUTATE_DIR',
                                                          f'/tmp/sbd-mutate-{os.getuid()}'))
    ap.add_argument('--timeout', type=int, default=1200, help='seconds per mutation\'s tests')
    ap.add_argument('--file', default=os.path.join(TOP, 't', 'mutations.txt'))
    ap.add_argument('names', nargs='*', help='only mutations whose name matches one of these globs')
    args = ap.parse_args()

    muts = load(args.file)
    if args.names:
        muts = [m for m in muts if any(fnmatch.fnmatch(m['name'], g) for g in args.names)]
    if args.list:
        for m in muts:
            print(f'{m["name"]:32} {m["file"]:28} {" ".join(m["tests"])}')
        print(f'{len(muts)} mutations')
        return 0
    if not muts:
        sys.exit('no mutation matches')

    src, bdir = os.path.join(args.scratch, 'src'), os.path.join(args.scratch, 'build')
    log = os.path.join(args.scratch, 'mutate.log')
    os.makedirs(src, exist_ok=True)
    open(log, 'w').close()
    sync_tree(src)
    if not os.path.exists(os.path.join(src, 'configure')):
        if sh(['./autogen.sh'], log, cwd=src):
            sys.exit(f'autogen failed: see {log}')
    # a test build, as ./dev builds it: with the fault-injection hooks (t/0026
    # skips its killed-create steps without them); an older scratch build
    # without them is configured again
    status = os.path.join(bdir, 'config.status')
    if not os.path.exists(os.path.join(bdir, 'Makefile')) or \
            '--enable-fault-injection' not in open(status, errors='replace').read():
        os.makedirs(bdir, exist_ok=True)
        if sh([os.path.join(src, 'configure'), '-q', '--prefix=/usr', '--sysconfdir=/etc',
               '--localstatedir=/var', '--enable-werror', '--enable-fault-injection'], log, cwd=bdir):
            sys.exit(f'configure failed: see {log}')
    print(f'==> scratch tree {src}, build {bdir}, log {log}', flush=True)
    # the defence below the router must hold before anything runs mutated
    if not build(bdir, ['all', 't/unit-names'], log) or run_tests(bdir, ['t/unit-names'], log, 600) != 'passed':
        sys.exit(f'the unmutated scratch build fails t/unit-names: refusing to run mutations ({log})')

    killed, survived, skipped, broken = [], [], [], []
    for m in muts:
        need = m.get('needs')
        if need and not os.path.exists(need):
            skipped.append(m['name'])
            print(f'SKIP      {m["name"]}: {need} does not exist on this host', flush=True)
            continue
        # each file's text before and after its edits, every find checked
        # against the text it applies to
        origs, mutated, stale = {}, {}, None
        for e in m['edits']:
            path = os.path.join(src, e['file'])
            if path not in origs:
                try:
                    with open(path) as f:
                        origs[path] = mutated[path] = f.read()
                except FileNotFoundError:
                    stale = f'no file {e["file"]}'
                    break
            n = mutated[path].count(e['find'])
            if n != 1:
                stale = f'the text to find occurs {n} times in {e["file"]}'
                break
            mutated[path] = mutated[path].replace(e['find'], e['replace'])
        if stale:
            broken.append(m['name'])
            print(f'STALE     {m["name"]}: {stale}', flush=True)
            continue
        with open(log, 'a') as out:
            out.write(f'\n===== {m["name"]}\n')
        start = time.monotonic()
        try:
            for path, text in mutated.items():
                with open(path, 'w') as f:
                    f.write(text)
            result = run_tests(bdir, m['tests'], log, args.timeout) \
                if build(bdir, targets_for(m['tests']), log) else 'nobuild'
            if result in ('failed', 'timeout'):
                killed.append(m['name'])
                verdict = 'KILLED   ' if result == 'failed' else 'KILLED(T)'
            elif result == 'passed':
                survived.append(m['name'])
                verdict = 'SURVIVED '
            else:
                broken.append(m['name'])
                verdict = 'NOBUILD  ' if result == 'nobuild' else 'NOTRUN   '
        finally:
            for path, text in origs.items():
                with open(path, 'w') as f:
                    f.write(text)
        print(f'{verdict} {m["name"]} ({" ".join(m["tests"])}, {time.monotonic() - start:.0f}s)', flush=True)
    # leave the scratch build matching the unmutated tree
    build(bdir, ['all'], log)

    tried = len(killed) + len(survived)
    rate = 100.0 * len(killed) / tried if tried else 0.0
    print(f'==> killed {len(killed)} of {tried} ({rate:.1f}%); survived {len(survived)}; '
          f'skipped {len(skipped)} (not applicable on this host); stale or unbuildable {len(broken)}')
    for s in survived:
        print(f'    survived: {s}')
    for b in broken:
        print(f'    stale or unbuildable: {b}')
    return 1 if survived or broken else 0


if __name__ == '__main__':
    sys.exit(main())
