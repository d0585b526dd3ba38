#!/bin/bash
# t/0112-rev21-launcher.t with networking on
export REV21_NET=1
exec "${TOP_SRCDIR:-$(dirname "$0")/..}/t/0112-rev21-launcher.t" "$@"
