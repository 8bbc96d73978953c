"""Reply faults on the control socket, both models: stall (every held
answer released at once), dup, stray, late, wrong-link; the command log
holds every executed line (also bytes run as commands after a send's data
phase ended early) and stats counts payload bytes."""
import json
import time
from simharness import TcpServer, recv_exact, run, Fail


class Sim7000:
    name = "sim7000"
    args = ()
    prompt = "\r\n> "
    query = ("AT+CIPRXGET?", "\r\n+CIPRXGET: 1\r\n\r\nOK\r\n")
    query2 = ("AT+CIPQSEND?", "\r\n+CIPQSEND: 1\r\n\r\nOK\r\n")

    def __init__(self, s, srv):
        self.s, self.srv, self.nconn = s, srv, 0

    def up(self):
        self.s.bring_up()

    def connect(self, n):
        self.s.tr('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (n, self.srv.port), "\r\nOK\r\n")
        self.s.expect("\r\n%d, CONNECT OK\r\n" % n)
        self.nconn += 1
        return self.srv.conn(self.nconn - 1)

    def notif(self, n):
        return "\r\n+CIPRXGET: 1,%d\r\n" % n

    def read_cmd(self, n, ln):
        return "AT+CIPRXGET=2,%d,%d" % (n, ln)

    def read_answer(self, n, data, rest):
        return "\r\n+CIPRXGET: 2,%d,%d,%d\r\n%s\r\nOK\r\n" % (n, len(data), rest, data)

    def send_cmd(self, n, ln):
        return "AT+CIPSEND=%d,%d" % (n, ln)

    def send_result(self, n, ln):
        return "\r\nDATA ACCEPT:%d,%d\r\n" % (n, ln)

    def close_cmd(self, n):
        return ("AT+CIPCLOSE=%d" % n, "\r\n%d, CLOSE OK\r\n" % n)


class N11v2(Sim7000):
    name = "n11v2"
    args = ("--model", "n11v2")
    prompt = "\r\n>"
    query = ("AT+RECVMODE?", "\r\n+RECVMODE: 0,0\r\n\r\nOK\r\n")
    query2 = ("AT+IPSTATUS=4", "\r\n+IPSTATUS: 4,DISCONNECT\r\n\r\nOK\r\n")

    def up(self):
        self.s.send("ATE0\r")
        self.s.expect("ATE0\r\r\nOK\r\n")
        self.s.tr("AT+XIIC=1", "\r\nOK\r\n")
        self.s.tr("AT+RECVMODE=0,0", "\r\nOK\r\n")

    def connect(self, n):
        self.s.tr("AT+TCPSETUP=%d,127.0.0.1,%d" % (n, self.srv.port), "\r\nOK\r\n")
        self.s.expect("\r\n+TCPSETUP: %d,OK\r\n" % n)
        self.nconn += 1
        return self.srv.conn(self.nconn - 1)

    def notif(self, n):
        return "\r\n+TCPRECV: %d\r\n" % n

    def read_cmd(self, n, ln):
        return "AT+TCPREAD=%d,%d" % (n, ln)

    def read_answer(self, n, data, rest):
        return "\r\n+TCPREAD: %d,%d,%s\r\n\r\nOK\r\n" % (n, len(data), data)

    def send_cmd(self, n, ln):
        return "AT+TCPSEND=%d,%d" % (n, ln)

    def send_result(self, n, ln):
        return "\r\nOK\r\n\r\n+TCPSEND: %d,%d\r\n" % (n, ln)

    def close_cmd(self, n):
        return ("AT+TCPCLOSE=%d" % n, "\r\n+TCPCLOSE: %d,OK\r\n\r\nOK\r\n" % n)


def ok(s, line, want):
    r = s.ctl(line)
    if r != want:
        raise Fail("control %r: %r, wanted %r" % (line, r, want))


def first_byte(s, timeout=3.0):
    """Waits for output; returns the time it began to arrive."""
    deadline = time.time() + timeout
    while not s.rx:
        if time.time() > deadline:
            raise Fail("no output")
        s._fill(deadline - time.time())
    return time.time()


def faults(make, M):
    srv = TcpServer()
    s = make(*M.args)
    m = M(s, srv)
    m.up()
    c0 = m.connect(0)
    c1 = m.connect(1)

    # stall: nothing while it lasts, then every held answer at once: the
    # notification that arose meanwhile and the answers of three commands
    # that were typed during the stall
    ok(s, "stall 400", "OK stall 400")
    t0 = time.time()
    c0.sendall(b"xy")
    s.send("AT\r" + m.read_cmd(0, 10) + "\rAT\r")
    s.quiet(0.3)
    t1 = first_byte(s)
    s.expect(m.notif(0) + "\r\nOK\r\n" + m.read_answer(0, "xy", 0) + "\r\nOK\r\n")
    t2 = time.time()
    if t1 - t0 < 0.38 or t2 - t1 > 0.2:
        raise Fail("%s stall: first byte after %.3f s, all within %.3f s" % (M.name, t1 - t0, t2 - t1))
    # a stall during a send's data phase: the result comes after it
    s.tr(m.send_cmd(0, 3), m.prompt)
    ok(s, "stall 200", "OK stall 200")
    s.send("abc")
    s.quiet(0.15)
    s.expect(m.send_result(0, 3))
    if recv_exact(c0, 3) != b"abc":
        raise Fail("stalled send payload")

    # dup: whole answers twice (payload included), then single again
    c0.sendall(b"hello")
    s.expect(m.notif(0))
    ok(s, "dup 2", "OK dup 2")
    s.tr(m.read_cmd(0, 10), m.read_answer(0, "hello", 0) * 2)
    s.tr(m.query[0], m.query[1] * 2)
    s.tr(m.query[0], m.query[1])
    ok(s, "dup 1", "OK dup 1")
    s.tr(m.send_cmd(0, 2), m.prompt)          # the prompt is not an answer
    s.send("de")
    want = m.send_result(0, 2)
    if M is N11v2:
        want = "\r\nOK\r\n" + want            # OK twice, then +TCPSEND once
    else:
        want = want * 2
    s.expect(want)
    s.quiet(0.1)
    if recv_exact(c0, 2) != b"de":
        raise Fail("dup send payload")
    if not s.ctl("dup 0").startswith("ERR ") or not s.ctl("dup x").startswith("ERR "):
        raise Fail("dup needs a count from 1")

    # stray: between commands only
    ok(s, "stray OK", "OK stray 2")
    s.expect("\r\nOK\r\n", timeout=1)
    ok(s, "stray 0, CLOSED", "OK stray 9")
    s.expect("\r\n0, CLOSED\r\n", timeout=1)
    s.tr(m.send_cmd(0, 3), m.prompt)
    ok(s, "stray ERROR", "OK stray 5")
    s.quiet(0.15)                               # not inside the data phase
    s.send("fgh")
    s.expect(m.send_result(0, 3) + "\r\nERROR\r\n")
    recv_exact(c0, 3)
    ok(s, "late 400", "OK late 400")
    s.send("AT\r")
    time.sleep(0.05)                            # the AT is running first
    ok(s, "stray OK", "OK stray 2")
    s.quiet(0.15)                               # not before a held answer
    s.expect("\r\nOK\r\n\r\nOK\r\n")
    for bad in ("stray", "stray " + "x" * 1025):
        if not s.ctl(bad).startswith("ERR "):
            raise Fail("%r must fail" % bad)

    # late: the next answer is held, later commands wait behind it, and a
    # notification that arises meanwhile comes after it
    ok(s, "late 300", "OK late 300")
    t0 = time.time()
    s.send(m.query[0] + "\r" + m.query2[0] + "\r")
    s.quiet(0.1)
    c1.sendall(b"Z")
    s.quiet(0.15)
    s.expect(m.query[1] + m.notif(1) + m.query2[1])
    if time.time() - t0 < 0.3:
        raise Fail("late answer too early")
    # a late prompt: the data phase begins with it
    ok(s, "late 250", "OK late 250")
    s.send(m.send_cmd(1, 3) + "\r")
    s.quiet(0.2)
    s.expect(m.prompt)
    s.send("ijk")
    s.expect(m.send_result(1, 3))
    if recv_exact(c1, 3) != b"ijk":
        raise Fail("late prompt payload")
    if not s.ctl("late").startswith("ERR ") or not s.ctl("late -1").startswith("ERR "):
        raise Fail("late needs milliseconds")

    # wrong-link: the read of link 0 is answered for link 1 (its data)
    s.tr(m.read_cmd(1, 10), m.read_answer(1, "Z", 0))
    c1.sendall(b"BBB")
    s.expect(m.notif(1))
    c0.sendall(b"AAAA")
    s.expect(m.notif(0))
    ok(s, "wrong-link", "OK wrong-link")
    s.tr(m.read_cmd(0, 10), m.read_answer(1, "BBB", 0))
    s.tr(m.read_cmd(0, 10), m.read_answer(0, "AAAA", 0))
    # no other link connected: another id, the asked link's own data
    s.tr(*m.close_cmd(1))
    c0.sendall(b"CC")
    s.expect(m.notif(0))
    ok(s, "wrong-link", "OK wrong-link")
    s.tr(m.read_cmd(0, 10), m.read_answer(1, "CC", 0))
    s.quiet(0.1)
    if M is N11v2:
        # what a held command causes (the switch to data mode) waits for it
        ok(s, "late 200", "OK late 200")
        s.send("AT+TCPTRANS=127.0.0.1,%d\r" % srv.port)
        s.quiet(0.15)
        s.expect("\r\nOK\r\n\r\n+TCPTRANS: OK\r\n")
        ct = srv.conn(m.nconn)
        ct.sendall(b"data mode")
        s.expect("data mode")
        ct.close()
        s.expect("\r\n+TCPTRANS: Link Closed\r\n")
    srv.close()


def cmdlog(make, M):
    """Bytes that reach the command interpreter after a send's data phase
    ended early (or never began) are executed and logged; payload is not."""
    srv = TcpServer()
    s = make(*M.args)
    m = M(s, srv)
    m.up()
    c0 = m.connect(0)
    st0 = json.loads(s.ctl("stats"))
    if M is Sim7000:
        s.tr("AT+CIPSEND=0", m.prompt)                # unsized, ESC cancels
        s.send(b"ab\x1b" + m.query[0].encode() + b"\r")
        s.expect("\r\nOK\r\n" + m.query[1])
        s.tr("AT+CIPSEND=0,1461", "\r\nERROR\r\n")    # refused: no data phase
        s.send("\r" + m.query2[0] + "\r")
        s.expect(m.query2[1])
        want_log = ["AT+CIPSEND=0", m.query[0], "AT+CIPSEND=0,1461", m.query2[0]]
        payload = 2
    else:
        s.tr("AT+TCPSEND=0", m.prompt)                # unsized: ends at CR
        s.send("xyz\r" + m.query[0] + "\r")
        s.expect(m.send_result(0, 3) + m.query[1])
        if recv_exact(c0, 3) != b"xyz":
            raise Fail("unsized payload")
        s.tr("AT+TCPSEND=0,4097", "\r\n+TCPSEND: DATA LENGTH ERROR\r\n")
        s.send("\r" + m.query2[0] + "\r")
        s.expect(m.query2[1])
        want_log = ["AT+TCPSEND=0", m.query[0], "AT+TCPSEND=0,4097", m.query2[0]]
        payload = 3
    s.tr(m.send_cmd(0, 5), m.prompt)
    s.send(b"AT\r\n\x1a")
    s.expect(m.send_result(0, 5))
    st = json.loads(s.ctl("stats"))
    if st["log"][-5:] != want_log + [m.send_cmd(0, 5)]:
        raise Fail("%s log %r" % (M.name, st["log"][-5:]))
    if st["payload_bytes"] - st0["payload_bytes"] != payload + 5:
        raise Fail("%s payload_bytes %r -> %r" % (M.name, st0["payload_bytes"], st["payload_bytes"]))
    if st["payload_by_link"][0] != st["payload_bytes"] or len(st["payload_by_link"]) != 8:
        raise Fail("%s payload_by_link %r" % (M.name, st["payload_by_link"]))
    if st["log_dropped"] != 0:
        raise Fail("log_dropped")
    with open(s.log_path) as f:
        if f.read().splitlines() != st["log"]:
            raise Fail("--log differs from stats log")
    srv.close()


def test(make):
    for M in (Sim7000, N11v2):
        faults(make, M)
        cmdlog(make, M)


run(test)
