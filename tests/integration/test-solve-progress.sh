#!/usr/bin/env bash
# kiln solve's --progress renderers over docs/examples/build.json: rawjson parsed with jq
# (every vertex completed, no error, the step's output in the logs; every vertex cached on the
# re-solve), plain's lines in BuildKit's shape, tty forced onto a file, and auto on a terminal
# (a pty made by script) redrawing in place.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
need_fuse
need_cmd runc busybox jq script base64

W=$T/work
mkdir -p "$W/ctx/src"
printf 'alpha\n' >"$W/ctx/src/a.txt"
printf 'beta\n' >"$W/ctx/src/b.txt"
printf 'setting=1\n' >"$W/ctx/extra.conf"
make_rootfs_busybox "$T/rootfs"
busybox_link_applets "$T/rootfs"
make_layer_tar "$T/rootfs" "$T/layer.tar.gz"
make_oci_layout "$W/busybox" latest "$T/layer.tar.gz"
cd "$W"
G=$KILN_SOURCE_DIR/docs/examples/build.json
NV=$(jq '.vertices | length' "$G")

# solve PROGRESS OUT: the example solved with that progress; stderr to OUT, the id checked
solve() {
	kiln solve --progress "$1" --local context=ctx "$G" >"$T/id" 2>"$2" ||
		fail "solve --progress $1 failed: $(cat "$2")"
	[[ $(cat "$T/id") == sha256:* ]] || fail "solve --progress $1 printed '$(cat "$T/id")'"
}

# rawjson: one SolveStatus object per line
solve rawjson "$T/raw"
jq -s -e 'length > 0 and all(type == "object" and length == 1 and
	(keys[0] | IN("vertexes", "statuses", "logs", "warnings")))' "$T/raw" >/dev/null ||
	fail "rawjson: a line is not one SolveStatus object: $(head -c 2000 "$T/raw")"
jq -s -e --argjson n "$NV" '
	[.[].vertexes[]?] as $v
	| ($v | map(.digest) | unique | length) == $n
	and ($v | map(select(.completed)) | map(.digest) | unique | length) == $n
	and ($v | all(.digest | test("^sha256:[0-9a-f]{64}$")))
	and ($v | all(.name | startswith("[")))
	and ($v | map(select(.completed)) | all(.started and (.error | not)))' "$T/raw" \
	>/dev/null || fail "rawjson: not every vertex completed without error: $(cat "$T/raw")"
jq -r '.logs[]? | select(.stream == 1) | .data' "$T/raw" | base64 -d | grep -qx built ||
	fail "rawjson: the step's output is not in the logs"
jq -s -e '[.[].logs[]?] | length > 0 and all((.vertex | startswith("sha256:")) and
	(.timestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\\.[0-9]+)?Z$")))' "$T/raw" \
	>/dev/null || fail "rawjson: a log without its vertex or RFC 3339 timestamp"
ok "rawjson: $NV vertices completed, output in base64 logs"

solve rawjson "$T/raw2"
jq -s -e --argjson n "$NV" '
	[.[].vertexes[]?] | group_by(.digest) as $g
	| ($g | length) == $n and ($g | all(last | .cached == true and .completed))
	and ([.[].logs[]?] | length) == 0' "$T/raw2" >/dev/null ||
	fail "rawjson re-solve: not every vertex cached: $(cat "$T/raw2")"
# the same vertices, by digest, as the first solve
diff <(jq -r '.vertexes[]?.digest' "$T/raw" | sort -u) \
	<(jq -r '.vertexes[]?.digest' "$T/raw2" | sort -u) >/dev/null ||
	fail "rawjson: the re-solve names other digests"
ok "rawjson re-solve: every vertex cached"

# plain: BuildKit's lines, checked on a run (--no-cache) and on a cached re-solve
check_plain() {
	local log=$1 what=$2
	awk -v what="$what" '
		function bad(m) { printf "plain (%s) line %d: %s: %s\n", what, NR, m, $0; exit 1 }
		NR == 1 && !/^#1 \[/ { bad("the first line is not vertex 1") }
		/^$/ { blank = 1; next }
		blank && !/^#[0-9]+ \[/ { bad("a blank line not followed by a vertex") }
		{ blank = 0 }
		!/^#[0-9]+ / { bad("not a #N line") }
		/^#[0-9]+ (DONE [0-9]+\.[0-9]s|CACHED|ERROR: .*|CANCELED)$/ {
			split($1, n, "#"); if (ended[n[2]]++) bad("a vertex ended twice"); next }
		/^#[0-9]+ DONE/ { bad("DONE without its time") }
		/^#[0-9]+ \[/ { split($1, n, "#"); seen[n[2]] = 1; next }
		/^#[0-9]+ [0-9]+\.[0-9]+ / || /^#[0-9]+ \.\.\.$/ || /^#[0-9]+ [^ ]+ [0-9.]+[kMGT]?B/ { next }
		{ bad("unknown line") }
		END {
			if (blank) bad("a blank line at the end")
			for (v in seen) if (!ended[v]) bad("vertex " v " never ended")
			for (v in seen) k++
			print k
		}' "$log"
}
kiln solve --progress plain --no-cache --local context=ctx "$G" >"$T/id" 2>"$T/plain" ||
	fail "solve --progress plain --no-cache: $(cat "$T/plain")"
n=$(check_plain "$T/plain" run) || fail "$n"
[ "$n" = "$NV" ] || fail "plain: $n vertices shown of $NV: $(cat "$T/plain")"
grep -Eq '^#[0-9]+ DONE [0-9]+\.[0-9]s$' "$T/plain" || fail "plain: no DONE line"
grep -Eq '^#[0-9]+ [0-9]\.[0-9]{3} built$' "$T/plain" || fail "plain: no timed output line"
solve plain "$T/plain2"
n=$(check_plain "$T/plain2" cached) || fail "$n"
c=$(grep -Ec '^#[0-9]+ CACHED$' "$T/plain2")
[ "$n" = "$NV" ] && [ "$c" = "$NV" ] || fail "plain re-solve: $c of $n cached: $(cat "$T/plain2")"
ok "plain: BuildKit's lines, every vertex ended once"

# tty forced onto a file: frames, and the final one with every vertex
solve tty "$T/tty"
grep -q $'\033\\[?25l' "$T/tty" || fail "tty: no frame drawn"
last=$(sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\r//g' "$T/tty" |
	awk '/^\[\+\] Building/ { f = "" } { f = f $0 "\n" } END { printf "%s", f }')
grep -Eq '^\[\+\] Building [0-9]+\.[0-9]s \('"$NV/$NV"'\) FINISHED$' <<<"$last" ||
	fail "tty: the last frame has no finished header: $last"
[ "$(grep -c '^ => CACHED \[' <<<"$last")" = "$NV" ] || fail "tty: not every vertex cached: $last"
awk 'length($0) > 79 { exit 1 }' <<<"$last" || fail "tty: a line wider than 80 columns: $last"
ok "tty: the final frame lists every vertex"

# auto on a terminal is tty (script gives kiln a pty of its own)
TERM=xterm script -qec "'$KILN' solve --local context=ctx '$G'" /dev/null >"$T/pty" 2>&1 ||
	fail "solve on a pty failed: $(cat "$T/pty")"
grep -q $'\033\\[?25l' "$T/pty" || fail "auto on a terminal did not draw: $(cat "$T/pty")"
grep -q 'FINISHED' "$T/pty" || fail "auto on a terminal: no final frame: $(cat "$T/pty")"
ok "auto on a terminal redraws in place"
