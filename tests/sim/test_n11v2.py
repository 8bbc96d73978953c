"""N11V2 manual examples (chapters 2, 5, 8, 11, 12, 24) against the
simulator, byte for byte, with 127.0.0.1 servers instead of the manual's
addresses."""
import socket
import time
from simharness import TcpServer, recv_exact, free_port, run, Fail


def test(make):
    srv = TcpServer()
    s = make("--model", "n11v2", "--ping-interval-ms", "20",
             hosts="127.0.0.1 neowayjsr.oicp.net\n")

    def t(cmd, reply):
        s.send(cmd + "\r")
        s.expect(cmd + "\r" + reply)

    # chapter 2: identity; echo is on at power-up
    t("ATI", "\r\nNEOWAY\r\nN11V2\r\nREVISION V003\r\n\r\nOK\r\n")
    t("AT+CGMM", "\r\n+CGMM: N11 V2\r\n\r\nOK\r\n")
    t("AT+CGMI", "\r\n+CGMI: Neoway Corp Ltd\r\n\r\nOK\r\n")
    s.send("ATE0\r")
    s.expect("ATE0\r\r\nOK\r\n")
    # chapter 5: APN, PPP, attach
    s.tr('AT+NETAPN="CMNET","",""', "\r\nOK\r\n")
    s.tr("AT+NETAPN=CMNET,,", "\r\nERROR\r\n")
    s.tr("AT+NETAPN?", '\r\n+NETAPN:"CMNET","",""\r\n\r\nOK\r\n')
    s.tr("AT+CGATT?", "\r\n+CGATT: 1\r\n\r\nOK\r\n")
    s.tr("AT+XIIC?", "\r\n+XIIC:    0,0.0.0.0\r\n\r\nOK\r\n")
    s.tr("AT+TCPSETUP=0,127.0.0.1,%d" % srv.port, "\r\nERROR\r\n")   # no PPP yet
    s.tr("AT+XIIC=1", "\r\nOK\r\n")
    s.tr("AT+XIIC?", "\r\n+XIIC:    1,10.232.165.29\r\n\r\nOK\r\n")

    # chapter 8: TCP, data pushed (RECVMODE 1 is the default)
    s.tr("AT+TCPSETUP=0,127.0.0.1,%d" % srv.port, "\r\nOK\r\n")
    s.expect("\r\n+TCPSETUP: 0,OK\r\n")
    s.tr("AT+TCPSETUP=0,neowayjsr.oicp.net,%d" % srv.port, "\r\n+TCPSETUP: 0,ERROR1\r\n")
    s.tr("AT+TCPSETUP=5,127.0.0.1,7000", "\r\n+TCPSETUP: ERROR\r\n")
    s.tr("AT+TCPSETUP=0.58.60.184.213.10012", "\r\n+TCPSETUP: ERROR\r\n")
    s.tr("AT+TCPSET=0,58.60.184.213,10012", "\r\nERROR\r\n")
    c = srv.conn()
    s.tr("AT+IPSTATUS=0", "\r\n+IPSTATUS: 0,CONNECT,TCP,4096\r\n\r\nOK\r\n")
    s.tr("AT+IPSTATUS=1", "\r\n+IPSTATUS: 1,DISCONNECT\r\n\r\nOK\r\n")
    s.tr("AT+IPSTATUS=5", "\r\n+IPSTATUS: ERROR\r\n")
    # buffer-mode send of binary data with CR LF inside
    s.tr("AT+TCPSEND=0,10", "\r\n>")
    s.send(b"12\r\n5\x1a7890")
    s.expect("\r\nOK\r\n\r\n+TCPSEND: 0,10\r\n")
    if recv_exact(c, 10) != b"12\r\n5\x1a7890":
        raise Fail("tcp payload")
    # command-mode sends, ASCII with escapes and HEX
    s.tr('AT+TCPSEND=0,10,"SDFEGFREGR",0', "\r\nOK\r\n\r\n+TCPSEND: 0,10\r\n")
    s.tr('AT+TCPSEND=0,6,"313233343536",1', "\r\nOK\r\n\r\n+TCPSEND: 0,6\r\n")
    s.tr('AT+TCPSEND=0,4,"a\\"\\\\b"', "\r\nOK\r\n\r\n+TCPSEND: 0,4\r\n")
    if recv_exact(c, 20) != b'SDFEGFREGR123456a"\\b':
        raise Fail("command mode payloads")
    s.tr("AT+TCPSEND=0,4097", "\r\n+TCPSEND: DATA LENGTH ERROR\r\n")
    s.tr("AT+TCPSEND=1,5", "\r\n+TCPSEND: SOCKET ID OPEN FAILED\r\n")
    # unsized: ends with CR
    s.tr("AT+TCPSSEND=0", "\r\n>")
    s.send("hello there\r")
    s.expect("\r\nOK\r\n\r\n+TCPSSEND: 0,11\r\n")
    if recv_exact(c, 11) != b"hello there":
        raise Fail("unsized payload")
    deadline = time.time() + 3
    while True:
        s.send("AT+TCPACK=0\r")
        r = s.read_until("OK\r\n")
        if r == b"\r\n+TCPACK: 0,41,41\r\n\r\nOK\r\n":
            break
        if time.time() > deadline:
            raise Fail("TCPACK %r" % r)
    s.tr("AT+TCPACK=1", "\r\n+TCPACK: 1,DISCONNECT\r\n\r\nOK\r\n")
    s.tr("AT+TCPACK=5", "\r\nERROR\r\n")
    # +TCPRECV: payload announced by length, may contain CR LF
    c.sendall(b"12\r\n567890")
    s.expect("\r\n+TCPRECV: 0,10,12\r\n567890\r\n")
    s.tr("AT+DATAFORMAT=1,0", "\r\nOK\r\n")
    c.sendall(b"1234567890")
    s.expect("\r\n+TCPRECV: 0,10,31323334353637383930\r\n")
    s.tr("AT+DATAFORMAT?", "\r\n+DATAFORMAT: 1,0\r\n\r\nOK\r\n")
    s.tr("AT+DATAFORMAT=1,1", "\r\nOK\r\n")
    # remote close
    c.close()
    s.expect("\r\n+TCPCLOSE: 0,Link Closed\r\n")
    s.tr("AT+TCPCLOSE=0", "\r\n+TCPCLOSE: ERROR\r\n")

    # 8.10/8.11: buffered receive and TCPREAD
    s.tr("AT+RECVMODE=0,0", "\r\nOK\r\n")
    s.tr("AT+RECVMODE?", "\r\n+RECVMODE: 0,0\r\n\r\nOK\r\n")
    s.tr("AT+TCPSETUP=1,neowayjsr.oicp.net,%d" % srv.port, "\r\nOK\r\n")
    s.expect("\r\n+TCPSETUP: 1,OK\r\n")
    c = srv.conn(1)
    c.sendall(b"1234567890")
    s.expect("\r\n+TCPRECV: 1\r\n")
    s.tr("AT+TCPREAD=1,4", "\r\n+TCPREAD: 1,4,1234\r\n\r\nOK\r\n")
    s.tr("AT+TCPREAD=1,100", "\r\n+TCPREAD: 1,6,567890\r\n\r\nOK\r\n")
    s.tr("AT+TCPREAD=1,100", "\r\n+TCPREAD: 1,0,\r\n\r\nOK\r\n")
    c.sendall(b"\x00\r\n\xff")
    s.expect("\r\n+TCPRECV: 1\r\n")
    s.quiet(0.2)
    c.close()
    s.quiet(0.2)                      # no Link Closed before the data is read
    s.send("AT+TCPREAD=1,100\r")
    s.expect(b"\r\n+TCPREAD: 1,4,\x00\r\n\xff\r\n\r\nOK\r\n")
    s.expect("\r\n+TCPCLOSE: 1,Link Closed\r\n")
    s.tr("AT+TCPSETUP=2,127.0.0.1,%d" % free_port(), "\r\nOK\r\n")
    s.expect("\r\n+TCPSETUP: 2,FAIL\r\n")
    s.tr("AT+TCPSETUP=2,127.0.0.1,%d" % srv.port, "\r\nOK\r\n")
    s.expect("\r\n+TCPSETUP: 2,OK\r\n")
    s.tr("AT+TCPCLOSE=2", "\r\n+TCPCLOSE: 2,OK\r\n\r\nOK\r\n")
    s.tr("AT+TCPCLOSE=5", "\r\n+TCPCLOSE: ERROR\r\n")
    s.tr("AT+RECVMODE=1", "\r\nOK\r\n")

    # chapter 11: UDP
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    u.settimeout(5)
    s.tr("AT+UDPSETUP=3,127.0.0.1,%d" % u.getsockname()[1], "\r\nOK\r\n")
    s.expect("\r\n+UDPSETUP: 3,OK\r\n")
    s.tr("AT+UDPSEND=3,5", "\r\n>")
    s.send("hello")
    s.expect("\r\nOK\r\n\r\n+UDPSEND: 3,5\r\n")
    d, peer = u.recvfrom(100)
    if d != b"hello":
        raise Fail("udp payload")
    u.sendto(b"1234567890", peer)
    s.expect("\r\n+UDPRECV: 3,10,1234567890\r\n")
    s.tr("AT+TCPACK=3", "\r\n+TCPACK: NO TCP LINK\r\n\r\nOK\r\n")
    s.tr("AT+IPSTATUS=3", "\r\n+IPSTATUS: 3,CONNECT,UDP,4096\r\n\r\nOK\r\n")
    s.tr("AT+UDPCLOSE=3", "\r\n+UDPCLOSE: 3,OK\r\n\r\nOK\r\n")
    s.tr("AT+UDPCLOSE=5", "\r\n+UDPCLOSE: ERROR\r\n")
    s.tr("AT+UDPLPORT=0,0", "\r\nOK\r\n")
    s.tr("AT+UDPLPORT=0,5", "\r\n+UDPLPORT: Error\r\n")
    s.tr("AT+TCPLPORT=0,0", "\r\n+TCPLPORT: ERROR\r\n")

    # chapter 24: DNS and ping
    s.tr('AT+DNS="neowayjsr.oicp.net"', "\r\nOK\r\n")
    s.expect("\r\n+DNS:127.0.0.1\r\n\r\n+DNS:OK\r\n")
    s.tr("AT+DNS=nowhere.example", "\r\nOK\r\n")
    s.expect("\r\n+DNS:ERROR\r\n")
    s.tr("AT+PING=neowayjsr.oicp.net", "\r\nOK\r\n")
    s.expect("\r\nReply from 127.0.0.1: bytes= 36 time = 0(ms), TTL = 255\r\n" * 4 +
             "\r\nPing statistics for 127.0.0.1:\r\n"
             "\r\nPackets: Sent = 4, Received = 4, Lose = 0 <0%>, max_delay = 0 ms, "
             "min_delay = 0 ms, average delay = 0 ms\r\n")
    s.tr("AT+PING=192.0.2.1", "\r\nOK\r\n")
    s.expect("\r\nRequest timed out.\r\n" * 4 +
             "\r\nPing statistics for 192.0.2.1:\r\n"
             "\r\nPackets: Sent = 4, Received = 0, Lose = 4 <100%>\r\n")

    # chapter 12: transparent TCP
    s.tr("AT+TCPTRANS=127.0.0.1,", "\r\n+TCPTRANS: ERROR\r\n")
    s.tr("AT+TCPTRANS=127.0.0.1,%d" % srv.port, "\r\nOK\r\n")
    s.expect("\r\n+TCPTRANS: OK\r\n")
    c = srv.conn(3)
    s.send(b"raw+++bytes\r\n")
    if recv_exact(c, 13) != b"raw+++bytes\r\n":
        raise Fail("transparent upload")
    c.sendall(b"down\r\nload")
    s.expect(b"down\r\nload")
    time.sleep(1.1)
    s.send("+++")
    s.expect("\r\nOK\r\n", timeout=2)
    s.tr("AT+TCPTRANS=127.0.0.1,%d" % srv.port, "\r\nERROR\r\n")
    s.tr("ATO", "\r\nCONNECT\r\n")
    s.send("more")
    if recv_exact(c, 4) != b"more":
        raise Fail("after ATO")
    time.sleep(1.1)
    s.send("+++")
    s.expect("\r\nOK\r\n", timeout=2)
    s.tr("AT+TRANSCLOSE", "\r\n+TRANSCLOSE: 0,OK\r\n\r\nOK\r\n")
    s.tr("AT+TRANSCLOSE", "\r\nERROR\r\n")
    s.tr("ATO", "\r\nERROR\r\n")
    s.tr("AT+TCPTRANS=127.0.0.1,%d" % srv.port, "\r\nOK\r\n")
    s.expect("\r\n+TCPTRANS: OK\r\n")
    srv.conn(4).close()
    s.expect("\r\n+TCPTRANS: Link Closed\r\n")

    # PDP loss and reboot
    s.tr("AT+TCPSETUP=4,127.0.0.1,%d" % srv.port, "\r\nOK\r\n")
    s.expect("\r\n+TCPSETUP: 4,OK\r\n")
    if s.ctl("pdp-deact") != "OK pdp-deact":
        raise Fail("pdp-deact")
    s.expect("\r\n+TCPCLOSE: 4,Link Closed\r\n\r\nGPRS DISCONNECTION\r\n")
    s.tr("AT+XIIC?", "\r\n+XIIC:    0,0.0.0.0\r\n\r\nOK\r\n")
    s.tr("AT+PING=127.0.0.1", "\r\n+PING: No PPP Link\r\n")
    s.tr("AT+XIIC=1", "\r\nOK\r\n")
    s.tr("AT+CGATT=0", "\r\nGPRS DISCONNECTION\r\n\r\nOK\r\n")
    if s.ctl("reboot") != "OK reboot":
        raise Fail("reboot")
    s.expect("\r\n+PBREADY\r\n", timeout=3)
    s.send("AT\r")
    s.expect("AT\r\r\nOK\r\n")
    s.quiet(0.1)
    srv.close()


run(test)
