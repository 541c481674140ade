#!/usr/bin/env bash
# bench-solve.sh [FILES [BIG_MB]] — a no-op re-solve of a 3-stage graph (a base image, COPY of
# one file + RUN, COPY of the whole context + RUN, COPY of one result file into scratch) over a
# context of FILES files (default 2000) of which 9 are large, BIG_MB MiB in all (default 50),
# against its floor measured in the same run: the process start (`kiln --version`) plus a bare
# stat walk of the context (`find -printf`). Runs are interleaved; prints min and median of
# each and kiln's own work (solve - floor); the target is <= 5 ms.
# Needs root, FUSE, runc and busybox-static (the first solve runs the two steps); RUNS (default
# 41) re-solves. KILN defaults to build/cli/kiln.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN:-$here/../build/cli/kiln}
n=${1:-2000}
big_mb=${2:-50}
runs=${RUNS:-41}
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-solve.XXXXXX")
trap 'rm -rf "$T"' EXIT
skip() { echo "bench-solve: $*" >&2; exit 1; }
need_cmd() { local c; for c in "$@"; do command -v "$c" >/dev/null || skip "needs $c"; done; }
. "$here/../tests/integration/lib-image.sh"
need_cmd busybox jq python3 runc

python3 - "$T/ctx" "$n" "$big_mb" <<'PY'
import os, sys
root, n, big_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
big = 9
for i in range(n):
    d = os.path.join(root, 'd%02d' % (i % 40))
    os.makedirs(d, exist_ok=True)
    size = big_mb * 1024 * 1024 // big if i < big else 2048
    with open(os.path.join(d, 'f%05d.txt' % i), 'wb') as f:
        f.write(os.urandom(size))
with open(os.path.join(root, 'package.json'), 'w') as f:
    f.write('{"name": "bench"}\n')
PY
du -sh --apparent-size "$T/ctx" | sed 's/^/context size: /'
echo "files: $(find "$T/ctx" -type f | wc -l)"
make_rootfs_busybox "$T/rootfs"
for a in $(/bin/busybox --list); do
	[ -e "$T/rootfs/bin/$a" ] || ln -s busybox "$T/rootfs/bin/$a"
done
make_layer_tar "$T/rootfs" "$T/layer.tar.gz"
make_oci_layout "$T/busybox" latest "$T/layer.tar.gz"
cat >"$T/g.json" <<'EOG'
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
cd "$T"
export KILN_ROOT=$T/root
"$KILN" solve --progress plain --runtime runc --local context=ctx g.json >/dev/null 2>"$T/first.log" ||
	skip "the first solve failed: $(cat "$T/first.log")"
"$KILN" solve --progress plain --local context=ctx g.json >/dev/null 2>"$T/second.log"
[ "$(grep -c '^#[0-9]* CACHED$' "$T/second.log")" = 7 ] || skip "the re-solve was not a no-op"

python3 - "$KILN" "$runs" <<'PY'
import statistics, subprocess, sys, time
kiln, runs = sys.argv[1], int(sys.argv[2])
cases = {
    'kiln --version': [kiln, '--version'],
    'find -printf': ['find', 'ctx', '-printf', '%s %T@ %C@ %i\n'],
    'kiln solve (no-op)': [kiln, 'solve', '--progress', 'plain', '--local', 'context=ctx', 'g.json'],
}
times = {k: [] for k in cases}
for _ in range(runs):
    for name, cmd in cases.items():
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times[name].append((time.perf_counter() - t) * 1000)
for name, v in times.items():
    print(f"{name:20s} min {min(v):7.2f} ms  median {statistics.median(v):7.2f} ms")
for label, f in (('min', min), ('median', statistics.median)):
    floor = f(times['kiln --version']) + f(times['find -printf'])
    print(f"{label:6s}: floor {floor:7.2f} ms, kiln's own work {f(times['kiln solve (no-op)']) - floor:6.2f} ms")
PY
