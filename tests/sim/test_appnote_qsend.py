"""Application note sections 6.3-6.5: CIPSEND? sizes, over-long sends,
CIPQSEND=1 (DATA ACCEPT) and CIPACK, single and multi connection."""
import socket
import time
from simharness import TcpServer, recv_exact, run, Fail


def poll_ack(s, cmd, want, timeout=3):
    deadline = time.time() + timeout
    while True:
        s.send(cmd + "\r")
        got = s.read_until("\r\nOK\r\n")
        if got == want.encode():
            return
        if time.time() > deadline:
            raise Fail("%s: %r, wanted %r" % (cmd, got, want))
        time.sleep(0.02)


def single(make):
    srv = TcpServer()
    s = make()
    s.send("ATE0\r")
    s.expect("ATE0\r\r\nOK\r\n")
    s.tr("AT+CIPQSEND=1", "\r\nOK\r\n")
    s.tr('AT+CIPSTART="TCP","127.0.0.1",%d' % srv.port, "\r\nOK\r\n")
    s.expect("\r\nCONNECT OK\r\n")
    s.tr("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n")
    s.tr("AT+CIPSEND?", "\r\n+CIPSEND: 1460\r\n\r\nOK\r\n")
    s.tr("AT+CIPSEND=1461", "\r\nERROR\r\n")
    s.tr("AT+CIPSEND", "\r\n> ")
    s.send("012345678912\x1a")
    s.expect("\r\nDATA ACCEPT:12\r\n")
    if recv_exact(srv.conn(), 12) != b"012345678912":
        raise Fail("payload")
    poll_ack(s, "AT+CIPACK", "\r\n+CIPACK: 12,12,0\r\n\r\nOK\r\n")
    # the unsized form refuses more than 1460 bytes at Ctrl-Z
    s.tr("AT+CIPSEND", "\r\n> ")
    s.send(b"9" * 1500 + b"\x1a")
    s.expect("\r\nERROR\r\n")
    # ESC cancels
    s.tr("AT+CIPSEND", "\r\n> ")
    s.send(b"abc\x1b")
    s.expect("\r\nOK\r\n")
    s.tr("AT+CIPCLOSE", "\r\nCLOSE OK\r\n")
    s.tr("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n")
    s.quiet(0.1)
    srv.close()


def multi(make):
    srv = TcpServer()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    up = udp.getsockname()[1]
    s = make()
    s.bring_up(qsend=0)
    s.tr('AT+CIPSTART=1,"TCP","127.0.0.1","%d"' % srv.port, "\r\nOK\r\n")
    s.expect("\r\n1, CONNECT OK\r\n")
    s.tr('AT+CIPSTART=2,"UDP","127.0.0.1","%d"' % up, "\r\nOK\r\n")
    s.expect("\r\n2, CONNECT OK\r\n")
    s.tr("AT+CIPSEND?", "\r\n+CIPSEND: 1,1460\r\n\r\n+CIPSEND: 2,1460\r\n\r\nOK\r\n")
    s.tr("AT+CIPQSEND=1", "\r\nOK\r\n")
    s.tr("AT+CIPSEND=1", "\r\n> ")
    s.send("TCP\x1a")
    s.expect("\r\nDATA ACCEPT:1,3\r\n")
    poll_ack(s, "AT+CIPACK=1", "\r\n+CIPACK: 3,3,0\r\n\r\nOK\r\n")
    s.tr("AT+CIPSEND=1", "\r\n> ")
    s.send("TCP again\x1a")
    s.expect("\r\nDATA ACCEPT:1,9\r\n")
    poll_ack(s, "AT+CIPACK=1", "\r\n+CIPACK: 12,12,0\r\n\r\nOK\r\n")
    s.tr("AT+CIPSEND=2", "\r\n> ")
    s.send("UDP\x1a")
    s.expect("\r\nDATA ACCEPT:2,3\r\n")
    s.tr("AT+CIPACK=2", "\r\n+CIPACK: 3,0,3\r\n\r\nOK\r\n")
    s.tr("AT+CIPACK=3", "\r\nERROR\r\n")
    if recv_exact(srv.conn(), 12) != b"TCPTCP again":
        raise Fail("tcp payload")
    s.quiet(0.1)
    srv.close()


def test(make):
    single(make)
    multi(make)


run(test)
