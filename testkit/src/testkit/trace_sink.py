"""A sink for OTLP/HTTP traces that accepts and discards them: the bench's tracing
comparison points the services' exporter here, so it measures what tracing costs
the services and not a collector's work.

    uv run python -m testkit.trace_sink PORT
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Discard(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the exporter's session expects

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = 200 if self.path == "/v1/traces" else 404
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # a line per export would be the sink's main cost


def main() -> None:
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Discard).serve_forever()


if __name__ == "__main__":
    main()
