"""--reading: every alternative reading of both models' manuals, one by one,
as comma lists and repeated flags, and `alt` (the whole set); N11V2 AT+PING
runs paced by --ping-interval-ms; bad --reading values exit 2 with one line."""
import socket
import subprocess
import time
from simharness import TcpServer, free_port, run, Fail

# n11v2_forms.c: a space after "+XXX:" in the format line / the examples
FORMS = {
    "TCPSETUP_OK": (1, 0), "TCPSETUP_FAIL": (1, 1), "TCPSETUP_ERR": (1, 0),
    "UDPSETUP_RES": (1, 1), "TCPSEND_OK": (1, 0), "UDPSEND_OK": (1, 1),
    "TCPSEND_ERR": (1, 1), "UDPSEND_ERR": (1, 0), "TCPRECV_DATA": (0, 0),
    "TCPRECV_ANN": (0, 1), "UDPRECV": (1, 1), "TCPREAD": (0, 0), "UDPREAD": (1, 1),
    "TCPCLOSE": (0, 0), "UDPCLOSE_OK": (1, 1), "UDPCLOSE_ERR": (0, 0),
    "IPSTATUS": (1, 0), "IPSTATUS_ERR": (1, 1), "TCPACK": (1, 0),
    "TCPACK_DISC": (1, 0), "TCPACK_NOTCP": (1, 1), "TRANS_RES": (1, 0),
    "TRANS_ERR": (1, 1), "TRANS_CLOSED": (1, 0), "TRANSCLOSE": (1, 1),
}


def n11v2_scenario(make, readings, spacing="space", no_ok=(), pings=4, ping=True):
    """Every answer form whose reading can change, checked byte for byte."""
    srv = TcpServer()
    s = make("--model", "n11v2", "--latency-ms", "30", "--ping-interval-ms", "100",
             *readings, hosts="127.0.0.1 echo.test\n")

    def sp(form):
        if spacing == "space":
            return " "
        if spacing == "none":
            return ""
        return " " if FORMS[form][0 if spacing == "format" else 1] else ""

    def ok(cmd):
        return "" if cmd in no_ok else "\r\nOK\r\n"

    s.send("ATE0\r")
    s.expect("ATE0\r\r\nOK\r\n")
    s.tr("AT+XIIC=1", "\r\nOK\r\n")
    s.tr("AT+RECVMODE=0,0", "\r\nOK\r\n")
    s.tr("AT+TCPSETUP=0,echo.test,%d" % srv.port, "\r\nOK\r\n")
    s.expect("\r\n+TCPSETUP:%s0,OK\r\n" % sp("TCPSETUP_OK"))
    c = srv.conn(0)
    s.tr("AT+TCPSETUP=0,echo.test,%d" % srv.port, "\r\n+TCPSETUP:%s0,ERROR1\r\n" % sp("TCPSETUP_ERR"))
    s.tr("AT+TCPSETUP=5,echo.test,1", "\r\n+TCPSETUP:%sERROR\r\n" % sp("TCPSETUP_ERR"))
    s.tr("AT+TCPSETUP=1,127.0.0.1,%d" % free_port(), "\r\nOK\r\n")
    s.expect("\r\n+TCPSETUP:%s1,FAIL\r\n" % sp("TCPSETUP_FAIL"))
    s.tr("AT+IPSTATUS=0", "\r\n+IPSTATUS:%s0,CONNECT,TCP,4096\r\n%s" % (sp("IPSTATUS"), ok("ipstatus")))
    s.tr("AT+IPSTATUS=1", "\r\n+IPSTATUS:%s1,DISCONNECT\r\n%s" % (sp("IPSTATUS"), ok("ipstatus")))
    s.tr("AT+IPSTATUS=5", "\r\n+IPSTATUS:%sERROR\r\n" % sp("IPSTATUS_ERR"))
    s.tr("AT+TCPSEND=0,3", "\r\n>")
    s.send("abc")
    s.expect("\r\nOK\r\n\r\n+TCPSEND:%s0,3\r\n" % sp("TCPSEND_OK"))
    s.tr("AT+TCPSEND=0,4097", "\r\n+TCPSEND:%sDATA LENGTH ERROR\r\n" % sp("TCPSEND_ERR"))
    c.settimeout(5)
    if c.recv(3) != b"abc":
        raise Fail("payload")
    deadline = time.time() + 3
    while True:                                # until the bytes are acknowledged
        s.send("AT+TCPACK=0\r")
        want = "\r\n+TCPACK:%s0,3,3\r\n%s" % (sp("TCPACK"), ok("tcpack"))
        got = s.read_exact(len(want))
        if got == want.encode():
            break
        if time.time() > deadline:
            raise Fail("TCPACK %r, wanted %r" % (got + s.drain(), want))
        s.drain(0.05)
    s.tr("AT+TCPACK=1", "\r\n+TCPACK:%s1,DISCONNECT\r\n%s" % (sp("TCPACK_DISC"), ok("tcpack")))
    c.sendall(b"hello")
    s.expect("\r\n+TCPRECV:%s0\r\n" % sp("TCPRECV_ANN"))
    s.tr("AT+TCPREAD=0,10", "\r\n+TCPREAD:%s0,5,hello\r\n\r\nOK\r\n" % sp("TCPREAD"))
    s.tr("AT+TCPCLOSE=0", "\r\n+TCPCLOSE:%s0,OK\r\n%s" % (sp("TCPCLOSE"), ok("tcpclose")))
    s.tr("AT+TCPCLOSE=0", "\r\n+TCPCLOSE:%sERROR\r\n" % sp("TCPCLOSE"))

    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    u.settimeout(5)
    s.tr("AT+UDPSETUP=3,127.0.0.1,%d" % u.getsockname()[1], "\r\nOK\r\n")
    s.expect("\r\n+UDPSETUP:%s3,OK\r\n" % sp("UDPSETUP_RES"))
    s.tr("AT+TCPACK=3", "\r\n+TCPACK:%sNO TCP LINK\r\n%s" % (sp("TCPACK_NOTCP"), ok("tcpack")))
    s.tr("AT+UDPSEND=3,2", "\r\n>")
    s.send("hi")
    s.expect("\r\nOK\r\n\r\n+UDPSEND:%s3,2\r\n" % sp("UDPSEND_OK"))
    s.tr("AT+UDPSEND=3,4097", "\r\n+UDPSEND:%sDATA LENGTH ERROR\r\n" % sp("UDPSEND_ERR"))
    d, peer = u.recvfrom(100)
    u.sendto(b"12345", peer)
    s.expect("\r\n+UDPRECV:%s3,5\r\n" % sp("UDPRECV"))
    s.tr("AT+UDPREAD=3", "\r\n+UDPREAD:%s3,5,12345\r\n\r\nOK\r\n" % sp("UDPREAD"))
    s.tr("AT+UDPCLOSE=3", "\r\n+UDPCLOSE:%s3,OK\r\n%s" % (sp("UDPCLOSE_OK"), ok("udpclose")))
    s.tr("AT+UDPCLOSE=3", "\r\n+UDPCLOSE:%sERROR\r\n" % sp("UDPCLOSE_ERR"))

    # push mode: +TCPRECV with the data
    s.tr("AT+RECVMODE=1", "\r\nOK\r\n")
    s.tr("AT+TCPSETUP=2,echo.test,%d" % srv.port, "\r\nOK\r\n")
    s.expect("\r\n+TCPSETUP:%s2,OK\r\n" % sp("TCPSETUP_OK"))
    srv.conn(1).sendall(b"pushed")
    s.expect("\r\n+TCPRECV:%s2,6,pushed\r\n" % sp("TCPRECV_DATA"))

    # transparent: errors and a close while the connection is being made
    s.tr("AT+TCPTRANS=127.0.0.1,", "\r\n+TCPTRANS:%sERROR\r\n" % sp("TRANS_ERR"))
    s.tr("AT+TCPTRANS=127.0.0.1,%d" % free_port(), "\r\nOK\r\n")
    s.expect("\r\n+TCPTRANS:%sFAIL\r\n" % sp("TRANS_RES"))
    s.send("AT+TCPTRANS=echo.test,%d\rAT+TRANSCLOSE\r" % srv.port)
    s.expect("\r\nOK\r\n\r\n+TRANSCLOSE:%s0,OK\r\n%s" % (sp("TRANSCLOSE"), ok("transclose")))
    s.tr("AT", "\r\nOK\r\n")
    s.quiet(0.05)
    tsrv = TcpServer()
    s.tr("AT+TCPTRANS=echo.test,%d" % tsrv.port, "\r\nOK\r\n")
    s.expect("\r\n+TCPTRANS:%sOK\r\n" % sp("TRANS_RES"))
    tsrv.conn(0).close()
    s.expect("\r\n+TCPTRANS:%sLink Closed\r\n" % sp("TRANS_CLOSED"))
    tsrv.close()
    if ping:
        ping_runs(s, sp, pings)
    u.close()
    srv.close()


def ping_runs(s, sp, pings):

    # AT+PING: the final result at once, then one line per reply as it
    # comes (one round trip, then an interval apart), then the statistics
    s.send("AT+PING=echo.test\r")
    t0 = time.time()
    s.expect("\r\nOK\r\n", timeout=0.1)
    line = "\r\nReply from 127.0.0.1: bytes= 36 time = 60(ms), TTL = 255\r\n"
    for i in range(pings):
        s.expect(line, timeout=1)
        dt = time.time() - t0
        if not -0.015 < dt - (0.06 + 0.1 * i) < 0.08:  # never early; late if loaded
            raise Fail("reply %d after %.3f s" % (i, dt))
    s.expect("\r\nPing statistics for 127.0.0.1:\r\n"
             "\r\nPackets: Sent = %d, Received = %d, Lose = 0 <0%%>, max_delay = 60 ms, "
             "min_delay = 60 ms, average delay = 60 ms\r\n" % (pings, pings), timeout=0.05)
    s.send("AT+PING=192.0.2.1\r")
    t0 = time.time()
    s.expect("\r\nOK\r\n", timeout=0.1)
    for i in range(pings):
        s.expect("\r\nRequest timed out.\r\n", timeout=1)
        dt = time.time() - t0
        if not -0.015 < dt - 0.1 * (i + 1) < 0.08:
            raise Fail("timeout line %d after %.3f s" % (i, dt))
    s.expect("\r\nPing statistics for 192.0.2.1:\r\n"
             "\r\nPackets: Sent = %d, Received = 0, Lose = %d <100%%>\r\n" % (pings, pings), timeout=0.05)
    # a run ends with the PPP link
    s.tr("AT+PING=192.0.2.1", "\r\nOK\r\n")
    s.ctl("pdp-deact")
    s.expect("\r\n+TCPCLOSE:%s2,Link Closed\r\n\r\nGPRS DISCONNECTION\r\n" % sp("TCPCLOSE"), timeout=1)
    s.quiet(0.15)                              # no more lines of that run


def sim7000_scenario(make, readings, alt):
    srv = TcpServer()
    s = make("--latency-ms", "50", *readings, hosts="127.0.0.1 echo.test\n")
    s.bring_up()
    pfx = "%d," if alt else "%d, "
    s.tr('AT+CIPSTART=0,"TCP","echo.test",%d' % srv.port, "\r\nOK\r\n")
    s.expect("\r\n" + pfx % 0 + "CONNECT OK\r\n")
    c = srv.conn(0)
    s.tr('AT+CIPSTART=0,"TCP","echo.test",%d' % srv.port, "\r\n" + pfx % 0 + "ALREADY CONNECT\r\n")
    s.tr("AT+CIPSEND=0,5", "\r\n> ")
    s.send("hello")
    s.expect("\r\nDATA ACCEPT:%s0,5\r\n" % (" " if alt else ""))
    c.settimeout(5)
    if c.recv(5) != b"hello":
        raise Fail("payload")
    deadline = time.time() + 3
    while True:
        s.send("AT+CIPACK=0\r")
        want = "\r\n+CIPACK: 5, 5, 0\r\n\r\nOK\r\n" if alt else "\r\n+CIPACK: 5,5,0\r\n\r\nOK\r\n"
        got = s.read_exact(len(want))
        if got == want.encode():
            break
        if time.time() > deadline:
            raise Fail("CIPACK %r, wanted %r" % (got, want))
    c.sendall(b"0123456789")
    s.expect("\r\n+CIPRXGET: 1,0\r\n")
    if alt:   # the manual: requested, then delivered
        s.tr("AT+CIPRXGET=2,0,4", "\r\n+CIPRXGET: 2,0,4,4\r\n0123\r\nOK\r\n")
        s.tr("AT+CIPRXGET=2,0,100", "\r\n+CIPRXGET: 2,0,100,6\r\n456789\r\nOK\r\n")
    else:     # the app note: delivered, then still buffered
        s.tr("AT+CIPRXGET=2,0,4", "\r\n+CIPRXGET: 2,0,4,6\r\n0123\r\nOK\r\n")
        s.tr("AT+CIPRXGET=2,0,100", "\r\n+CIPRXGET: 2,0,6,0\r\n456789\r\nOK\r\n")
    st = '" CONNECTED "' if alt else '"CONNECTED"'
    s.tr("AT+CIPSTATUS=0", '\r\n+CIPSTATUS: 0,0,"TCP","127.0.0.1","%d",%s\r\n\r\nOK\r\n' % (srv.port, st))
    s.tr("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP PROCESSING\r\n\r\n" +
         'C: 0,0,"TCP","127.0.0.1","%d",%s\r\n' % (srv.port, st) +
         "".join('C: %d,,"","","","INITIAL"\r\n' % i for i in range(1, 8)))
    s.tr("AT+CDNSGIP=nowhere.test", "\r\nOK\r\n")
    s.expect("\r\n+CDNSGIP:0,8\r\n" if alt else "\r\n+CDNSGIP: 0,8\r\n")
    s.tr("AT+CDNSGIP=echo.test", "\r\nOK\r\n")
    s.expect('\r\n+CDNSGIP: 1,"echo.test","127.0.0.1"\r\n')
    rtt = 100 if alt else 1
    s.tr('AT+CIPPING="echo.test",2', '\r\n+CIPPING: 1,"127.0.0.1",%d,64\r\n'
         '\r\n+CIPPING: 2,"127.0.0.1",%d,64\r\n\r\nOK\r\n' % (rtt, rtt))
    s.tr("AT+CIPCLOSE=0", "\r\n" + pfx % 0 + "CLOSE OK\r\n")
    s.tr('AT+CIPSTART=1,"TCP","127.0.0.1",%d' % free_port(), "\r\nOK\r\n")
    s.expect("\r\n" + pfx % 1 + "CONNECT FAIL\r\n")
    s.tr("AT+CIPQSEND=0", "\r\nOK\r\n")
    s.tr('AT+CIPSTART=2,"TCP","echo.test",%d' % srv.port, "\r\nOK\r\n")
    s.expect("\r\n" + pfx % 2 + "CONNECT OK\r\n")
    s.tr("AT+CIPSEND=2,2", "\r\n> ")
    s.send("ok")
    s.expect("\r\n" + pfx % 2 + "SEND OK\r\n")
    s.ctl("close 2")
    s.expect("\r\n" + pfx % 2 + "CLOSED\r\n")
    srv.close()


def cli_errors(exe):
    for args, msg in (
            (["--reading", "tcpack=no-ok"], "tcpack is a reading of --model n11v2"),
            (["--model", "n11v2", "--reading", "cipack=appnote"], "cipack is a reading of --model sim7000"),
            (["--reading", "foo=bar"], "unknown reading 'foo'"),
            (["--model", "n11v2", "--reading", "tcpack=maybe"], "expected tcpack=ok|no-ok"),
            (["--model", "n11v2", "--reading", "spacing"], "expected spacing=space|format|example|none"),
            (["--ping-interval-ms", "-1"], "--ping-interval-ms")):
        p = subprocess.run([exe] + args, capture_output=True, text=True, timeout=5)
        err = p.stderr.strip()
        if p.returncode != 2 or msg not in err or "\n" in err:
            raise Fail("%r: rc %d, %r" % (args, p.returncode, err))


def test(make):
    # N11V2: the format-line and 1.3 readings (default), each switch, alt
    n11v2_scenario(make, [])
    no_ok = ("tcpack", "tcpclose", "udpclose", "ipstatus", "transclose")
    n11v2_scenario(make, ["--reading", "tcpack=no-ok,tcpclose=no-ok",
                               "--reading", "udpclose=no-ok", "--reading", "ipstatus=no-ok",
                               "--reading", "transclose=no-ok,pingcount=5"],
                   no_ok=no_ok, pings=5)
    for sp in ("format", "example", "none"):
        n11v2_scenario(make, ["--reading", "spacing=" + sp], spacing=sp, ping=False)
    n11v2_scenario(make, ["--reading", "alt"], spacing="example", no_ok=no_ok, pings=5)
    n11v2_scenario(make, ["--reading", "alt,spacing=space"], spacing="space",
                   no_ok=no_ok, ping=False)
    # SIM7000: default, each switch, alt
    sim7000_scenario(make, [], False)
    sim7000_scenario(make, ["--reading", "ciprxget=manual,cipack=appnote,linkresult=manual",
                                 "--reading", "dataaccept=manual,cdnsgip=manual",
                                 "--reading", "cipstatus=padded,cipping=ms"], True)
    sim7000_scenario(make, ["--reading", "alt"], True)
    import sys
    cli_errors(sys.argv[1])


run(test)
