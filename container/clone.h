/* git clone with libgit2, run inside the sandbox by a child of its init:
 * the checkout is the sandbox's root writing in the sandbox's root, so no
 * symlink of the repository can lead the checkout outside.  The sandbox has
 * no network: every connection libgit2 wants is asked of the worker over a
 * socket pair (the broker), which resolves the name with the host's
 * resolver, applies the destination policy and hands back a connected
 * socket.  Only the URL's own host and port are granted, so a redirect to
 * elsewhere fails.  No submodule is fetched; no hook or external filter ever
 * runs (libgit2 has neither). */
#ifndef SB_CLONE_H
#define SB_CLONE_H

#include <stdint.h>

/* In the init's child: clone url (branch may be "") into dir, reply on sock
 * (FILE_INFO of dir, or ERROR), and exit. */
__attribute__((noreturn)) void sb_clone_child(int sock, int broker, const char *dir,
					      const char *url_branch, uint64_t max_bytes);

#endif
