# lib-export.sh — fixtures for exporter tests: an app image built by `kiln build` from a
# Dockerfile (a busybox base image whose layer is kept as its blob, then COPY of a layer of new
# files), exported with -o; and daemons (dockerd, containerd) each started by the test in its own
# directory and stopped by PID. Source after lib.sh, lib-image.sh, lib-solve.sh and lib-build.sh.

# Daemons leave mounts (overlay2, shims' rootfs) under their roots: unmount whatever is left
# under $T before lib.sh removes it, also when the test failed midway.
_export_pids=()
export_track_daemon() { _export_pids+=("$1"); }
_export_cleanup() {
	local p m i
	set +e
	for p in "${_export_pids[@]}"; do
		kill "$p" 2>/dev/null || continue
		for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	for i in 1 2 3; do
		awk -v t="$T" '$2 ~ "^"t {print $2}' /proc/self/mounts | sort -r | while read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		done
	done
}
_export_exit() {
	local rc=$?
	set +e
	_export_cleanup
	_export_status "$rc"
	cleanup # lib.sh's, which reads the status just set
}
_export_status() { return "$1"; }
trap _export_exit EXIT

# layout_config DIR: the path of the config blob of a layout's (only) image.
layout_config() {
	local dir=$1 man
	man=$dir/blobs/sha256/$(jq -r '.manifests[0].digest' "$dir/index.json" | cut -d: -f2)
	echo "$dir/blobs/sha256/$(jq -r '.config.digest' "$man" | cut -d: -f2)"
}

# layout_layer DIR: prints "digest size mediaType diff_id" of the (only) layer of a layout's
# (only) image.
layout_layer() {
	local dir=$1 man cfg
	man=$dir/blobs/sha256/$(jq -r '.manifests[0].digest' "$dir/index.json" | cut -d: -f2)
	cfg=$(layout_config "$dir")
	printf '%s %s %s %s\n' "$(jq -r '.layers[0].digest' "$man")" "$(jq -r '.layers[0].size' "$man")" \
		"$(jq -r '.layers[0].mediaType' "$man")" "$(jq -r '.rootfs.diff_ids[0]' "$cfg")"
}

# make_app BASE: the app's context in $T/ctx: a Dockerfile FROM BASE (an image in kiln's index)
# copying app/ (hello.txt, a 300 kB random file) into /. With BASE "layout", the busybox layout
# at $T/base is named kiln-test/base:1 (its layer's origin is oci-layout://$T/base). Sets
# BASE_LAYER (the base layer's digest) and BASE_TREE.
make_app() {
	local base=$1 d s mt diff
	need_build
	[ -d "$T/base" ] || make_busybox_oci_layout "$T/base" latest
	if [ "$base" = layout ]; then
		base=kiln-test/base:1
		kiln tag "oci-layout://$T/base:latest" "$base" >/dev/null || fail "kiln tag of the base failed"
	fi
	BASE_TREE=$(kiln inspect "$base" | jq -r '.[0].Tree') || fail "kiln inspect of the base failed"
	read -r d s mt diff < <(layout_layer "$T/base")
	BASE_LAYER=$d
	if [ ! -d "$T/ctx/app" ]; then
		mkdir -p "$T/ctx/app/srv"
		printf 'hello from a kiln export\n' >"$T/ctx/app/hello.txt"
		head -c 300000 /dev/urandom >"$T/ctx/app/srv/random.bin"
		touch -d '2022-02-02 02:02:02.5' "$T/ctx/app/hello.txt" "$T/ctx/app/srv/random.bin" "$T/ctx/app/srv"
	fi
	printf 'FROM %s\nCOPY app/ /\n' "$base" >"$T/ctx/Dockerfile"
}

# export_app SPEC [kiln build options…]: builds the app with -o SPEC and prints the root digest
# (containerimage.digest); the progress log goes to $T/export.log, the metadata to
# $T/export.json. Fails the test when the build fails.
export_app() {
	local spec=$1
	shift
	kiln build --progress plain --metadata-file "$T/export.json" -o "$spec" "$@" "$T/ctx" \
		2>"$T/export.log" || fail "kiln build -o $spec $* failed: $(cat "$T/export.log")"
	jq -r '."containerimage.digest"' "$T/export.json"
}

# layers_made: how many layers the last export_app compressed.
layers_made() { jq -r '."kiln.layers_made"' "$T/export.json"; }

# expected_rootfs DIR: the app image's filesystem, made by hand: the base tree exported, the
# app directory copied over it.
expected_rootfs() {
	local dir=$1
	kiln tree export "$BASE_TREE" "$dir" >/dev/null || fail "tree export of the base failed"
	cp -a "$T/ctx/app/." "$dir/"
}

# Listings of two trees, the root directory's own line left out (layers need not carry it).
same_tree() {
	local a=$1 b=$2 what=$3
	# devices and fifos have no contents to compare: meta_listing checks their type and rdev
	diff -r --no-dereference "$a" "$b" 2>&1 | grep -vE 'is a (block special file|character special file|fifo) while file .* is a \1$' >"$T/diff.out" || true
	[ ! -s "$T/diff.out" ] || fail "$what: contents differ: $(head -20 "$T/diff.out")"
	meta_listing "$a" | grep -v '^ \. |' >"$T/meta-a"
	meta_listing "$b" | grep -v '^ \. |' >"$T/meta-b"
	diff "$T/meta-a" "$T/meta-b" >"$T/meta.diff" || fail "$what: metadata differs: $(head -20 "$T/meta.diff")"
	[ "$(link_groups "$a")" = "$(link_groups "$b")" ] || fail "$what: hardlinks differ"
}

# start_dockerd: Debian's dockerd on a socket, data root and exec root of the test's own (its
# containerd too), never the system's; sets DOCKER_SOCK and exports DOCKER_HOST.
start_dockerd() {
	local i
	need_root
	need_cmd dockerd docker
	mkdir -p "$T/dk"
	DOCKER_SOCK=$T/dk/docker.sock
	dockerd --iptables=false --ip6tables=false --bridge=none --data-root "$T/dk/data" \
		--exec-root "$T/dk/exec" -H "unix://$DOCKER_SOCK" --pidfile "$T/dk/docker.pid" \
		--containerd-namespace kiln-test --containerd-plugins-namespace kiln-test-plugins \
		>"$T/dk/dockerd.log" 2>&1 &
	export_track_daemon $!
	export DOCKER_HOST=unix://$DOCKER_SOCK
	for i in $(seq 1 300); do
		docker version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "dockerd did not start: $(tail -5 "$T/dk/dockerd.log")"
}

# start_containerd: Debian's containerd with root, state and socket in the test's directory;
# sets CONTAINERD_SOCK.
start_containerd() {
	local i
	need_root
	need_cmd containerd ctr runc
	mkdir -p "$T/ctd"
	CONTAINERD_SOCK=$T/ctd/containerd.sock
	cat >"$T/ctd/config.toml" <<EOC
version = 2
root = "$T/ctd/root"
state = "$T/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = "$T/ctd/debug.sock"
EOC
	containerd --config "$T/ctd/config.toml" >"$T/ctd/containerd.log" 2>&1 &
	export_track_daemon $!
	for i in $(seq 1 300); do
		ctr -a "$CONTAINERD_SOCK" version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "containerd did not start: $(tail -5 "$T/ctd/containerd.log")"
}
