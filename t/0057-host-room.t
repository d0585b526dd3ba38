#!/bin/bash
# What the host has: the running sandboxes' memory limits add up to at
# most memory-overcommit percent of the host's RAM, and their pids limits
# stay below 7/8 of pid_max.  A start past either stops the least recently
# active idle sandbox (as max-running does), and when none is idle it is
# 503: nothing busy is stopped.  Every sandbox's disk size adds up to at
# most disk-overcommit percent of the data dir's file system (507 past it).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

cg_need pids memory
MEM_MB=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
PID_MAX=$(cat /proc/sys/kernel/pid_max)
# the least percentage that leaves room for one sandbox of X MiB, not two
PCT=$(( (700 * 100 + MEM_MB - 1) / MEM_MB ))
ROOM=$(( MEM_MB * PCT / 100 ))
X=$(( ROOM * 2 / 3 ))
# pids of which one sandbox fits under 7/8 of pid_max, two do not
P=$(( (PID_MAX - PID_MAX / 8) / 2 + 1 ))
# disk sizes of which one fits in 1% of the data dir's file system, not two
FS_MB=$(( $(stat -f -c '%b * %S' /tmp) / 1048576 ))
D=$(( FS_MB / 100 * 2 / 3 ))
sbd_start --memory-overcommit "$PCT" --max-memory-mb 1073741824 --max-pids 4194304 --pids-max 64 \
	--disk-mb 16 --disk-overcommit 1 --max-disk-mb 16777216
diag "RAM $MEM_MB MiB, memory-overcommit $PCT: $ROOM MiB for sandboxes of $X MiB; pid_max $PID_MAX: pids $P"

create() { api POST "/sandboxes/$1" "$(jq -cn --argjson l "$2" '{limits: $l}')"; }
status_of() { api GET "/sandboxes/$1"; jqr .data.status; }
busy() { api POST "/sandboxes/$1/processes" '{"command":"sleep 1000","processId":"busy"}'; }
unbusy() { api DELETE "/sandboxes/$1/processes/busy?signal=KILL"; }

# --- memory -----------------------------------------------------------------------------------
create mem-a "{\"memoryMb\": $X}"
is "$STATUS" 200 "a sandbox of $X MiB starts"
busy mem-a
is "$STATUS" 200 "and is kept busy"
create mem-b "{\"memoryMb\": $X}"
is "$STATUS" 503 "a second of $X MiB finds no room ($ROOM MiB): 503"
like "$(jqr .error)" "memory-overcommit" "which names memory-overcommit"
is "$(status_of mem-a)" running "the busy one is not stopped"
unbusy mem-a
create mem-b "{\"memoryMb\": $X}"
is "$STATUS" 200 "once the first is idle, the second starts"
is "$(status_of mem-a)" stopped "the idle one was stopped to make room"

# --- pids ---------------------------------------------------------------------------------------
create pid-a "{\"pids\": $P, \"memoryMb\": 16}"
is "$STATUS" 200 "a sandbox of $P pids starts"
busy pid-a
is "$STATUS" 200 "and is kept busy"
create pid-b "{\"pids\": $P, \"memoryMb\": 16}"
is "$STATUS" 503 "a second of $P pids would take more than 7/8 of pid_max ($PID_MAX): 503"
like "$(jqr .error)" "pid_max" "which names pid_max"
create small "{\"pids\": 64, \"memoryMb\": 16}"
is "$STATUS" 200 "a small one still starts"
unbusy pid-a

# --- disk ---------------------------------------------------------------------------------------
diag "data dir's file system: $FS_MB MiB, disk-overcommit 1: sandboxes of $D MiB"
create disk-a "{\"diskMb\": $D, \"memoryMb\": 16, \"pids\": 64}"
is "$STATUS" 200 "a sandbox of a $D MiB disk is created"
create disk-b "{\"diskMb\": $D, \"memoryMb\": 16, \"pids\": 64}"
is "$STATUS" 507 "a second would take the disks past 1% of the file system: 507"
like "$(jqr .error)" "disk-overcommit" "which names disk-overcommit"
api GET /sandboxes/disk-b
is "$STATUS" 404 "and nothing was created"

done_testing
