#!/bin/sh
# Legacy name of girofle-backup: backup.sh [N] (no N: every instance).
[ $# -eq 0 ] && set -- --all; exec "$(dirname "$(readlink -f "$0")")/../girofle-backup" "$@"
