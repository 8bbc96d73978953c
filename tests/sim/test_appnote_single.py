"""Application note single-connection examples: 2.1.1 TCP client (push
mode), 2.1.2 UDP client, 5 DNS, 7.1 CIPHEAD/CIPSRIP, 7.2 CIPRXGET, and the
state diagram of section 8."""
import socket
from simharness import TcpServer, recv_exact, free_port, run, Fail


def test(make):
    srv = TcpServer()
    s = make(hosts="# test hosts\n127.0.0.1 www.sim.com\nwww.baidu.com 127.0.0.1\n"
             "127.0.0.2 www.baidu.com\n")

    def t(cmd, reply):
        s.send(cmd + "\r")
        s.expect(cmd + "\r" + reply)

    t("AT+CPIN?", "\r\n+CPIN: READY\r\n\r\nOK\r\n")
    t("AT+CSQ", "\r\n+CSQ: 20,0\r\n\r\nOK\r\n")
    t("AT+CGATT?", "\r\n+CGATT: 1\r\n\r\nOK\r\n")
    t("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n")
    t('AT+CSTT="CMNET"', "\r\nOK\r\n")
    t("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP START\r\n")
    t("AT+CIICR", "\r\nOK\r\n")
    t("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP GPRSACT\r\n")
    t("AT+CIFSR", "\r\n10.78.245.128\r\n")
    t("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP STATUS\r\n")

    # 5: DNS
    t("AT+CDNSGIP=www.baidu.com", "\r\nOK\r\n")
    s.expect('\r\n+CDNSGIP: 1,"www.baidu.com","127.0.0.1","127.0.0.2"\r\n')
    t('AT+CDNSGIP="abctest"', "\r\nOK\r\n")
    s.expect("\r\n+CDNSGIP: 0,8\r\n")

    # 2.1.1: TCP client, data pushed to the TE
    t('AT+CIPSTART="TCP","WWW.SIM.COM",%d' % srv.port, "\r\nOK\r\n")
    s.expect("\r\nCONNECT OK\r\n")
    t("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: CONNECT OK\r\n")
    t("AT+CIPSEND", "\r\n> ")
    s.send("hello TCP serve\x1a")
    s.expect("hello TCP serve\r\nSEND OK\r\n")
    c = srv.conn()
    if recv_exact(c, 15) != b"hello TCP serve":
        raise Fail("payload")
    c.sendall(b"hello SIM7000")
    s.expect("hello SIM7000")
    c.close()
    s.expect("\r\nCLOSED\r\n")
    t("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: TCP CLOSED\r\n")

    # 2.1.2 UDP client, 7.1 headers
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    up = udp.getsockname()[1]
    t("AT+CIPHEAD=1", "\r\nOK\r\n")
    t("AT+CIPSRIP=1", "\r\nOK\r\n")
    t('AT+CIPSTART="UDP","127.0.0.1","%d"' % up, "\r\nOK\r\n")
    s.expect("\r\nCONNECT OK\r\n")
    t("AT+CIPSEND", "\r\n> ")
    s.send("SIM7000 UDP test\x1a")
    s.expect("SIM7000 UDP test\r\nSEND OK\r\n")
    d, peer = udp.recvfrom(100)
    udp.sendto(b"UDP test", peer)
    s.expect("\r\nRECV FROM:127.0.0.1:%d\r\n\r\n+IPD,8:UDP test" % up)
    t("AT+CIPCLOSE", "\r\nCLOSE OK\r\n")
    t("AT+CIPHEAD=0", "\r\nOK\r\n")
    t("AT+CIPSRIP=0", "\r\nOK\r\n")

    # 7.2: manual receive in single connection mode
    t("AT+CIPRXGET=1", "\r\nOK\r\n")
    t('AT+CIPSTART="TCP","127.0.0.1",%d' % srv.port, "\r\nOK\r\n")
    s.expect("\r\nCONNECT OK\r\n")
    c = srv.conn(1)
    c.sendall(b"HELLO WORLD")
    s.expect("\r\n+CIPRXGET: 1\r\n")
    t("AT+CIPRXGET=2,1460", "\r\n+CIPRXGET: 2,11,0\r\nHELLO WORLD\r\nOK\r\n")
    c.sendall(b"HELLO WORLD")
    s.expect("\r\n+CIPRXGET: 1\r\n")
    t("AT+CIPRXGET=3,730", "\r\n+CIPRXGET: 3,11,0\r\n48454C4C4F20574F524C44\r\nOK\r\n")
    t("AT+CIPRXGET=4", "\r\n+CIPRXGET: 4,0\r\n\r\nOK\r\n")
    t("AT+CIPSTART=\"TCP\",\"127.0.0.1\",%d" % srv.port, "\r\nALREADY CONNECT\r\n")
    t("AT+CIPCLOSE=1", "\r\nCLOSE OK\r\n")

    # connect failure in single mode reports the state first
    t('AT+CIPSTART="TCP","127.0.0.1",%d' % free_port(), "\r\nOK\r\n")
    s.expect("\r\nSTATE: TCP CLOSED\r\n\r\nCONNECT FAIL\r\n")
    t("AT+CIPSHUT", "\r\nSHUT OK\r\n")
    t("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n")
    s.quiet(0.1)
    srv.close()


run(test)
