#!/usr/bin/env python3
"""UDP client for the end-to-end tests: sends datagrams through tun0 to an
echo server and checks that every reply comes back whole, as one datagram.

  udpecho.py ADDR PORT COUNT MAXSIZE [SEED] [--clients N]

Each of N clients (own source port) sends COUNT/N datagrams of random sizes
1..MAXSIZE, one at a time, retrying a lost one up to 5 times. Exits 1 with a
message on the first mismatch.
"""
import os
import random
import socket
import sys


def run_client(addr, port, count, maxsize, rng):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    for i in range(count):
        size = 1 + (i * 7919 + rng.randrange(maxsize)) % maxsize
        if i == 0:
            size = maxsize
        elif i == 1:
            size = 1
        payload = bytes(rng.getrandbits(8) for _ in range(size))
        for attempt in range(6):
            s.sendto(payload, (addr, port))
            try:
                data, src = s.recvfrom(65535)
            except socket.timeout:
                continue
            if data != payload:
                sys.exit(f"datagram {i}: sent {size} bytes, got {len(data)} different bytes")
            if src != (addr, port):
                sys.exit(f"datagram {i}: reply from {src}, want {(addr, port)}")
            break
        else:
            sys.exit(f"datagram {i} of {size} bytes: no reply after 6 tries")
    s.close()


def run_burst(addr, port, rounds, burst, maxsize, rng):
    """Sends `burst` datagrams without waiting, then expects each back whole
    and separate (as a multiset: the module may reorder nothing, but UDP may)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3.0)
    for r in range(rounds):
        sent = [bytes(rng.getrandbits(8) for _ in range(1 + rng.randrange(maxsize)))
                for _ in range(burst)]
        for p in sent:
            s.sendto(p, (addr, port))
        got = []
        try:
            while len(got) < burst:
                got.append(s.recvfrom(65535)[0])
        except socket.timeout:
            pass
        if sorted(got) != sorted(sent):
            sys.exit(f"burst {r}: sent sizes {[len(p) for p in sent]}, "
                     f"got sizes {[len(p) for p in got]}")
    s.close()
    print(f"{rounds} bursts of {burst} datagrams came back whole and separate")


def main():
    if "--burst" in sys.argv:
        a = sys.argv[1:]
        i = a.index("--burst")
        burst = int(a[i + 1])
        del a[i:i + 2]
        run_burst(a[0], int(a[1]), int(a[2]), burst, int(a[3]), random.Random(11))
        return
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    clients = 1
    if "--clients" in sys.argv:
        clients = int(sys.argv[sys.argv.index("--clients") + 1])
        args.remove(str(clients))
    addr, port, count, maxsize = args[0], int(args[1]), int(args[2]), int(args[3])
    seed = int(args[4]) if len(args) > 4 else 1
    rng = random.Random(seed)
    per = max(1, count // clients)
    for c in range(clients):
        run_client(addr, port, per, maxsize, rng)
    print(f"{per * clients} datagrams echoed intact by {clients} client(s)")


if __name__ == "__main__":
    main()
