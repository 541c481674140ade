#!/usr/bin/env bash
# kiln build's variables and RUN forms: ARG/ENV precedence and scoping (global ARGs in FROM and
# re-declared per stage, --build-arg over defaults, ENV over ARG, the platform ARGs, proxies
# given to RUN but kept out of the image and the cache), heredocs (a script, a shebang file, a
# COPY source), SHELL, USER, WORKDIR, the exec form, a Dockerfile on stdin, a failing RUN's
# message with its Dockerfile line, and a parse error's excerpt.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
. "$(dirname "$0")/lib-build.sh"
need_build

make_build_base
C=$T/ctx
mkdir -p "$C"
cat >"$C/Dockerfile" <<'EOF'
ARG TAG=test
ARG GLOBAL=global-default
ARG ONLY_GLOBAL=og
FROM busybox:$TAG
ARG GLOBAL
ARG LOCAL=local-default
ARG OVERRIDE=arg
ENV OVERRIDE=env
ARG TARGETPLATFORM
ARG TARGETARCH
RUN mkdir /out && echo "$GLOBAL|$LOCAL|$OVERRIDE|${ONLY_GLOBAL:-unset}|$TARGETPLATFORM|$TARGETARCH" > /out/vars
RUN echo "${HTTP_PROXY:-none}" > /out/proxy
RUN <<EOT
echo heredoc-1 > /out/h1
echo heredoc-2 >> /out/h1
EOT
RUN <<EOT
#!/bin/sh
echo "shebang $0" > /out/h2
EOT
COPY <<EOT /out/h3
copied $LOCAL
EOT
WORKDIR /work
RUN pwd > /out/pwd
SHELL ["/bin/sh", "-e", "-c"]
RUN echo shell > /out/shell
RUN ["/bin/sh", "-c", "echo exec form > /out/exec"]
USER 65534:65534
RUN id -u > /tmp/uid && cat /tmp/uid
EOF
build "$T/b1.log" -t vars --build-arg LOCAL=from-cli --build-arg HTTP_PROXY=http://127.0.0.1:9 \
	--build-arg UNUSED=1 -o "type=local,dest=$T/o1" "$C"
[ "$(cat "$T/o1/out/vars")" = "global-default|from-cli|env|unset|linux/amd64|amd64" ] ||
	fail "variables: $(cat "$T/o1/out/vars")"
[ "$(cat "$T/o1/out/proxy")" = http://127.0.0.1:9 ] || fail "proxy not given to RUN"
grep -q 'One or more build-args \[UNUSED\] were not consumed' "$T/b1.log" ||
	fail "no unused build-arg warning: $(cat "$T/b1.log")"
ok "ARG scoping, --build-arg over default, ENV over ARG, platform ARGs, proxy to RUN"

printf 'heredoc-1\nheredoc-2\n' | cmp - "$T/o1/out/h1" || fail "heredoc script"
[ "$(cat "$T/o1/out/h2")" = "shebang /dev/pipes/EOT" ] || fail "shebang heredoc: $(cat "$T/o1/out/h2")"
[ "$(cat "$T/o1/out/h3")" = "copied from-cli" ] || fail "COPY heredoc: $(cat "$T/o1/out/h3")"
[ "$(cat "$T/o1/out/pwd")" = /work ] || fail "WORKDIR"
[ -d "$T/o1/work" ] || fail "WORKDIR did not create the directory"
[ "$(cat "$T/o1/out/shell")" = shell ] || fail "SHELL"
[ "$(cat "$T/o1/out/exec")" = "exec form" ] || fail "exec form"
[ "$(stat -c %u "$T/o1/tmp/uid")" = 65534 ] || fail "USER: RUN did not run as 65534"
ok "heredocs (script, shebang, COPY), WORKDIR, SHELL, exec form, USER"

# the proxy is in neither the config nor the history, nor the cache key
config vars '.config.Env[]' | grep -q 127.0.0.1:9 && fail "the proxy went into the config"
config vars '.history[].created_by' | grep -q 127.0.0.1:9 && fail "the proxy went into the history"
config vars '.history[].created_by' | grep -qx 'RUN |4 GLOBAL=global-default LOCAL=from-cli TARGETPLATFORM=linux/amd64 TARGETARCH=amd64 /bin/sh -c echo "${HTTP_PROXY:-none}" > /out/proxy # buildkit' ||
	fail "RUN history: $(config vars '.history[].created_by')"
build "$T/b2.log" -t vars --build-arg LOCAL=from-cli --build-arg HTTP_PROXY=http://127.0.0.1:8 "$C"
all_cached "$T/b2.log" || fail "another proxy value ran steps: $(cat "$T/b2.log")"
ok "proxies stay out of the config, the history and the cache keys"

# a changed build arg runs what uses it again, from that step on
build "$T/b3.log" --build-arg LOCAL=other "$C"
grep -A1 'RUN mkdir /out' "$T/b3.log" | grep -q CACHED && fail "a changed ARG left its RUN cached"
ok "a changed build arg invalidates its steps"

# a Dockerfile on stdin, no context
printf 'FROM busybox:test\nRUN echo from-stdin > /s\n' |
	kiln build --progress plain -o "type=local,dest=$T/o2" - 2>"$T/b4.log" ||
	fail "stdin build failed: $(cat "$T/b4.log")"
[ "$(cat "$T/o2/s")" = from-stdin ] || fail "stdin Dockerfile"
printf 'FROM busybox:test\nCOPY x /x\n' | kiln build -f - "$C" 2>"$T/b5.log" &&
	fail "COPY of a missing file succeeded"
ok "a Dockerfile on stdin"

# a failing RUN: the Dockerfile line and the command's words
printf 'FROM busybox:test\nRUN true\nRUN echo out; exit 3\n' >"$T/Dockerfile.fail"
expect_fail 1 'Dockerfile.fail:3' kiln build --progress plain -f "$T/Dockerfile.fail" "$C"
grep -q '>>> RUN echo out; exit 3' "$T/err" || fail "no excerpt: $(cat "$T/err")"
grep -q 'exit.*3' "$T/err" || fail "no exit code: $(cat "$T/err")"
grep -q "the failed step's filesystem is tree sha256:" "$T/err" || fail "no failed tree"
ok "a failing RUN names its Dockerfile line and exit code"

# a parse error: the line shown, nothing built
printf 'FROM busybox:test\nRUNN echo\n' >"$T/Dockerfile.bad"
expect_fail 1 'Dockerfile.bad:2: unknown instruction: RUNN \(did you mean RUN\?\)' \
	kiln build -f "$T/Dockerfile.bad" "$C"
grep -q '>>> RUNN echo' "$T/err" || fail "no excerpt: $(cat "$T/err")"
expect_fail 1 'target stage "nope" could not be found' kiln build --target nope "$C"
ok "parse errors and an unknown target"
