"""Control socket fault injection: pdp-deact, close, reboot, garbage,
stall, drop-urc, stats, and error replies for bad control commands."""
import json
import time
from simharness import TcpServer, recv_exact, run, Fail


def test(make):
    srv = TcpServer()
    s = make()
    s.bring_up()

    def connect(n):
        s.tr('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (n, srv.port), "\r\nOK\r\n")
        s.expect("\r\n%d, CONNECT OK\r\n" % n)

    # close <n>: remote close, reported when the buffer is empty
    connect(0)
    if s.ctl("close 0") != "OK close 0":
        raise Fail("close reply")
    s.expect("\r\n0, CLOSED\r\n")
    if not s.ctl("close 0").startswith("ERR "):
        raise Fail("close of a closed link must fail")
    if not s.ctl("close 9").startswith("ERR "):
        raise Fail("close 9 must fail")

    # drop-urc: the next notification is lost, the data is not
    connect(1)
    c = srv.conn(1)
    if s.ctl("drop-urc 1") != "OK drop-urc 1":
        raise Fail("drop-urc reply")
    c.sendall(b"abc")
    s.quiet(0.3)
    s.tr("AT+CIPRXGET=2,1,10", "\r\n+CIPRXGET: 2,1,3,0\r\nabc\r\nOK\r\n")
    c.sendall(b"def")
    s.expect("\r\n+CIPRXGET: 1,1\r\n")
    s.tr("AT+CIPRXGET=2,1,10", "\r\n+CIPRXGET: 2,1,3,0\r\ndef\r\nOK\r\n")

    # garbage: bytes appear on the line as given
    if s.ctl("garbage 00ff0d0a41") != "OK garbage 5":
        raise Fail("garbage reply")
    s.expect(b"\x00\xff\r\nA")
    if not s.ctl("garbage 0").startswith("ERR "):
        raise Fail("odd hex must fail")
    if not s.ctl("garbage zz").startswith("ERR "):
        raise Fail("bad hex must fail")

    # stall: nothing for that long, then the answer
    if s.ctl("stall 500") != "OK stall 500":
        raise Fail("stall reply")
    t0 = time.time()
    s.send("AT\r")
    s.expect("\r\nOK\r\n", timeout=3)
    dt = time.time() - t0
    if dt < 0.4:
        raise Fail("stall too short: %.3f" % dt)

    # pdp-deact: links drop, +PDP: DEACT, network commands fail until CIPSHUT
    if s.ctl("pdp-deact") != "OK pdp-deact":
        raise Fail("pdp-deact reply")
    s.expect("\r\n+PDP: DEACT\r\n")
    s.tr("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: PDP DEACT\r\n")
    s.tr('AT+CIPSTART=2,"TCP","127.0.0.1",%d' % srv.port, "\r\nERROR\r\n")
    s.tr("AT+CIPSEND=1,3", "\r\nERROR\r\n")
    s.tr("AT+CIPSHUT", "\r\nSHUT OK\r\n")
    s.tr("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n")
    s.tr('AT+CSTT="CMNET"', "\r\nOK\r\n")
    s.tr("AT+CIICR", "\r\nOK\r\n")
    s.tr("AT+CIFSR", "\r\n10.78.245.128\r\n")
    connect(2)

    # reboot: silence for 1 s (input ignored), boot URCs, echo back on
    if s.ctl("reboot") != "OK reboot":
        raise Fail("reboot reply")
    t0 = time.time()
    s.send("AT\r")
    s.expect("\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n", timeout=3)
    dt = time.time() - t0
    if dt < 0.9:
        raise Fail("reboot too fast: %.3f" % dt)
    s.quiet(0.1)
    s.send("AT\r")
    s.expect("AT\r\r\nOK\r\n")
    s.send("AT+CIPSTATUS\r")
    s.expect("AT+CIPSTATUS\r\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n")
    s.send("AT+FOO\r")
    s.expect("AT+FOO\r\r\nERROR\r\n")

    # stats: one JSON line
    st = json.loads(s.ctl("stats"))
    for k in ("bytes_from_client", "bytes_to_client", "errors", "commands", "log"):
        if k not in st:
            raise Fail("stats lacks %s: %r" % (k, st))
    if st["commands"].get("AT+CIPSTART") != 4 or st["log"][-1] != "AT+FOO":
        raise Fail("stats content %r" % st)
    if st["errors"] < 3:
        raise Fail("errors %r" % st["errors"])
    if not s.ctl("frobnicate").startswith("ERR "):
        raise Fail("unknown control command must fail")
    with open(s.log_path) as f:
        lines = f.read().splitlines()
    if lines != st["log"]:
        raise Fail("--log differs from stats log")
    srv.close()


run(test)
