/* Exec without a shell: which commands, and dash's view of the
 * environment (shcmd.h). */
#include "config.h"

#include "shcmd.h"

#include <string.h>

/* Bytes a word may hold and mean the same to dash as written: letters,
 * digits, and punctuation dash gives no meaning anywhere in a word.  Bytes
 * >= 0x80 (UTF-8) are ordinary characters to dash too.  Anything else
 * (quotes, $, `, \, globs, ~, #, !, ^, redirections, operators, tabs,
 * newlines, control characters) goes to the shell; '=' too in the first
 * word (an assignment), not after it. */
static bool plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80 || (c && strchr("_-./,+:@%", c));
}

bool sb_sh_builtin(const char *w)
{
	/* dash 0.5.12's builtins and reserved words (`type` of each in the
	 * images), and for good measure other shells' (none of them is a
	 * command a sandbox would miss the speed of) */
	static const char *const names[] = {
		".", ":", "[", "[[", "]]", "alias", "bg", "bind", "break", "builtin", "caller", "case",
		"cd", "chdir", "command", "compgen", "complete", "compopt", "continue", "coproc",
		"declare", "dirs", "disown", "do", "done", "echo", "elif", "else", "enable", "esac",
		"eval", "exec", "exit", "export", "false", "fc", "fg", "fi", "for", "function",
		"getopts", "hash", "help", "history", "if", "in", "jobs", "kill", "let", "local",
		"logout", "mapfile", "popd", "printf", "pushd", "pwd", "read", "readarray",
		"readonly", "return", "select", "set", "shift", "shopt", "source", "suspend", "test",
		"then", "time", "times", "trap", "true", "type", "typeset", "ulimit", "umask",
		"unalias", "unset", "until", "wait", "while",
	};

	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(w, names[i]) == 0)
			return true;
	return false;
}

/* Only plain bytes and spaces, and no '=' in the first word. */
static bool plain_words(const char *cmd)
{
	bool first = true;

	for (const unsigned char *q = (const unsigned char *)cmd; *q; q++) {
		if (*q == ' ')
			first = q == (const unsigned char *)cmd || q[-1] == ' ' ? first : false;
		else if (!plain(*q) && (*q != '=' || first))
			return false;
	}
	return true;
}

/* A first word dash would not run as a command: its own (a builtin or a
 * reserved word), or one that begins with '-' or '+', which `sh -c WORD`
 * takes for its options ("-c requires an argument", "Illegal option",
 * exit 2) when the command starts with it; after a space dash would run
 * it, but nobody misses the speed of such a name. */
static bool shell_word(const char *w)
{
	return *w == '-' || *w == '+' || sb_sh_builtin(w);
}

bool sb_sh_simple(const char *cmd)
{
	char word[16];
	size_t len;

	if (!plain_words(cmd))
		return false;
	cmd += strspn(cmd, " ");
	len = strcspn(cmd, " ");
	if (len == 0 || *cmd == '-' || *cmd == '+')
		return false;
	if (len >= sizeof word)
		return true;	/* longer than any builtin's name */
	memcpy(word, cmd, len);
	word[len] = '\0';
	return !shell_word(word);
}

int sb_sh_split(char *cmd, char **argv, size_t max)
{
	size_t n = 0;
	char *p = cmd;

	if (!plain_words(cmd))
		return -1;
	for (;;) {
		while (*p == ' ')
			*p++ = '\0';
		if (!*p)
			break;
		if (n + 1 >= max)
			return -1;
		argv[n++] = p;
		while (*p && *p != ' ')
			p++;
	}
	argv[n] = NULL;
	if (n == 0 || shell_word(argv[0]))
		return -1;
	return (int)n;
}

/* The name of "K=V" is k[0..len). */
static bool name_is(const char *kv, const char *name)
{
	size_t len = strlen(name);

	return strncmp(kv, name, len) == 0 && kv[len] == '=';
}

/* A variable the dynamic loader or glibc reads as dash starts (ld.so(8),
 * glibc's unsecvars.h, the tunables and their MALLOC_ aliases): it acts
 * on dash as on the command (LD_PRELOAD's errors twice, LD_TRACE_LOADED_
 * OBJECTS lists dash's libraries and runs nothing).  Conservatively whole
 * prefixes.  Dash calls no setlocale() and no getenv(): LANG, LC_*, TZ
 * and the like are the command's alone. */
static bool loader_var(const char *kv)
{
	static const char *const prefixes[] = { "LD_", "GLIBC_", "MALLOC_", "GCONV_PATH=", "LOCPATH=",
						"NLSPATH=" };

	for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
		if (strncmp(kv, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

bool sb_sh_env_plain(const char *const *env, size_t n)
{
	/* what dash sets at start (PWD, PPID, IFS, OPTIND, LINENO), what cd
	 * keeps (OLDPWD), and its other initial variables, which keep their
	 * own places in its table (varinit) */
	static const char *const special[] = {
		"PWD", "OLDPWD", "PPID", "IFS", "OPTIND", "LINENO", "PS1", "PS2", "PS4",
		"MAIL", "MAILPATH", "TERM", "HISTSIZE", "ATTY", "ENV",
	};

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < sizeof special / sizeof *special; j++)
			if (name_is(env[i], special[j]))
				return false;
		if (name_is(env[i], "PATH") && strchr(env[i], '%'))
			return false;
		if (loader_var(env[i]))
			return false;
	}
	return true;
}

/* dash's hashvar(): the bucket of a variable in its table of 39. */
static unsigned bucket(const char *kv)
{
	unsigned h = (unsigned)(unsigned char)*kv << 4;

	for (const char *p = kv; *p && *p != '='; p++)
		h += (unsigned char)*p;
	return h % 39;
}

void sb_sh_env_order(const char **env, size_t n)
{
	/* listvars() walks the buckets in order, each chain from its head:
	 * the initial variables (PATH among them: the only one that gets
	 * here, see sb_sh_env_plain) first, then what the environment added,
	 * in its order, then PWD.  An insertion sort, stable: env is small. */
	for (size_t i = 1; i < n; i++) {
		const char *v = env[i];
		unsigned b = bucket(v);
		bool init = name_is(v, "PATH");
		size_t j = i;

		for (; j > 0; j--) {
			unsigned pb = bucket(env[j - 1]);
			if (pb < b || (pb == b && !(init && !name_is(env[j - 1], "PATH"))))
				break;
		}
		memmove(env + j + 1, env + j, (i - j) * sizeof *env);
		env[j] = v;
	}
}

uint64_t sb_fnv1a(const void *buf, size_t len, uint64_t h)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

bool sb_sh_known(uint64_t hash, size_t size)
{
	static const struct { uint64_t hash; size_t size; } known[] = {
		/* Debian bookworm's dash 0.5.12-2 (amd64): the host's and the
		 * bookworm image's */
		{ 0x5bf51d93e9ae62eeULL, 125640 },
	};

	for (size_t i = 0; i < sizeof known / sizeof *known; i++)
		if (known[i].hash == hash && known[i].size == size)
			return true;
	return false;
}
