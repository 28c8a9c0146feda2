"""A local stand-in for the Hugging Face Hub on 127.0.0.1, for download tests without internet.

It speaks the endpoints huggingface_hub 2.x uses for our downloads:
- ``GET /api/models/<owner>/<name>/revision/<rev>?blobs=true`` (``HfApi.model_info`` with
  ``files_metadata=True``): commit sha and siblings with size, blobId and LFS sha256;
- ``GET /api/models/<owner>/<name>/tree/<rev>[/<path>]`` (``list_repo_tree``);
- ``HEAD``/``GET /<owner>/<name>/resolve/<rev>/<file>`` with X-Repo-Commit, ETag, X-Linked-Etag,
  X-Linked-Size, Content-Length, Accept-Ranges, and ``Range`` requests answered with 206.

Faults are switched on per repo or per file: drop the connection after N bytes, serve a
corrupted byte, answer 404, or require a token (gated repo, 401 with X-Error-Code GatedRepo);
throttle the link to N bytes/s, stall after N bytes, send more bytes than declared, or send a
gzip body that inflates past the declared size. A hostile listing is made by patching a file's
sibling entry (``listing_patch``), adding raw entries (``extra_siblings``) or a bad ``commit``.
Every request is logged so tests can check what the client sent (Range, Authorization).
The server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

LFS_MIN_BYTES = 1024  # files at least this big are served as LFS files (sha256 etag)


def _gzip_with_zeros(data: bytes, zeros: int) -> bytes:
    """gzip of ``data`` followed by ``zeros`` zero bytes, built in 1 MiB steps (small memory)."""
    co = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [co.compress(data)]
    block = bytes(2**20)
    while zeros > 0:
        out.append(co.compress(block[: min(zeros, len(block))]))
        zeros -= len(block)
    out.append(co.flush())
    return b"".join(out)


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class FileFaults:
    drop_after: int | None = None  # close the connection after this many body bytes ...
    drop_times: int = 1  # ... this many times
    corrupt_times: int = 0  # serve one flipped byte this many times (-1: always)
    missing: bool = False  # 404 EntryNotFound
    delay_per_chunk: float = 0.0  # seconds to sleep per 4 KiB chunk (lets tests cancel mid-file)
    rate_bps: float = 0.0  # throttle the body to this many bytes per second (0: no limit)
    stall_after: int | None = None  # send this many body bytes, then nothing until the hub stops
    extra_bytes: int = 0  # append this many bytes beyond the declared size (Content-Length too)
    gzip_bomb: int = 0  # gzip-encode the body, inflating to this many bytes beyond the declared


@dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, bytes]
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    gated_token: str | None = None  # when set, requests need "Authorization: Bearer <token>"
    missing: bool = False  # the whole repo answers 404 RepoNotFound
    cdn_redirect: bool = False  # LFS files answer 302 to another host ("localhost"), like the hub
    faults: dict[str, FileFaults] = field(default_factory=dict)
    listing_patch: dict[str, dict] = field(default_factory=dict)  # merged into siblings
    extra_siblings: list = field(default_factory=list)  # raw entries added to the listing
    stall_listing: bool = False  # the file list never answers (until the hub stops)

    def is_lfs(self, path: str) -> bool:
        return len(self.files[path]) >= LFS_MIN_BYTES or path.endswith(".safetensors")

    def sibling(self, path: str) -> dict:
        data = self.files[path]
        item = {"rfilename": path, "size": len(data), "blobId": git_blob_sha1(data)}
        if self.is_lfs(path):
            sha = hashlib.sha256(data).hexdigest()
            item["lfs"] = {"size": len(data), "sha256": sha, "pointerSize": 134}
        patch = self.listing_patch.get(path, {})
        if "lfs" in patch and isinstance(patch["lfs"], dict) and "lfs" in item:
            patch = {**patch, "lfs": {**item["lfs"], **patch["lfs"]}}
        return {**item, **patch}


class FakeHub:
    """Start with ``with FakeHub() as hub: hub.add_repo(...); hub.endpoint``."""

    def __init__(self) -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self.closing = threading.Event()  # ends stalled answers when the hub stops
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: a drop is a clean cut

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_HEAD(self) -> None:
                hub._handle(self, head=True)

            def do_GET(self) -> None:
                hub._handle(self, head=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_repo(self, repo_id: str, files: dict[str, bytes], **kw) -> FakeRepo:
        repo = FakeRepo(repo_id, dict(files), **kw)
        self.repos[repo_id] = repo
        return repo

    def add_folder(self, repo_id: str, folder: Path, **kw) -> FakeRepo:
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        return self.add_repo(repo_id, files, **kw)

    def gets(self, path_suffix: str) -> list[dict]:
        """Logged GET requests whose path ends with ``path_suffix``."""
        return [
            r for r in self.requests if r["method"] == "GET" and r["path"].endswith(path_suffix)
        ]

    # ------------------------------------------------------------------ handling
    def _handle(self, req: BaseHTTPRequestHandler, head: bool) -> None:
        url = urlparse(req.path)
        path = unquote(url.path)
        entry = {
            "method": "HEAD" if head else "GET",
            "path": path,
            "range": req.headers.get("Range"),
            "auth": req.headers.get("Authorization"),
            "host": req.headers.get("Host", "").split(":")[0],
        }
        with self._lock:
            self.requests.append(entry)
        parts = path.strip("/").split("/")
        try:
            if parts[0] == "cdn" and len(parts) >= 4:  # /cdn/<owner>/<name>/<file...>
                repo = self.repos.get("/".join(parts[1:3]))
                if repo is None:
                    return self._error(req, 404, "RepoNotFound", "not found")
                return self._resolve(req, repo, "/".join(parts[3:]), head, cdn=True)
            if parts[:2] == ["api", "models"] and len(parts) >= 6:
                repo = self._repo(req, "/".join(parts[2:4]))
                if repo is None:
                    return
                if parts[4] == "revision":
                    if repo.stall_listing:
                        self.closing.wait(60)
                        return
                    return self._json(req, self._info(repo), head)
                if parts[4] == "tree":
                    prefix = "/".join(parts[6:])
                    items = [
                        {
                            "type": "file",
                            "path": p,
                            "oid": s["blobId"],
                            "size": s["size"],
                            **(
                                {
                                    "lfs": {
                                        "oid": s["lfs"]["sha256"],
                                        "size": s["size"],
                                        "pointerSize": 134,
                                    }
                                }
                                if "lfs" in s
                                else {}
                            ),
                        }
                        for p in sorted(repo.files)
                        if p.startswith(prefix)
                        for s in [repo.sibling(p)]
                    ]
                    return self._json(req, items, head)
            if len(parts) >= 5 and parts[2] == "resolve":
                repo = self._repo(req, "/".join(parts[:2]))
                if repo is None:
                    return
                return self._resolve(req, repo, "/".join(parts[4:]), head)
            self._error(req, 404, "RepoNotFound", "not found")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _repo(self, req: BaseHTTPRequestHandler, repo_id: str) -> FakeRepo | None:
        repo = self.repos.get(repo_id)
        if repo is None or repo.missing:
            self._error(req, 404, "RepoNotFound", "Repository not found")
            return None
        if repo.gated_token is not None:
            if req.headers.get("Authorization") != f"Bearer {repo.gated_token}":
                self._error(
                    req,
                    401,
                    "GatedRepo",
                    "Access to model is restricted. You must be authenticated.",
                )
                return None
        return repo

    def _info(self, repo: FakeRepo) -> dict:
        return {
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "sha": repo.commit,
            "private": False,
            "gated": "manual" if repo.gated_token else False,
            "siblings": [repo.sibling(p) for p in sorted(repo.files)] + list(repo.extra_siblings),
        }

    def _json(self, req: BaseHTTPRequestHandler, data, head: bool) -> None:
        body = json.dumps(data).encode()
        req.send_response(200)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        if not head:
            req.wfile.write(body)

    def _error(self, req: BaseHTTPRequestHandler, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        req.send_response(status)
        req.send_header("X-Error-Code", code)
        req.send_header("X-Error-Message", message)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def _resolve(
        self, req: BaseHTTPRequestHandler, repo: FakeRepo, path: str, head: bool, cdn: bool = False
    ) -> None:
        faults = repo.faults.get(path, FileFaults())
        if path not in repo.files or faults.missing:
            self._error(req, 404, "EntryNotFound", f"{path} does not exist")
            return
        data = repo.files[path]
        sib = repo.sibling(path)
        etag = sib["lfs"]["sha256"] if "lfs" in sib else sib["blobId"]
        if repo.cdn_redirect and not cdn and "lfs" in sib:
            port = self._server.server_address[1]
            req.send_response(302)
            req.send_header("Location", f"http://localhost:{port}/cdn/{repo.repo_id}/{path}")
            req.send_header("X-Repo-Commit", repo.commit)
            req.send_header("ETag", f'"{etag}"')
            req.send_header("X-Linked-Etag", f'"{etag}"')
            req.send_header("X-Linked-Size", str(len(data)))
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        start = 0
        rng = req.headers.get("Range")
        if rng and rng.startswith("bytes=") and not head:
            start = int(rng[len("bytes=") :].split("-")[0])
        if not head and faults.corrupt_times != 0:
            with self._lock:
                if faults.corrupt_times > 0:
                    faults.corrupt_times -= 1
            mid = len(data) // 2
            data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1 :]
        body = data[start:]
        if faults.extra_bytes:
            body += b"\xee" * faults.extra_bytes
        encoded = False
        if faults.gzip_bomb and not head:
            body = _gzip_with_zeros(body, faults.gzip_bomb)
            encoded = True
        req.send_response(206 if start else 200)
        req.send_header("X-Repo-Commit", repo.commit)
        req.send_header("ETag", f'"{etag}"')
        if "lfs" in sib:
            req.send_header("X-Linked-Etag", f'"{etag}"')
            req.send_header("X-Linked-Size", str(len(data)))
        req.send_header("Accept-Ranges", "bytes")
        if encoded:
            req.send_header("Content-Encoding", "gzip")
        req.send_header("Content-Length", str(len(body)))
        if start:
            req.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        req.end_headers()
        if head:
            return
        drop_at = None
        if faults.drop_after is not None and faults.drop_times > 0:
            with self._lock:
                faults.drop_times -= 1
            drop_at = max(0, faults.drop_after - start)
        sent = 0
        chunk = 4096
        began = time.monotonic()
        while sent < len(body):
            if faults.stall_after is not None and sent >= faults.stall_after - start:
                req.wfile.flush()
                self.closing.wait(60)  # a stalled server: the connection stays open, silent
                return
            if faults.rate_bps:
                ahead = sent / faults.rate_bps - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
            piece = body[sent : sent + chunk]
            if drop_at is not None and sent + len(piece) > drop_at:
                req.wfile.write(piece[: drop_at - sent])
                req.wfile.flush()
                req.close_connection = True
                req.connection.shutdown(2)  # cut the connection mid-body
                return
            req.wfile.write(piece)
            sent += len(piece)
            if faults.delay_per_chunk:
                time.sleep(faults.delay_per_chunk)
