#!/usr/bin/env python3
"""Server for the integrity tests (tests/e2e/integrity.sh).

One TCP port, HTTP/1.0, one request per connection:

  GET /<name>      sends --root/<name> with no Content-Length, then closes:
                   the stream is close-delimited, so only the way it ends
                   (clean EOF or reset) tells the client whether it is whole.
  PUT /up/<tag>    reads the body (Content-Length bytes, or until the
                   connection ends) into --spool/<tag>.bin and writes how it
                   ended to --spool/<tag>.end: "complete N", "eof N" or
                   "reset N <error>". Only a complete body is answered (200
                   with the body's sha256); the test compares every .bin with
                   the same-length prefix of the file that was sent.

Binds only to the address it is given (a documentation address inside the
test's own network namespace).
"""
import argparse
import hashlib
import os
import re
import socket
import threading

HEAD_MAX = 16384


def read_head(c):
    """Returns (request line and headers, first body bytes) or None."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d or len(buf) > HEAD_MAX:
            return None
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def send_file(c, path):
    try:
        f = open(path, "rb")
    except OSError:
        c.sendall(b"HTTP/1.0 404 Not Found\r\n\r\n")
        return
    with f:
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
        while True:
            d = f.read(65536)
            if not d:
                break
            c.sendall(d)


def receive(c, spool, tag, head, first):
    m = re.search(r"(?im)^content-length:\s*(\d+)\s*$", head)
    want = int(m.group(1)) if m else None
    h = hashlib.sha256()
    n = 0
    end = None
    with open(os.path.join(spool, tag + ".bin"), "wb") as out:
        d = first
        while True:
            if want is not None and n + len(d) > want:
                d = d[: want - n]  # a client sends nothing after the body
            out.write(d)
            h.update(d)
            n += len(d)
            if want is not None and n >= want:
                end = "complete %d" % n
                break
            try:
                d = c.recv(65536)
            except OSError as e:
                end = "reset %d %s" % (n, e.__class__.__name__)
                break
            if not d:
                end = "eof %d" % n
                break
    with open(os.path.join(spool, tag + ".end"), "w") as f:
        f.write(end + "\n")
    if end.startswith("complete"):
        body = (h.hexdigest() + "\n").encode()
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def serve(c, root, spool):
    try:
        r = read_head(c)
        if r is None:
            return
        head, first = r
        words = head.split("\r\n", 1)[0].split()
        m = re.fullmatch(r"/(up/)?(\w[\w.-]*)", words[1]) if len(words) >= 2 else None
        if not m:
            c.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        elif words[0] == "GET" and not m.group(1):
            send_file(c, os.path.join(root, m.group(2)))
        elif words[0] == "PUT" and m.group(1):
            receive(c, spool, m.group(2), head, first)
        else:
            c.sendall(b"HTTP/1.0 405 Method Not Allowed\r\n\r\n")
    except OSError:
        pass  # the client went away: its side of the test reports it
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--spool", required=True)
    a = ap.parse_args()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.addr, a.port))
    s.listen(16)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, a.root, a.spool), daemon=True).start()


if __name__ == "__main__":
    main()
