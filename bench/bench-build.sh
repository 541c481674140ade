#!/usr/bin/env bash
# bench-build.sh [OUTFILE] — `kiln build` against BuildKit (inside Debian's dockerd 20.10) and
# buildah 1.28, the same Dockerfile and contexts for all three, in one run.
#
#   sudo [TOOLS="buildkit kiln"] bash bench/bench-build.sh [OUTFILE]
#
# The build: three stages over a context of 2000 small files plus one 50 MiB file — COPY the
# context, hash every file of it in a RUN, write 500 files in a RUN; a RUN with a cache mount;
# a last stage that COPY --from's the results — kept as a named image by each tool. The base is
# busybox-static in an OCI layout made here, loaded into each tool (docker load of a
# skopeo-made docker-archive, buildah pull oci:, kiln tag oci-layout://). Cases, RUNS times
# each (default 3, the median kept), tools interleaved case by case:
#   cold      every build cache emptied first (untimed): docker builder prune -af + rmi;
#             buildah rmi (and --prune) + its cache-mount dir; kiln rmi + prune --all + its
#             cache mounts and context stat caches (<root>/cache-mounts, <root>/ctxsrc)
#   no-op     the same build again, nothing changed
#   one file  one context file rewritten before each build (untimed)
#   20k no-op a no-op rebuild of the same Dockerfile over a 20,000-file context (built once
#             untimed first)
# Prints the medians, kiln/BuildKit and kiln/buildah, and the issue's targets; OUTFILE (if
# given) gets the same as Markdown.
#
# Everything lives in a scratch dir ($BENCH_DIR, default a new /var/tmp/kiln-bench-build.*,
# removed at the end unless KEEP=1): dockerd is started there on its own socket, data-root and
# exec-root (--iptables=false --bridge=none; builds use --network=host, kiln and buildah's
# chroot isolation run RUN on the host network too) and stopped by its PID at exit, failure
# included; buildah uses --root/--runroot there, kiln --root there.
#
# Needs root, /dev/fuse, docker.io (/usr/bin/docker, dockerd), buildah, skopeo, hyperfine,
# busybox-static, jq; a built kiln (KILN, default build/cli/kiln). hyperfine is a bench-only
# dependency (apt-get install hyperfine), not in .ci/install-deps. The cross-check with the
# shared peer script is bench/bench-build-peers.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KILN=$(realpath "${KILN:-$here/../build/cli/kiln}")
RUNS=${RUNS:-3}
DOCKER=/usr/bin/docker
out=${1:-}
# TOOLS: a subset to time (kiln always among them), e.g. TOOLS="buildkit kiln" to see how the
# tools run when buildah's builds are not interleaved with theirs; the others' columns are "–".
tools=${TOOLS:-buildkit buildah kiln}
for t in $tools; do
	case $t in
	buildkit | buildah | kiln) ;;
	*) echo "bench-build: TOOLS: no tool '$t' (buildkit, buildah, kiln)" >&2; exit 1 ;;
	esac
done
case " $tools " in
*" kiln "*) ;;
*) echo "bench-build: TOOLS must include kiln" >&2; exit 1 ;;
esac

[ "$(id -u)" = 0 ] || { echo "bench-build: run as root" >&2; exit 1; }
[ -x "$KILN" ] || { echo "bench-build: no kiln at $KILN (ninja -C build)" >&2; exit 1; }
[ -x "$DOCKER" ] || { echo "bench-build: needs $DOCKER (apt-get install docker.io)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "bench-build: needs /bin/busybox (busybox-static)" >&2; exit 1; }
for c in dockerd buildah skopeo hyperfine jq bc; do
	command -v "$c" >/dev/null || { echo "bench-build: needs $c (apt-get install $c)" >&2; exit 1; }
done

# lower case: buildah names an image pulled from oci:DIR after DIR
W=${BENCH_DIR:-/var/tmp/kiln-bench-build.$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')}
mkdir "$W"
W=$(realpath "$W")
dockerd_pid=

# dockerd, by its PID; buildah's working containers; anything still mounted below W.
cleanup() {
	local rc=$? i
	set +e
	if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
		kill "$dockerd_pid"
		for i in $(seq 60); do
			kill -0 "$dockerd_pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -0 "$dockerd_pid" 2>/dev/null && kill -9 "$dockerd_pid"
		wait "$dockerd_pid" 2>/dev/null
	fi
	[ -d "$W/buildah/root" ] && buildah $BUILDAH_STORE rm --all >/dev/null 2>&1
	findmnt -rn -o TARGET | grep "^$W/" | sort -r | xargs -r -n1 umount -l 2>/dev/null
	if [ -z "${KEEP:-}" ]; then rm -rf "$W"; else echo "bench-build: kept $W" >&2; fi
	exit "$rc"
}
export DOCKER_HOST=unix://$W/docker.sock DOCKER_CONFIG=$W/docker-config DOCKER_BUILDKIT=1
export BUILDAH_STORE="--root $W/buildah/root --runroot $W/buildah/run --storage-driver overlay"
# buildah 1.28 keeps RUN cache mounts under $TMPDIR/buildah-cache-<uid>: keep them in W
export BUILDAH_TMP=$W/buildah/tmp
export KILN_STORE=$W/kiln
export BASE=kiln-bench-base:1 OUT=kiln-bench-out W KILN DOCKER
mkdir -p "$W/docker-config" "$BUILDAH_TMP"
echo "{}" >"$W/docker-config/config.json" # buildah and skopeo stat it when DOCKER_CONFIG is set
trap cleanup EXIT
trap 'exit 130' INT TERM

# The base image: busybox-static and its applets, one gzip layer, an OCI layout at $1 (tag 1).
make_base() {
	local dir=$1 root=$W/base-rootfs a diff layer lsize cfg cdig man mdig
	mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$dir/blobs/sha256"
	cp /bin/busybox "$root/bin/"
	for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	chmod 1777 "$root/tmp"
	tar -C "$root" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "$W/base.tar" .
	diff=$(sha256sum <"$W/base.tar" | cut -d' ' -f1)
	gzip -n <"$W/base.tar" >"$W/base.tar.gz"
	layer=$(sha256sum <"$W/base.tar.gz" | cut -d' ' -f1)
	lsize=$(stat -c %s "$W/base.tar.gz")
	mv "$W/base.tar.gz" "$dir/blobs/sha256/$layer"
	rm -f "$W/base.tar"
	cfg=$(jq -cn --arg diff "sha256:$diff" '{architecture: "amd64", os: "linux",
		config: {Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"]},
		rootfs: {type: "layers", diff_ids: [$diff]},
		history: [{created_by: "busybox-static and its applets"}]}')
	printf %s "$cfg" >"$W/cfg"
	cdig=$(sha256sum <"$W/cfg" | cut -d' ' -f1)
	mv "$W/cfg" "$dir/blobs/sha256/$cdig"
	man=$(jq -cn --arg c "sha256:$cdig" --argjson cs "${#cfg}" --arg l "sha256:$layer" \
		--argjson ls "$lsize" '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
		layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l,
		          size: $ls}]}')
	printf %s "$man" >"$W/man"
	mdig=$(sha256sum <"$W/man" | cut -d' ' -f1)
	mv "$W/man" "$dir/blobs/sha256/$mdig"
	echo '{"imageLayoutVersion": "1.0.0"}' >"$dir/oci-layout"
	jq -n --arg m "sha256:$mdig" --argjson ms "${#man}" '{schemaVersion: 2, manifests: [
		{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
		 annotations: {"org.opencontainers.image.ref.name": "1"}}]}' >"$dir/index.json"
}

# A context at $1: $2 directories of $3 files each, file sizes 512 B–4 KiB by directory, random
# bytes; plus a $4 MiB file (0: none) and the Dockerfile.
make_context() {
	local dir=$1 d
	mkdir -p "$dir"
	for ((d = 0; d < $2; d++)); do
		mkdir "$dir/d$d"
		head -c $(($3 * (d % 8 + 1) * 512)) /dev/urandom |
			split -a 4 -d -b $(((d % 8 + 1) * 512)) - "$dir/d$d/f"
	done
	[ "$4" = 0 ] || head -c $(($4 << 20)) /dev/urandom >"$dir/big.bin"
	cat >"$dir/Dockerfile" <<-EOF
		FROM $BASE AS ctx
		COPY . /ctx
		RUN cd /ctx && find . -type f | sort | xargs sha256sum >/ctx.sums
		RUN mkdir /gen && n=0 && while [ \$n -lt 500 ]; do n=\$((n + 1)); echo "\$n" >/gen/\$n; done

		FROM ctx AS cached
		RUN --mount=type=cache,target=/cache date >>/cache/runs && wc -l </cache/runs >/runs

		FROM $BASE
		COPY --from=cached /ctx.sums /runs /out/
		COPY --from=cached /gen /out/gen
	EOF
}

# The builds, one function per tool (hyperfine runs them through bash -c).
build_buildkit() { "$DOCKER" build --network=host -q -t "$OUT" "$1" >/dev/null; }
build_buildah() {
	TMPDIR=$BUILDAH_TMP buildah $BUILDAH_STORE build --layers --isolation chroot -q -t "$OUT" \
		"$1" >/dev/null 2>"$W/buildah.err" || { cat "$W/buildah.err" >&2; return 1; }
}
build_kiln() { "$KILN" --root "$KILN_STORE" build -q --network host -t "$OUT" "$1" >/dev/null; }
# Cold: the build caches emptied, the base image kept.
cold_buildkit() {
	"$DOCKER" rmi -f "$OUT" >/dev/null 2>&1 || true
	"$DOCKER" builder prune -af >/dev/null
}
cold_buildah() {
	local n
	buildah $BUILDAH_STORE rmi -f "$OUT" >/dev/null 2>&1 || true
	# intermediate layer images go one level per pass
	for n in $(seq 20); do
		[ "$(buildah $BUILDAH_STORE images -aq | wc -l)" -gt 1 ] || break
		buildah $BUILDAH_STORE rmi --prune >/dev/null 2>&1 || true
	done
	rm -rf "$BUILDAH_TMP"/buildah-cache-*
}
cold_kiln() {
	"$KILN" --root "$KILN_STORE" rmi "$OUT" >/dev/null 2>&1 || true
	"$KILN" --root "$KILN_STORE" prune --all >/dev/null
	rm -rf "$KILN_STORE/cache-mounts" "$KILN_STORE/ctxsrc"
}
touch_one() { date +%s%N >"$W/ctx/d1/f0000"; }
export -f build_buildkit build_buildah build_kiln cold_buildkit cold_buildah cold_kiln touch_one

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
echo "bench-build: scratch $W, $(nproc) cores, load average $(loadavg)" >&2

echo "bench-build: base image and contexts" >&2
make_base "$W/base"
make_context "$W/ctx" 50 40 50
make_context "$W/ctx20k" 100 200 0
[ "$(find "$W/ctx" -type f | wc -l)" = 2002 ] && [ "$(find "$W/ctx20k" -type f | wc -l)" = 20001 ] ||
	{ echo "bench-build: context generation went wrong" >&2; exit 1; }

echo "bench-build: starting dockerd" >&2
dockerd --iptables=false --bridge=none --data-root "$W/docker/data" --exec-root "$W/docker/exec" \
	-H "$DOCKER_HOST" --pidfile "$W/docker/pid" >"$W/dockerd.log" 2>&1 &
dockerd_pid=$!
for i in $(seq 120); do
	"$DOCKER" version >/dev/null 2>&1 && break
	kill -0 "$dockerd_pid" 2>/dev/null || { tail -20 "$W/dockerd.log" >&2; exit 1; }
	sleep 0.5
done
"$DOCKER" version >/dev/null || { tail -20 "$W/dockerd.log" >&2; exit 1; }

skopeo copy -q "oci:$W/base:1" "docker-archive:$W/base-docker.tar:$BASE"
"$DOCKER" load -q -i "$W/base-docker.tar" >/dev/null
buildah $BUILDAH_STORE pull -q "oci:$W/base:1" >"$W/base.id"
buildah $BUILDAH_STORE tag "$(tail -1 "$W/base.id")" "$BASE"
"$KILN" --root "$KILN_STORE" tag "oci-layout://$W/base:1" "$BASE" >/dev/null

# measure CASE TOOL PREPARE CONTEXT: RUNS timed builds (PREPARE before each, untimed); the
# median, min and max go to $W/res/CASE.TOOL.
mkdir -p "$W/res"
measure() {
	local json=$W/res/$1.$2.json
	if hyperfine --shell bash --runs "$RUNS" --prepare "$3" --export-json "$json" \
		"build_$2 $4" >"$W/res/$1.$2.log" 2>&1; then
		jq -r '.results[0] | "\(.median) \(.min) \(.max)"' "$json" >"$W/res/$1.$2"
	else
		echo "bench-build: $2 $1 failed:" >&2
		tail -5 "$W/res/$1.$2.log" >&2
		echo "failed" >"$W/res/$1.$2"
	fi
}
cases="cold noop onefile noop20k"
declare -A load
start=$(date -u '+%F %H:%M UTC')
load[start]=$(loadavg)
for t in $tools; do
	echo "bench-build: $t, a first build (untimed)" >&2
	"build_$t" "$W/ctx"
done
for c in $cases; do
	load[$c]=$(loadavg)
	for t in $tools; do
		echo "bench-build: $c, $t (load average $(loadavg))" >&2
		case $c in
		cold) measure cold "$t" "cold_$t" "$W/ctx" ;;
		noop) measure noop "$t" true "$W/ctx" ;;
		onefile) measure onefile "$t" touch_one "$W/ctx" ;;
		noop20k)
			"build_$t" "$W/ctx20k"
			measure noop20k "$t" true "$W/ctx20k"
			;;
		esac
	done
done
load[end]=$(loadavg)

# The table: medians, ratios, targets (ratios of kiln to BuildKit).
declare -A label=([cold]="cold (2000 files + 50 MiB)" [noop]="no-op rebuild"
	[onefile]="one context file changed" [noop20k]="no-op rebuild, 20k-file context")
declare -A target=([cold]=0.5 [noop]=0.1 [onefile]=0.3 [noop20k]=0.1)
# "–" for a tool not in TOOLS
med() {
	if [ ! -e "$W/res/$1.$2" ]; then echo "–"
	elif [ "$(cat "$W/res/$1.$2")" = failed ]; then echo failed
	else cut -d' ' -f1 "$W/res/$1.$2"; fi
}
ratio() { # A B
	if [ "$1" = failed ] || [ "$2" = failed ] || [ "$1" = "–" ] || [ "$2" = "–" ]; then
		echo "–"
	else
		printf '%.3f×' "$(echo "$1 / $2" | bc -l)"
	fi
}
secs() { case $1 in failed | –) echo "$1" ;; *) printf '%.3f' "$1" ;; esac; }
range() {
	if [ ! -e "$W/res/$1.$2" ] || [ "$(cat "$W/res/$1.$2")" = failed ]; then echo "–"
	else awk '{printf "%.3f–%.3f", $2, $3}' "$W/res/$1.$2"; fi
}
status=0
{
	echo "kiln build vs BuildKit (dockerd $("$DOCKER" version -f '{{.Server.Version}}')) and" \
		"buildah $(buildah --version | cut -d' ' -f3); $start, $(nproc) cores;" \
		"median of $RUNS runs, seconds"
	echo
	echo "| case | BuildKit | buildah | kiln | kiln/BuildKit | kiln/buildah | target | load average |"
	echo "|---|---|---|---|---|---|---|---|"
	for c in $cases; do
		bk=$(med "$c" buildkit) bh=$(med "$c" buildah) kl=$(med "$c" kiln)
		r=$(ratio "$kl" "$bk")
		if [ "$bk" = "–" ]; then verdict="BuildKit not run"
		elif [ "$r" = "–" ]; then verdict=failed; status=1
		elif [ "$(echo "$kl / $bk <= ${target[$c]}" | bc -l)" = 1 ]; then verdict=met
		else verdict=missed; fi
		echo "| ${label[$c]} | $(secs "$bk") | $(secs "$bh") | $(secs "$kl") | $r |" \
			"$(ratio "$kl" "$bh") | ≤ ${target[$c]}× ($verdict) | ${load[$c]} |"
	done
	echo
	echo "min–max of the runs:"
	echo
	echo "| case | BuildKit | buildah | kiln |"
	echo "|---|---|---|---|"
	for c in $cases; do
		echo "| ${label[$c]} | $(range "$c" buildkit) | $(range "$c" buildah) | $(range "$c" kiln) |"
	done
	echo
	echo "load average: ${load[start]} at the start, ${load[end]} at the end"
} >"$W/table.md"
cat "$W/table.md"
[ -z "$out" ] || cp "$W/table.md" "$out"
exit "$status"
