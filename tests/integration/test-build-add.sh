#!/usr/bin/env bash
# ADD and the contexts: a local tar extracted, a URL from a loopback HTTP server (with
# --checksum right and wrong), a git URL from git daemon; --build-context as a directory, an
# OCI layout and a git URL; a git URL as the build's context.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
. "$(dirname "$0")/lib-build.sh"
need_build
need_cmd python3 git tar sha256sum

make_build_base
C=$T/ctx
mkdir -p "$C/tree/sub" "$T/www"
printf 'in the tar\n' >"$C/tree/sub/a"
tar -C "$C/tree" -czf "$C/arch.tar.gz" sub
rm -rf "$C/tree"
printf 'downloaded\n' >"$T/www/file.txt"
sum=$(sha256sum "$T/www/file.txt" | cut -d' ' -f1)

port=$(free_port)
(cd "$T/www" && exec python3 -m http.server --bind 127.0.0.1 "$port" >"$T/http.log" 2>&1) &
track_pid $!
gport=$(free_port)
mkdir -p "$T/git/repo"
(cd "$T/git/repo" && git init -q -b main && printf 'from git\n' >g.txt &&
	printf 'FROM busybox:test\nCOPY g.txt /g.txt\n' >Dockerfile &&
	git add . && git -c user.name=t -c user.email=t@t commit -qm one)
git daemon --base-path="$T/git" --export-all --reuseaddr --listen=127.0.0.1 --port="$gport" \
	"$T/git" >"$T/gitd.log" 2>&1 &
track_pid $!
for _ in $(seq 50); do
	curl -sf "http://127.0.0.1:$port/file.txt" >/dev/null &&
		git ls-remote "git://127.0.0.1:$gport/repo" >/dev/null 2>&1 && break
	sleep 0.2
done

cat >"$C/Dockerfile" <<EOF
FROM busybox:test
ADD arch.tar.gz /x/
ADD --checksum=sha256:$sum http://127.0.0.1:$port/file.txt /dl/
ADD --chmod=0755 http://127.0.0.1:$port/file.txt /dl/exec.txt
ADD git://127.0.0.1:$gport/repo#main /repo
COPY arch.tar.gz /kept/
EOF
build "$T/b1.log" -o "type=local,dest=$T/o1" "$C"
[ "$(cat "$T/o1/x/sub/a")" = "in the tar" ] || fail "ADD of a local tar did not extract it"
[ -f "$T/o1/kept/arch.tar.gz" ] || fail "COPY of a tar extracted it"
cmp "$T/www/file.txt" "$T/o1/dl/file.txt" || fail "ADD of a URL"
[ "$(stat -c '%a %u' "$T/o1/dl/file.txt")" = "600 0" ] || fail "a URL's file mode: $(stat -c %a "$T/o1/dl/file.txt")"
[ "$(stat -c %a "$T/o1/dl/exec.txt")" = 755 ] || fail "ADD --chmod"
[ "$(cat "$T/o1/repo/g.txt")" = "from git" ] || fail "ADD of a git URL"
[ -e "$T/o1/repo/.git" ] && fail "ADD of a git URL kept .git"
ok "ADD: local tar extracted, URL with --checksum and --chmod, git URL"

printf 'FROM busybox:test\nADD --checksum=sha256:%064d http://127.0.0.1:%s/file.txt /dl/\n' 0 \
	"$port" >"$T/Dockerfile.bad"
expect_fail 1 "checksum|digest|sha256" kiln build -f "$T/Dockerfile.bad" "$C"
ok "ADD --checksum with the wrong digest fails"

# --build-context: a directory, an OCI layout replacing an image name, a git URL
mkdir -p "$T/extra"
printf 'extra\n' >"$T/extra/e.txt"
cat >"$T/Dockerfile.ctx" <<'EOF'
FROM renamed:base
COPY --from=extra e.txt /e.txt
COPY --from=src g.txt /g2.txt
RUN --mount=type=bind,from=extra,target=/m cat /m/e.txt > /mounted
EOF
build "$T/b2.log" -f "$T/Dockerfile.ctx" --build-context "extra=$T/extra" \
	--build-context "renamed:base=oci-layout://$T/base:latest" \
	--build-context "src=git://127.0.0.1:$gport/repo#main" -o "type=local,dest=$T/o2" "$C"
[ "$(cat "$T/o2/e.txt")" = extra ] || fail "a directory context"
[ "$(cat "$T/o2/g2.txt")" = "from git" ] || fail "a git context"
[ "$(cat "$T/o2/mounted")" = extra ] || fail "a context mounted"
cmp /bin/busybox "$T/o2/bin/busybox" || fail "an image context as the base"
ok "--build-context: directory, oci-layout, git"

# a git URL as the context: its Dockerfile, its files
build "$T/b3.log" -o "type=local,dest=$T/o3" "git://127.0.0.1:$gport/repo#main"
[ "$(cat "$T/o3/g.txt")" = "from git" ] || fail "a git context's build"
ok "a git URL as the build context"
