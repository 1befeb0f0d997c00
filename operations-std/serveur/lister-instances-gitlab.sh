#!/bin/sh
# Legacy name of girofle-list.
exec "$(dirname "$(readlink -f "$0")")/../girofle-list" "$@"
