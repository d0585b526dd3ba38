#!/bin/bash
# ./dev bench --goals (bench/bench.py run_goals) runs and writes well-formed
# JSON: a quick run, 2 rounds of tiny batches, against a service of the
# test's own with a warm pool; bench/table.py makes its table.  No figure
# is checked: speed is never asserted, only the shape of what is reported
# (each goal's median within its rounds' range, rounds met at most rounds).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
FLOORS=$(cd "$(dirname "$SANDBOXD")" && pwd)
[ -x "$FLOORS/bench/spawn-floor" ] && [ -x "$FLOORS/bench/fcgi-floor" ] ||
	skip_all "no bench/spawn-floor and bench/fcgi-floor beside $SANDBOXD"
command -v nginx >/dev/null || skip_all "no nginx in PATH (the responder floor's front)"
sbd_start --warm-sandboxes 1

SBD_BENCH_BUILD=$FLOORS timeout 120 python3 "$TOP_SRCDIR/bench/bench.py" --base "$BASE" \
	--log "$T_DIR/sandboxd.log" --goals --rounds 2 --n 3 --rate-n 40 --goal-creates 2 --goal-claims 2 \
	--json "$T_DIR/goals.json" >"$T_DIR/goals.out" 2>"$T_DIR/goals.err"
ok $? "bench.py --goals --rounds 2 ran" || sed 's/^/# /' "$T_DIR/goals.out" "$T_DIR/goals.err"
J=$T_DIR/goals.json
is "$(jq -r .mode "$J")" goals "its JSON says the mode"
is "$(jq '.rounds | length' "$J")" 2 "and holds 2 rounds"
is "$(jq -r '[.rounds[].order] | join(",")' "$J")" "service first,floor first" "their order alternates"
# the goals every machine has (runc and bwrap are peers of some only)
want="status exec rate"
[ -x /usr/sbin/runc ] && want="$want cold"
command -v bwrap >/dev/null && want="$want warm"
for k in $want; do
	is "$(jq --arg k "$k" '[.goals[] | select(.key == $k)] | length' "$J")" 1 "goal $k reported"
	is "$(jq --arg k "$k" '[.rounds[].goals[$k].ratio | numbers | select(. > 0)] | length' "$J")" 2 \
		"goal $k has a ratio in each round"
done
is "$(jq '(.goals | length) as $n | [.goals[] | select((.median | numbers) and .min <= .median and .median <= .max
	and .met >= 0 and .met <= .rounds and .rounds == 2 and (.verdict | type) == "boolean"
	and .measured > 0 and .against > 0)] | length == $n' "$J")" true \
	"each goal: a median within its range, rounds met of 2, a verdict, its figures"
is "$(jq '[.rounds[].figures.cold_claims | select(. != null and . != 0)] | length' "$J")" 0 \
	"no cold create claimed a warm sandbox (the log says)"
is "$(jq '[.rounds[].figures.warm_claims | select(. != null and . != 2)] | length' "$J")" 0 \
	"every warm claim was a claim (the log says)"
python3 "$TOP_SRCDIR/bench/table.py" "$J" >"$T_DIR/table.md"
ok $? "bench/table.py makes its table"
is "$(grep -c '^| .* | [0-9.]* ([0-9.]*-[0-9.]*), [0-9] of 2, ' "$T_DIR/table.md")" "$(jq '.goals | length' "$J")" \
	"a row per goal: median (range), rounds met"
done_testing
