#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A registry that misbehaves on purpose, for the integration tests.

usage: bad-registry.py PORT LOG STATE_DIR NAME=LAYOUT...

Serves the OCI layouts (their index.json's first manifest as tag "latest") on 127.0.0.1:PORT
as the repositories MODE/NAME; MODE says how it misbehaves:

  ok            a registry as it should be (Range answered with 206)
  stall         reads the request and never answers
  stall-blob    blobs over 8 KiB (layers): the headers and 4 KiB of the body, then silence
  flood         blobs over 8 KiB (layers): an endless body (no Content-Length)
  short, long   the manifest says the first layer is one byte longer / shorter than it is
  short-nolen, long-nolen   the same, the blob sent without Content-Length
  cfg-long      the manifest says the config is one byte shorter than it is
  index-long    the tag is an index naming the manifest one byte shorter than it is
  flaky         the first GET of each path answers 503, then all is well
  ratelimit     the first GET of each path answers 429 with Retry-After: 1
  ratelimit-long  every GET answers 429 with Retry-After: 3600
  unavailable   every GET answers 503
  reset         the first GET of each blob sends half of it and resets the connection
  lazy          as ok, until the file STATE_DIR/stall exists: then as stall

Every request is logged to LOG, one line each: "TIME METHOD PATH STATUS" (STATUS "stall" for a
request never answered, "flood:N" for N body bytes sent before the client went away).
"""
import http.server
import json
import os
import socket
import struct
import sys
import threading
import time

port, log_path, state_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
layouts = dict(a.split("=", 1) for a in sys.argv[4:])
log_lock = threading.Lock()
seen = set()  # (mode, path) already answered once, for flaky/ratelimit/reset
seen_lock = threading.Lock()
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def log(method, path, status):
    with log_lock, open(log_path, "a") as f:
        f.write(f"{time.time():.3f} {method} {path} {status}\n")


def first_time(mode, path):
    with seen_lock:
        if (mode, path) in seen:
            return False
        seen.add((mode, path))
        return True


def blob(layout, digest):
    algo, _, hexpart = digest.partition(":")
    p = os.path.join(layout, "blobs", algo, hexpart)
    if algo != "sha256" or "/" in hexpart or not os.path.isfile(p):
        return None
    with open(p, "rb") as f:
        return f.read()


def top_manifest(layout):
    with open(os.path.join(layout, "index.json")) as f:
        d = json.load(f)["manifests"][0]
    return d, blob(layout, d["digest"])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", ctype="application/octet-stream", headers=(),
               length=True):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        # logged before the answer goes out: a client that exits on it must find it logged
        log(self.command, self.path, status)
        self.end_headers()
        self.wfile.write(body)

    def stall(self):
        log(self.command, self.path, "stall")
        # Never answer; the client gives up and closes, or the test kills us.
        while True:
            time.sleep(3600)

    def do_GET(self):
        if self.path in ("/v2/", "/v2"):
            return self.answer(200, b"{}", "application/json")
        parts = self.path.split("?")[0].split("/")
        # /v2/MODE/NAME/{manifests,blobs}/REF
        if len(parts) != 6 or parts[0] != "" or parts[1] != "v2" or parts[3] not in layouts:
            return self.answer(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}', "application/json")
        mode, layout, kind, ref = parts[2], layouts[parts[3]], parts[4], parts[5]
        if mode == "stall" or (mode == "lazy" and os.path.exists(os.path.join(state_dir, "stall"))):
            return self.stall()
        if mode == "ratelimit-long":
            return self.answer(429, b"slow down", headers=[("Retry-After", "3600")])
        if mode == "unavailable":
            return self.answer(503, b"down for maintenance")
        if mode in ("flaky", "ratelimit") and first_time(mode, self.path):
            if mode == "flaky":
                return self.answer(503, b"try again")
            return self.answer(429, b"slow down", headers=[("Retry-After", "1")])
        if kind == "manifests":
            return self.manifest(mode, layout, ref)
        if kind == "blobs":
            return self.blob(mode, layout, ref)
        return self.answer(404)

    def manifest(self, mode, layout, ref):
        desc, body = top_manifest(layout)
        if ref.startswith("sha256:"):
            body = blob(layout, ref)
            if body is None:
                return self.answer(404)
            return self.answer(200, body, OCI_MANIFEST,
                               [("Docker-Content-Digest", ref)])
        if ref != "latest":
            return self.answer(404)
        m = json.loads(body)
        if mode in ("short", "short-nolen"):
            m["layers"][0]["size"] += 1
        elif mode in ("long", "long-nolen"):
            m["layers"][0]["size"] -= 1
        elif mode == "cfg-long":
            m["config"]["size"] -= 1
        elif mode == "index-long":
            idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
                "mediaType": OCI_MANIFEST, "digest": desc["digest"], "size": desc["size"] - 1,
                "platform": {"architecture": "amd64", "os": "linux"}}]}
            return self.answer(200, json.dumps(idx).encode(), OCI_INDEX)
        else:
            return self.answer(200, body, OCI_MANIFEST)
        return self.answer(200, json.dumps(m).encode(), OCI_MANIFEST)

    def blob(self, mode, layout, digest):
        body = blob(layout, digest)
        if body is None:
            return self.answer(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}', "application/json")
        if mode == "flood" and len(body) > 8192:
            return self.flood()
        if mode == "stall-blob" and len(body) > 8192:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:4096])
            self.wfile.flush()
            return self.stall()
        if mode == "reset" and first_time(mode, self.path):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            # SO_LINGER 0: close() sends a RST, as a connection reset midway.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            log(self.command, self.path, "reset")
            return
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            first = int(first)
            last = int(last) if last else len(body) - 1
            part = body[first:last + 1]
            return self.answer(206, part, headers=[
                ("Content-Range", f"bytes {first}-{first + len(part) - 1}/{len(body)}")])
        return self.answer(200, body, headers=[("Docker-Content-Digest", digest)],
                           length=not mode.endswith("-nolen"))

    def flood(self):
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk, sent = b"\0" * 65536, 0
        try:
            while True:
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass
        log(self.command, self.path, f"flood:{sent}")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", port), Handler).serve_forever()
