"""The multi-link data path the bridge uses: CIPRXGET=1 notifications,
binary reads, length-form sends with any byte values, remote close after
the buffer is drained, connect failures, the bounded tx buffer and CIPACK."""
import socket
import time
from simharness import TcpServer, recv_exact, free_port, run, Fail

ALL = bytes(range(256))


def test(make):
    srv = TcpServer()
    s = make(hosts="127.0.0.1 echo.test\nbad.test 127.0.0.1\n")
    s.bring_up()
    s.tr('AT+CIPSTART=0,"TCP","echo.test",%d' % srv.port, "\r\nOK\r\n")
    s.expect("\r\n0, CONNECT OK\r\n")
    s.tr('AT+CIPSTART=0,"TCP","echo.test",%d' % srv.port, "\r\n0, ALREADY CONNECT\r\n")
    c = srv.conn()

    # length form: 0x1A, ESC, CR LF are data
    s.tr("AT+CIPSEND=0,256", "\r\n> ")
    s.send(ALL)
    s.expect("\r\nDATA ACCEPT:0,256\r\n")
    if recv_exact(c, 256) != ALL:
        raise Fail("binary send corrupted")

    # one notification per empty -> non-empty transition
    blob = bytes((i * 7 + 3) & 0xff for i in range(3000))
    c.sendall(blob)
    s.expect("\r\n+CIPRXGET: 1,0\r\n")
    deadline = time.time() + 3
    while True:
        s.send("AT+CIPRXGET=4,0\r")
        r = s.read_until("\r\nOK\r\n")
        if r == b"\r\n+CIPRXGET: 4,0,3000\r\n\r\nOK\r\n":
            break
        if time.time() > deadline:
            raise Fail("buffered count %r" % r)
    got = b""
    for want_n, rest in ((1460, 1540), (1460, 80), (80, 0)):
        s.send("AT+CIPRXGET=2,0,1460\r")
        s.expect("\r\n+CIPRXGET: 2,0,%d,%d\r\n" % (want_n, rest))
        got += s.read_exact(want_n)
        s.expect("\r\nOK\r\n")
    if got != blob:
        raise Fail("binary receive corrupted")
    s.tr("AT+CIPRXGET=2,0,1460", "\r\n+CIPRXGET: 2,0,0,0\r\n\r\nOK\r\n")
    s.quiet(0.1)

    # hex form
    c.sendall(b"HELLO WORLD")
    s.expect("\r\n+CIPRXGET: 1,0\r\n")
    s.tr("AT+CIPRXGET=3,0,730", "\r\n+CIPRXGET: 3,0,11,0\r\n48454C4C4F20574F524C44\r\nOK\r\n")
    s.tr("AT+CIPRXGET=3,0,731", "\r\nERROR\r\n")
    s.tr("AT+CIPRXGET=2,0,1461", "\r\nERROR\r\n")
    s.tr("AT+CIPRXGET=2,0,0", "\r\nERROR\r\n")

    # CIPSRIP=1 adds the sender to the notification and to the read header
    s.tr("AT+CIPSRIP=1", "\r\nOK\r\n")
    c.sendall(b"xy")
    s.expect("\r\n+CIPRXGET: 1,0,127.0.0.1:%d\r\n" % srv.port)
    s.tr("AT+CIPRXGET=2,0,10", "\r\n+CIPRXGET: 2,0,2,0,127.0.0.1:%d\r\nxy\r\nOK\r\n" % srv.port)
    s.tr("AT+CIPSRIP=0", "\r\nOK\r\n")

    # remote close: CLOSED only after the buffer has been read
    c.sendall(b"last words")
    c.close()
    s.expect("\r\n+CIPRXGET: 1,0\r\n")
    s.quiet(0.3)
    s.tr("AT+CIPRXGET=2,0,4", "\r\n+CIPRXGET: 2,0,4,6\r\nlast\r\nOK\r\n")
    s.quiet(0.1)
    s.tr("AT+CIPRXGET=2,0,100", "\r\n+CIPRXGET: 2,0,6,0\r\n words\r\nOK\r\n")
    s.expect("\r\n0, CLOSED\r\n")
    s.tr("AT+CIPSEND=0,5", "\r\nERROR\r\n")
    s.tr("AT+CIPCLOSE=0", "\r\nERROR\r\n")

    # connect failures: refused port, unknown name
    s.tr('AT+CIPSTART=1,"TCP","127.0.0.1",%d' % free_port(), "\r\nOK\r\n")
    s.expect("\r\n1, CONNECT FAIL\r\n")
    s.tr('AT+CIPSTART=2,"TCP","nowhere.test",80', "\r\nOK\r\n")
    s.expect("\r\n2, CONNECT FAIL\r\n")

    # UDP: a read never crosses a datagram boundary
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    s.tr('AT+CIPSTART=6,"UDP","127.0.0.1",%d' % u.getsockname()[1], "\r\nOK\r\n")
    s.expect("\r\n6, CONNECT OK\r\n")
    s.tr("AT+CIPSEND=6,4", "\r\n> ")
    s.send("ping")
    s.expect("\r\nDATA ACCEPT:6,4\r\n")
    d, peer = u.recvfrom(100)
    u.sendto(b"first", peer)
    u.sendto(b"second!", peer)
    s.expect("\r\n+CIPRXGET: 1,6\r\n")
    time.sleep(0.1)
    s.tr("AT+CIPRXGET=2,6,1460", "\r\n+CIPRXGET: 2,6,5,7\r\nfirst\r\nOK\r\n")
    s.tr("AT+CIPRXGET=2,6,3", "\r\n+CIPRXGET: 2,6,3,4\r\nsec\r\nOK\r\n")
    s.tr("AT+CIPRXGET=2,6,1460", "\r\n+CIPRXGET: 2,6,4,0\r\nond!\r\nOK\r\n")
    s.tr("AT+CIPCLOSE=6", "\r\n6, CLOSE OK\r\n")
    u.close()

    # CIPCLOSE with the quick-close mode
    s.tr('AT+CIPSTART=3,"TCP","bad.test",%d' % srv.port, "\r\nOK\r\n")
    s.expect("\r\n3, CONNECT OK\r\n")
    s.tr("AT+CIPCLOSE=3,1", "\r\n3, CLOSE OK\r\n")

    # SEND FAIL: the link dies while the data is being typed
    s.tr('AT+CIPSTART=4,"TCP","127.0.0.1",%d' % srv.port, "\r\nOK\r\n")
    s.expect("\r\n4, CONNECT OK\r\n")
    s.tr("AT+CIPSEND=4,5", "\r\n> ")
    if s.ctl("close 4") != "OK close 4":
        raise Fail("control close")
    s.send("hello")
    s.expect("\r\n4, SEND FAIL\r\n\r\n4, CLOSED\r\n")
    srv.close()

    # bounded tx buffer: a receiver that never reads
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.bind(("127.0.0.1", 0))
    slow.listen(1)
    s.tr('AT+CIPSTART=5,"TCP","127.0.0.1",%d' % slow.getsockname()[1], "\r\nOK\r\n")
    s.expect("\r\n5, CONNECT OK\r\n")
    sent = 0
    for _ in range(400):
        s.send("AT+CIPSEND=5,1460\r")
        r = s.read_exact(4)
        if r == b"\r\nER":
            s.expect("ROR\r\n")
            break
        if r != b"\r\n> ":
            raise Fail("prompt %r" % r)
        s.send(b"x" * 1460)
        s.expect("\r\nDATA ACCEPT:5,1460\r\n")
        sent += 1460
    else:
        raise Fail("tx buffer never filled")
    s.send("AT+CIPSEND?\r")
    r = s.read_until("\r\nOK\r\n")
    free = int(r.split(b"+CIPSEND: 5,")[1].split(b"\r")[0])
    if free >= 1460:
        raise Fail("CIPSEND? free %d after ERROR" % free)
    s.send("AT+CIPACK=5\r")
    r = s.read_until("\r\nOK\r\n").decode()
    tx, ack, nack = (int(x) for x in r.split("+CIPACK: ")[1].split("\r")[0].split(","))
    if tx != sent or ack + nack != tx or nack < 8192:
        raise Fail("CIPACK %r after %d sent" % (r, sent))
    # CIPQSEND=0: SEND OK waits for the host stack; the link dying turns it into SEND FAIL
    s.tr("AT+CIPQSEND=0", "\r\nOK\r\n")
    s.tr('AT+CIPSTART=7,"TCP","127.0.0.1",%d' % slow.getsockname()[1], "\r\nOK\r\n")
    s.expect("\r\n7, CONNECT OK\r\n")
    for _ in range(400):
        s.tr("AT+CIPSEND=7,1460", "\r\n> ")
        s.send(b"z" * 1460)
        try:
            s.expect("\r\n7, SEND OK\r\n", timeout=0.5)
        except Fail:
            break
    else:
        raise Fail("SEND OK never had to wait")
    if s.ctl("close 7") != "OK close 7":
        raise Fail("control close 7")
    s.expect("\r\n7, SEND FAIL\r\n\r\n7, CLOSED\r\n")
    s.tr("AT+CIPSHUT", "\r\nSHUT OK\r\n")
    slow.close()


run(test)
