#!/usr/bin/env python3
# make-layers.py OUT: writes the crafted layers of test-layer-rules.sh. OUT/single/*.tar are
# layers to mount alone and compare with GNU tar's extraction (each case below a directory named
# after it; NAME.tar-flags holds extra tar flags); OUT/two/{lower,upper,expected}.tar are a
# two-layer image and the tar of the merged result it must show. Each entry
# is (kind, name, data, mode, uid, gid): kind f file (data: content), d dir, l symlink and h
# hardlink (data: target), c char device (data: "major,minor"), p fifo. Every layer starts with
# a "./" entry (the root's metadata) unless its case lists one itself. Symlink targets are
# relative and stay inside: GNU tar defers absolute ones (a placeholder file until the end),
# which a later entry of the same name would not replace. Stdlib only.
import io
import os
import sys
import tarfile

T0 = 1700000000


def f(name, data, mode=0o644, uid=1000, gid=100):
    return ("f", name, data, mode, uid, gid)


def d(name, mode=0o755, uid=0, gid=0):
    return ("d", name, None, mode, uid, gid)


def l(name, target):
    return ("l", name, target, 0o777, 0, 0)


def h(name, target):
    return ("h", name, target, 0o644, 1000, 100)


def c(name, dev):
    return ("c", name, dev, 0o600, 0, 0)


def p(name):
    return ("p", name, None, 0o644, 0, 0)


ROOT = d("./", 0o755)

SINGLE = {
    # "./", "." and "/" all name the root: the last one's metadata wins.
    "root-entries": [d("./", 0o700, 1, 1), d(".", 0o750, 2, 2), f("a", "a"), d("/", 0o751, 3, 3)],
    "file-twice": [ROOT, f("a", "first", 0o600), f("./a", "second", 0o640, 7, 8)],
    "dir-twice": [ROOT, d("d/", 0o700, 1, 1), f("d/x", "x"), d("d", 0o750, 5, 6)],
    "file-then-dir": [ROOT, f("a", "1"), d("a/", 0o711), f("a/b", "2")],
    "dir-then-file": [ROOT, d("d/"), d("d/e/"), f("d/e/x", "x"), f("d", "now a file")],
    "symlink-then-file": [ROOT, l("s", "etc"), f("s", "file"), f("t", "file"), l("t", "s")],
    "dir-then-symlink": [ROOT, d("d/"), f("d/x", "x"), l("d", "elsewhere")],
    "whiteout-then-dir": [ROOT, f(".wh.d", ""), d("d/", 0o700), f("d/x", "x")],
    "dir-then-whiteout": [ROOT, d("d/", 0o700), f("d/x", "x"), f(".wh.d", "")],
    "file-then-whiteout": [ROOT, f("a", "kept"), f(".wh.a", "")],
    "opaque-in-listed-dir": [ROOT, d("o/", 0o750), f("o/.wh..wh..opq", ""), f("o/k", "k"),
                             d("p/"), f("p/k", "k"), f("p/.wh..wh..opq", "")],
    "hardlink-then-replace": [ROOT, f("a", "old", 0o640), h("l1", "a"), h("l0", "a"),
                              f("a", "new"), h("l2", "l1")],
    "hardlink-target-relinked": [ROOT, f("a", "A"), h("b", "a"), h("a", "b")],
    "hardlink-across-dirs": [ROOT, d("dir/"), d("other/"), f("dir/a", "shared"),
                             h("other/b", "dir/a"), h("c", "./dir/a")],
    "hardlink-to-symlink": [ROOT, l("s", "target"), h("hs", "s")],
    "devices": [ROOT, d("dev/"), c("dev/chardev", "1,3"), p("dev/fifo"), c("dev/chardev", "1,5")],
    "many-replacements": [ROOT] + [e for i in range(20) for e in (
        d("d%02d/" % (i % 5), 0o700 + i % 8), f("d%02d/f%02d" % (i % 5, i), "v%d" % i),
        f("d%02d/same" % (i % 5), "round %d" % i))],
}

# Cases where a non-directory replaces a non-empty directory: GNU tar needs --recursive-unlink
# for them (and must not have it elsewhere: it would empty a directory listed twice), so they
# go into a layer of their own.
RECURSIVE_UNLINK = {"dir-then-file", "dir-then-symlink"}

LOWER = [ROOT, d("d/", 0o700, 1, 1), f("d/old", "old"), d("d/sub/"), f("d/sub/deep", "deep"),
         f("keep", "lower keep")]

# Whiteouts and opaque markers hide the lower layer's entries, never the upper layer's own.
TWO = {
    "whiteout-then-dir": (
        [f(".wh.d", ""), d("d/", 0o750, 2, 2), f("d/new", "new")],
        [ROOT, d("d/", 0o750, 2, 2), f("d/new", "new"), f("keep", "lower keep")]),
    "dir-then-whiteout": (
        [d("d/", 0o750, 2, 2), f("d/new", "new"), f(".wh.d", "")],
        [ROOT, d("d/", 0o750, 2, 2), f("d/new", "new"), f("keep", "lower keep")]),
    "child-then-whiteout": (
        [f("d/new", "new"), f(".wh.d", "")],
        [ROOT, ("d", "d/", None, 0o755, 0, 0, 0), f("d/new", "new"), f("keep", "lower keep")]),
    "opaque-in-unlisted-dir": (
        [f("d/.wh..wh..opq", ""), f("d/new", "new")],
        [ROOT, d("d/", 0o700, 1, 1), f("d/new", "new"), f("keep", "lower keep")]),
    "opaque-after-children": (
        [d("d/", 0o750), f("d/new", "new"), f("d/.wh..wh..opq", "")],
        [ROOT, d("d/", 0o750), f("d/new", "new"), f("keep", "lower keep")]),
    "file-then-dir": (
        [f("d", "file"), d("d/", 0o751), f("d/x", "x")],
        [ROOT, d("d/", 0o751), f("d/x", "x"), f("keep", "lower keep")]),
    "whiteout-after-replacement": (
        [f("keep", "upper keep"), f(".wh.keep", ""), f("d/sub/.wh.deep", "")],
        [ROOT, d("d/", 0o700, 1, 1), f("d/old", "old"), d("d/sub/"),
         f("keep", "upper keep")]),
}


def write(path, entries):
    with open(path, "wb") as out, tarfile.open(fileobj=out, mode="w",
                                               format=tarfile.PAX_FORMAT) as t:
        for i, e in enumerate(entries):
            kind, name, data, mode, uid, gid = e[:6]
            ti = tarfile.TarInfo(name)
            ti.mode, ti.uid, ti.gid = mode, uid, gid
            ti.mtime = e[6]
            body = None
            if kind == "f":
                body = data.encode()
                ti.size = len(body)
            elif kind == "d":
                ti.type = tarfile.DIRTYPE
            elif kind in "lh":
                ti.type = tarfile.SYMTYPE if kind == "l" else tarfile.LNKTYPE
                ti.linkname = data
            elif kind == "c":
                ti.type = tarfile.CHRTYPE
                ti.devmajor, ti.devminor = (int(x) for x in data.split(","))
            elif kind == "p":
                ti.type = tarfile.FIFOTYPE
            t.addfile(ti, io.BytesIO(body) if body is not None else None)


def timed(entries, t0):
    """Entries with their mtime fixed by their place in their own case."""
    return [e if len(e) > 6 else e[:6] + (t0 + i,) for i, e in enumerate(entries)]


def prefixed(case, entries):
    """A case's entries moved below the directory case/ (its "./" becomes that directory)."""
    def move(name):
        rest = name.lstrip("/")
        while rest.startswith("./"):
            rest = rest[2:]
        if rest in ("", "."):
            return case + "/"
        return case + "/" + rest
    res = []
    for e in entries:
        e = list(e)
        e[1] = move(e[1])
        if e[0] == "h":
            e[2] = move(e[2])
        res.append(tuple(e))
    return res


def main():
    out = sys.argv[1]
    os.makedirs(out + "/single", exist_ok=True)
    os.makedirs(out + "/two", exist_ok=True)
    # One layer per group of cases, each case below a directory of its own (the rules are
    # local to a path), so one mount checks them all; the root's case stands alone.
    groups = {"merge": [], "unlink": []}
    for name, entries in SINGLE.items():
        entries = timed(entries, T0)
        if name == "root-entries":
            write("%s/single/%s.tar" % (out, name), entries)
            continue
        groups["unlink" if name in RECURSIVE_UNLINK else "merge"] += prefixed(name, entries)
    for group, entries in groups.items():
        write("%s/single/%s.tar" % (out, group), timed([ROOT], T0) + entries)
    open("%s/single/unlink.tar-flags" % out, "w").write("--recursive-unlink\n")
    lower, upper, expected = timed([ROOT], T0), [], timed([ROOT], T0)
    for name, (up, exp) in TWO.items():
        lower += prefixed(name, timed(LOWER, T0))
        upper += prefixed(name, timed(up, T0 + 1000))
        expected += prefixed(name, expected_entries(up, exp))
    write(out + "/two/lower.tar", lower)
    write(out + "/two/upper.tar", upper)
    write(out + "/two/expected.tar", expected)


def expected_entries(upper, expected):
    """Entries of expected with the mtime the winning layer wrote: upper's where upper lists
    the name with the same content, else lower's."""
    def key(e):
        return e[1].strip("/").lstrip("./") or "."
    up = {key(e): (T0 + 1000 + i, e) for i, e in enumerate(upper)}
    low = {key(e): (T0 + i, e) for i, e in enumerate(LOWER)}
    res = []
    for e in expected:
        if len(e) > 6:
            res.append(e)
            continue
        k = key(e)
        if k in up and up[k][1][:6] == e[:6]:
            res.append(e[:6] + (up[k][0],))
        else:
            res.append(e[:6] + (low[k][0],))
    return res


if __name__ == "__main__":
    main()
