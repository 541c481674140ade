#!/usr/bin/env python3
"""A registry that checks how kiln pushes: bearer tokens per scope (a pull token is refused for
writes, so the client must ask again with push), a mount it refuses (202 and an upload session
the client must use), chunks whose Content-Range must follow on, digests checked at the final
PUT, and, for repository "badmanifest", a manifest PUT refused with a distribution error.

usage: fake-push-registry.py PORT LOG [BLOBDIR] — one JSON line per request in LOG; the files
of BLOBDIR (an OCI layout's blobs/sha256) are blobs every repository has for GET, never for HEAD
(so a push must send them), and the layout's manifests are there for GET by digest and by their
ref names (so kiln can pull the layout's image from any repository)."""
import base64, hashlib, http.server, json, os, sys, urllib.parse, uuid

PORT, LOG = int(sys.argv[1]), sys.argv[2]
USER, PASSWORD = "kiln", "secret"
blobs, uploads, manifests, tokens = {}, {}, {}, {}
seeded, seeded_manifests = {}, {}
if len(sys.argv) > 3:
    for name in os.listdir(sys.argv[3]):
        with open(os.path.join(sys.argv[3], name), "rb") as f:
            seeded["sha256:" + name] = f.read()
    with open(os.path.join(sys.argv[3], "..", "..", "index.json")) as f:
        for m in json.load(f)["manifests"]:
            for ref in (m["digest"], m.get("annotations", {}).get("org.opencontainers.image.ref.name")):
                if ref:
                    seeded_manifests[ref] = (m["digest"], m["mediaType"])


def log(**kw):
    with open(LOG, "a") as f:
        f.write(json.dumps(kw) + "\n")


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, err, msg):
        self.reply(code, json.dumps({"errors": [{"code": err, "message": msg}]}).encode(),
                   [("Content-Type", "application/json")])

    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def token(self, q):
        if self.headers.get("Authorization") != "Basic " + base64.b64encode(
                f"{USER}:{PASSWORD}".encode()).decode():
            return self.reply(401)
        scopes = q.get("scope", [])
        t = uuid.uuid4().hex
        tokens[t] = set(scopes)
        log(method="TOKEN", scopes=scopes)
        self.reply(200, json.dumps({"token": t}).encode(), [("Content-Type", "application/json")])

    def authorized(self, repo, write):
        auth = self.headers.get("Authorization", "")
        granted = tokens.get(auth[7:], set()) if auth.startswith("Bearer ") else set()
        need = f"repository:{repo}:pull,push" if write else f"repository:{repo}:pull"
        ok = need in granted or (not write and f"repository:{repo}:pull,push" in granted)
        if not ok:
            self.reply(401, b"", [("WWW-Authenticate",
                                   f'Bearer realm="http://127.0.0.1:{PORT}/token",'
                                   f'service="fake",scope="{need}"')])
        return ok

    def route(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        body = self.body() if self.command in ("PUT", "PATCH", "POST") else b""
        log(method=self.command, path=u.path, query=u.query, bytes=len(body),
            content_range=self.headers.get("Content-Range"))
        if u.path == "/token":
            return self.token(q)
        if u.path == "/v2/":
            return self.reply(200)
        parts = u.path[4:].split("/")
        if len(parts) < 3:
            return self.error(404, "NAME_UNKNOWN", "no such path")
        if parts[-2] == "uploads" or (len(parts) >= 3 and parts[-3:-1] == ["blobs", "uploads"]):
            i = parts.index("blobs")
            repo = "/".join(parts[:i])
            if not self.authorized(repo, True):
                return
            return self.upload(repo, parts[i + 2] if len(parts) > i + 2 else "", q, body)
        kind = parts[-2]
        repo = "/".join(parts[:-2])
        ref = parts[-1]
        if not self.authorized(repo, self.command in ("PUT",)):
            return
        if kind == "blobs":
            if ref in blobs:
                return self.reply(200, blobs[ref], [("Content-Type", "application/octet-stream"),
                                                    ("Docker-Content-Digest", ref)])
            if ref in seeded and self.command == "GET":
                return self.reply(200, seeded[ref], [("Content-Type", "application/octet-stream"),
                                                     ("Docker-Content-Digest", ref)])
            return self.error(404, "BLOB_UNKNOWN", "blob unknown")
        if kind == "manifests":
            if self.command == "PUT":
                if repo == "badmanifest":
                    return self.error(400, "MANIFEST_INVALID", "manifest invalid: no good")
                d = "sha256:" + hashlib.sha256(body).hexdigest()
                manifests[(repo, ref)] = manifests[(repo, d)] = (body, self.headers["Content-Type"])
                return self.reply(201, b"", [("Docker-Content-Digest", d)])
            if (repo, ref) in manifests:
                b, ct = manifests[(repo, ref)]
                return self.reply(200, b, [("Content-Type", ct)])
            if ref in seeded_manifests and self.command in ("GET", "HEAD"):
                d, ct = seeded_manifests[ref]
                return self.reply(200, seeded[d], [("Content-Type", ct), ("Docker-Content-Digest", d)])
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        self.error(404, "NAME_UNKNOWN", "no such path")

    def upload(self, repo, uid, q, body):
        if self.command == "POST":
            log(method="UPLOAD-START", repo=repo, mount="mount" in q)
            if "mount" in q:
                log(method="MOUNT-REFUSED", digest=q["mount"][0], source=q.get("from", [""])[0])
            uid = uuid.uuid4().hex
            uploads[uid] = b""
            return self.reply(202, b"", [("Location", f"/v2/{repo}/blobs/uploads/{uid}?_state=x"),
                                         ("Range", "0-0")])
        if uid not in uploads:
            return self.error(404, "BLOB_UPLOAD_UNKNOWN", "no such upload")
        if self.command == "PATCH":
            cr = self.headers.get("Content-Range")
            if cr:
                start, end = map(int, cr.split("-"))
                if start != len(uploads[uid]) or end - start + 1 != len(body):
                    return self.error(416, "BLOB_UPLOAD_INVALID", f"range {cr} does not follow on")
            uploads[uid] += body
            return self.reply(202, b"", [("Location", f"/v2/{repo}/blobs/uploads/{uid}?_state=y"),
                                         ("Range", f"0-{len(uploads[uid]) - 1}")])
        if self.command == "PUT":
            data = uploads.pop(uid) + body
            d = "sha256:" + hashlib.sha256(data).hexdigest()
            if d != q.get("digest", [""])[0]:
                return self.error(400, "DIGEST_INVALID", "digest does not match")
            blobs[d] = data
            return self.reply(201, b"", [("Docker-Content-Digest", d),
                                         ("Location", f"/v2/{repo}/blobs/{d}")])
        self.error(405, "UNSUPPORTED", "method")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = route


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
