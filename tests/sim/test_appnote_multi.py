"""Application note V1.01 section 3.1 (multi connection as a client), with
echo on as at power-up, byte for byte. Addresses and ports are this
machine's 127.0.0.1 servers instead of 116.228.221.51:8500/9600."""
import socket
from simharness import Sim, TcpServer, recv_exact, run, Fail


def test(make):
    tcp = TcpServer()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(5)
    up = udp.getsockname()[1]
    s = make()

    def t(cmd, reply):
        s.send(cmd + "\r")
        s.expect(cmd + "\r" + reply)

    t("AT+CGATT?", "\r\n+CGATT: 1\r\n\r\nOK\r\n")
    t("AT+CIPMUX=1", "\r\nOK\r\n")
    t('AT+CSTT="CMNET"', "\r\nOK\r\n")
    t("AT+CIICR", "\r\nOK\r\n")
    t("AT+CIFSR", "\r\n10.78.245.128\r\n")
    t('AT+CIPSTART=0,"TCP","127.0.0.1","%d"' % tcp.port, "\r\nOK\r\n")
    s.expect("\r\n0, CONNECT OK\r\n")
    t('AT+CIPSTART=1,"UDP","127.0.0.1","%d"' % up, "\r\nOK\r\n")
    s.expect("\r\n1, CONNECT OK\r\n")
    t("AT+CIPSEND=0", "\r\n> ")
    s.send("TCP test\x1a")
    s.expect("TCP test\r\n0, SEND OK\r\n")
    c = tcp.conn()
    if recv_exact(c, 8) != b"TCP test":
        raise Fail("TCP payload")
    t("AT+CIPSEND=1", "\r\n> ")
    s.send("UDP test\x1a")
    s.expect("UDP test\r\n1, SEND OK\r\n")
    data, peer = udp.recvfrom(100)
    if data != b"UDP test":
        raise Fail("UDP payload %r" % data)
    c.sendall(b"SIM7000 TCP test\n")
    s.expect("\r\n+RECEIVE,0,17:\r\nSIM7000 TCP test\n")
    udp.sendto(b"SIM7000 UDP test\n", peer)
    s.expect("\r\n+RECEIVE,1,17:\r\nSIM7000 UDP test\n")
    c.close()
    s.expect("\r\n0, CLOSED\r\n")
    t("AT+CIPSTATUS",
      "\r\nOK\r\n\r\nSTATE: IP PROCESSING\r\n\r\n"
      'C: 0,0,"TCP","127.0.0.1","%d","CLOSED"\r\n'
      'C: 1,0,"UDP","127.0.0.1","%d","CONNECTED"\r\n'
      'C: 2,,"","","","INITIAL"\r\n'
      'C: 3,,"","","","INITIAL"\r\n'
      'C: 4,,"","","","INITIAL"\r\n'
      'C: 5,,"","","","INITIAL"\r\n'
      'C: 6,,"","","","INITIAL"\r\n'
      'C: 7,,"","","","INITIAL"\r\n' % (tcp.port, up))
    t("AT+CIPCLOSE=1", "\r\n1, CLOSE OK\r\n")
    t("AT+CIPCLOSE=1", "\r\nERROR\r\n")
    t("AT+CIPSHUT", "\r\nSHUT OK\r\n")
    t("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n")
    s.quiet(0.2)
    tcp.close()


run(test)
