#!/bin/sh
# Legacy name of girofle-decommission: decomissioner-instance-gitlab.sh N.
exec "$(dirname "$(readlink -f "$0")")/../girofle-decommission" "$@"
