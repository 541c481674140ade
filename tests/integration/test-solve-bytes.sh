#!/usr/bin/env bash
# Byte counters of fetches in kiln solve --progress rawjson: an image's layer blobs pulled from
# a loopback docker-registry (one "statuses" id per layer digest, ending with current == total
# == the layer's size, at a bounded rate), a git fetch over git daemon (its URL, ending with
# current == total > 0) and an http download (its URL, ending complete).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
need_cmd jq python3 git curl skopeo docker-registry
[ -x "$(git --exec-path)/git-daemon" ] || skip "needs git daemon"

W=$T/w
mkdir -p "$W/big" "$W/www"
make_rootfs_busybox "$T/rootfs"
make_layer_tar "$T/rootfs" "$T/l1.tar.gz"
head -c $((6 << 20)) /dev/urandom >"$W/big/blob.bin"
make_layer_tar "$W/big" "$T/l2.tar.gz"
make_oci_layout "$W/img" latest "$T/l1.tar.gz" "$T/l2.tar.gz"
start_registry
push_layout "$W/img" latest bytes/img:latest
cd "$W"

# statuses ID: the status objects of counter ID, in order, one a line
statuses() { jq -c --arg id "$1" 'select(.statuses) | .statuses[] | select(.id == $id)' "$T/raw"; }

jq -n --arg r "docker-image://$REGISTRY/bytes/img:latest" \
	'{version: 1, vertices: [{id: "i", source: {type: "image", ref: $r}}], result: "i"}' >i.json
kiln solve --progress rawjson i.json >"$T/id" 2>"$T/raw" || fail "solve failed: $(cat "$T/raw")"
for l in "$T/l1.tar.gz" "$T/l2.tar.gz"; do
	d=sha256:$(sha256sum <"$l" | cut -d' ' -f1)
	size=$(stat -c %s "$l")
	n=$(statuses "$d" | wc -l)
	[ "$n" -ge 1 ] || fail "no statuses for layer $d: $(grep statuses "$T/raw" | head -3)"
	last=$(statuses "$d" | tail -1)
	[ "$(jq .current <<<"$last")" = "$size" ] && [ "$(jq .total <<<"$last")" = "$size" ] ||
		fail "layer $d ($size bytes) ended with $last"
	jq -e '.completed and .started and .vertex' <<<"$last" >/dev/null || fail "incomplete: $last"
	# libcurl hands 16 KiB at a time: one event each would be hundreds for the big layer
	[ "$n" -le 40 ] || fail "$n statuses for $d: the rate is not bounded"
	statuses "$d" | jq -s -e 'map(.current) | . == sort' >/dev/null || fail "counts go back: $d"
done
ok "each layer blob has a byte counter by digest, ending at current == total == its size"
kiln solve --progress rawjson i.json >/dev/null 2>"$T/raw" || fail "re-solve failed"
! grep -q '"statuses"' "$T/raw" || fail "a cached image counted bytes: $(grep statuses "$T/raw")"
ok "a cached image fetches nothing and counts nothing"

# git over git daemon
export GIT_CONFIG_NOSYSTEM=1 HOME=$T/home GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e
export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e
mkdir -p "$HOME" "$T/srv"
git init -q -b main "$T/work"
head -c 200000 /dev/urandom >"$T/work/data"
git -C "$T/work" add data && git -C "$T/work" commit -qm one
git clone -q --bare "$T/work" "$T/srv/repo.git"
port=$(free_port)
git daemon --reuseaddr --listen=127.0.0.1 --port="$port" --base-path="$T/srv" --export-all \
	"$T/srv" >"$T/daemon.log" 2>&1 &
track_pid $!
for _ in $(seq 100); do git ls-remote "git://127.0.0.1:$port/repo.git" >/dev/null 2>&1 && break; sleep 0.1; done
url=git://127.0.0.1:$port/repo.git
jq -n --arg r "$url#main" '{version: 1, vertices: [{id: "g", source: {type: "git", ref: $r}}],
  result: "g"}' >g.json
kiln solve --progress rawjson g.json >/dev/null 2>"$T/raw" || fail "git solve failed: $(cat "$T/raw")"
last=$(statuses "$url" | tail -1)
[ -n "$last" ] || fail "no statuses for '$url': $(grep statuses "$T/raw" | head -3)"
jq -e '.current == .total and .current > 200000 and .completed' <<<"$last" >/dev/null ||
	fail "the git fetch ended with $last"
ok "a git fetch has a byte counter by URL, ending complete"

# http without a checksum
head -c 300000 /dev/urandom >"$W/www/file.bin"
port=$(free_port)
(cd "$W/www" && exec python3 -m http.server --bind 127.0.0.1 "$port") >"$T/http.log" 2>&1 &
track_pid $!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/file.bin" >/dev/null && break; sleep 0.1; done
u=http://127.0.0.1:$port/file.bin
jq -n --arg u "$u" '{version: 1, vertices: [{id: "h", source: {type: "http", url: $u}}],
  result: "h"}' >h.json
kiln solve --progress rawjson h.json >/dev/null 2>"$T/raw" || fail "http solve failed: $(cat "$T/raw")"
last=$(statuses "$u" | tail -1)
jq -e '.current == 300000 and .total == 300000 and .completed' <<<"$last" >/dev/null ||
	fail "the download ended with '$last'"
ok "an http download has a byte counter by URL, ending complete"
