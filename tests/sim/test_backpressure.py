"""--rxbuf: a full link buffer stops reading the host socket, so the remote
sender blocks; reading frees space and the data flows again, intact."""
import socket
import time
from simharness import TcpServer, run, Fail


def buffered(s):
    s.send("AT+CIPRXGET=4,0\r")
    r = s.read_until("\r\nOK\r\n").decode()
    return int(r.split("+CIPRXGET: 4,0,")[1].split("\r")[0])


def test(make):
    srv = TcpServer()
    s = make("--rxbuf", "4096")
    s.bring_up()
    s.tr('AT+CIPSTART=0,"TCP","127.0.0.1",%d' % srv.port, "\r\nOK\r\n")
    s.expect("\r\n0, CONNECT OK\r\n")
    c = srv.conn()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    c.setblocking(False)
    pattern = bytes(i & 0xff for i in range(1 << 16))
    sent = 0
    idle_since = time.time()
    while time.time() - idle_since < 0.5:
        try:
            n = c.send(pattern[sent & 0xffff:])
            sent += n
            idle_since = time.time()
        except BlockingIOError:
            time.sleep(0.02)
        if sent > 64 << 20:
            raise Fail("sender never blocked (%d bytes)" % sent)
    s.expect("\r\n+CIPRXGET: 1,0\r\n")
    if buffered(s) != 4096:
        raise Fail("buffer should be exactly full")
    if sent > 512 << 10:
        raise Fail("sender wrote %d bytes before blocking" % sent)
    # drain everything, checking bytes; the buffer never exceeds 4096
    got = 0
    while got < sent:
        s.send("AT+CIPRXGET=2,0,1460\r")
        hdr = s.read_until("\r\n", timeout=5)
        if hdr == b"\r\n":
            hdr = s.read_until("\r\n", timeout=5)
        n, rest = (int(x) for x in hdr.decode().split("+CIPRXGET: 2,0,")[1].strip().split(","))
        if rest + n > 4096:
            raise Fail("buffer above rxbuf: %d" % (rest + n))
        data = s.read_exact(n)
        s.expect("\r\nOK\r\n")
        want = bytes((got + i) & 0xff for i in range(n))
        if data != want:
            raise Fail("data corrupted at %d" % got)
        got += n
        if n == 0:
            time.sleep(0.01)
        # the sender may continue now; keep feeding what it has not sent
    s.drain(0.2)
    srv.close()


run(test)
