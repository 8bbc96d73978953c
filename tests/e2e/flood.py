#!/usr/bin/env python3
"""Hostile load from the client namespace, bounded in count and time.

  flood.py syn N       N non-blocking connects to N distinct documentation
                       addresses/ports (the kernel sends the SYNs to tun0)
  flood.py udp N ADDR  N datagrams to N distinct ports of ADDR
  flood.py dns N ADDR  N queries for random names to ADDR:53 (answers ignored)
Every target is in 198.51.100.0/24 or 203.0.113.0/24 and routed into tun0.
"""
import os
import random
import socket
import struct
import sys
import time


def syn(n):
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        net = "198.51.100" if i % 2 else "203.0.113"
        try:
            s.connect((f"{net}.{1 + i % 250}", 1000 + i))
        except BlockingIOError:
            pass
        socks.append(s)
        if len(socks) >= 500:  # stay within the fd limit
            for t in socks:
                t.close()
            socks = []
    time.sleep(1)
    for t in socks:
        t.close()


def udp(n, addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(n):
        s.sendto(os.urandom(64), (addr, 2000 + i % 60000))


def dns(n, addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    rng = random.Random(5)
    for i in range(n):
        name = "".join(rng.choice("abcdefghij") for _ in range(12)) + ".flood.test"
        q = struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0)
        for label in name.split("."):
            q += bytes([len(label)]) + label.encode()
        q += b"\0" + struct.pack(">HH", 1, 1)
        try:
            s.sendto(q, (addr, 53))
        except BlockingIOError:
            time.sleep(0.001)


if __name__ == "__main__":
    kind, n = sys.argv[1], int(sys.argv[2])
    {"syn": lambda: syn(n), "udp": lambda: udp(n, sys.argv[3]),
     "dns": lambda: dns(n, sys.argv[3])}[kind]()
