#!/usr/bin/env bash
# bench-export.sh [FILES] [MIB] — `kiln layer export` of a generated tree (default 20000 files,
# 1024 MiB of text, bench/gen-text-tree) as gzip, zstd and zstd:chunked, against
# `tar -c | pigz` and `tar -c | zstd -T0` of the same files on the same cores, in one run, warm
# caches; every contender writes its output to the same disk and syncs it (kiln fsyncs its
# blob). Then a re-export of the unchanged layer (found recorded: nothing compressed), its time
# net of `kiln --version` (process start) measured alongside.
#
# Needs a built kiln and gen-text-tree (KILN, GEN; default build/cli/kiln,
# build/bench/gen-text-tree), pigz (`apt-get install pigz`) and zstd. RUNS (default 3) runs of
# each, the best kept; the baselines run at their default levels (pigz -6, zstd -3), as kiln.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN:-$here/../build/cli/kiln}
GEN=${GEN:-$here/../build/bench/gen-text-tree}
files=${1:-20000}
mib=${2:-1024}
runs=${RUNS:-3}
for c in pigz zstd tar; do
	command -v "$c" >/dev/null || { echo "bench-export: needs $c (apt-get install $c)" >&2; exit 1; }
done
w=$(mktemp -d "${TMPDIR:-/var/tmp}/kiln-bench.XXXXXX")
trap 'rm -rf "$w"' EXIT

"$GEN" "$w/tree" "$files" "$mib"
tree=$("$KILN" --root "$w/store" tree import "$w/tree")
tar_bytes=$(tar -cf - -C "$w" tree | wc -c)
printf 'tree: %d files, %d MiB of tar, %d cores, load average %s\n' "$files" \
	$((tar_bytes >> 20)) "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
# warm both sides: the files tar reads and the store blobs kiln reads
tar -cf - -C "$w" tree >/dev/null
find "$w/store/content" -type f -exec cat {} + >/dev/null

now() { date +%s.%N; }
# best SECONDS-of-RUNS: runs "$@" RUNS times (setup before each: $SETUP), prints the least time.
best() {
	local b= s e t
	for ((i = 0; i < runs; i++)); do
		eval "${SETUP:-:}"
		s=$(now)
		"$@" >/dev/null
		e=$(now)
		t=$(echo "$e - $s" | bc -l)
		if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
	done
	echo "$b"
}
pigz_run() { tar -cf - -C "$w" tree | pigz -6 >"$w/out.tar.gz" && sync "$w/out.tar.gz"; }
zstd_run() { tar -cf - -C "$w" tree | zstd -3 -T0 -q >"$w/out.tar.zst" && sync "$w/out.tar.zst"; }
kiln_run() { "$KILN" --root "$w/store" layer export --compression "$1" "$tree"; }
# each kiln run compresses: the record of the previous run goes
SETUP_KILN='rm -rf "$w/store/exporters"'

row() { # NAME SECONDS BASELINE-SECONDS SIZE
	printf '%-34s %7.2f s %8.1f MB/s %7.2fx %10d bytes\n' "$1" "$2" \
		"$(echo "$tar_bytes / $2 / 1048576" | bc -l)" "$(echo "$3 / $2" | bc -l)" "$4"
}

t_pigz=$(best pigz_run)
s_pigz=$(stat -c %s "$w/out.tar.gz")
t_gzip=$(SETUP=$SETUP_KILN best kiln_run gzip)
s_gzip=$(kiln_run gzip | sed -n 's/.*"size": \([0-9]*\).*/\1/p')
t_zstd_cli=$(best zstd_run)
s_zstd_cli=$(stat -c %s "$w/out.tar.zst")
t_zstd=$(SETUP=$SETUP_KILN best kiln_run zstd)
s_zstd=$(kiln_run zstd | sed -n 's/.*"size": \([0-9]*\).*/\1/p')
t_chunked=$(SETUP=$SETUP_KILN best kiln_run zstd:chunked)
s_chunked=$(kiln_run zstd:chunked | sed -n 's/.*"size": \([0-9]*\).*/\1/p')

echo "run                                 seconds  throughput  vs baseline  size"
row "tar -c | pigz -6 (baseline)" "$t_pigz" "$t_pigz" "$s_pigz"
row "kiln layer export gzip" "$t_gzip" "$t_pigz" "$s_gzip"
row "tar -c | zstd -3 -T0 (baseline)" "$t_zstd_cli" "$t_zstd_cli" "$s_zstd_cli"
row "kiln layer export zstd" "$t_zstd" "$t_zstd_cli" "$s_zstd"
row "kiln layer export zstd:chunked" "$t_chunked" "$t_zstd_cli" "$s_chunked"

# Re-export: the layer is recorded (the last kiln_run above made it); median of 21 runs each.
median() {
	local xs=() s e
	for ((i = 0; i < 21; i++)); do
		s=$(now)
		"$@" >/dev/null
		e=$(now)
		xs+=("$(echo "($e - $s) * 1000" | bc -l)")
	done
	printf '%s\n' "${xs[@]}" | sort -n | sed -n 11p
}
kiln_run zstd:chunked | grep -q '"reused": true' || { echo "re-export was not reused" >&2; exit 1; }
m_start=$(median "$KILN" --version)
m_again=$(median kiln_run zstd:chunked)
printf 're-export (reused, nothing compressed): %.1f ms, kiln --version %.1f ms, kiln'"'"'s own work %.1f ms\n' \
	"$m_again" "$m_start" "$(echo "$m_again - $m_start" | bc -l)"
