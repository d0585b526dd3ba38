#!/bin/bash
# Review of expiry (issue 17 item 3): expiresAt must be an RFC 3339 UTC
# time; parse_expiry (api_sandbox.c) takes strptime's fields and timegm's
# normalisation, so dates that do not exist are moved silently: February 30
# becomes March 2, a leading blank and a "." without digits pass.  A client
# asking for a day that does not exist gets a 400, not another day.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start --uid-slots 2

for at in '2027-02-30T00:00:00Z' '2027-04-31T12:00:00Z' ' 2027-01-01T00:00:00Z' '2027-01-01T00:00:00.Z'; do
	api POST /sandboxes/x "$(jq -cn --arg a "$at" '{expiresAt: $a}')"
	s=$STATUS
	api GET /sandboxes/x
	is "$s" 400 "expiresAt '$at' is refused (got expiresAt $(jqr .data.expiresAt))"
	api POST /sandboxes/x/destroy
done
done_testing
