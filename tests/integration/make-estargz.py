#!/usr/bin/env python3
# make-estargz.py [--legacy-footer] IN.tar OUT.tar.gz [CHUNK_SIZE]: rewrites a tar as an eStargz
# blob, the way containerd's estargz writer lays it out (docs/estargz.md of stargz-snapshotter):
# every file's content starts a gzip member of its own (one per chunk of CHUNK_SIZE bytes,
# "chunk" entries for the chunks after the first), tar headers ride in the member before; then
# the TOC ("stargz.index.json" in a tar, in its own member) and the 51-byte footer whose gzip
# extra field holds one subfield 'S' 'G' of "%016xSTARGZ" (the TOC's offset). With
# --legacy-footer the blob ends as original (pre-eStargz) stargz did: a 47-byte footer whose
# extra field is "%016xSTARGZ" itself, no subfield header. Prints the TOC digest (sha256 of the
# JSON), the value of the layer annotation containerd.io/snapshot/stargz/toc.digest. Stdlib only.
import base64
import datetime
import gzip
import hashlib
import io
import json
import struct
import sys
import tarfile


def rfc3339(t):
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class Writer:
    def __init__(self, out):
        self.out = out
        self.pos = 0
        self.pending = bytearray()  # the uncompressed bytes of the open member

    def close_member(self):
        if self.pending:
            z = gzip.compress(bytes(self.pending), mtime=0)
            self.out.write(z)
            self.pos += len(z)
            self.pending = bytearray()

    def write(self, b):
        self.pending += b


def toc_name(name):
    while name.startswith("./"):
        name = name[2:]
    return name or "."


def footer(toc_off, legacy):
    """An empty gzip member (a final stored block, CRC and size 0) carrying the TOC offset."""
    extra = b"%016xSTARGZ" % toc_off
    if not legacy:
        extra = b"SG" + struct.pack("<H", len(extra)) + extra
    f = (b"\x1f\x8b\x08\x04" + b"\0\0\0\0" + b"\x00\xff" + struct.pack("<H", len(extra)) +
         extra + b"\x01\x00\x00\xff\xff" + b"\0" * 8)
    assert len(f) == (47 if legacy else 51)
    return f


def main():
    args = sys.argv[1:]
    legacy = "--legacy-footer" in args
    args = [a for a in args if a != "--legacy-footer"]
    src, dst = args[0], args[1]
    chunk = int(args[2]) if len(args) > 2 else 4 << 20
    entries = []
    types = {tarfile.DIRTYPE: "dir", tarfile.REGTYPE: "reg", tarfile.AREGTYPE: "reg",
             tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink", tarfile.CHRTYPE: "char",
             tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo"}
    with open(src, "rb") as f, tarfile.open(fileobj=f, mode="r:") as t, open(dst, "wb") as out:
        w = Writer(out)
        for m in t:
            w.write(m.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
            e = {"name": toc_name(m.name), "type": types[m.type], "modtime": rfc3339(m.mtime),
                 "mode": m.mode, "uid": m.uid, "gid": m.gid}
            if m.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                e["linkName"] = toc_name(m.linkname) if m.type == tarfile.LNKTYPE else m.linkname
            if m.type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                e["devMajor"], e["devMinor"] = m.devmajor, m.devminor
            xattrs = {k[len("SCHILY.xattr."):]: base64.b64encode(
                v.encode("utf-8", "surrogateescape")).decode()
                for k, v in m.pax_headers.items() if k.startswith("SCHILY.xattr.")}
            if xattrs:
                e["xattrs"] = xattrs
            entries.append(e)
            if not m.isreg():
                continue
            data = t.extractfile(m).read()
            e["size"] = len(data)
            if not data:
                continue
            e["digest"] = "sha256:" + hashlib.sha256(data).hexdigest()
            for off in range(0, len(data), chunk):
                piece = data[off:off + chunk]
                w.close_member()
                c = e if off == 0 else {"name": e["name"], "type": "chunk"}
                c["offset"] = w.pos
                c["chunkOffset"] = off
                if len(data) > chunk:
                    c["chunkSize"] = len(piece)
                c["chunkDigest"] = "sha256:" + hashlib.sha256(piece).hexdigest()
                if c is not e:
                    entries.append(c)
                w.write(piece)
            w.write(b"\0" * (-len(data) % 512))
        w.close_member()
        toc_off = w.pos
        toc = json.dumps({"version": 1, "entries": entries}, indent="\t").encode()
        ti = tarfile.TarInfo("stargz.index.json")
        ti.size = len(toc)
        ti.mode = 0o644
        w.write(ti.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict"))
        w.write(toc + b"\0" * (-len(toc) % 512) + b"\0" * 1024)
        w.close_member()
        out.write(footer(toc_off, legacy))
    print("sha256:" + hashlib.sha256(toc).hexdigest())


if __name__ == "__main__":
    main()
