"""SIM7000 commands beyond the bridge's data path: settings with read and
test forms, identity, CIPPING, CLPORT, CDNSCFG, CIPCCFG, CIPTKA, CIPSPRT,
+IFC/+IPR, +CFUN/+CGATT/+CGACT effects on the state."""
import socket
from simharness import TcpServer, recv_exact, run, Fail


def test(make):
    srv = TcpServer()
    s = make(hosts="127.0.0.1 localhost.test\n")
    s.send("ATE0\r")
    s.expect("ATE0\r\r\nOK\r\n")
    for cmd, reply in [
        ("ATI", "\r\nSIM7000E R1351\r\n\r\nOK\r\n"),
        ("AT+CGMR", "\r\nRevision:1351B03SIM7000E\r\n\r\nOK\r\n"),
        ("AT+GSN", "\r\n869951030000001\r\n\r\nOK\r\n"),
        ("AT+CREG?", "\r\n+CREG: 0,1\r\n\r\nOK\r\n"),
        ("AT+CSQ", "\r\n+CSQ: 20,0\r\n\r\nOK\r\n"),
        ("AT+IFC?", "\r\n+IFC: 0,0\r\n\r\nOK\r\n"),
        ("AT+IFC=2,2", "\r\nOK\r\n"),
        ("AT+IFC?", "\r\n+IFC: 2,2\r\n\r\nOK\r\n"),
        ("AT+IFC=1,1", "\r\nERROR\r\n"),
        ("AT+IPR?", "\r\n+IPR: 115200\r\n\r\nOK\r\n"),
        ("AT+IPR=921600", "\r\nOK\r\n"),
        ("AT+IPR=12345", "\r\nERROR\r\n"),
        ("AT+CIPMUX?", "\r\n+CIPMUX: 0\r\n\r\nOK\r\n"),
        ("AT+CIPMUX=?", "\r\n+CIPMUX: (0,1)\r\n\r\nOK\r\n"),
        ("AT+CIPQSEND?", "\r\n+CIPQSEND: 0\r\n\r\nOK\r\n"),
        ("AT+CIPRXGET?", "\r\n+CIPRXGET: 0\r\n\r\nOK\r\n"),
        ("AT+CIPHEAD?", "\r\n+CIPHEAD: 0\r\n\r\nOK\r\n"),
        ("AT+CIPSPRT?", "\r\n+CIPSPRT: 1\r\n\r\nOK\r\n"),
        ("AT+CIPCCFG?", "\r\n+CIPCCFG: 5,2,1024,1,0,1460,50\r\n\r\nOK\r\n"),
        ("AT+CIPCCFG=3,2,256,1", "\r\nOK\r\n"),
        ("AT+CIPCCFG?", "\r\n+CIPCCFG: 3,2,256,1,0,1460,50\r\n\r\nOK\r\n"),
        ("AT+CIPCCFG=9", "\r\nERROR\r\n"),
        ("AT+CIPTKA=1,60,30,3", "\r\nOK\r\n"),
        ("AT+CIPTKA?", "\r\n+CIPTKA: 1,60,30,3\r\n\r\nOK\r\n"),
        ("AT+CIPOPTION=1", "\r\nOK\r\n"),
        ("AT+CDNSCFG=\"8.8.8.8\",\"1.1.1.1\"", "\r\nOK\r\n"),
        ("AT+CDNSCFG?", "\r\nPrimaryDns: 8.8.8.8\r\n\r\nSecondaryDns: 1.1.1.1\r\n\r\nOK\r\n"),
        ("AT+CDNSCFG=\"nonsense\"", "\r\nERROR\r\n"),
        ("AT+CGDCONT=1,\"IP\",\"internet\"", "\r\nOK\r\n"),
        ("AT+CSTT?", '\r\n+CSTT: "internet","",""\r\n\r\nOK\r\n'),
        ("AT+CPIN?", "\r\n+CPIN: READY\r\n\r\nOK\r\n"),
        ("AT+CFUN?", "\r\n+CFUN: 1\r\n\r\nOK\r\n"),
        ("ATS0=0", "\r\nOK\r\n"),
        ("AT&D1", "\r\nOK\r\n"),
        ("AT&D7", "\r\nERROR\r\n"),
    ]:
        s.tr(cmd, reply)

    # CIPPING before the context is up, then for known and unknown addresses
    s.tr("AT+CIPPING=\"127.0.0.1\"", "\r\nERROR\r\n")
    s.tr('AT+CSTT="CMNET"', "\r\nOK\r\n")
    s.tr("AT+CIICR", "\r\nOK\r\n")
    s.tr("AT+CIFSR", "\r\n10.78.245.128\r\n")
    s.tr('AT+CIPPING="localhost.test",2', '\r\n+CIPPING: 1,"127.0.0.1",0,64\r\n'
         '\r\n+CIPPING: 2,"127.0.0.1",0,64\r\n\r\nOK\r\n')
    s.tr('AT+CIPPING="192.0.2.7",1', '\r\n+CIPPING: 1,"192.0.2.7",600,255\r\n\r\nOK\r\n')

    # CLPORT fixes the local port of a single-link connection
    p = socket.socket()
    p.bind(("127.0.0.1", 0))
    lport = p.getsockname()[1]
    p.close()
    s.tr('AT+CLPORT="TCP",%d' % lport, "\r\nOK\r\n")
    s.tr('AT+CIPSTART="TCP","127.0.0.1",%d' % srv.port, "\r\nOK\r\n")
    s.expect("\r\nCONNECT OK\r\n")
    c = srv.conn()
    if c.getpeername()[1] != lport:
        raise Fail("CLPORT not used: %r" % (c.getpeername(),))
    # CIPSPRT=0: no prompt, SEND OK; CIPSPRT=2: neither
    s.tr("AT+CIPSPRT=0", "\r\nOK\r\n")
    s.send("AT+CIPSEND=3\r")
    s.quiet(0.1)
    s.send("abc")
    s.expect("\r\nSEND OK\r\n")
    s.tr("AT+CIPSPRT=2", "\r\nOK\r\n")
    s.send("AT+CIPSEND=3\r")
    s.quiet(0.1)
    s.send("def")
    s.quiet(0.2)
    if recv_exact(c, 6) != b"abcdef":
        raise Fail("CIPSPRT payloads")
    s.tr("AT+CIPSPRT=1", "\r\nOK\r\n")
    s.tr("AT+CIPMUX=1", "\r\nERROR\r\n")             # not in IP INITIAL
    s.tr("AT+CIPSEND=2000", "\r\nERROR\r\n")
    # CFUN=0 drops the context; CGATT? reports detached
    s.tr("AT+CFUN=0", "\r\nOK\r\n")
    s.tr("AT+CGATT?", "\r\n+CGATT: 0\r\n\r\nOK\r\n")
    s.tr("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: PDP DEACT\r\n")
    s.tr("AT+CFUN=1", "\r\nOK\r\n")
    s.tr("AT+CIPSHUT", "\r\nSHUT OK\r\n")
    s.tr("AT+CGATT=0", "\r\nOK\r\n")
    s.tr("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n")
    s.quiet(0.1)
    srv.close()


run(test)
