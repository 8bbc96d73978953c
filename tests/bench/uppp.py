#!/usr/bin/env python3
"""uppp: a small user-space PPP peer on a tun device, the benchmarks'
stand-in for pppd where the kernel has no PPP (no /dev/ppp).

Written for tests/bench from RFC 1661 (LCP), RFC 1662 (HDLC-like framing,
FCS-16) and RFC 1332 (IPCP). It frames exactly as pppd with ppp_async does
once negotiated: flag-delimited frames, ACCM 0 (only 0x7d and 0x7e are
escaped), protocol-field and address/control-field compression, FCS-16.
No VJ header compression (Linux does not VJ-compress segments that carry
TCP timestamps anyway), no CCP, no authentication.

  uppp.py [--device TTY] [--dial] --ifname NAME [--local A --remote B]
          [--default-route]

Without --device it uses stdin/stdout (as spawned by atbridge-sim
--ppp-cmd). --dial first sends AT and ATD*99# and waits for CONNECT.
The side given --local/--remote assigns the addresses (the module side);
the other side asks for them with IPCP (0.0.0.0, then the Nak's value).
"""
import argparse
import fcntl
import os
import random
import select
import struct
import subprocess
import sys
import termios
import time
import tty

FLAG, ESC = 0x7E, 0x7D
LCP, IPCP, IP = 0xC021, 0x8021, 0x0021
CONF_REQ, CONF_ACK, CONF_NAK, CONF_REJ, TERM_REQ, TERM_ACK, CODE_REJ, PROTO_REJ, \
    ECHO_REQ, ECHO_REP, DISC_REQ = range(1, 12)


def _fcs_table():
    t = []
    for b in range(256):
        v = b
        for _ in range(8):
            v = (v >> 1) ^ 0x8408 if v & 1 else v >> 1
        t.append(v)
    return t


FCSTAB = _fcs_table()


def fcs16(data):
    f = 0xFFFF
    tab = FCSTAB
    for b in data:
        f = (f >> 8) ^ tab[(f ^ b) & 0xFF]
    return f


ESC_ALL = {i: bytes([ESC, i ^ 0x20]) for i in range(0x20)}
ESC_ALL[FLAG] = bytes([ESC, FLAG ^ 0x20])
ESC_ALL[ESC] = bytes([ESC, ESC ^ 0x20])
ESC_ALL_TABLE = [ESC_ALL.get(i, bytes([i])) for i in range(256)]


def log(*a):
    print("uppp:", *a, file=sys.stderr, flush=True)


class Peer:
    def __init__(self, a):
        self.a = a
        if a.device:
            self.fd = os.open(a.device, os.O_RDWR | os.O_NOCTTY)
        else:
            self.fd = 0
        tty.setraw(self.fd)
        self.rx = bytearray()
        self.magic = random.getrandbits(32) or 1
        self.lcp_open_local = self.lcp_open_peer = False
        self.ipcp_local = self.ipcp_peer = False
        self.accm0 = False        # after LCP: only flag and escape are escaped
        self.pfc = self.acfc = False
        self.my_ip = a.local or "0.0.0.0"
        self.peer_ip = a.remote
        self.ident = 1
        self.tun = None
        self.last_req = 0.0

    # ---- line ----
    def write_line(self, b):
        mv = memoryview(b)
        while mv:
            try:
                n = os.write(self.fd, mv)
            except BlockingIOError:
                select.select([], [self.fd], [])
                continue
            mv = mv[n:]

    def dial(self):
        buf = b""
        for cmd, want in ((b"AT\r", b"OK"), (b"ATD*99#\r", b"CONNECT\r\n")):
            self.write_line(cmd)
            t0 = time.monotonic()
            while want not in buf:
                if time.monotonic() - t0 > 10:
                    sys.exit("uppp: no %r from the module" % want)
                r, _, _ = select.select([self.fd], [], [], 1)
                if r:
                    buf += os.read(self.fd, 4096)
            buf = buf[buf.index(want) + len(want):]
        self.rx += buf

    def send_frame(self, proto, payload):
        control_proto = proto in (LCP,)
        if self.pfc and proto < 0x100 and not control_proto:
            hdr = bytes([proto])
        else:
            hdr = struct.pack(">H", proto)
        if not (self.acfc and not control_proto):
            hdr = b"\xff\x03" + hdr
        body = hdr + payload
        body += struct.pack("<H", fcs16(body) ^ 0xFFFF)
        if self.accm0 and not control_proto:
            esc = body.replace(b"\x7d", b"\x7d\x5d").replace(b"\x7e", b"\x7d\x5e")
        else:
            esc = b"".join(ESC_ALL_TABLE[x] for x in body)
        self.write_line(b"\x7e" + esc + b"\x7e")

    def frames(self):
        while True:
            i = self.rx.find(b"\x7e")
            if i < 0:
                if len(self.rx) > 65536:
                    del self.rx[:]
                return
            raw = bytes(self.rx[:i])
            del self.rx[:i + 1]
            if not raw:
                continue
            if b"\x7d" in raw:
                out = bytearray()
                parts = raw.split(b"\x7d")
                out += parts[0]
                for p in parts[1:]:
                    if p:
                        out.append(p[0] ^ 0x20)
                        out += p[1:]
                raw = bytes(out)
            if len(raw) < 4 or fcs16(raw) != 0xF0B8:
                continue  # bad FCS or runt: dropped, as RFC 1662 says
            raw = raw[:-2]
            if raw[:2] == b"\xff\x03":
                raw = raw[2:]
            if raw[0] & 1:
                proto, payload = raw[0], raw[1:]
            else:
                proto, payload = struct.unpack(">H", raw[:2])[0], raw[2:]
            yield proto, payload

    # ---- control protocols ----
    def my_lcp_opts(self):
        return (bytes([2, 6]) + b"\0\0\0\0" + bytes([5, 6]) + struct.pack(">I", self.magic)
                + bytes([7, 2, 8, 2]))

    def my_ipcp_opts(self):
        return bytes([3, 6]) + bytes(int(x) for x in self.my_ip.split("."))

    def send_cp(self, proto, code, ident, data):
        self.send_frame(proto, struct.pack(">BBH", code, ident, 4 + len(data)) + data)

    def request(self):
        self.last_req = time.monotonic()
        if not self.lcp_open_local:
            self.send_cp(LCP, CONF_REQ, self.ident, self.my_lcp_opts())
        elif not self.ipcp_local and self.lcp_open_peer:
            self.send_cp(IPCP, CONF_REQ, self.ident, self.my_ipcp_opts())

    @staticmethod
    def options(data):
        i = 0
        while i + 2 <= len(data):
            t, ln = data[i], data[i + 1]
            if ln < 2:
                return
            yield t, data[i + 2:i + ln], data[i:i + ln]
            i += ln

    def on_lcp(self, code, ident, data):
        if code == CONF_REQ:
            rej = b"".join(raw for t, v, raw in self.options(data) if t not in (1, 2, 5, 7, 8))
            if rej:
                self.send_cp(LCP, CONF_REJ, ident, rej)
                return
            opts = {t for t, _, _ in self.options(data)}
            self.send_cp(LCP, CONF_ACK, ident, data)
            self.lcp_open_peer = True
            self.peer_pfc, self.peer_acfc = 7 in opts, 8 in opts
            self.maybe_lcp_up()
        elif code == CONF_ACK and ident == self.ident:
            self.lcp_open_local = True
            self.ident += 1
            self.maybe_lcp_up()
        elif code in (CONF_NAK, CONF_REJ):
            self.ident += 1
            self.request()
        elif code == ECHO_REQ:
            self.send_cp(LCP, ECHO_REP, ident, struct.pack(">I", self.magic) + data[4:])
        elif code == TERM_REQ:
            self.send_cp(LCP, TERM_ACK, ident, b"")
            log("peer terminated the link")
            sys.exit(0)

    def maybe_lcp_up(self):
        if self.lcp_open_local and self.lcp_open_peer and not self.accm0:
            self.accm0 = True
            self.pfc = self.peer_pfc
            self.acfc = self.peer_acfc
            log("LCP open")
            self.request()

    def on_ipcp(self, code, ident, data):
        if code == CONF_REQ:
            addr = None
            for t, v, raw in self.options(data):
                if t == 3 and len(v) == 4:
                    addr = ".".join(str(x) for x in v)
            if addr == "0.0.0.0" or addr is None:
                if not self.peer_ip:
                    self.send_cp(IPCP, CONF_REJ, ident, data)
                    return
                self.send_cp(IPCP, CONF_NAK, ident, self.ipcp_addr_opt(self.peer_ip))
                return
            unknown = b"".join(raw for t, v, raw in self.options(data) if t != 3)
            if unknown:
                self.send_cp(IPCP, CONF_REJ, ident, unknown)
                return
            self.peer_ip = addr
            self.send_cp(IPCP, CONF_ACK, ident, data)
            self.ipcp_peer = True
            self.maybe_ip_up()
        elif code == CONF_ACK and ident == self.ident:
            self.ipcp_local = True
            self.ident += 1
            self.maybe_ip_up()
        elif code == CONF_NAK:
            for t, v, raw in self.options(data):
                if t == 3 and len(v) == 4:
                    self.my_ip = ".".join(str(x) for x in v)
            self.ident += 1
            self.request()
        elif code == TERM_REQ:
            self.send_cp(IPCP, TERM_ACK, ident, b"")

    @staticmethod
    def ipcp_addr_opt(ip):
        return bytes([3, 6]) + bytes(int(x) for x in ip.split("."))

    def maybe_ip_up(self):
        if not (self.ipcp_local and self.ipcp_peer) or self.tun is not None:
            return
        TUNSETIFF = 0x400454CA
        self.tun = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(self.tun, TUNSETIFF, struct.pack("16sH", self.a.ifname.encode(), 0x0001 | 0x1000))
        ip = ["ip"]
        subprocess.run(ip + ["addr", "add", self.my_ip, "peer", self.peer_ip + "/32", "dev",
                             self.a.ifname], check=True)
        # a deep queue: the line is the bottleneck and, like pppd's flow
        # controlled ppp0, the tun should not drop what the line cannot take yet
        subprocess.run(ip + ["link", "set", self.a.ifname, "mtu", "1500", "txqueuelen", "10000",
                             "up"], check=True)
        if self.a.default_route:
            subprocess.run(ip + ["route", "replace", "default", "dev", self.a.ifname], check=True)
        log("IPCP open: %s -> %s on %s" % (self.my_ip, self.peer_ip, self.a.ifname))

    # ---- main loop ----
    def run(self):
        if self.a.dial:
            self.dial()
        self.request()
        while True:
            fds = [self.fd] + ([self.tun] if self.tun is not None else [])
            r, _, _ = select.select(fds, [], [], 0.5)
            if self.fd in r:
                try:
                    d = os.read(self.fd, 65536)
                except OSError:
                    d = b""
                if not d:
                    log("line closed")
                    return
                self.rx += d
                for proto, payload in self.frames():
                    self.dispatch(proto, payload)
            if self.tun is not None and self.tun in r:
                pkt = os.read(self.tun, 65536)
                self.send_frame(IP, pkt)
            if not (self.lcp_open_local and self.ipcp_local) and \
                    time.monotonic() - self.last_req > 1.0:
                self.request()

    def dispatch(self, proto, payload):
        if proto == IP:
            if self.tun is not None:
                os.write(self.tun, payload)
            return
        if len(payload) < 4:
            return
        code, ident, ln = struct.unpack(">BBH", payload[:4])
        data = payload[4:ln]
        if proto == LCP:
            self.on_lcp(code, ident, data)
        elif proto == IPCP and self.accm0:
            self.on_ipcp(code, ident, data)
        elif self.accm0:
            self.send_cp(LCP, PROTO_REJ, self.ident, struct.pack(">H", proto) + payload[:64])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device")
    ap.add_argument("--dial", action="store_true")
    ap.add_argument("--ifname", required=True)
    ap.add_argument("--local")
    ap.add_argument("--remote")
    ap.add_argument("--default-route", action="store_true")
    Peer(ap.parse_args()).run()


if __name__ == "__main__":
    main()
