#!/usr/bin/env bash
# kiln build of a multi-stage Dockerfile: the image kept by -t (config, history and layers as
# kiln inspect shows them), its files byte for byte through -o type=local and type=tar, the
# metadata and iid files, --target, a stage nothing needs never built, a no-op rebuild and a
# fresh clone of the context all cached, another output of the same build all cache hits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
. "$(dirname "$0")/lib-build.sh"
need_build
need_cmd tar cmp

make_build_base
C=$T/ctx
mkdir -p "$C/src" "$C/ignored"
printf 'int main(void) { return 0; }\n' >"$C/src/main.c"
printf 'data\n' >"$C/src/data.txt"
chmod 0640 "$C/src/data.txt"
touch -d '2020-01-02 03:04:05' "$C/src/data.txt"
printf 'secret\n' >"$C/ignored/x"
printf 'ignored\n' >"$C/.dockerignore"
cat >"$C/Dockerfile" <<'EOF'
# syntax=docker/dockerfile:1
ARG BASE=busybox:test
FROM $BASE AS build
WORKDIR /src
COPY src/ ./
RUN --mount=type=cache,target=/cache echo run >> /cache/log && \
    sha256sum main.c > sums && echo built > out.txt && mkdir -p /gen && echo one > /gen/1
FROM busybox:test AS unused
RUN echo never > /never
FROM busybox:test AS final
LABEL org.example.v=1
ENV GREETING=hello
COPY --from=build /src/out.txt /src/sums /app/
COPY --from=build /gen /app/gen
COPY src/data.txt /app/
USER nobody
EXPOSE 8080
ENTRYPOINT ["/bin/cat"]
CMD ["/app/out.txt"]
EOF

build "$T/b1.log" -t app:1 --iidfile "$T/iid" --metadata-file "$T/meta.json" "$C"
grep -q '\[unused' "$T/b1.log" && fail "the unused stage was built: $(cat "$T/b1.log")"
grep -q '^#[0-9]* \[build 4/4\] RUN --mount=type=cache' "$T/b1.log" ||
	fail "no BuildKit-style step name: $(cat "$T/b1.log")"
grep -q '\[internal\] load build definition from Dockerfile' "$T/b1.log" || fail "no internal step"
ok "multi-stage build with -t, unneeded stage skipped"

# the config
id=$(cat "$T/iid")
[ "$id" = "sha256:$(config app:1 .Id)" ] || fail "iidfile $id is not the image id"
[ "$(config app:1 '.config.Entrypoint | join(" ")')" = /bin/cat ] || fail "entrypoint"
[ "$(config app:1 '.config.Cmd | join(" ")')" = /app/out.txt ] || fail "cmd"
[ "$(config app:1 .config.User)" = nobody ] || fail "user"
[ "$(config app:1 '.config.Labels["org.example.v"]')" = 1 ] || fail "label"
[ "$(config app:1 '.config.ExposedPorts | keys | join(",")')" = 8080/tcp ] || fail "expose"
config app:1 '.config.Env[]' | grep -qx GREETING=hello || fail "env"
[ "$(config app:1 .architecture)/$(config app:1 .os)" = amd64/linux ] || fail "platform"
ok "config: entrypoint, cmd, user, labels, ports, env, platform"

# history: the base's entries, then one per instruction of the final stage
config app:1 '.history[] | [.created_by, (.empty_layer // false)] | @tsv' >"$T/hist"
cat >"$T/hist.want" <<'EOF'
LABEL org.example.v=1	true
ENV GREETING=hello	true
COPY /src/out.txt /src/sums /app/ # buildkit	false
COPY /gen /app/gen # buildkit	false
COPY src/data.txt /app/ # buildkit	false
USER nobody	true
EXPOSE map[8080/tcp:{}]	true
ENTRYPOINT ["/bin/cat"]	true
CMD ["/app/out.txt"]	true
EOF
tail -9 "$T/hist" | diff "$T/hist.want" - || fail "history differs"
# layers: the base's one, then one diff tree per COPY
[ "$(config app:1 '.Layers | length')" = 4 ] || fail "layers: $(config app:1 .Layers)"
[ "$(config app:1 '.Layers[0].Origin')" = "oci-layout://$T/base" ] || fail "base layer origin"
ok "history and layers"

# the files, byte for byte, as root has them
build "$T/b2.log" -o "type=local,dest=$T/out" "$C"
all_cached "$T/b2.log" || fail "another output of the same build ran steps: $(cat "$T/b2.log")"
[ "$(cat "$T/out/app/out.txt")" = built ] || fail "out.txt"
(cd "$C/src" && sha256sum main.c) | cmp - "$T/out/app/sums" || fail "sums"
cmp "$C/src/data.txt" "$T/out/app/data.txt" || fail "data.txt"
[ "$(stat -c '%a %u:%g %Y' "$T/out/app/data.txt")" = "640 0:0 $(stat -c %Y "$C/src/data.txt")" ] ||
	fail "a context file keeps its mode and mtime, owned 0:0: $(stat -c '%a %u:%g %Y' "$T/out/app/data.txt")"
[ "$(cat "$T/out/app/gen/1")" = one ] || fail "gen"
cmp /bin/busybox "$T/out/bin/busybox" || fail "the base's busybox"
[ -e "$T/out/never" ] && fail "the unused stage's file is there"
ok "type=local: files, modes, owners, mtimes"

build "$T/b3.log" -o "type=tar,dest=$T/out.tar" "$C"
mkdir "$T/untar" && tar -C "$T/untar" --numeric-owner -xpf "$T/out.tar"
diff <(meta_listing "$T/out/app") <(meta_listing "$T/untar/app") ||
	fail "tar and local outputs differ"
cmp "$T/out/bin/busybox" "$T/untar/bin/busybox" || fail "tar: bin/busybox differs"
[ "$(find "$T/out" | wc -l)" = "$(find "$T/untar" | wc -l)" ] || fail "tar: entries differ"
kiln build -q -o type=tar,dest=- "$C" 2>/dev/null >"$T/stdout.tar"
tar -tf "$T/stdout.tar" >"$T/stdout.list" || fail "type=tar,dest=- wrote no tar"
grep -qx app/out.txt "$T/stdout.list" || fail "type=tar,dest=- lacks app/out.txt"
ok "type=tar (file and stdout) equal to type=local"

# metadata: the config digest, the names, each built stage's tree
[ "$(jq -r '."containerimage.config.digest"' "$T/meta.json")" = "$id" ] || fail "metadata digest"
[ "$(jq -r '."image.name"' "$T/meta.json")" = docker.io/library/app:1 ] || fail "metadata name"
bt=$(jq -r '."kiln.stages".build' "$T/meta.json")
jq -e '."kiln.stages".unused' "$T/meta.json" >/dev/null && fail "metadata names the unused stage"
mkdir "$T/mnt"
kiln mount "$bt" "$T/mnt" && track_mount "$T/mnt"
[ "$(cat "$T/mnt/src/out.txt")" = built ] || fail "the build stage's tree mounted"
kiln umount "$T/mnt"
ok "metadata file: config digest, image name, stage trees (mountable)"

# a no-op rebuild, then a fresh clone of the context elsewhere: every step cached
build "$T/b4.log" -t app:1 "$C"
all_cached "$T/b4.log" || fail "no-op rebuild ran steps: $(cat "$T/b4.log")"
cp -a "$C" "$T/clone" && find "$T/clone" -exec touch {} +
build "$T/b5.log" -t app:1 "$T/clone"
all_cached "$T/b5.log" || fail "a fresh clone ran steps: $(cat "$T/b5.log")"
ok "no-op rebuild and fresh clone: every step CACHED"

# .dockerignore: ignored/ is not in the context (a COPY . sees no trace of it)
printf 'FROM busybox:test\nCOPY . /ctx/\n' >"$T/Dockerfile.all"
build "$T/b6.log" -f "$T/Dockerfile.all" -o "type=local,dest=$T/all" "$C"
[ -e "$T/all/ctx/ignored" ] && fail ".dockerignore not applied"
[ -e "$T/all/ctx/src/main.c" ] || fail "COPY . lacks src/main.c"
# <Dockerfile>.dockerignore replaces it
printf 'src/data.txt\n' >"$T/Dockerfile.all.dockerignore"
build "$T/b7.log" -f "$T/Dockerfile.all" -o "type=local,dest=$T/all2" "$C"
[ -e "$T/all2/ctx/src/data.txt" ] && fail "Dockerfile.all.dockerignore not applied"
[ -e "$T/all2/ctx/ignored/x" ] || fail "with its own ignore file, .dockerignore does not apply"
ok ".dockerignore and <Dockerfile>.dockerignore"

# --target: the build stage only
build "$T/b8.log" --target build -t app:build "$C"
[ "$(config app:build .config.WorkingDir)" = /src ] || fail "--target build's workdir"
grep -q '\[final' "$T/b8.log" && fail "--target build built the final stage"
ok "--target"

# buildctl's form builds the same image, all cached
build "$T/b9.log" --frontend dockerfile.v0 --local "context=$C" --local "dockerfile=$C" \
	--opt target=final --exporter image --exporter-opt name=app:2
all_cached "$T/b9.log" || fail "buildctl form ran steps: $(cat "$T/b9.log")"
ok "buildctl form"
