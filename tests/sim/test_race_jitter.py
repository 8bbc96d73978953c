"""--urc-race, --chunk-jitter, --latency-ms and --seed: a line parser that
treats notifications as notifications still gets every reply and every
byte; with the race on, a notification does land between an echo and its
final result; latency delays connect results and data."""
import time
from simharness import TcpServer, recv_exact, run, Fail


class Lines:
    """Minimal client-side parser: splits notifications from replies."""

    def __init__(self, s):
        self.s = s
        self.urcs = []

    def line(self, timeout=5):
        while True:
            ln = self.s.read_until("\r\n", timeout)[:-2]
            if ln:
                return ln

    def reply(self, cmd, final=(b"OK", b"ERROR", b"SHUT OK")):
        """Send cmd (echo on); return the info lines; collect URCs seen
        between the echo and the final result."""
        self.s.send(cmd + "\r")
        echo = (cmd + "\r").encode()
        self.s.read_until(echo)
        info, between = [], []
        while True:
            ln = self.line()
            if ln in final or ln.startswith(b"DATA ACCEPT") or ln.endswith(b"CLOSE OK"):
                return info + [ln], between
            if ln.startswith(b"+CIPRXGET: 1,") or ln.endswith(b"CONNECT OK") or ln.endswith(b"CLOSED"):
                self.urcs.append(ln)
                between.append(ln)
                continue
            info.append(ln)


def scenario(make, args, want_race):
    srv = TcpServer(echo=True)
    s = make(*args)
    p = Lines(s)
    for cmd in ("AT+CIPMUX=1", "AT+CIPRXGET=1", "AT+CIPQSEND=1", 'AT+CSTT="CMNET"', "AT+CIICR"):
        if p.reply(cmd)[0][-1] != b"OK":
            raise Fail(cmd)
    s.send("AT+CIFSR\r")
    s.read_until("10.78.245.128\r\n")
    raced = 0
    for n in range(4):
        t0 = time.time()
        p.reply('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (n, srv.port))
        while ("%d, CONNECT OK" % n).encode() not in p.urcs:
            p.urcs.append(p.line())
        if "--latency-ms" in args and time.time() - t0 < 0.2:
            raise Fail("connect result not delayed")
    payload = bytes(range(256))
    for rnd in range(12):
        n = rnd % 4
        s.send("AT+CIPSEND=%d,%d\r" % (n, len(payload)))
        s.read_until("> ")
        s.send(payload)
        s.read_until("DATA ACCEPT:%d,%d\r\n" % (n, len(payload)))
        got = b""
        while len(got) < len(payload):
            s.send("AT+CIPRXGET=2,%d,1460\r" % n)
            s.read_until("AT+CIPRXGET=2,%d,1460\r" % n)
            while True:
                ln = p.line()
                if ln.startswith(b"+CIPRXGET: 2,"):
                    break
                raced += 1          # a notification between echo and reply
            k = int(ln.split(b",")[2])
            got += s.read_exact(k)
            s.expect("\r\nOK\r\n")
            if k == 0:
                time.sleep(0.01)
        if got != payload:
            raise Fail("echoed payload differs on link %d" % n)
    if want_race and raced == 0:
        raise Fail("--urc-race never put a notification inside a reply")
    if not want_race and raced:
        raise Fail("notification inside a reply without --urc-race")
    s.drain(0.1)
    srv.close()


def test(make):
    scenario(make, [], False)
    scenario(make, ["--urc-race", "--chunk-jitter", "--seed", "7"], True)
    scenario(make, ["--latency-ms", "250", "--chunk-jitter", "--seed", "3"], False)


run(test)
