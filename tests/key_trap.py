"""A server on 127.0.0.1 that records the credentials of every request it gets and refuses them.

It stands for a planted base URL (where a key must never go: the test asserts it heard nothing)
and for a server that repeats what it was sent (it puts the password it received in its error
text: what a user sees of that reply must not show the key)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class KeyTrap:
    """``with KeyTrap() as trap: …`` — ``trap.url`` is an API base URL; ``trap.passwords`` what it got."""

    def __init__(self, status: int = 401) -> None:
        self.status = status
        self.passwords: list[str] = []
        trap = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                _, _, token = (self.headers.get("Authorization") or "").partition(" ")
                password = base64.b64decode(token).decode("latin-1").partition(":")[2] if token else ""
                trap.passwords.append(password)
                body = json.dumps({"success": False, "error": f"the key {password} is not valid"}).encode()
                self.send_response(trap.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_DELETE = do_POST

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def __enter__(self) -> KeyTrap:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
