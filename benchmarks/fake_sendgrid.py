"""A local stand-in for the SendGrid v3 mail/send API, run in its own process.

It reads each request, checks it is JSON, and answers 202 with an `X-Message-Id`, like
tests/fakes.py `FakeSendGrid` but lean and out of the benchmark's process, so the server
does not compete with the client for the interpreter lock (SendGrid is remote, after all).

`python -m benchmarks.fake_sendgrid` prints its URL, then serves until its standard input
closes; `FakeServer` starts and stops it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType


class _Handler(BaseHTTPRequestHandler):
    count = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        try:
            json.loads(body)
        except ValueError:
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        _Handler.count += 1
        self.send_response(202)
        self.send_header("X-Message-Id", f"bench-{_Handler.count}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    sys.stdout.write(f"http://127.0.0.1:{server.server_address[1]}\n")
    sys.stdout.flush()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sys.stdin.read()  # until the parent closes it
    server.shutdown()


class FakeServer:
    """`with FakeServer() as url:` a fake SendGrid in a child process."""

    def __enter__(self) -> str:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.fake_sendgrid"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        assert self._proc.stdout is not None
        return self._proc.stdout.readline().strip()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


if __name__ == "__main__":
    serve()
