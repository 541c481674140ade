#!/usr/bin/env bash
# Each op kind through kiln solve: sources (scratch, local with include/exclude/followpaths,
# git, image, http with and without a checksum), file actions (copy with a glob and an owner
# by name, mkdir, mkfile, rm, symlink), exec (env, cwd, user, network none), merge and diff;
# then graphs kiln refuses, with messages naming what is wrong.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
need_solve
need_cmd git python3

W=$T/w
mkdir -p "$W/ctx/src/sub" "$W/ctx/logs" "$W/www"
make_solve_image "$W/busybox"
RT=$(make_logged_runtime crun)
printf 'one\n' >"$W/ctx/src/one.c"
printf 'two\n' >"$W/ctx/src/two.c"
printf 'header\n' >"$W/ctx/src/one.h"
printf 'deep\n' >"$W/ctx/src/sub/deep.c"
printf 'noise\n' >"$W/ctx/logs/x.log"
printf 'top\n' >"$W/ctx/top.txt"
cd "$W"
ls_tree() { kiln tree ls -r "$1"; }
# solve_json JSON [kiln solve options]: solves the graph given as text, prints the tree id
solve_json() {
	local json=$1
	shift
	printf '%s' "$json" | kiln solve --progress plain --runtime "$RT" "$@" - 2>"$T/log" ||
		fail "solve failed: $(cat "$T/log")"
}

# scratch
id=$(solve_json '{"version":1,"vertices":[{"id":"s","source":{"type":"scratch"}}],"result":"s"}')
[ "$(ls_tree "$id" | wc -l)" = 1 ] || fail "scratch: $(ls_tree "$id")"
ok "scratch is the empty tree"

# local: include, exclude, followpaths
id=$(solve_json '{"version":1,"vertices":[{"id":"c","source":{"type":"local","name":"context",
  "include":["src"],"exclude":["**/*.h"]}}],"result":"c"}' --local context=ctx)
ls_tree "$id" >"$T/ls"
grep -q ' src/one.c ' "$T/ls" && grep -q ' src/sub/deep.c ' "$T/ls" || fail "include: $(cat "$T/ls")"
grep -q 'one.h\|top.txt\|logs' "$T/ls" && fail "include/exclude: $(cat "$T/ls")"
id=$(solve_json '{"version":1,"vertices":[{"id":"c","source":{"type":"local","name":"context",
  "followpaths":["top.txt"]}}],"result":"c"}' --local context=ctx)
[ "$(ls_tree "$id" | wc -l)" = 2 ] || fail "followpaths: $(ls_tree "$id")"
ok "a local source with include, exclude and followpaths"

# git
git init -q -b main "$T/repo"
printf 'v1\n' >"$T/repo/file"
git -C "$T/repo" add file
git -C "$T/repo" -c user.name=t -c user.email=t@t commit -qm one
g=$(jq -nc --arg r "$T/repo#main" '{version:1,vertices:[{id:"g",source:{type:"git",ref:$r}}],result:"g"}')
id1=$(solve_json "$g")
kiln tree ls "$id1" file | grep -q "$(printf 'v1\n' | sha256sum | cut -c1-16)" ||
	ls_tree "$id1" | grep -q ' file ' || fail "git: $(ls_tree "$id1")"
solve_json "$g" >/dev/null
grep -q '^#1 CACHED$' "$T/log" || fail "git re-solve not cached: $(cat "$T/log")"
printf 'v2\n' >"$T/repo/file"
git -C "$T/repo" -c user.name=t -c user.email=t@t commit -qam two
id2=$(solve_json "$g")
[ "$id1" != "$id2" ] || fail "a new commit gave the same tree"
grep -q '^#1 DONE' "$T/log" || fail "a new commit was taken from the cache: $(cat "$T/log")"
ok "a git source is keyed by its commit"

# http
port=$(free_port)
printf 'downloaded\n' >"$W/www/file.txt"
(cd "$W/www" && exec python3 -m http.server --bind 127.0.0.1 "$port") >"$T/http.log" 2>&1 &
track_pid $!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/file.txt" >/dev/null && break; sleep 0.1; done
sum=sha256:$(sha256sum <"$W/www/file.txt" | cut -d' ' -f1)
h=$(jq -nc --arg u "http://127.0.0.1:$port/file.txt" --arg c "$sum" \
	'{version:1,vertices:[{id:"h",source:{type:"http",url:$u,checksum:$c}}],result:"h"}')
id=$(solve_json "$h")
ls_tree "$id" | grep -q "^-rw------- 0:0 11 .* file.txt $sum$" || fail "http: $(ls_tree "$id")"
gets=$(grep -c 'GET /file.txt' "$T/http.log")
solve_json "$h" >/dev/null
[ "$(grep -c 'GET /file.txt' "$T/http.log")" = "$gets" ] || fail "a cached download was fetched"
bad=$(jq -c '.vertices[0].source.checksum = "sha256:'"$(printf '0%.0s' $(seq 64))"'"' <<<"$h")
printf '%s' "$bad" | kiln solve --progress plain - >/dev/null 2>"$T/err" && fail "a bad checksum solved"
grep -q "does not match\|expected sha256:0000" "$T/err" || fail "bad checksum: $(cat "$T/err")"
nosum=$(jq -c 'del(.vertices[0].source.checksum) | .vertices[0].source.filename = "f" |
	.vertices[0].source.mode = "0644"' <<<"$h")
id=$(solve_json "$nosum")
ls_tree "$id" | grep -q "^-rw-r--r-- 0:0 11 .* f $sum$" || fail "http without checksum: $(ls_tree "$id")"
ok "an http source with a checksum (fetched once), a bad checksum refused, and without one"

# file actions, exec, merge and diff over the image
cat >"$W/g.json" <<'EOG'
{"version": 1, "vertices": [
 {"id": "ctx", "source": {"type": "local", "name": "context"}},
 {"id": "base", "source": {"type": "image", "ref": "oci-layout://busybox:latest"}},
 {"id": "users", "inputs": ["base"], "file": {"actions": [
   {"action": "mkfile", "path": "/etc/passwd", "data": "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"},
   {"action": "mkfile", "path": "/etc/group", "data": "root:x:0:\nalice:x:1000:\nstaff:x:50:alice\n"},
   {"action": "mkdir", "path": "/home/alice/work", "create_parents": true, "mode": "0750", "owner": {"user": "alice"}}]}},
 {"id": "files", "inputs": ["users", "ctx"], "file": {"actions": [
   {"action": "copy", "from": 1, "src": "src/*.c", "dest": "/app/", "allow_wildcard": true,
    "create_parents": true, "owner": {"user": "alice", "group": "staff"}},
   {"action": "mkfile", "path": "/app/conf", "data": "x=1\n", "mode": "0600"},
   {"action": "symlink", "path": "/app/link", "target": "conf"},
   {"action": "rm", "path": "/etc/motd"}]}},
 {"id": "run", "inputs": ["files"], "exec": {
   "args": ["/bin/sh", "-c", "echo \"$GREETING from $(pwd) as $(id -un):$(id -gn)\" > /home/alice/work/out; ls /sys/class/net > /home/alice/work/nets; rm /app/two.c"],
   "env": ["GREETING=hello"], "cwd": "/home/alice/work", "user": "alice", "network": "none"}},
 {"id": "changes", "inputs": ["files", "run"], "diff": {}},
 {"id": "merged", "inputs": ["base", "changes"], "merge": {}}
], "result": "merged"}
EOG
jq '.result = "run"' g.json >run.json
jq '.result = "changes"' g.json >diff.json
run=$(kiln solve --progress plain --runtime "$RT" --local context=ctx run.json 2>"$T/log") ||
	fail "solve: $(cat "$T/log")"
ls_tree "$run" >"$T/ls"
grep -q '^-rw-r--r-- 1000:50 4 .* app/one.c ' "$T/ls" || fail "copy --chown alice:staff: $(cat "$T/ls")"
grep -q ' app/one.h' "$T/ls" && fail "the glob copied one.h"
grep -q '^-rw------- 0:0 4 .* app/conf ' "$T/ls" || fail "mkfile: $(grep conf "$T/ls")"
grep -q '^l.* app/link -> conf$' "$T/ls" || fail "symlink: $(grep link "$T/ls")"
grep -q ' etc/motd ' "$T/ls" && fail "rm left /etc/motd"
grep -q '^drwxr-x--- 1000:1000 .* home/alice/work$' "$T/ls" || fail "mkdir: $(grep work "$T/ls")"
grep -q ' app/two.c ' "$T/ls" && fail "the RUN's rm did not remove app/two.c"
m=$T/mnt
mkdir -p "$m"
kiln mount "$run" "$m" || fail "mount"
track_mount "$m"
[ "$(cat "$m/home/alice/work/out")" = "hello from /home/alice/work as alice:alice" ] ||
	fail "exec env/cwd/user: $(cat "$m/home/alice/work/out")"
[ "$(cat "$m/home/alice/work/nets")" = lo ] || fail "network none: $(cat "$m/home/alice/work/nets")"
umount "$m"
ok "file actions (glob copy with an owner by name, mkfile, symlink, rm, mkdir) and exec"

d=$(kiln solve --progress plain --runtime "$RT" --local context=ctx diff.json 2>"$T/log") ||
	fail "diff: $(cat "$T/log")"
ls_tree "$d" >"$T/ls"
grep -q ' home/alice/work/out ' "$T/ls" || fail "the diff lacks what the step wrote: $(cat "$T/ls")"
grep -q ' app/one.c ' "$T/ls" && fail "the diff holds what the step did not change"
grep -q ' app/two.c' "$T/ls" || fail "the diff has no whiteout for app/two.c: $(cat "$T/ls")"
merged=$(kiln solve --progress plain --runtime "$RT" --local context=ctx g.json 2>"$T/log") ||
	fail "merge: $(cat "$T/log")"
ls_tree "$merged" >"$T/ls"
grep -q ' home/alice/work/out ' "$T/ls" || fail "the merge lacks the diff's file"
grep -q ' bin/busybox ' "$T/ls" || fail "the merge lacks the base"
grep -q ' etc/motd ' "$T/ls" || fail "the merge lost a base file the diff did not touch"
grep -q ' app/two.c' "$T/ls" && fail "the merge kept a file the diff removed"
ok "diff holds the step's changes and whiteouts; merge stacks it over the base"

expect_fail 1 "the local source 'context' is not bound \(--local context=DIR\)" \
	kiln solve --progress plain g.json
printf '{"version":1,"vertices":[{"id":"a","source":{"type":"scratch","oops":1}}],"result":"a"}' >bad.json
expect_fail 1 "bad.json: vertices\[0\].source: unknown field 'oops'" kiln solve bad.json
expect_fail 1 "opening graph 'missing.json'" kiln solve missing.json
expect_fail 2 "expected one graph" kiln solve
expect_fail 2 "--local wants NAME=DIR" kiln solve --local nodir g.json
kiln store verify >/dev/null || fail "store verify"
ok "bad graphs and arguments are refused with messages naming what is wrong"
