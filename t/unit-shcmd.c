/* Exec without a shell (container/shcmd.c): which commands skip the shell,
 * how they split, and the environment as dash would export it. */
#include "config.h"

#include "shcmd.h"
#include "tap.h"

#include <stdlib.h>

/* the words of cmd joined by '|', or "SHELL" when the shell must run it */
static const char *split(const char *cmd)
{
	static char out[4096];
	char buf[4096], *argv[64];
	int n;

	snprintf(buf, sizeof buf, "%s", cmd);
	n = sb_sh_split(buf, argv, 64);
	ok(sb_sh_simple(cmd) == (n >= 0), "sb_sh_simple() agrees on '%s'", cmd);
	if (n < 0)
		return "SHELL";
	out[0] = '\0';
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? "|" : "", argv[i]);
	ok(argv[n] == NULL, "argv of '%s' ends with NULL", cmd);
	return out;
}

static const char *order(const char **env, size_t n)
{
	static char out[4096];

	sb_sh_env_order(env, n);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? " " : "", env[i]);
	return out;
}

int main(void)
{
	char many[400], *argv[4];

	is_str(split("ls"), "ls", "one word");
	is_str(split("ls -l /tmp"), "ls|-l|/tmp", "words");
	is_str(split("  cat   /etc/hostname  "), "cat|/etc/hostname", "runs of spaces, leading and trailing");
	is_str(split("/usr/bin/env"), "/usr/bin/env", "a path");
	is_str(split("./run.sh a,b c:d e@f g%h i+j k-l m_n"), "./run.sh|a,b|c:d|e@f|g%h|i+j|k-l|m_n",
	       "plain punctuation");
	is_str(split("echo \xc3\xa9t\xc3\xa9 \xc4\x81"), "SHELL", "echo is a builtin");
	is_str(split("printf \xc3\xa9t\xc3\xa9"), "SHELL", "printf is a builtin");
	is_str(split("ls \xc3\xa9t\xc3\xa9 \xc4\x81"), "ls|\xc3\xa9t\xc3\xa9|\xc4\x81", "UTF-8 (dash's CTL bytes included)");
	is_str(split(""), "SHELL", "empty");
	is_str(split("   "), "SHELL", "only spaces");
	for (const char *c = "'\"\\$`*?[]~#!^;&|(){}<>\t\n\r\x01\x7f"; *c; c++) {
		char cmd[32];

		snprintf(cmd, sizeof cmd, "ls a%cb", *c);
		is_str(split(cmd), "SHELL", "0x%02x goes to the shell", (unsigned char)*c);
	}
	const char *builtins[] = { "true", "false", ":", ".", "[", "test", "echo", "printf", "cd", "pwd",
				   "exit", "export", "kill", "read", "set", "unset", "type", "command",
				   "exec", "eval", "trap", "wait", "times", "umask", "ulimit", "alias",
				   "getopts", "hash", "shift", "local", "return", "break", "continue",
				   "if", "then", "fi", "for", "while", "until", "do", "done", "case",
				   "esac", "in", "elif", "else", "readonly", "unalias", "jobs", "fg", "bg",
				   "chdir", "builtin", "time", "function", "source" };
	for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++) {
		char cmd[64];

		snprintf(cmd, sizeof cmd, "%s x", builtins[i]);
		is_str(split(cmd), "SHELL", "'%s' is the shell's", builtins[i]);
	}
	/* `sh -c -v` and `sh -c '+x a'`: dash takes a command string that
	 * begins with '-' or '+' for its own options ("-c requires an
	 * argument", "Illegal option", exit 2), it never runs a command
	 * named so (r18 review) */
	is_str(split("-v"), "SHELL", "a leading '-' is an option of sh -c, not a command");
	is_str(split("+x a"), "SHELL", "a leading '+' is an option of sh -c, not a command");
	is_str(split("A=1 env"), "SHELL", "an assignment");
	is_str(split("  A=1 env"), "SHELL", "an assignment after spaces");
	is_str(split("env=1 x"), "SHELL", "'=' in the first word");
	is_str(split("ps -o args= a=b"), "ps|-o|args=|a=b", "'=' after the first word is plain");
	is_str(split("ls true echo"), "ls|true|echo", "builtin names as arguments");
	is_str(split("truex"), "truex", "a builtin's name as a prefix");
	memset(many, 0, sizeof many);
	for (int i = 0; i < 100; i++)
		memcpy(many + 2 * i, "a ", 2);
	ok(sb_sh_split(many, argv, 4) == -1, "more words than room: the shell");

	const char *plain[] = { "PATH=/bin", "HOME=/root", "A=1" };
	ok(sb_sh_env_plain(plain, 3), "an ordinary environment is dash's as it is");
	const char *names[] = { "PWD", "OLDPWD", "PPID", "IFS", "OPTIND", "LINENO", "PS1", "PS2", "PS4",
				"MAIL", "MAILPATH", "TERM", "HISTSIZE", "ATTY", "ENV" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char kv[64];
		const char *env[] = { "PATH=/bin", kv };

		snprintf(kv, sizeof kv, "%s=x", names[i]);
		ok(!sb_sh_env_plain(env, 2), "%s goes to the shell", names[i]);
	}
	const char *pct[] = { "PATH=/bin%builtin:/usr/bin" };
	ok(!sb_sh_env_plain(pct, 1), "a '%%' in PATH goes to the shell");
	/* what the dynamic loader and glibc read at dash's start act on dash
	 * too (ld.so(8), glibc's unsecvars.h and tunables' aliases) */
	const char *loader[] = { "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_TRACE_LOADED_OBJECTS", "LD_DEBUG",
				 "LD_SHOW_AUXV", "LD_BIND_NOW", "LD_AUDIT", "LD_ANYTHING", "GLIBC_TUNABLES",
				 "MALLOC_CHECK_", "MALLOC_PERTURB_", "MALLOC_ARENA_MAX", "MALLOC_TOP_PAD_",
				 "GCONV_PATH", "LOCPATH", "NLSPATH" };
	for (size_t i = 0; i < sizeof loader / sizeof *loader; i++) {
		char kv[64];
		const char *env[] = { "PATH=/bin", kv };

		snprintf(kv, sizeof kv, "%s=1", loader[i]);
		ok(!sb_sh_env_plain(env, 2), "%s (the loader's or glibc's) goes to the shell", loader[i]);
	}
	const char *notld[] = { "XLD_PRELOAD=1", "OLD_X=1", "LDX=1", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC" };
	ok(sb_sh_env_plain(notld, 6), "names that merely contain LD_, and what dash never reads, are plain");
	const char *pwdx[] = { "PWDX=1", "XPWD=2" };
	ok(sb_sh_env_plain(pwdx, 2), "names that merely contain PWD are plain");

	/* `env -i A=1 PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 HOSTNAME=p1
	 * Z=2 dash -c env` on the host */
	const char *e1[] = { "A=1", "PATH=/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8", "HOSTNAME=p1", "Z=2",
			     "PWD=/tmp" };
	is_str(order(e1, 7), "HOSTNAME=p1 HOME=/root Z=2 A=1 PATH=/usr/bin:/bin LANG=C.UTF-8 PWD=/tmp",
	       "dash's order");
	/* the service's own: PATH HOME LANG HOSTNAME (exec in the images) */
	const char *e2[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
			     "LANG=C.UTF-8", "HOSTNAME=p1", "PWD=/workspace" };
	is_str(order(e2, 5), "HOSTNAME=p1 HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "
	       "LANG=C.UTF-8 PWD=/workspace", "the service's environment");
	/* `env -i AV=1 BE=2 PATH=/bin dash -c env`: AV and BE share PATH's
	 * bucket, which holds PATH from dash's start */
	const char *e3[] = { "AV=1", "BE=2", "PATH=/bin", "PWD=/tmp" };
	is_str(order(e3, 4), "PATH=/bin AV=1 BE=2 PWD=/tmp", "PATH first in its bucket");
	/* `env -i CS=1 A=2 AN=3 dash -c env`: one bucket, in the order they came */
	const char *e4[] = { "CS=1", "A=2", "AN=3", "PWD=/tmp" };
	is_str(order(e4, 4), "CS=1 A=2 AN=3 PWD=/tmp", "one bucket's names in the order they came");
	ok(sb_fnv1a("a", 1, SB_FNV1A_INIT) == 0xaf63dc4c8601ec8cULL, "FNV-1a of \"a\"");
	return done_testing();
}
