/* Exec without a shell: when a command has no shell syntax, the init runs
 * it directly, as the sandbox's /bin/sh (dash) would (init.c, docs/
 * ARCHITECTURE.md "Exec without a shell").  These are the pure parts: the
 * command's words, the environment dash would export, and which /bin/sh
 * this was checked against. */
#ifndef SB_SHCMD_H
#define SB_SHCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Split cmd in place into argv (NUL-terminated words, argv[n] = NULL) when
 * it is words of plain characters separated by spaces, the first not a
 * builtin or keyword of dash and not beginning with '-' or '+' (dash's
 * options); else -1 (the shell runs it).  max is the room in argv, the
 * NULL included. */
int sb_sh_split(char *cmd, char **argv, size_t max);

/* true if sb_sh_split() would split cmd (it is not changed): for the init
 * to decide before it forks. */
bool sb_sh_simple(const char *cmd);

/* true if the first word is something dash runs itself (a builtin or a
 * reserved word), conservatively: also those of other shells. */
bool sb_sh_builtin(const char *word);

/* true if dash would export env ("K=V" strings) unchanged, in the order
 * sb_sh_env_order() gives: no variable dash sets or resets itself at start
 * (PWD, PPID, IFS, OPTIND...) or keeps in its own place (TERM, MAIL...),
 * no '%' (a dash path option) in PATH, and nothing the dynamic loader or
 * glibc reads at dash's own start (LD_*, GLIBC_TUNABLES, MALLOC_*...). */
bool sb_sh_env_plain(const char *const *env, size_t n);

/* Order env as dash 0.5.12 lists its exported variables (its hash table
 * of 39 buckets, PATH first in its bucket, the others in the order they
 * came), env[n - 1] being the PWD dash appends last. */
void sb_sh_env_order(const char **env, size_t n);

/* The 64-bit FNV-1a hash of a buffer, to recognise /bin/sh. */
uint64_t sb_fnv1a(const void *buf, size_t len, uint64_t h);
#define SB_FNV1A_INIT 0xcbf29ce484222325ULL

/* true if a /bin/sh of this size and hash is a dash this code was checked
 * against (t/0033 runs its corpus both ways on it). */
bool sb_sh_known(uint64_t hash, size_t size);

#endif
