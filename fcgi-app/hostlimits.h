/* Host-wide kernel tables a sandbox could empty for everyone: raised at
 * start (and at a reload that runs more sandboxes) so that each sandbox's
 * own bound is what stops it. */
#ifndef SB_HOSTLIMITS_H
#define SB_HOSTLIMITS_H

#include "conf.h"

/* Raise fs.file-max and kernel.pty.max (never lower them) as c needs;
 * logs what it changed, warns on what it could not. */
void host_limits_raise(const struct conf *c);

#endif
