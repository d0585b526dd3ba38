#include "config.h"

#include "netapply.h"
#include "app.h"

int net_apply(struct app *app, const struct sandbox_ref *sb, const struct net_policy *old,
	      const struct net_policy *n, struct sb_err *err)
{
	(void)app; (void)sb; (void)old; (void)n; (void)err;
	return 0;
}

int net_apply_caps(struct app *app, const struct sandbox_ref *sb, const struct net_policy *p,
		   struct sb_err *err)
{
	(void)app; (void)sb; (void)p; (void)err;
	return 0;
}

int net_sandbox_address(struct app *app, const struct sandbox_ref *sb, char *buf, size_t len)
{
	(void)app; (void)sb; (void)buf; (void)len;
	return 0;
}

int net_sandbox_counters(struct app *app, const struct sandbox_ref *sb, struct net_counters *nc)
{
	(void)app; (void)sb; (void)nc;
	return -1;
}
