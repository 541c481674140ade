#!/usr/bin/env bash
# Git sources served by `git daemon` on 127.0.0.1: a tag, a lightweight tag, branches, a full and
# a short commit id, a remote ref (refs/pull/1/head) and subdirs, each mounted with `kiln mount`
# and compared byte for byte and mode for mode with what `git archive` gives; symlinks, exec
# bits and a submodule entry included. An unknown ref fails with exit 1 and a message naming
# the source, mounts nothing and leaves no tree cache entry behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-mount.sh"
need_fuse
need_cmd git python3 tar
[ -x "$(git --exec-path)/git-daemon" ] || skip "needs git daemon"

export GIT_CONFIG_NOSYSTEM=1 HOME=$T/home GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e
export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e
mkdir -p "$HOME" "$T/srv"
at() { export GIT_AUTHOR_DATE="@$1 +0000" GIT_COMMITTER_DATE="@$1 +0000"; }

# The repository: main (= HEAD) tagged v1 and light, dev one commit ahead, and a commit only
# refs/pull/1/head reaches.
w=$T/work
git init -q -b main "$w"
mkdir -p "$w/sub/deep" "$w/dir with spaces"
printf 'hello\n' >"$w/sub/a.txt"
printf 'deep' >"$w/sub/deep/b"
printf '#!/bin/sh\necho hi\n' >"$w/run.sh" && chmod 755 "$w/run.sh"
printf 'x\n' >"$w/dir with spaces/file one"
: >"$w/empty"
ln -s sub/a.txt "$w/link"
ln -s ../run.sh "$w/sub/up-link"
ln -s /nonexistent "$w/dangling"
at 1600000000
git -C "$w" add -A
git -C "$w" update-index --add --cacheinfo 160000,1111111111111111111111111111111111111111,mod
git -C "$w" commit -q -m one
git -C "$w" tag -a -m t v1 && git -C "$w" tag light
git -C "$w" checkout -q -b dev
printf 'two\n' >"$w/sub/a.txt" && chmod 755 "$w/sub/deep/b" && git -C "$w" rm -q empty
at 1600000100 && git -C "$w" commit -q -am two
git -C "$w" checkout -q --detach main
printf 'pr\n' >"$w/pr.txt" && git -C "$w" add pr.txt
at 1600000200 && git -C "$w" commit -q -m pr
pr=$(git -C "$w" rev-parse HEAD)
git -C "$w" checkout -q main
git clone -q --bare "$w" "$T/srv/repo.git"
git -C "$T/srv/repo.git" update-ref refs/pull/1/head "$pr"
c1=$(git -C "$w" rev-parse main)
c2=$(git -C "$w" rev-parse dev)

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
git daemon --reuseaddr --base-path="$T/srv" --export-all --listen=127.0.0.1 --port="$port" \
	"$T/srv" >"$T/daemon.log" 2>&1 &
daemon=$!
track_pid "$daemon"
url=git://127.0.0.1:$port/repo.git
for _ in $(seq 1 100); do
	git ls-remote "$url" >/dev/null 2>&1 && break
	sleep 0.1
done
git ls-remote "$url" >/dev/null || fail "git daemon did not come up: $(cat "$T/daemon.log")"

# Listing without the root line (the truth's root is a plain mkdir).
listing() { meta_listing "$1" | grep -v '^ \. |'; }

n=0
# check FRAGMENT TREEISH [SUBDIR]: mount url#FRAGMENT, compare with git archive of TREEISH.
check() {
	local frag=$1 treeish=$2 sub=${3:-} truth
	n=$((n + 1))
	truth=$T/truth.$n
	mkdir -p "$truth"
	git -C "$T/srv/repo.git" -c tar.umask=022 archive --format=tar "$treeish" ${sub:+"$sub"} |
		tar -x -C "$truth"
	[ -z "$sub" ] || truth=$truth/$sub
	mount_bg "$url#$frag" "$T/m.$n"
	diff -r --no-dereference "$truth" "$T/m.$n" >"$T/diff" 2>&1 ||
		fail "$url#$frag: bytes differ from git archive $treeish: $(head -20 "$T/diff")"
	listing "$truth" >"$T/meta.truth"
	listing "$T/m.$n" >"$T/meta.mount"
	diff "$T/meta.truth" "$T/meta.mount" >"$T/meta.diff" ||
		fail "$url#$frag: metadata differs from git archive $treeish: $(head -20 "$T/meta.diff")"
	ok "$url#$frag matches git archive $treeish${sub:+ $sub}"
}

check v1 v1
check "" main
check light main
check dev dev
check "$c2" "$c2"
check "${c1:0:8}" "$c1"
check refs/pull/1/head "$pr"
check v1:sub v1 sub
check "dev:sub/deep" dev sub/deep
[ -d "$T/m.1/mod" ] && [ -z "$(ls -A "$T/m.1/mod")" ] || fail "the submodule is not an empty dir"
[ "$(stat -c %Y "$T/m.1/sub/a.txt")" = 1600000000 ] || fail "mtime is not the commit time"
[ -x "$T/m.4/sub/deep/b" ] || fail "dev's exec bit is missing"
[ "$(readlink "$T/m.1/link")" = sub/a.txt ] || fail "symlink target differs"

# A full commit id already fetched mounts without the remote.
kill "$daemon" && wait "$daemon" 2>/dev/null || true
mount_bg "$url#$c2:sub" "$T/m.offline"
[ "$(cat "$T/m.offline/a.txt")" = two ] || fail "offline mount of $c2 reads wrong bytes"
ok "a fetched commit id mounts with the daemon stopped"
git daemon --reuseaddr --base-path="$T/srv" --export-all --listen=127.0.0.1 --port="$port" \
	"$T/srv" >"$T/daemon.log" 2>&1 &
daemon=$!
track_pid "$daemon"
for _ in $(seq 1 100); do
	git ls-remote "$url" >/dev/null 2>&1 && break
	sleep 0.1
done

# A relative --root still serves blobs once the mount's server has left the working directory.
mkdir -p "$T/m.rel"
track_mount "$T/m.rel"
(cd "$T" && KILN_ROOT= "$KILN" --root rel-store mount "$url#$c2:sub" m.rel) ||
	fail "kiln --root rel-store mount failed"
[ "$(cat "$T/m.rel/a.txt")" = two ] || fail "a mount with a relative --root reads wrong bytes"
ok "a relative store root serves git blobs"

# Unknown refs: exit 1, a message naming the source and the ref; nothing mounted or cached.
trees_before=$(find "$KILN_ROOT/git/trees" -type f | wc -l)
mkdir -p "$T/bad"
expect_fail 1 "git source '$url#nope'.*ref 'nope' not found" kiln mount "$url#nope" "$T/bad"
expect_fail 1 "git source '$url#v1:missing'.*no 'missing'" kiln mount "$url#v1:missing" "$T/bad"
expect_fail 1 "ref 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee' not found" \
	kiln mount "$url#eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee" "$T/bad"
expect_fail 1 "not a valid ref" kiln mount "$url#..x" "$T/bad"
grep -q " $T/bad " /proc/self/mounts && fail "a failed git source left a mount"
[ -z "$(ls -A "$T/bad")" ] || fail "a failed git source wrote into the mount point"
[ "$(find "$KILN_ROOT/git/trees" -type f | wc -l)" = "$trees_before" ] ||
	fail "a failed git source left a tree cache entry"
[ "$(find "$KILN_ROOT/git" -maxdepth 1 -name '*.git' | wc -l)" = 1 ] ||
	fail "one remote made more than one bare repository"
ok "unknown refs fail cleanly"

kill "$daemon" && wait "$daemon" 2>/dev/null || true
