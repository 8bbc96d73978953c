#!/usr/bin/env python3
"""Traffic generator for the benchmarks (runs in the client namespace).

Talks HTTP/1.0 to tests/e2e/httpd.py with plain sockets so that every
timestamp is our own. Prints one JSON object on stdout.

  load.py down  ADDR PATH                 one download: bytes, seconds
  load.py up    ADDR BYTES                one PUT /sha256 upload
  load.py flows ADDR PATH N SECONDS WARM  N parallel downloads; bytes per
                                          flow counted after WARM seconds
  load.py rr    ADDR PATH COUNT           connect time and small GET time
  load.py dns   SERVER NAME...            one A query per name (UDP), seconds each
"""
import json
import os
import select
import socket
import sys
import time

PORT = 80


def connect(addr):
    t0 = time.monotonic()
    s = socket.create_connection((addr, PORT), timeout=120)
    return s, time.monotonic() - t0


def get_req(path):
    return f"GET /{path} HTTP/1.0\r\nHost: bench\r\n\r\n".encode()


def read_all(s):
    """Reads to EOF; returns (body bytes, time of last byte)."""
    got = 0
    head = b""
    in_body = False
    t_last = time.monotonic()
    while True:
        d = s.recv(65536)
        if not d:
            break
        t_last = time.monotonic()
        if in_body:
            got += len(d)
        else:
            head += d
            i = head.find(b"\r\n\r\n")
            if i >= 0:
                in_body = True
                got += len(head) - i - 4
    return got, t_last


def down(addr, path):
    s, tc = connect(addr)
    t0 = time.monotonic()
    s.sendall(get_req(path))
    n, t_end = read_all(s)
    s.close()
    return {"bytes": n, "seconds": t_end - t0, "connect_s": tc}


def up(addr, nbytes):
    s, tc = connect(addr)
    block = os.urandom(65536)
    t0 = time.monotonic()
    s.sendall(f"PUT /sha256 HTTP/1.0\r\nHost: bench\r\nContent-Length: {nbytes}\r\n\r\n".encode())
    left = nbytes
    while left:
        k = min(left, len(block))
        s.sendall(block[:k])
        left -= k
    _, t_end = read_all(s)
    s.close()
    return {"bytes": nbytes, "seconds": t_end - t0, "connect_s": tc}


def flows(addr, path, n, seconds, warm):
    socks = []
    for _ in range(n):
        s, _ = connect(addr)
        s.sendall(get_req(path))
        s.setblocking(False)
        socks.append(s)
    t0 = time.monotonic()
    counted = [0] * n
    total = [0] * n
    open_ = set(range(n))
    t_w0 = t0 + warm
    t_end = t0 + seconds
    while open_:
        now = time.monotonic()
        if now >= t_end:
            break
        r, _, _ = select.select([socks[i] for i in open_], [], [], t_end - now)
        now = time.monotonic()
        for s in r:
            i = socks.index(s)
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            if not d:
                open_.discard(i)
                continue
            total[i] += len(d)
            if now >= t_w0:
                counted[i] += len(d)
    ended_early = len(open_) < n
    for s in socks:
        s.close()
    window = seconds - warm
    rates = [c / window for c in counted]
    jain = (sum(rates) ** 2) / (n * sum(r * r for r in rates)) if sum(rates) else 0.0
    return {"flows": n, "window_s": window, "per_flow_bytes": counted,
            "aggregate_Bps": sum(counted) / window, "jain": jain,
            "ended_early": ended_early}


def rr(addr, path, count):
    conn, get = [], []
    for _ in range(count):
        s, tc = connect(addr)
        t0 = time.monotonic()
        s.sendall(get_req(path))
        n, t_end = read_all(s)
        s.close()
        conn.append(tc)
        get.append(t_end - t0)
        time.sleep(0.2)
    return {"connect_s": conn, "get_s": get, "body_bytes": n}


def dns_query(server, name, qid):
    q = qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    for part in name.split("."):
        q += bytes([len(part)]) + part.encode()
    q += b"\x00\x00\x01\x00\x01"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(10)
    t0 = time.monotonic()
    s.sendto(q, (server, 53))
    try:
        while True:
            d, _ = s.recvfrom(2048)
            if d[:2] == q[:2]:
                break
    except socket.timeout:
        return None, "timeout"
    dt = time.monotonic() - t0
    s.close()
    rcode = d[3] & 15
    ancount = int.from_bytes(d[6:8], "big")
    return dt, "ok" if rcode == 0 and ancount > 0 else "rcode %d" % rcode


def dns(server, names):
    out = []
    for i, n in enumerate(names):
        dt, st = dns_query(server, n, 0x4000 + i)
        out.append({"name": n, "seconds": dt, "status": st})
    return {"queries": out}


def main():
    a = sys.argv[1:]
    if a[0] == "down":
        r = down(a[1], a[2])
    elif a[0] == "up":
        r = up(a[1], int(a[2]))
    elif a[0] == "flows":
        r = flows(a[1], a[2], int(a[3]), float(a[4]), float(a[5]))
    elif a[0] == "dns":
        r = dns(a[1], a[2:])
    elif a[0] == "rr":
        r = rr(a[1], a[2], int(a[3]))
    else:
        sys.exit("unknown mode")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
