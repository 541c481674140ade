#!/usr/bin/env bash
# A git source with keep_git_dir through kiln solve: git itself (the host's, copied into the
# step's image with its libraries) runs in a RUN over it — rev-parse, log, describe, status —
# with HEAD detached at the commit as BuildKit leaves it; the host's git reads the same .git
# through kiln mount (log, fsck); keep_git_dir is part of the cache key; a subdir keeps no .git.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-mount.sh"
. "$(dirname "$0")/lib-solve.sh"
need_solve
need_cmd git ldd

export GIT_CONFIG_NOSYSTEM=1 HOME=$T/home GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e
export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e
mkdir -p "$HOME"
W=$T/w
mkdir -p "$W"
r=$T/repo
git init -q -b main "$r"
mkdir -p "$r/sub"
printf 'one\n' >"$r/sub/file"
head -c 300000 /dev/urandom >"$r/big.bin"
git -C "$r" add -A && git -C "$r" commit -qm first
printf 'two\n' >"$r/sub/file"
git -C "$r" commit -qam second
git -C "$r" tag -a -m release v1
commit=$(git -C "$r" rev-parse HEAD)

# busybox plus the host's git and the libraries it loads
make_solve_image "$W/busybox"
rootfs=$T/git-rootfs
mkdir -p "$rootfs/usr/bin"
cp /usr/bin/git "$rootfs/usr/bin/git"
for lib in $(ldd /usr/bin/git | grep -o '/[^ ]*'); do
	mkdir -p "$rootfs$(dirname "$lib")"
	cp -L "$lib" "$rootfs$lib"
done
make_layer_tar "$rootfs" "$T/git-layer.tar.gz"
make_oci_layout "$W/gitimg" latest "$T/solve-layer.tar.gz" "$T/git-layer.tar.gz"
RT=$(make_logged_runtime runc)
cd "$W"

graph() { # graph REF KEEP: the git source bound at /src of a step that runs git there
	jq -n --arg ref "$r#$1" --argjson keep "$2" '{version: 1, vertices: [
	 {id: "img", source: {type: "image", ref: "oci-layout://gitimg:latest"}},
	 {id: "src", source: {type: "git", ref: $ref, keep_git_dir: $keep}},
	 {id: "run", name: "[s 1/1] RUN git", inputs: ["img", "src"],
	  exec: {args: ["/bin/sh", "-c", "cd /src && { git rev-parse HEAD; git log -1 --format=%s; git describe; git rev-parse --abbrev-ref HEAD; git status --porcelain | wc -l; git log --format=%s | wc -l; cat .git/HEAD; } >/out 2>&1; true"],
	   env: ["HOME=/root"],
	   mounts: [{type: "bind", input: 1, target: "/src"}]}}
	], result: "run"}'
}

graph v1 true >g.json
kiln solve --progress plain --runtime "$RT" g.json >"$T/id" 2>"$T/log" ||
	fail "solve failed: $(cat "$T/log")"
mount_bg "$(cat "$T/id")" "$T/m"
printf '%s\nsecond\nv1\nHEAD\n0\n1\n%s\n' "$commit" "$commit" >"$T/want"
diff "$T/want" "$T/m/out" || fail "git in the step: $(cat "$T/m/out")"
ok "git in a RUN step sees HEAD detached at the commit, its log, the tag and a clean status"

# the source's own tree, read by the host's git through kiln mount
jq '.result = "src"' g.json >src.json
kiln solve --progress plain src.json >"$T/src-id" 2>"$T/log" || fail "solve failed: $(cat "$T/log")"
mount_bg "$(cat "$T/src-id")" "$T/s"
[ "$(git --git-dir="$T/s/.git" log --format=%H)" = "$commit" ] ||
	fail "host git log: $(git --git-dir="$T/s/.git" log --oneline 2>&1)"
[ "$(git --git-dir="$T/s/.git" rev-parse refs/tags/v1^{commit})" = "$commit" ] || fail "refs/tags/v1"
[ "$(git --git-dir="$T/s/.git" cat-file -t refs/tags/v1)" = tag ] || fail "v1 is not annotated"
git --git-dir="$T/s/.git" --work-tree="$T/s" fsck --full >"$T/fsck" 2>&1 || fail "fsck: $(cat "$T/fsck")"
git --git-dir="$T/s/.git" cat-file -p HEAD:big.bin | cmp - "$r/big.bin" || fail "big.bin differs"
[ "$(cat "$T/s/.git/shallow")" = "$commit" ] || fail "no shallow commit"
grep -q "url = \"$r\"" "$T/s/.git/config" || fail "origin: $(cat "$T/s/.git/config")"
n_objects=$(find "$T/s/.git/objects" -type f | wc -l)
# commit, tag, root tree, sub tree, two blobs
[ "$n_objects" = 6 ] || fail "$n_objects objects: $(find "$T/s/.git/objects" -type f)"
ok "the host's git reads the kept .git through kiln mount: log, tag, fsck, exactly the commit's objects"

# a branch: named under refs/heads, HEAD still detached; a re-solve is cached
graph main true >b.json
kiln solve --progress plain --runtime "$RT" b.json >"$T/b-id" 2>"$T/log" || fail "solve failed: $(cat "$T/log")"
mount_bg "$(cat "$T/b-id")" "$T/b"
sed -n 3p "$T/b/out" | grep -q 'No names found' || fail "describe on a branch: $(cat "$T/b/out")"
sed -n 4p "$T/b/out" | grep -qx HEAD || fail "branch checkout: $(cat "$T/b/out")"
[ -f "$T/s/.git/refs/heads/main" ] && fail "the tag's .git has the branch"
kiln solve --progress plain --runtime "$RT" b.json >/dev/null 2>"$T/log" || fail "re-solve failed"
[ "$(grep -c ' CACHED$' "$T/log")" = 3 ] || fail "re-solve not cached: $(cat "$T/log")"
ok "a branch gives refs/heads/main with HEAD detached; a re-solve is cached"

# keep_git_dir is part of the key: the same ref without it runs again, and has no .git
graph main false >p.json
kiln solve --progress plain --runtime "$RT" p.json >"$T/p-id" 2>"$T/log" || fail "solve failed: $(cat "$T/log")"
grep -q '\[s 1/1\] RUN git' "$T/log" && ! grep -A1 '\[s 1/1\] RUN git' "$T/log" | grep -q CACHED ||
	fail "the step without .git was taken from the cache: $(cat "$T/log")"
mount_bg "$(cat "$T/p-id")" "$T/p"
grep -q 'not a git repository' "$T/p/out" || fail "no .git expected: $(cat "$T/p/out")"
jq -n --arg ref "$r#main:sub" '{version: 1, vertices: [{id: "g", source: {type: "git", ref: $ref,
  keep_git_dir: true}}], result: "g"}' >sub.json
kiln solve --progress plain sub.json >"$T/sub-id" 2>"$T/log" || fail "solve failed: $(cat "$T/log")"
kiln tree ls -r "$(cat "$T/sub-id")" | grep -q '\.git' && fail "a subdir kept .git"
ok "keep_git_dir is in the cache key; a subdir keeps no .git, as in BuildKit"
kiln store verify >"$T/verify" || fail "store verify: $(cat "$T/verify")"
ok "kiln store verify is clean"
