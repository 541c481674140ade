#!/usr/bin/env bash
# Every RUN --mount type through a Dockerfile: bind (the context by default, a stage with
# source=, rw changes discarded), cache (kept across builds by id, sharing, from= seed), tmpfs,
# secret (file and env, required), ssh (an agent socket, and a key file kiln loads into an agent
# of its own); and --network=none, --security=insecure with --allow.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
. "$(dirname "$0")/lib-build.sh"
need_build
need_cmd gcc ssh-agent ssh-add ssh-keygen

make_build_base
C=$T/ctx
mkdir -p "$C/sub"
printf 'from context\n' >"$C/sub/file"
gcc -static -O2 -o "$C/exec-probe" "$KILN_SOURCE_DIR/tests/integration/exec-probe.c" ||
	fail "compiling exec-probe"
cat >"$C/Dockerfile" <<'EOF'
FROM busybox:test AS seed
RUN mkdir -p /seed && echo seeded > /seed/s
FROM busybox:test
COPY exec-probe /bin/exec-probe
ARG CACHE_ID=c1
RUN --mount=type=bind,target=/ctx cat /ctx/sub/file > /bind-ctx
RUN --mount=type=bind,from=seed,source=/seed,target=/m,rw echo changed > /m/s && cat /m/s > /bind-rw
RUN --mount=type=bind,from=seed,source=/seed,target=/m cat /m/s > /bind-seed
RUN --mount=type=cache,id=$CACHE_ID,target=/cache,sharing=locked echo x >> /cache/log && wc -l < /cache/log > /cache-count
RUN --mount=type=cache,target=/seeded,from=seed,source=/seed cat /seeded/s > /cache-seed
RUN --mount=type=tmpfs,target=/t,size=1m echo t > /t/f && grep -q ' /t tmpfs' /proc/mounts && echo ok > /tmpfs
RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /secret-size
RUN --mount=type=secret,id=tok,env=TOKEN,target=/tmp/tok printf %s "$TOKEN" | cmp - /tmp/tok && echo same > /secret-env
RUN --mount=type=ssh /bin/exec-probe agent > /ssh
RUN --network=none ip link 2>/dev/null | grep -c '^[0-9]' > /links || ls /sys/class/net | wc -l > /links
EOF
printf 'hunter2-secret\n' >"$T/token"
eval "$(ssh-agent -s -a "$T/agent.sock")" >/dev/null
track_pid "$SSH_AGENT_PID"
ssh-keygen -q -t ed25519 -N '' -f "$T/key" >/dev/null
SSH_AUTH_SOCK=$T/agent.sock ssh-add -q "$T/key" 2>/dev/null || fail "ssh-add failed"

build "$T/b1.log" --secret "id=tok,src=$T/token" --ssh "default=$T/agent.sock" \
	-o "type=local,dest=$T/o1" "$C"
[ "$(cat "$T/o1/bind-ctx")" = "from context" ] || fail "bind of the context"
[ "$(cat "$T/o1/bind-rw")" = changed ] || fail "rw bind"
[ "$(cat "$T/o1/bind-seed")" = seeded ] || fail "a rw bind's changes were kept"
[ "$(cat "$T/o1/cache-count")" = 1 ] || fail "cache: $(cat "$T/o1/cache-count")"
[ "$(cat "$T/o1/cache-seed")" = seeded ] || fail "cache from= seed"
[ "$(cat "$T/o1/tmpfs")" = ok ] || fail "tmpfs"
[ -e "$T/o1/t/f" ] && fail "the tmpfs content is in the image"
[ "$(cat "$T/o1/secret-size")" = 15 ] || fail "secret file"
[ "$(cat "$T/o1/secret-env")" = same ] || fail "secret env"
[ -e "$T/o1/run/secrets/tok" ] && [ -s "$T/o1/run/secrets/tok" ] && fail "the secret is in the image"
[ "$(cat "$T/o1/ssh")" = "identities 1" ] || fail "ssh agent: $(cat "$T/o1/ssh")"
[ "$(cat "$T/o1/links")" = 1 ] || fail "--network=none: $(cat "$T/o1/links") interfaces"
grep -r -l -F -a hunter2-secret "$KILN_ROOT" "$T/b1.log" >"$T/found" &&
	fail "the secret's bytes are in: $(cat "$T/found")"
ok "bind, cache, tmpfs, secret, ssh mounts and --network=none"

# the cache is kept: a rebuild that runs the step again sees the first run's line
build "$T/b2.log" --no-cache-filter stage-1 --secret "id=tok,src=$T/token" \
	--ssh "default=$T/agent.sock" -o "type=local,dest=$T/o2" "$C"
[ "$(cat "$T/o2/cache-count")" = 2 ] || fail "the cache mount was not kept: $(cat "$T/o2/cache-count")"
grep -q '\[seed' "$T/b2.log" && ! grep -A1 '\[seed 2/2\]' "$T/b2.log" | grep -q CACHED &&
	fail "--no-cache-filter stage-1 ran the seed stage"
ok "cache mounts persist across builds; --no-cache-filter"

# a key file: kiln starts an agent for the build and stops it
TOKEN_ENV=hunter2-secret2 kiln build --progress plain --no-cache --secret id=tok,env=TOKEN_ENV \
	--ssh "default=$T/key" -o "type=local,dest=$T/o3" "$C" 2>"$T/b3.log" ||
	fail "build with a key file failed: $(cat "$T/b3.log")"
[ "$(cat "$T/o3/ssh")" = "identities 1" ] || fail "ssh key file: $(cat "$T/o3/ssh")"
[ "$(cat "$T/o3/secret-size")" = 15 ] || fail "env secret: $(cat "$T/o3/secret-size")"
pgrep -f "ssh-agent -s -a /tmp/kiln-ssh-" >/dev/null && fail "kiln left its ssh-agent running"
ok "ssh key file through an agent kiln runs; secret from env"

# a required secret that is missing fails the step
printf 'FROM busybox:test\nRUN --mount=type=secret,id=nope,required cat /run/secrets/nope\n' \
	>"$T/Dockerfile.req"
expect_fail 1 "nope" kiln build -f "$T/Dockerfile.req" "$C"
ok "a missing required secret fails"

# --security=insecure needs --allow security.insecure
printf 'FROM busybox:test\nRUN --security=insecure cat /proc/self/status | grep CapEff > /caps\n' \
	>"$T/Dockerfile.ins"
expect_fail 1 "insecure" kiln build -f "$T/Dockerfile.ins" "$C"
build "$T/b4.log" --allow security.insecure -f "$T/Dockerfile.ins" -o "type=local,dest=$T/o4" "$C"
caps=$(awk '{print $2}' "$T/o4/caps")
[ $((0x$caps & (1 << 21))) != 0 ] || fail "the insecure step lacks CAP_SYS_ADMIN: $caps"
ok "--security=insecure only with --allow security.insecure"
