#!/bin/sh
# Legacy name of girofle-restore: restore.sh [CONTAINER DIR].
exec "$(dirname "$(readlink -f "$0")")/../girofle-restore" "$@"
