#!/usr/bin/env bash
# bench-lazyfs.sh — reads through a kiln mount against the same data read natively, in one run.
#
#   sudo bash bench/bench-lazyfs.sh [BIG_MIB] [SMALL_FILES] [TREE_ENTRIES]
#
# Defaults: a 1024 MiB file, 20000 files of 4–64 KiB, a 100000-entry tree. Data and store live in
# $BENCH_DIR (default /var/tmp/kiln-bench-lazyfs, on disk, kept between runs to skip generation).
# "cold" drops the page, dentry and inode caches first (echo 3 > /proc/sys/vm/drop_caches);
# "first" is a fresh mount whose store has no verification record of the blobs, so its reads
# include verifying each store blob once; "new process" is a fresh mount (a new server process,
# as every kiln build is) after an earlier one verified the blob and recorded it, so no hash;
# "warm" repeats a read whose data the kernel already caches. Ratios: native seconds / mount
# seconds for reads (1.0 = as fast as native, higher is faster), mount seconds / native seconds
# for walks. Rows marked "median of N" alternate native and mount cold reads N times (COLD_RUNS,
# default 5; the host caches the virtual disk, so single cold reads vary a lot) and show the
# medians and the per-pair ratios. BIG_ONLY=1 stops after the big file's rows. PASSTHROUGH=1
# mounts with `kiln mount --passthrough` (FUSE passthrough for verified blobs).
set -euo pipefail

big_mib=${1:-1024}
n_small=${2:-20000}
n_tree=${3:-100000}
cold_runs=${COLD_RUNS:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$here/build/cli/kiln}
B=${BENCH_DIR:-/var/tmp/kiln-bench-lazyfs}
export KILN_ROOT=$B/root
[ "$(id -u)" = 0 ] || { echo "run as root (mounts, drop_caches)" >&2; exit 77; }
[ -x "$KILN" ] || { echo "no kiln at $KILN; build first or set KILN" >&2; exit 1; }

mounts=()
cleanup() {
	local m
	for m in "${mounts[@]}"; do
		grep -q " $m fuse.kiln " /proc/self/mounts || continue
		"$KILN" umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
}
trap cleanup EXIT

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
# Seconds a command takes.
secs() {
	local t0 t1
	t0=$(now)
	"$@" >/dev/null
	t1=$(now)
	echo "$t1 - $t0" | bc -l
}
# Best of three runs, for warm measurements (the data is cached: noise dominates).
best() {
	local b="" t i
	for i in 1 2 3; do
		t=$(secs "$@")
		if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
	done
	echo "$b"
}
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
row() { printf '| %s | %.3f | %.3f | %s |\n' "$1" "$2" "$3" "$4"; }

gen() {
	[ -f "$B/data/.done-$big_mib-$n_small-$n_tree" ] && return
	rm -rf "$B/data" "$B/root"
	mkdir -p "$B/data/big" "$B/data/small" "$B/data/tree"
	echo "generating data in $B/data" >&2
	head -c $((big_mib << 20)) /dev/urandom >"$B/data/big/file"
	python3 - "$B/data" "$n_small" "$n_tree" <<'PY'
import os, random, sys
root, n_small, n_tree = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
block = rng.randbytes(1 << 20)
for i in range(n_small):
    d = os.path.join(root, "small", "d%03d" % (i // 200))
    if i % 200 == 0:
        os.makedirs(d, exist_ok=True)
    size = rng.randint(4096, 65536)
    off = rng.randint(0, len(block) - size)
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write(block[off:off + size] + i.to_bytes(8, "little"))
for i in range(n_tree):
    d = os.path.join(root, "tree", "a%02d" % (i // 10000), "b%03d" % ((i // 100) % 100))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "entry-%06d" % i), "wb") as f:
        f.write(b"%d\n" % i)
PY
	touch "$B/data/.done-$big_mib-$n_small-$n_tree"
}

import_all() {
	local k
	for k in big small tree; do
		if [ ! -s "$B/id.$k" ]; then
			echo "importing $k" >&2
			"$KILN" tree import "$B/data/$k" >"$B/id.$k"
		fi
	done
}

fresh_mount() {
	local id=$1 dir=$2
	if grep -q " $dir fuse.kiln " /proc/self/mounts; then "$KILN" umount "$dir"; fi
	mkdir -p "$dir"
	"$KILN" mount ${PASSTHROUGH:+--passthrough} "$(cat "$id")" "$dir"
	[[ " ${mounts[*]} " == *" $dir "* ]] || mounts+=("$dir")
}

read_big() { cat "$1/file"; }
read_small() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 cat); }
walk_find() { find "$1" -type f | wc -l; }
walk_stat() { find "$1" -printf '%i %s %m %U %G %T@\n' | wc -l; }
# A mount's lazyfs statistics, and one field of them (see fs/lazyfs.h).
stats() { getfattr --absolute-names --only-values -n user.kiln.lazyfs.stats "$1"; }
stat_of() { stats "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# The verification record of the big file's blob (see fs/store.h).
big_record() {
	[ -s "$B/sha.big" ] || sha256sum "$B/data/big/file" | cut -d' ' -f1 >"$B/sha.big"
	echo "$KILN_ROOT/verified/$(cat "$B/sha.big")"
}
# The median of numbers separated by spaces on stdin.
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# Cold reads of the big file, natively and through the mount, COLD_RUNS pairs; prints one table
# row with the medians. Before each pair, MODE "hash" forgets the blob's record and mounts afresh
# (the server hashes the blob), "record" mounts afresh (a new server trusts the record an earlier
# one wrote), "known" keeps the mount (the blob was verified in it).
cold_big() {
	local mode=$1 label=$2 i n m ns="" ms="" rs="" want
	for i in $(seq "$cold_runs"); do
		[ "$mode" = hash ] && rm -f "$(big_record)"
		[ "$mode" = known ] || fresh_mount "$B/id.big" "$M/big"
		drop
		n=$(secs read_big "$B/data/big")
		drop
		m=$(secs read_big "$M/big")
		case $mode in
		hash) want="verified=1 trusted=0" ;;
		record) want="verified=0 trusted=1" ;;
		known) want="" ;;
		esac
		for kv in $want; do
			[ "$(stat_of "$M/big" "${kv%=*}")" = "${kv#*=}" ] ||
				echo "warning: $mode: wanted $kv: $(stats "$M/big")" >&2
		done
		ns="$ns $n" ms="$ms $m" rs="$rs $(ratio "$n" "$m")"
	done
	n=$(echo "$ns" | median)
	m=$(echo "$ms" | median)
	rs=$(echo "$rs" | tr ' ' '\n' | sed '/^$/d' | sort -g | tr '\n' ' ')
	row "$big_mib MiB file, cold, $label (median of $cold_runs)" "$n" "$m" \
		"$(ratio "$n" "$m")× (pairs ${rs% })"
}

gen
import_all
M=$B/mnt
echo "| measurement | native s | mount s | ratio |"
echo "|---|---|---|---|"

# One big file: hashed by a mount's server before its first byte is served; then, in the same
# mount, not again; then, as in every later kiln build, a new server process trusts the record
# of that verification.
cold_big hash "first read in a new process, no record (hashes the blob)"
cold_big known "already verified in this mount"
read_big "$B/data/big" >/dev/null
read_big "$M/big" >/dev/null
n=$(best read_big "$B/data/big")
m=$(best read_big "$M/big")
row "$big_mib MiB file, warm" "$n" "$m" "$(ratio "$n" "$m")×"
cold_big record "first read in a new process, verified by an earlier one (record)"
fresh_mount "$B/id.big" "$M/big"
read_big "$B/data/big" >/dev/null
read_big "$M/big" >/dev/null
n=$(best read_big "$B/data/big")
m=$(best read_big "$M/big")
row "$big_mib MiB file, warm, new process (record)" "$n" "$m" "$(ratio "$n" "$m")×"
[ -z "${BIG_ONLY:-}" ] || exit 0

# Many small files.
fresh_mount "$B/id.small" "$M/small"
drop
n=$(secs read_small "$B/data/small")
drop
m=$(secs read_small "$M/small")
row "$n_small small files, cold, first read (verifies each blob)" "$n" "$m" "$(ratio "$n" "$m")×"
drop
n=$(secs read_small "$B/data/small")
drop
m=$(secs read_small "$M/small")
row "$n_small small files, cold, already verified" "$n" "$m" "$(ratio "$n" "$m")×"
read_small "$B/data/small" >/dev/null
read_small "$M/small" >/dev/null
n=$(best read_small "$B/data/small")
m=$(best read_small "$M/small")
row "$n_small small files, warm" "$n" "$m" "$(ratio "$n" "$m")×"

# Walks of a big tree: the mount/native time ratio (lower is better, 1.0 = native).
fresh_mount "$B/id.tree" "$M/tree"
drop
n=$(secs walk_find "$B/data/tree")
drop
m=$(secs walk_find "$M/tree")
row "find -type f of $n_tree entries, first walk (time ratio)" "$n" "$m" "$(ratio "$m" "$n")× native time"
n=$(best walk_find "$B/data/tree")
m=$(best walk_find "$M/tree")
row "find -type f of $n_tree entries, again (time ratio)" "$n" "$m" "$(ratio "$m" "$n")× native time"
"$KILN" umount "$M/tree"
fresh_mount "$B/id.tree" "$M/tree"
drop
n=$(secs walk_stat "$B/data/tree")
drop
m=$(secs walk_stat "$M/tree")
row "stat walk of $n_tree entries, first walk (time ratio)" "$n" "$m" "$(ratio "$m" "$n")× native time"
n=$(best walk_stat "$B/data/tree")
m=$(best walk_stat "$M/tree")
row "stat walk of $n_tree entries, again (time ratio)" "$n" "$m" "$(ratio "$m" "$n")× native time"

# Mount to first ls: with the tree's blob in the page cache (as right after a build wrote or
# used it), and after dropping every cache (the blob is read from disk and verified).
mount_ls() {
	"$KILN" umount "$M/tree"
	# The previous server tears down 100k inodes after the unmount returns: not ours to time.
	while pgrep -f "kiln mount .*$M/tree\$" >/dev/null; do sleep 0.1; done
	[ "$1" = cold ] && drop
	t0=$(now)
	"$KILN" mount ${PASSTHROUGH:+--passthrough} "$(cat "$B/id.tree")" "$M/tree"
	ls "$M/tree" >/dev/null
	t1=$(now)
	printf '| mount of a %s-entry tree to first ls, %s | — | %.3f | %.0f ms |\n' "$n_tree" "$2" \
		"$(echo "$t1 - $t0" | bc -l)" "$(echo "($t1 - $t0) * 1000" | bc -l)"
}
cat "$KILN_ROOT/content/sha256/$(cut -d: -f2 "$B/id.tree")" >/dev/null
mount_ls warm "tree blob cached"
mount_ls cold "all caches dropped"
