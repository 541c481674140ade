#!/usr/bin/env bash
# bench-git.sh [FILES] — `kiln mount` of a commit of a generated FILES-file repository (default
# 100000, 50–400 byte text files, 100 per directory) served by `git daemon` on 127.0.0.1, plus
# a read of one file, against `git clone` + checkout of the same commit from the same remote;
# then `kiln mount` of another commit of the already-fetched repository, and of the first commit
# again. All in one run, warm caches; prints seconds, ratios and the load average (the baseline
# writes 100k files and swings with other disk and CPU users: compare within one run). Needs a built kiln (KILN,
# default build/cli/kiln), git with git-daemon, python3, and root with /dev/fuse.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN:-$here/../build/cli/kiln}
n=${1:-100000}
w=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-git.XXXXXX")
daemon=
cleanup() {
	for m in "$w"/m*; do
		[ -d "$m" ] && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; }
	done
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	rm -rf "$w"
}
trap cleanup EXIT

# Two commits: "one" with FILES files, "two" changing one of them; v1 tags "one".
git init -q --bare "$w/srv/repo.git"
python3 - "$n" <<'PY' | git -C "$w/srv/repo.git" fast-import --quiet
import random, sys
n = int(sys.argv[1])
rng = random.Random(7)
out = sys.stdout.buffer
block = bytes(rng.choice(b"abcdefghij \n") for _ in range(1 << 16))
def blob(mark, data):
    out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)) + data + b"\n")
def path(i):
    return b"d%03d/s%02d/file-%06d.txt" % (i // 1000, (i // 100) % 10, i)
def commit(t, msg, mods):
    out.write(b"commit refs/heads/main\ncommitter b <b@e> %d +0000\ndata %d\n%s\n" % (t, len(msg), msg))
    out.write(mods + b"\n")
for i in range(n):
    off = rng.randint(0, len(block) - 400)
    blob(i + 1, b"file %d\n" % i + block[off:off + rng.randint(50, 400)])
commit(1700000000, b"one", b"".join(b"M 100644 :%d %s\n" % (i + 1, path(i)) for i in range(n)))
out.write(b"reset refs/tags/v1\nfrom refs/heads/main\n\n")
blob(n + 1, b"changed\n")
commit(1700000100, b"two", b"M 100644 :%d %s\n" % (n + 1, path(1)))
PY
git -C "$w/srv/repo.git" repack -adq
c1=$(git -C "$w/srv/repo.git" rev-parse v1^{commit})
c2=$(git -C "$w/srv/repo.git" rev-parse main)
file=d000/s00/file-000001.txt
printf 'repository: %d files, pack %s\n' "$n" \
	"$(du -sh "$w/srv/repo.git/objects/pack" | cut -f1)"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
git daemon --reuseaddr --base-path="$w/srv" --export-all --listen=127.0.0.1 --port="$port" \
	"$w/srv" >"$w/daemon.log" 2>&1 &
daemon=$!
url=git://127.0.0.1:$port/repo.git
for _ in $(seq 1 100); do git ls-remote "$url" >/dev/null 2>&1 && break; sleep 0.1; done

secs() { local s=$EPOCHREALTIME; "$@" >/dev/null; echo "$EPOCHREALTIME - $s" | bc -l; }
mount_read() { # SPEC DIR: mount, read one file
	mkdir -p "$2"
	"$KILN" --root "$w/store" mount "$1" "$2" && cat "$2/$file" >/dev/null
}
fetch_only() { git clone -q --bare "$url" "$w/bare" && rm -rf "$w/bare"; }
clone_checkout() { git clone -q --no-checkout "$url" "$w/clone" && git -C "$w/clone" checkout -q "$c1"; }

fetch=$(secs fetch_only)
baseline=$(secs clone_checkout)
rm -rf "$w/clone"
first=$(secs mount_read "$url#$c1" "$w/m1")
other=$(secs mount_read "$url#$c2" "$w/m2")
again=$(secs mount_read "$url#$c1" "$w/m3")
branch=$(secs mount_read "$url#main" "$w/m4")
cmp -s <(git -C "$w/srv/repo.git" cat-file blob "$c1:$file") "$w/m1/$file" ||
	{ echo "kiln read the wrong bytes" >&2; exit 1; }

printf 'load average after the runs          %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'git clone --bare (fetch alone)       %7.3f s\n' "$fetch"
printf 'git clone + checkout %.7s         %7.3f s\n' "$c1" "$baseline"
printf 'kiln mount + read, first             %7.3f s  (%.1fx faster)\n' "$first" "$(echo "$baseline / $first" | bc -l)"
printf 'kiln mount + read, another commit    %7.3f s  (%.0f ms)\n' "$other" "$(echo "$other * 1000" | bc -l)"
printf 'kiln mount + read, same commit again %7.3f s  (%.0f ms)\n' "$again" "$(echo "$again * 1000" | bc -l)"
printf 'kiln mount + read, branch (ls-remote)%7.3f s  (%.0f ms)\n' "$branch" "$(echo "$branch * 1000" | bc -l)"
