#!/bin/sh
# Shipping a 1%-changed backup to a local restic repository against rsync to
# a path target (issue 23): the time of the second shipping and the bytes it
# wrote at the target. It runs the commands Girofle runs (the same flags), on
# a tree shaped like a Girofle increment: the second backup is hard links
# into the first but for the changed files, which are new files (new inodes),
# as Girofle's copy makes them. No container, no Girofle binary: what is
# compared is the transfer alone.
#
# Three scenarios, on the same 200 directories of 1,000 files and the same
# changed byte volume (1% of the files, the same sizes drawn):
#
# "uniform" (the worst case, the first one measured): every 100th file is
#   replaced, so files change in every one of the 200 directories, and
#   every directory listing is new. Both trees are made before the first
#   shipping (`cp -al A B`), so nothing is linked between the two.
#
# "steady" (a host in steady state, changes clustered): the order of a
#   Girofle host keeping N local backups (src/ops/backup/: each instance's
#   copy is made, then its retention removes the oldest backup beyond
#   keep_last, and only then are the backups shipped): an older backup O,
#   A linked into it, A shipped; then B linked into A with its changes, O
#   removed (retention, keep_last = 2), B shipped. An unchanged file has
#   N = 2 links at both shippings, but linking it into B and unlinking it
#   from O changed its ctime in between, as on a host. The changes are
#   concentrated: the same 1% of the files by number and size, all in 2%
#   of the directories (every 50th: 4 of 200, half of each one's files
#   replaced), and the increment before (O to A) changed the other half of
#   the same 4 directories. This is an ASSUMPTION about GitLab, not a
#   measurement of it: between two backups, what changes there is the
#   repositories that were pushed to (new loose objects and packs), the
#   database's pages and the logs, a few directories out of many, and the
#   busy repositories of one day are mostly those of the day before; the
#   rest of the tree (most repositories, uploads, the configuration) does
#   not change. Real GitLab data also has larger files, left out on
#   purpose: the costs per file below do not depend on the change model.
#
# "bound" (restic only; no host does this): the clustered change of
#   "steady", but both trees made before the first shipping, as in
#   "uniform", so that no file is linked or unlinked between the two
#   restic runs: what restic would cost if its directory listings did not
#   record the ctime that every new hard link changes.
#
# For restic, the summary of the second shipping (its --json output) says
# how many directory listings (tree blobs) it wrote anew, of how many
# directories; the link count of an unchanged file at each shipping is
# printed too, so that the model can be checked.
#
#   sh benches/restic-vs-rsync.sh [WORKDIR] [FILES]
#
# WORKDIR (default /var/tmp/girofle-bench-restic, removed first and after)
# must be on a real disk: /tmp may be a tmpfs. FILES defaults to 200000
# (a multiple of 1000: 1,000 files per directory). Needs restic, rsync,
# python3. About 12 minutes on 2 cores.
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

# change TREE MODEL [ROUND]: replaces 1% of the files of TREE by new files
# (unlink, then a new file of new content: a new inode, as Girofle's copy
# makes a changed file) and prints the bytes written. Both models draw the
# same sizes in the same order (seeded), so they change the same volume.
# "uniform": every 100th file. "clustered": the 1% in 2% of the
# directories (every 50th), half of each one's files, the even-numbered in
# round 0 and the odd-numbered in round 1.
change() {
    python3 - "$files" "$1" "$2" "${3:-0}" <<'PY'
import os, random, sys
n, tree, model, round_ = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
random.seed(2300 + round_)
if model == "uniform":
    picked = range(0, n, 100)
else:
    dirs = range(0, n // 1000, 50)
    per_dir = (n // 100) // len(dirs)  # 1% of the files, over every 50th directory
    picked = [d * 1000 + k for d in dirs for k in range(round_ % 2, 1000, 2)[:per_dir]]
total = 0
for i in picked:
    p = f"{tree}/data/d{i // 1000:04d}/f{i:07d}"
    os.unlink(p)
    size = random.randint(512, 4096)
    with open(p, "wb") as f:
        f.write(os.urandom(size))
    total += size
print(total)
PY
}

bytes() { du -sb "$1" | cut -f1; }
seconds() { python3 -c 'import time; print(f"{time.monotonic():.3f}")'; }
# The link count of a file no scenario changes (the last of directory 1).
links() { stat -c %h "$1/data/d0001/f0001999"; }

head -c 32 /dev/urandom | base64 > password
chmod 600 password
export RESTIC_PASSWORD_FILE="$work/password"

# restic_ship VERSION FIRST SECOND [BEFORE_SECOND]: in a fresh repository of
# format VERSION, the first backup, then (after the command BEFORE_SECOND,
# if given: retention) the second with the first as its parent. Prints
# "SECONDS BYTES TREE_BLOBS DIRECTORIES LINKS_FIRST LINKS_SECOND": the new
# tree blobs (directory listings) the second wrote, of its directories.
restic_ship() {
    export RESTIC_REPOSITORY="$work/repo-v$1"
    restic init -q --repository-version "$1" >/dev/null
    links_first=$(links "$2")
    (cd "$2" && restic backup -q --json --host bench --tag girofle,backup=A --ignore-ctime . >/dev/null)
    parent=$(restic snapshots --json --tag backup=A | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
    if [ -n "${4:-}" ]; then $4; fi
    links_second=$(links "$3")
    sync
    before=$(bytes "$RESTIC_REPOSITORY")
    start=$(seconds)
    (cd "$3" && restic backup -q --json --host bench --tag girofle,backup=B --ignore-ctime --parent "$parent" . >"$work/summary")
    sync
    end=$(seconds)
    dirs=$(python3 -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if "\"summary\"" in l][-1]
# Its dirs_* counts leave out the snapshot'"'"'s root, which has a tree too.
print(s["tree_blobs"], s["dirs_new"] + s["dirs_changed"] + s["dirs_unmodified"] + 1)' "$work/summary")
    echo "$(python3 -c "print(f'{$end - $start:.1f}')") $(( $(bytes "$RESTIC_REPOSITORY") - before )) $dirs $links_first $links_second"
    rm -rf "$RESTIC_REPOSITORY"
}

# rsync_ship FIRST SECOND: to a path target, the first backup whole, the
# second linked to it. Prints "SECONDS BYTES".
rsync_ship() {
    mkdir -p target
    rsync -aH --numeric-ids --delete --timeout=60 -- "$1/" "target/$1/"
    sync
    before=$(bytes target)
    start=$(seconds)
    rsync -aH --numeric-ids --delete --timeout=60 --link-dest="$work/target/$1" -- "$2/" "target/$2/"
    sync
    end=$(seconds)
    echo "$(python3 -c "print(f'{$end - $start:.1f}')") $(( $(bytes target) - before ))"
    rm -rf target
}

rows=$work/rows
: >"$rows"
# row SCENARIO TARGET CHANGED SECONDS BYTES [TREE_BLOBS DIRECTORIES LINKS_FIRST LINKS_SECOND]
row() {
    scenario=$1 target=$2
    shift 2
    echo "$scenario;$target;$*" >>"$rows"
}
whole=$(bytes A)

# Scenario "uniform": B is A linked, every 100th file replaced, before
# either shipping. restic once
# per repository format: version 1 (no compression: a repository made by
# restic 0.13 or before and never migrated) and version 2 (compressed, what
# `--init-target` creates), each in a fresh repository.
cp -al A B
uniform=$(change B uniform)
sync
row uniform "restic, format 1 (uncompressed)" "$uniform" $(restic_ship 1 A B)
row uniform "restic, format 2 (compressed: Girofle's)" "$uniform" $(restic_ship 2 A B)
row uniform "rsync --link-dest, path target" "$uniform" $(rsync_ship A B)

# Scenario "steady": the uniform scenario's first tree becomes the older
# backup O; A is linked into O with the previous increment's clustered
# changes; A is shipped; B is linked into A with this one's; O goes
# (retention) after B is made and before B is shipped, as on a Girofle host.
rm -rf B
mv A O
cp -al O A
change A clustered 1 >/dev/null
sync
make_b_then_retention() {
    cp -al A B
    change B clustered 0 >"$work/steady-changed"
    rm -rf O
    sync
}
set -- $(restic_ship 2 A B make_b_then_retention)
steady=$(cat "$work/steady-changed")
row steady "restic, format 2 (compressed: Girofle's)" "$steady" "$@"
# rsync: the same two trees (its bytes do not depend on link counts or
# ctimes: it writes every directory of the new backup anew).
row steady "rsync --link-dest, path target" "$steady" $(rsync_ship A B)

# Scenario "bound": the same clustered change, but both trees made before
# the first shipping (as the uniform scenario does, and as a host never
# does): no file is linked or unlinked between the two restic runs, so an
# unchanged file's ctime is the same at both. What restic would cost if
# its trees did not record the ctime that every new link changes.
rm -rf B
cp -al A B
bound=$(change B clustered 0)
sync
row bound "restic, format 2 (compressed: Girofle's)" "$bound" $(restic_ship 2 A B)

echo "files: $files; backup: $whole bytes; changed: 1% of the files, $uniform bytes (uniform), $steady (steady), $bound (bound)"
python3 - "$rows" <<'PY'
import sys
print("| scenario | target | time of the 1%-changed shipping | bytes written at the target "
      "| ratio to the changed bytes | restic: directory listings written anew, of | links of an unchanged file at the two shippings |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for line in open(sys.argv[1]):
    scenario, name, numbers = line.rstrip("\n").split(";")
    changed, t, b, *more = numbers.split()
    dirs = f"{more[0]} / {more[1]}" if more else ""
    linkc = f"{more[2]}, {more[3]}" if more else ""
    print(f"| {scenario} | {name} | {t} s | {int(b):,} | {int(b) / int(changed):.2f} | {dirs} | {linkc} |")
PY
