#!/bin/bash
# Registries that stall or lie (bad-registry.py on loopback): a silent registry fails a pull
# after --registry-timeout, once, without retries; an endless blob and blobs one byte longer or
# shorter than their descriptor say are refused naming both sizes, with the store's disk use
# bounded and nothing of them kept; 5xx, 429 after its Retry-After and a reset connection are
# retried and the pull succeeds; lazy range reads of a mounted image stall out the same way.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"

need_cmd jq curl python3 skopeo
make_busybox_oci_layout "$T/bb" latest
make_layer_tar "$T/bb-rootfs" "$T/bb-layer.tar"
make_oci_layout "$T/bb-plain" latest "$T/bb-layer.tar"
skopeo copy --quiet --dest-compress-format zstd:chunked "oci:$T/bb-plain:latest" \
	"oci:$T/bb-zstd:latest" || fail "skopeo could not write a zstd:chunked image"

man=$(jq -r '.manifests[0].digest' "$T/bb/index.json")
man_size=$(jq -r '.manifests[0].size' "$T/bb/index.json")
layer=$(jq -r '.layers[0].digest' "$T/bb/blobs/sha256/${man#sha256:}")
layer_size=$(jq -r '.layers[0].size' "$T/bb/blobs/sha256/${man#sha256:}")
cfg=$(jq -r '.config.digest' "$T/bb/blobs/sha256/${man#sha256:}")
cfg_size=$(jq -r '.config.size' "$T/bb/blobs/sha256/${man#sha256:}")

# The misbehaving registry, stopped by its PID at exit.
port=$(free_port)
BAD=127.0.0.1:$port
BAD_LOG=$T/bad-registry.log
mkdir -p "$T/bad-state"
: >"$BAD_LOG"
python3 "$(dirname "$0")/bad-registry.py" "$port" "$BAD_LOG" "$T/bad-state" \
	bb="$T/bb" zstd="$T/bb-zstd" 2>"$T/bad-registry.err" &
track_pid $!
for i in $(seq 1 100); do
	curl -fs "http://$BAD/v2/" >/dev/null 2>&1 && break
	[ "$i" = 100 ] && fail "bad-registry.py did not start: $(cat "$T/bad-registry.err")"
	sleep 0.1
done

now_ms() { date +%s%3N; }
# requests PATTERN: how many logged requests match PATTERN (an ERE on "METHOD PATH STATUS").
requests() { grep -cE " $1" "$BAD_LOG" || true; }
# store_clean ROOT: the store verifies, no ingest file is left, the layer blob is not there.
store_clean() {
	local root=$1 what=$2
	KILN_ROOT=$root kiln store verify >/dev/null || fail "$what: store verify"
	[ -z "$(find "$root/ingest" -type f 2>/dev/null)" ] || fail "$what: files left in ingest/"
	[ ! -e "$root/content/sha256/${layer#sha256:}" ] || fail "$what: the refused layer is stored"
}

# (a) A registry that accepts and never answers: one wait of the timeout, no retry.
for t in 2s:2000 500ms:500; do
	flag=${t%%:*} ms=${t##*:}
	before=$(requests "GET /v2/stall/bb/manifests/latest")
	start=$(now_ms)
	KILN_ROOT=$T/r-stall expect_fail 1 \
		"manifest 'latest' from '$BAD/stall/bb': no response from the registry in $flag" \
		kiln pull --registry-timeout "$flag" "docker-image://$BAD/stall/bb:latest"
	took=$(($(now_ms) - start))
	[ "$took" -ge "$((ms - 50))" ] && [ "$took" -lt "$((ms + 2500))" ] ||
		fail "--registry-timeout $flag: the pull failed after $took ms"
	[ "$(requests "GET /v2/stall/bb/manifests/latest")" = $((before + 1)) ] ||
		fail "--registry-timeout $flag: the stalled request was retried"
	ok "a registry that never answers fails the pull after --registry-timeout $flag ($took ms), once"
done
expect_fail 2 "duration '10': a number needs a unit" \
	kiln pull --registry-timeout 10 "docker-image://$BAD/stall/bb:latest"
expect_fail 2 "duration '0s': shorter than 1ms" \
	kiln mount --registry-timeout 0s "docker-image://$BAD/stall/bb:latest" "$T"
ok "a --registry-timeout without a unit or of zero is a usage error"

# A blob that starts and then goes silent: the message says so; not retried; nothing kept.
start=$(now_ms)
KILN_ROOT=$T/r-stall-blob expect_fail 1 \
	"blob $layer from '$BAD/stall-blob/bb': the registry stopped sending for 1s, after [0-9]+ bytes" \
	kiln pull --registry-timeout 1s "docker-image://$BAD/stall-blob/bb:latest"
took=$(($(now_ms) - start))
[ "$took" -lt 4000 ] || fail "a blob that went silent failed the pull after $took ms"
[ "$(requests "GET /v2/stall-blob/bb/blobs/$layer")" = 1 ] || fail "the stalled blob was retried"
store_clean "$T/r-stall-blob" "a blob that went silent"
ok "a blob that goes silent midway fails after 1s ($took ms), once, and nothing is kept"

# (b) An endless blob: refused at its size; the store never holds more than the blob's size.
KILN_ROOT=$T/r-flood kiln pull "docker-image://$BAD/flood/bb:latest" >"$T/out" 2>"$T/err" &
pid=$!
track_pid "$pid"
max=0
while kill -0 "$pid" 2>/dev/null; do
	# du may find a file gone that it listed: it still prints the total
	used=$({ du -sb "$T/r-flood" 2>/dev/null || true; } | cut -f1)
	[ "${used:-0}" -gt "$max" ] && max=$used
	sleep 0.02
done
rc=0
wait "$pid" || rc=$?
[ "$rc" = 1 ] || fail "the flooded pull exited $rc: $(cat "$T/err")"
grep -qE "blob $layer from '$BAD/flood/bb' has the wrong size: more than [0-9]+ bytes, its descriptor says $layer_size" "$T/err" ||
	fail "the flooded pull's message: $(cat "$T/err")"
[ "$max" -lt $((layer_size + (1 << 20))) ] ||
	fail "the store grew to $max bytes for a $layer_size-byte layer"
store_clean "$T/r-flood" "an endless blob"
sent=$(grep -o "flood:[0-9]*" "$BAD_LOG" | tail -1 | cut -d: -f2)
ok "an endless blob is refused at its size (store at most $max bytes, the registry sent ${sent:-?})"

# (c) Sizes that lie by one byte either way, with and without Content-Length, for a layer, a
# config and a manifest named by digest: refused naming the blob and both sizes.
check_size() {
	local mode=$1 what=$2 got=$3 said=$4
	KILN_ROOT=$T/r-$mode expect_fail 1 \
		"$what from '$BAD/$mode/bb' has the wrong size: $got bytes, its descriptor says $said" \
		kiln pull "docker-image://$BAD/$mode/bb:latest"
	store_clean "$T/r-$mode" "$mode"
	ok "$mode: $what of $got bytes whose descriptor says $said is refused"
}
check_size short "blob $layer" "$layer_size" $((layer_size + 1))
check_size long "blob $layer" "$layer_size" $((layer_size - 1))
check_size short-nolen "blob $layer" "$layer_size" $((layer_size + 1))
check_size long-nolen "blob $layer" "$layer_size" $((layer_size - 1))
check_size cfg-long "blob $cfg" "$cfg_size" $((cfg_size - 1))
check_size index-long "manifest '$man'" "$man_size" $((man_size - 1))

# (d) What another attempt mends: retried, and the pull gives the tree a sound registry gives.
want=$(KILN_ROOT=$T/r-ok kiln pull "docker-image://$BAD/ok/bb:latest") ||
	fail "pull from the well-behaved repository failed"
for mode in flaky ratelimit reset; do
	got=$(KILN_ROOT=$T/r-$mode kiln pull "docker-image://$BAD/$mode/bb:latest" 2>"$T/err") ||
		fail "$mode: the pull failed: $(cat "$T/err")"
	[ "$got" = "$want" ] || fail "$mode: tree $got, a sound registry gives $want"
	KILN_ROOT=$T/r-$mode kiln store verify >/dev/null || fail "$mode: store verify"
done
[ "$(requests "GET /v2/flaky/bb/manifests/latest 503")" = 1 ] &&
	[ "$(requests "GET /v2/flaky/bb/manifests/latest 200")" = 1 ] &&
	[ "$(requests "GET /v2/flaky/bb/blobs/$layer 503")" = 1 ] ||
	fail "flaky: not one 503 then a success: $(grep flaky "$BAD_LOG")"
ok "a 503 is retried and the pull succeeds"
# Each retry after a 429 waited for its Retry-After: 1.
waits=$(awk '$3 ~ "^/v2/ratelimit/" { if ($4 == 429) t[$3] = $1; else if ($3 in t) {
	printf "%d\n", ($1 - t[$3]) * 1000; delete t[$3] } }' "$BAD_LOG")
[ "$(wc -l <<<"$waits")" -ge 3 ] || fail "ratelimit: too few retried requests: $waits"
while read -r w; do
	[ "$w" -ge 950 ] && [ "$w" -lt 5000 ] || fail "ratelimit: a retry came $w ms after its 429"
done <<<"$waits"
ok "a 429 is retried after its Retry-After of 1 s ($(tr '\n' ' ' <<<"$waits")ms)"
grep -qE " /v2/reset/bb/blobs/$layer reset$" "$BAD_LOG" &&
	grep -qE " /v2/reset/bb/blobs/$layer 206$" "$BAD_LOG" ||
	fail "reset: the blob was not resumed by range: $(grep reset "$BAD_LOG")"
ok "a connection reset midway is retried from where it broke"

# What another attempt cannot mend fails at once, or after the retries, saying why.
start=$(now_ms)
KILN_ROOT=$T/r-rl expect_fail 1 \
	"HTTP 429, and the registry asks to retry in 3600 s: longer than the 1m kiln waits" \
	kiln pull "docker-image://$BAD/ratelimit-long/bb:latest"
took=$(($(now_ms) - start))
[ "$took" -lt 2000 ] && [ "$(requests "GET /v2/ratelimit-long/")" = 1 ] ||
	fail "a Retry-After of an hour: $took ms, $(requests "GET /v2/ratelimit-long/") requests"
ok "a 429 asking for an hour fails at once ($took ms)"
KILN_ROOT=$T/r-503 expect_fail 1 "manifest 'latest' from '$BAD/unavailable/bb': HTTP 503 to every attempt" \
	kiln pull "docker-image://$BAD/unavailable/bb:latest"
[ "$(requests "GET /v2/unavailable/bb/manifests/latest 503")" = 5 ] ||
	fail "a registry always 503: $(requests "GET /v2/unavailable/") requests, wanted 1 + 4 retries"
ok "a registry that keeps answering 503 is tried five times, then the pull fails"

# Lazy reads of a mounted zstd:chunked image use the same timeout.
if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ] && command -v fusermount3 >/dev/null; then
	m=$T/mnt-lazy
	mkdir -p "$m"
	KILN_ROOT=$T/r-lazy kiln mount --registry-timeout 1s --log "$T/mount.log" \
		"docker-image://$BAD/lazy/zstd:latest" "$m" || fail "mount of the chunked image failed"
	track_mount "$m"
	[ "$(cat "$m/etc/motd")" = "hello from kiln" ] || fail "etc/motd of the chunked image"
	touch "$T/bad-state/stall"
	before=$(requests "GET /v2/lazy/zstd/blobs/.* stall")
	start=$(now_ms)
	if timeout 20 cat "$m/bin/busybox" >/dev/null 2>"$T/cat.err"; then
		fail "a read through a stalled registry succeeded"
	fi
	took=$(($(now_ms) - start))
	[ "$took" -lt 5000 ] || fail "a lazy read through a stalled registry took $took ms"
	[ "$(requests "GET /v2/lazy/zstd/blobs/.* stall")" -gt "$before" ] ||
		fail "the lazy read never reached the registry"
	grep -q "no response from the registry in 1s" "$T/mount.log" ||
		fail "the mount's log does not say the registry stalled: $(tail -3 "$T/mount.log")"
	ok "a lazy read through a stalled registry fails after the mount's 1s timeout ($took ms)"
	rm "$T/bad-state/stall"
	cmp "$m/bin/busybox" /bin/busybox || fail "bin/busybox once the registry answers again"
	ok "the same read succeeds once the registry answers again"
	kiln umount "$m"
	KILN_ROOT=$T/r-lazy kiln store verify >/dev/null || fail "store verify after lazy reads"
else
	skip "the lazy-read checks need root, /dev/fuse and fusermount3"
fi
