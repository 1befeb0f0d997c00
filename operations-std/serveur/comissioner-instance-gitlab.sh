#!/bin/sh
# Legacy name of girofle-commission: comissioner-instance-gitlab.sh [NAME].
exec "$(dirname "$(readlink -f "$0")")/../girofle-commission" "$@"
