/* The one /proc/PID/stat parser (sb_proc_stat): a command name that holds
 * spaces and parentheses, the states that mean "exited" (Z, and X, which
 * the init's count of live processes once took for a running one), lines
 * that are not a stat line; then on real processes, one running and one a
 * zombie. */
#include "config.h"

#include "util.h"
#include "tap.h"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* A stat line with the given command name and state, start time 4242. */
static const char *line(const char *comm, char state)
{
	static char buf[1024];

	snprintf(buf, sizeof buf,
		 "17 (%s) %c 1 17 17 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 4242 1000 10 "
		 "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		 comm, state);
	return buf;
}

int main(void)
{
	struct sb_proc_stat st;
	pid_t zombie;

	ok(sb_proc_stat_parse(line("sh", 'S'), &st) == 0 && st.state == 'S' && st.start == 4242,
	   "a sleeping process: state S, start time from field 22");
	ok(sb_proc_running(&st), "S runs");
	ok(sb_proc_stat_parse(line("a) Z 9 (b", 'R'), &st) == 0 && st.state == 'R' && st.start == 4242,
	   "a command name with ') Z ' in it: the last ')' ends it");
	ok(sb_proc_stat_parse(line("x", 'Z'), &st) == 0 && !sb_proc_running(&st), "Z has exited");
	ok(sb_proc_stat_parse(line("x", 'X'), &st) == 0 && !sb_proc_running(&st), "X (dead) has exited too");
	ok(sb_proc_stat_parse("17 (x) S 1 2 3", &st) < 0, "a line cut before field 22 is refused");
	ok(sb_proc_stat_parse("17 x S 1", &st) < 0, "a line without the command name is refused");
	ok(sb_proc_stat_parse("17 (x)", &st) < 0, "a line without a state is refused");

	ok(sb_proc_stat(getpid(), &st) == 0 && st.state == 'R' && st.start > 0,
	   "ourselves: running, with a start time");
	ok(sb_proc_starttime(getpid()) == st.start && sb_proc_live_start(getpid()) == st.start,
	   "sb_proc_starttime and sb_proc_live_start read the same field");
	zombie = fork();
	if (zombie == 0)
		_exit(0);
	/* exited, not reaped: a zombie until waitid with WNOWAIT says so */
	waitid(P_PID, (id_t)zombie, &(siginfo_t){ 0 }, WEXITED | WNOWAIT);
	ok(sb_proc_stat(zombie, &st) == 0 && st.state == 'Z' && !sb_proc_running(&st),
	   "an exited child not reaped yet: a zombie");
	ok(sb_proc_live_start(zombie) == 0 && sb_proc_starttime(zombie) == st.start,
	   "a zombie has a start time but no live one");
	waitpid(zombie, NULL, 0);
	ok(sb_proc_stat(zombie, &st) < 0 && sb_proc_starttime(zombie) == 0, "a reaped child: gone");
	return done_testing();
}
