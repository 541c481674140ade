#!/usr/bin/env bash
# kiln solve and its cache: a no-op re-solve reports every vertex cached and starts no process
# and no mount; a fresh copy of the context (new mtimes and inode numbers, elsewhere) hits the
# cache; a change outside what a COPY selects leaves that COPY cached; --no-cache and
# ignore_cache run again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
need_solve

W=$T/w
mkdir -p "$W/ctx/src"
make_solve_image "$W/busybox"
printf '{"name": "app"}\n' >"$W/ctx/package.json"
printf 'int main(void) { return 0; }\n' >"$W/ctx/src/main.c"
printf 'readme\n' >"$W/ctx/README"
RT=$(make_logged_runtime runc)
cat >"$W/g.json" <<'EOG'
{"version": 1, "vertices": [
 {"id": "ctx", "name": "[internal] load build context", "source": {"type": "local", "name": "context"}},
 {"id": "base", "name": "[deps 1/3] FROM busybox", "source": {"type": "image", "ref": "oci-layout://busybox:latest"}},
 {"id": "deps-copy", "name": "[deps 2/3] COPY package.json /app/", "inputs": ["base", "ctx"],
  "file": {"actions": [{"action": "copy", "from": 1, "src": "package.json", "dest": "/app/", "create_parents": true}]}},
 {"id": "deps", "name": "[deps 3/3] RUN install", "inputs": ["deps-copy"],
  "exec": {"args": ["/bin/sh", "-c", "mkdir -p /app/deps && cp /app/package.json /app/deps/"], "cwd": "/app"}},
 {"id": "src", "name": "[build 1/2] COPY . /app/", "inputs": ["deps", "ctx"],
  "file": {"actions": [{"action": "copy", "from": 1, "src": ".", "dest": "/app/", "dir_contents": true}]}},
 {"id": "build", "name": "[build 2/2] RUN build", "inputs": ["src"],
  "exec": {"args": ["/bin/sh", "-c", "ls /app > /app/listing"], "cwd": "/app"}},
 {"id": "final", "name": "[final 1/1] COPY --from=build /app/listing /listing", "inputs": [null, "build"],
  "file": {"actions": [{"action": "copy", "from": 1, "src": "/app/listing", "dest": "/listing"}]}}
], "result": "final"}
EOG
cd "$W"
# solve DIR LOG: solves the graph with the context at DIR; prints the tree id
solve() {
	kiln --debug solve --progress plain --runtime "$RT" --local "context=$1" g.json 2>"$2" ||
		fail "solve failed: $(cat "$2")"
}
state() { grep -E "^#[0-9]+ (CACHED|DONE)" "$1" | wc -l; }
cached() { grep -c "^#[0-9]* CACHED$" "$1" || true; }
# the status of the vertex named NAME (its number is found from its first line)
status_of() {
	local n
	n=$(grep -F "] $2" "$1" | head -1 | sed 's/^#\([0-9]*\) .*/\1/')
	grep -E "^#$n (CACHED|DONE)" "$1" | head -1 | cut -d' ' -f2
}

id1=$(solve ctx "$T/log1")
[ "$(runs_logged)" = 2 ] || fail "the first solve ran $(runs_logged) steps, not 2"
[ "$(cached "$T/log1")" = 0 ] || fail "a first solve with cached vertices: $(cat "$T/log1")"
grep -q "lazy filesystem mounted" "$T/log1" || fail "the first solve did not say it mounted"
ok "the first solve runs both steps"

: >"$T/runtime.log"
id2=$(solve ctx "$T/log2")
[ "$id2" = "$id1" ] || fail "the re-solve gave $id2, not $id1"
[ "$(cached "$T/log2")" = 7 ] || fail "not every vertex cached: $(cat "$T/log2")"
[ "$(runs_logged)" = 0 ] || fail "a no-op re-solve started the runtime: $(cat "$T/runtime.log")"
grep -q 'solve: .* 0 to run' "$T/log2" || fail "the plan had work: $(cat "$T/log2")"
grep -q "lazy filesystem mounted" "$T/log2" && fail "the no-op solve mounted"
[ -z "$(ls -A "$KILN_ROOT/builds" 2>/dev/null | grep -v '^lock$')" ] ||
	fail "a build dir was left: $(ls "$KILN_ROOT/builds")"
grep -q "unchanged since the last scan" "$T/log2" || fail "the context was scanned in full again"
ok "a no-op re-solve reports every vertex cached, starts no process and mounts nothing"

# a fresh copy: new inode numbers, new mtimes, another path
mkdir -p "$T/clone"
cp -r ctx "$T/clone/ctx"
find "$T/clone/ctx" -exec touch -d '2001-01-01 00:00:00' {} +
: >"$T/runtime.log"
id3=$(solve "$T/clone/ctx" "$T/log3")
[ "$(runs_logged)" = 0 ] || fail "a fresh copy of the context ran steps: $(cat "$T/log3")"
[ "$(status_of "$T/log3" 'COPY . /app/')" = CACHED ] || fail "COPY . missed: $(cat "$T/log3")"
[ "$(status_of "$T/log3" 'RUN build')" = CACHED ] || fail "RUN build missed"
[ "$id3" = "$id1" ] || fail "the fresh copy gave another result"
ok "a fresh copy of the context with new mtimes and inodes hits the cache"

# a change COPY package.json does not select: that COPY and its RUN stay cached
printf 'readme, changed\n' >ctx/README
: >"$T/runtime.log"
solve ctx "$T/log4" >/dev/null
[ "$(status_of "$T/log4" 'COPY package.json')" = CACHED ] || fail "COPY package.json ran again"
[ "$(status_of "$T/log4" 'RUN install')" = CACHED ] || fail "RUN install ran again"
[ "$(status_of "$T/log4" 'COPY . /app/')" = DONE ] || fail "COPY . did not see the change"
[ "$(runs_logged)" = 1 ] || fail "$(runs_logged) steps ran after a README change, not 1"
ok "a change outside what a COPY selects leaves that COPY and what follows it cached"

: >"$T/runtime.log"
kiln solve --progress plain --no-cache --runtime "$RT" --local context=ctx g.json >/dev/null \
	2>"$T/log5" || fail "--no-cache: $(cat "$T/log5")"
[ "$(runs_logged)" = 2 ] || fail "--no-cache ran $(runs_logged) steps"
[ "$(cached "$T/log5")" = 0 ] || fail "--no-cache reported cached vertices: $(cat "$T/log5")"
ok "--no-cache runs every vertex"

jq '(.vertices[] | select(.id == "deps")) += {"ignore_cache": true}' g.json >g2.json
: >"$T/runtime.log"
kiln solve --progress plain --runtime "$RT" --local context=ctx g2.json >/dev/null \
	2>"$T/log6" || fail "ignore_cache: $(cat "$T/log6")"
[ "$(runs_logged)" = 1 ] || fail "ignore_cache ran $(runs_logged) steps, not 1: $(cat "$T/log6")"
[ "$(status_of "$T/log6" 'RUN install')" = DONE ] || fail "the ignore_cache vertex did not run"
ok "ignore_cache runs that vertex alone"
