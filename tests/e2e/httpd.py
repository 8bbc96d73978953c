#!/usr/bin/env python3
"""Test HTTP server for the end-to-end tests.

GET  /<name>    serves files from --root (--keepalive: HTTP/1.1, connections
                stay open until the client closes them, like most servers)
PUT  /sha256    (or POST) answers the sha256 of the request body
Binds only to the address it is given (a documentation address inside the
test's own network namespace).
"""
import argparse
import hashlib
import http.server
import os
import socketserver


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def _body_sha(self):
        n = int(self.headers.get("Content-Length", "0"))
        h = hashlib.sha256()
        while n > 0:
            chunk = self.rfile.read(min(n, 65536))
            if not chunk:
                break
            h.update(chunk)
            n -= len(chunk)
        out = (h.hexdigest() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_PUT = _body_sha
    do_POST = _body_sha


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--root", required=True)
    ap.add_argument("--keepalive", action="store_true",
                    help="HTTP/1.1: keep each connection open until the client closes it")
    a = ap.parse_args()
    if a.keepalive:
        Handler.protocol_version = "HTTP/1.1"
    os.chdir(a.root)
    Server((a.addr, a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
