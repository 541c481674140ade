#!/usr/bin/env python3
# meta-listing.py DIR: every entry under DIR (DIR itself as ".") with its metadata, one line each,
# sorted by path bytes: path, type, mode, uid, gid, rdev, mtime (ns), size (files) or link
# target (symlinks), xattrs (names and hex values, sorted). Bytes outside printable ASCII are
# written as octal escapes, so odd names (newlines, spaces, UTF-8) stay one line. The root's
# line starts with " . |". One process for the whole tree (a shell loop took one per entry).
import os
import stat
import sys


def enc(b):
    return "".join(" " + chr(c) if 0x21 <= c <= 0x7E else " \\%03o" % c for c in b) + " "


def kind(m):
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block"), (stat.S_ISFIFO, "fifo"),
                       (stat.S_ISSOCK, "socket")):
        if test(m):
            return name
    return "unknown"


def xattrs(p):
    try:
        names = sorted(os.listxattr(p, follow_symlinks=False))
    except OSError:
        return ""
    out = []
    for n in names:
        try:
            v = os.getxattr(p, n, follow_symlinks=False)
        except OSError:
            continue
        out.append("%s=0x%s" % (n, v.hex()))
    return " ".join(out)


def main():
    top = os.fsencode(sys.argv[1])
    paths = [b"."]

    def fail(e):
        raise e

    for d, dirs, files in os.walk(top, onerror=fail):
        rel = os.path.relpath(d, top)
        prefix = b"./" if rel == b"." else b"./" + rel + b"/"
        paths.extend(prefix + n for n in dirs + files)
    out = sys.stdout.buffer
    for rel in sorted(paths):
        p = os.path.join(top, rel)
        st = os.lstat(p)
        m = st.st_mode
        rdev = "%x:%x" % (os.major(st.st_rdev), os.minor(st.st_rdev)) if stat.S_ISCHR(m) or stat.S_ISBLK(m) else "0:0"
        line = "%s|%o|%d|%d|%s|%d.%09d" % (kind(m), m & 0o7777, st.st_uid, st.st_gid, rdev,
                                           st.st_mtime_ns // 1000000000, st.st_mtime_ns % 1000000000)
        if stat.S_ISREG(m):
            line += "|%d" % st.st_size
        elif stat.S_ISLNK(m):
            line += "|" + enc(os.readlink(p))
        line += "|" + xattrs(p)
        out.write((enc(rel) + "|" + line + "\n").encode())


main()
