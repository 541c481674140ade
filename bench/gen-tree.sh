#!/usr/bin/env bash
# gen-tree.sh DIR [FILES] — writes a reproducible tree: FILES small files (default 100000,
# 0.5–16 KiB, 100 per directory, 2 levels deep) plus 4 large files of 64 MiB.
set -euo pipefail
dir=$1
n=${2:-100000}
mkdir -p "$dir"
python3 - "$dir" "$n" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
block = rng.randbytes(1 << 20)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 10000), "s%03d" % ((i // 100) % 100))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    size = rng.randint(512, 16384)
    off = rng.randint(0, len(block) - size)
    with open(os.path.join(d, "file-%06d.txt" % i), "wb") as f:
        f.write(block[off:off + size])
big = os.path.join(root, "big")
os.makedirs(big, exist_ok=True)
for j in range(4):
    with open(os.path.join(big, "large-%d.bin" % j), "wb") as f:
        for k in range(64):
            f.write(bytes([j]) + block[1:])
PY
