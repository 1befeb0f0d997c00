#!/bin/sh
# Legacy name of girofle-decommission: decomissioner-instance-gitlab.sh [N] (without N: asked on a terminal).
exec "$(dirname "$(readlink -f "$0")")/../girofle-decommission" "$@"
