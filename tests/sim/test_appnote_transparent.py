"""Application note 2.2.3/2.2.4: transparent mode, +++ with guard times,
ATO, '+++' inside payload without guard silence is data, remote close."""
import time
from simharness import TcpServer, recv_exact, run, Fail


def test(make):
    srv = TcpServer()
    s = make()

    def t(cmd, reply):
        s.send(cmd + "\r")
        s.expect(cmd + "\r" + reply)

    t("AT+CGATT?", "\r\n+CGATT: 1\r\n\r\nOK\r\n")
    t("AT+CIPMODE=1", "\r\nOK\r\n")
    t('AT+CSTT="CMNET"', "\r\nOK\r\n")
    t("AT+CIICR", "\r\nOK\r\n")
    t("AT+CIFSR", "\r\n10.78.245.128\r\n")
    t('AT+CIPSTART="TCP","127.0.0.1","%d"' % srv.port, "\r\nOK\r\n")
    s.expect("\r\nCONNECT\r\n")
    c = srv.conn()
    # data mode: no echo, raw both ways, '+++' without guard time is data
    s.send(b"abc+++def\r\nAT\r")
    if recv_exact(c, 14) != b"abc+++def\r\nAT\r":
        raise Fail("transparent upload")
    c.sendall(b"\x00\x1a+++\r\nOK\r\n")
    s.expect(b"\x00\x1a+++\r\nOK\r\n")
    # escape: 1 s silence, +++, 1 s silence
    time.sleep(1.1)
    s.send("+++")
    s.quiet(0.8)
    s.expect("\r\nOK\r\n", timeout=2.0)
    t("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n")
    c.sendall(b"SIM7000 channel test")
    s.quiet(0.2)                   # held while in command mode
    t("ATO", "\r\nCONNECT\r\n")
    s.expect("SIM7000 channel test")
    # '+++' followed by data within the guard time stays data
    time.sleep(1.1)
    s.send("+++")
    time.sleep(0.3)
    s.send("x")
    if recv_exact(c, 4) != b"+++x":
        raise Fail("aborted escape must be data")
    s.quiet(1.0)
    c.close()
    s.expect("\r\nCLOSED\r\n")
    t("AT", "\r\nOK\r\n")
    t("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n")
    t("ATO", "\r\nNO CARRIER\r\n")
    t("AT+CIPMUX=1", "\r\nERROR\r\n")
    srv.close()


run(test)
