#!/bin/sh
# Shipping a 1%-changed backup to a local restic repository against rsync to
# a path target (issue 23): the time of the second shipping and the bytes it
# wrote at the target. It runs the commands Girofle runs (the same flags), on
# a tree shaped like a Girofle increment: the second backup is hard links
# into the first but for the changed files, which are new files (new inodes),
# as Girofle's copy makes them. No container, no Girofle binary: what is
# compared is the transfer alone.
#
#   sh benches/restic-vs-rsync.sh [WORKDIR] [FILES]
#
# WORKDIR (default /var/tmp/girofle-bench-restic, removed first and after)
# must be on a real disk: /tmp may be a tmpfs. FILES defaults to 200000.
# Needs restic, rsync, python3. About 10 minutes on 2 cores.
set -eu
work=${1:-/var/tmp/girofle-bench-restic}
files=${2:-200000}
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
cd "$work"

# Random bytes, 512 to 4096 per file (restic cannot compress them: the worst
# case for its bytes), 1000 files per directory.
python3 - "$files" <<'PY'
import os, random, sys
n = int(sys.argv[1])
random.seed(23)
for i in range(n):
    d = f"A/data/d{i // 1000:04d}"
    if i % 1000 == 0:
        os.makedirs(d)
    with open(f"{d}/f{i:07d}", "wb") as f:
        f.write(os.urandom(random.randint(512, 4096)))
with open("A/MANIFEST", "w") as f:
    f.write("stand-in\n")
PY
cp -al A B
# 1%: every 100th file replaced by a new one of new content.
changed=$(python3 - "$files" <<'PY'
import os, random, sys
n = int(sys.argv[1])
total = 0
for i in range(0, n, 100):
    p = f"B/data/d{i // 1000:04d}/f{i:07d}"
    os.unlink(p)
    size = random.randint(512, 4096)
    with open(p, "wb") as f:
        f.write(os.urandom(size))
    total += size
print(total)
PY
)
sync

bytes() { du -sb "$1" | cut -f1; }
seconds() { python3 -c 'import time; print(f"{time.monotonic():.3f}")'; }

# restic: the first backup, then the second with the first as its parent,
# once per repository format: version 1 (restic 0.14's default, no
# compression) and version 2 (compressed, what `--init-target` creates when
# restic can), each in a fresh repository.
head -c 32 /dev/urandom | base64 > password
chmod 600 password
export RESTIC_PASSWORD_FILE="$work/password"
restic_ship() { # VERSION: prints "SECONDS BYTES"
    export RESTIC_REPOSITORY="$work/repo-v$1"
    restic init -q --repository-version "$1" >/dev/null
    (cd A && restic backup -q --json --host bench --tag girofle,backup=A --ignore-ctime . >/dev/null)
    parent=$(restic snapshots --json --tag backup=A | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
    sync
    before=$(bytes "$RESTIC_REPOSITORY")
    start=$(seconds)
    (cd B && restic backup -q --json --host bench --tag girofle,backup=B --ignore-ctime --parent "$parent" . >/dev/null)
    sync
    end=$(seconds)
    echo "$(python3 -c "print(f'{$end - $start:.1f}')") $(( $(bytes "$RESTIC_REPOSITORY") - before ))"
    rm -rf "$RESTIC_REPOSITORY"
}
set -- $(restic_ship 1)
restic_time=$1 restic_bytes=$2
set -- $(restic_ship 2)
restic2_time=$1 restic2_bytes=$2

# rsync to a path target: the first backup whole, the second linked to it.
mkdir -p target
rsync -aH --numeric-ids --delete --timeout=60 -- A/ target/A/
sync
before=$(bytes target)
start=$(seconds)
rsync -aH --numeric-ids --delete --timeout=60 --link-dest="$work/target/A" -- B/ target/B/
sync
end=$(seconds)
rsync_bytes=$(( $(bytes target) - before ))
rsync_time=$(python3 -c "print(f'{$end - $start:.1f}')")

whole=$(bytes A)
echo "files: $files; backup: $whole bytes; changed: $(( files / 100 )) files, $changed bytes"
echo "| target | time of the 1%-changed shipping | bytes written at the target | ratio to the changed bytes |"
echo "| --- | --- | --- | --- |"
python3 - "$restic_time" "$restic_bytes" "$restic2_time" "$restic2_bytes" "$rsync_time" "$rsync_bytes" "$changed" <<'PY'
import sys
rt, rb, r2t, r2b, st, sb, changed = sys.argv[1:]
for name, t, b in (("restic, local repository, format 1", rt, rb),
                   ("restic, local repository, format 2 (compressed)", r2t, r2b),
                   ("rsync --link-dest, path target", st, sb)):
    print(f"| {name} | {t} s | {int(b):,} | {int(b) / int(changed):.2f} |")
PY
