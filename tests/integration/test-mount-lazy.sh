#!/usr/bin/env bash
# Lazy content: 32 parallel readers share one fetch per content; a source file changed after the
# scan and a corrupt store blob both fail their reads with EIO and a log line naming the file,
# never serving other bytes, while every other file still reads.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-mount.sh"
need_fuse
need_cmd getfattr shuf

src=$T/src
mkdir -p "$src/d"
for i in $(seq 1 48); do head -c $((i * 40000 + 1)) /dev/urandom >"$src/d/f$i"; done
ln "$src/d/f1" "$src/d/f1-link"
nfiles=48

# 32 readers, each reading every file in its own order, all at once; each starts a file at its
# own offset, so the kernel sends their reads as separate requests (reads of one page it merges).
mount_bg "$src" "$T/m"
for r in $(seq 1 32); do
	(
		for f in $(ls "$src/d" | shuf); do
			dd if="$T/m/d/$f" of=/dev/null bs=4k skip=$((r * 16)) count=1 status=none ||
				{ echo "reader $r: $f failed"; exit 1; }
			cmp -s "$src/d/$f" "$T/m/d/$f" || { echo "reader $r: $f differs"; exit 1; }
		done
	) >"$T/reader.$r" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a reader failed: $(cat "$T"/reader.*)"; done
fetched=$(mount_stat "$T/m" fetched)
[ "$fetched" = "$nfiles" ] || fail "32 readers caused $fetched fetches for $nfiles contents"
ok "32 parallel readers got correct bytes with one fetch per content ($(mount_stat "$T/m" shared) reads waited for another's fetch)"

# A source file changed after the scan: EIO, a log line naming it; the others still read.
mount_bg "$src" "$T/m2"
printf 'new bytes' >"$src/d/f2"
cat "$T/m2/d/f2" >"$T/out" 2>"$T/err" && fail "reading a file changed after the scan succeeded"
grep -q 'Input/output error' "$T/err" || fail "changed file: wrong error: $(cat "$T/err")"
[ -s "$T/out" ] && fail "bytes were served for a changed file"
grep -q "'$src/d/f2' changed since it was scanned" "$T/m2.log" ||
	fail "no log line names the changed file: $(cat "$T/m2.log")"
cmp -s "$src/d/f3" "$T/m2/d/f3" || fail "an unchanged file no longer reads"
ok "a file changed after the scan gives EIO and a log line, others still read"

# A corrupt store blob: EIO and a log line naming the path and the digest.
rm -rf "$src/d/f2"
id=$(kiln tree import "$src")
hex=$(sha256sum "$src/d/f5" | cut -d' ' -f1)
blob=$KILN_ROOT/content/sha256/$hex
[ -f "$blob" ] || fail "no blob at $blob"
chmod u+w "$blob"
flip_byte "$blob" 100
mount_bg "$id" "$T/m3"
cat "$T/m3/d/f5" >"$T/out" 2>"$T/err" && fail "reading a corrupt blob succeeded"
grep -q 'Input/output error' "$T/err" || fail "corrupt blob: wrong error: $(cat "$T/err")"
grep "corrupt" "$T/m3.log" | grep -q "$hex" || fail "no log line names the digest: $(cat "$T/m3.log")"
grep -q "'d/f5'" "$T/m3.log" || fail "no log line names the path: $(cat "$T/m3.log")"
cmp -s "$src/d/f6" "$T/m3/d/f6" || fail "a good blob next to a corrupt one no longer reads"
ok "a corrupt store blob gives EIO and a log line naming path and digest, others still read"
