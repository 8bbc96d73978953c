"""The module's TCP server, both models, with --local-ip 127.0.0.1 and real
TCP clients: SIM7000 AT+CIPSERVER (manual 8.2.19, app note 3.2) and N11V2
chapter 13 (TCPLISTEN, TCPRECV(S), TCPSENDS, TCPACKS, CLOSECLIENT,
CLOSELISTEN); data both ways byte for byte, remote and local closes, a
full link table, bind errors, pdp-deact and reboot."""
import os
import re
import socket
import time
from simharness import TcpServer, recv_exact, free_port, run, Fail

LOCAL = "127.0.0.1"
BLOB = bytes(range(256)) * 12 + b"\r\n\x1a\x1b+++\r\nAT\r\n"   # 3086 bytes


def dial(port):
    c = socket.create_connection((LOCAL, port), timeout=5)
    return c, c.getsockname()[1]


def refused(port):
    try:
        socket.create_connection((LOCAL, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def reset_or_eof(c):
    """The client's connection ends (RST or FIN) within 2 s."""
    c.settimeout(2)
    try:
        return c.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def dial_reset(port):
    """A client the module has no link for: reset at once (on loopback the
    reset may beat connect()'s return)."""
    try:
        c, _ = dial(port)
    except ConnectionResetError:
        return True
    ok = reset_or_eof(c)
    c.close()
    return ok


def settles(s, cmd, want, timeout=2):
    """cmd's answer becomes want (the client's kernel acknowledges the
    bytes at its own pace: a delayed ACK takes up to 40 ms)."""
    deadline = time.time() + timeout
    while True:
        s.send(cmd + "\r")
        got = s.read_exact(len(want))
        if got == want.encode():
            return
        if time.time() > deadline:
            raise Fail("%s: %r, wanted %r" % (cmd, got + s.drain(0.1), want))
        s.drain(0.1)


def busy_port():
    """A port already listened on at 127.0.0.1: binding it fails."""
    srv = TcpServer()
    return srv, srv.port


def logged(s, line):
    with open(s.log_path) as f:
        return line in f.read().splitlines()


def sim7000(make):
    s = make("--local-ip", LOCAL)
    port, port2 = free_port(), free_port()
    # before the context is up: refused (echo is still on)
    s.send("AT+CIPSERVER=1,%d\r" % port)
    s.expect("AT+CIPSERVER=1,%d\r\r\nERROR\r\n" % port)
    s.bring_up(local_ip=LOCAL)
    s.tr("AT+CIFSREX", "\r\n+CIFSREX: %s\r\n\r\nOK\r\n" % LOCAL)
    s.tr("AT+CIPSERVER=?", "\r\n+CIPSERVER: (0-CLOSE SERVER, 1-OPEN SERVER),(1-65535)\r\n\r\nOK\r\n")
    s.tr("AT+CIPSERVER?", "\r\n+CIPSERVER: 0\r\n\r\nOK\r\n")
    s.tr("AT+CIPSERVER=0", "\r\nERROR\r\n")          # not listening
    s.tr("AT+CIPSERVER=1", "\r\nERROR\r\n")          # no port
    s.tr("AT+CIPSERVER=1,0", "\r\nERROR\r\n")
    bsrv, bport = busy_port()
    s.tr("AT+CIPSERVER=1,%d" % bport, "\r\nERROR\r\n")   # bind error
    bsrv.close()
    s.tr('AT+CIPSERVER=1,"%d"' % port, "\r\nOK\r\n")
    s.expect("\r\nSERVER OK\r\n")
    s.tr("AT+CIPSERVER?", "\r\n+CIPSERVER: 1,%d,0,0\r\n\r\nOK\r\n" % port)
    s.tr("AT+CIPSERVER=1,%d" % port2, "\r\nERROR\r\n")   # one port at a time
    if not refused(port2):
        raise Fail("second port must not listen")

    # an outbound link on 0, so the first client takes 1
    up = TcpServer()
    s.tr('AT+CIPSTART=0,"TCP","127.0.0.1",%d' % up.port, "\r\nOK\r\n")
    s.expect("\r\n0, CONNECT OK\r\n")
    c, cport = dial(port)
    s.expect("\r\n1, REMOTE IP: 127.0.0.1\r\n")
    s.tr("AT+CIPSTATUS=1", '\r\n+CIPSTATUS: 1,0,"TCP","127.0.0.1","%d","CONNECTED"\r\n\r\nOK\r\n' % cport)
    rows = "".join('C: %d,,"","","","INITIAL"\r\n' % i for i in range(2, 8))
    s.tr("AT+CIPSTATUS",
         "\r\nOK\r\n\r\nSTATE: IP PROCESSING\r\n\r\n"
         'S: 0,0,"%d","LISTENING"\r\n'
         'C: 0,0,"TCP","127.0.0.1","%d","CONNECTED"\r\n'
         'C: 1,0,"TCP","127.0.0.1","%d","CONNECTED"\r\n' % (port, up.port, cport) + rows)

    # client -> module: announced, read by CIPRXGET=2 byte for byte
    c.sendall(BLOB)
    s.expect("\r\n+CIPRXGET: 1,1\r\n")
    got = b""
    deadline = time.time() + 5
    while len(got) < len(BLOB) and time.time() < deadline:
        s.send("AT+CIPRXGET=2,1,1460\r")
        hdr = s.read_until("\r\n", 5)
        hdr += s.read_until("\r\n", 5)
        m = re.match(rb"\r\n\+CIPRXGET: 2,1,(\d+),(\d+)\r\n$", hdr)
        if not m:
            raise Fail("read header %r" % hdr)
        got += s.read_exact(int(m.group(1)))
        s.expect("\r\nOK\r\n")
    if got != BLOB:
        raise Fail("client data: %d bytes, differ" % len(got))
    s.tr("AT+CIPRXGET=4,1", "\r\n+CIPRXGET: 4,1,0\r\n\r\nOK\r\n")
    # module -> client: CIPSEND length form (quick send)
    s.tr("AT+CIPSEND=1,%d" % 1460, "\r\n> ")
    s.send(BLOB[:1460])
    s.expect("\r\nDATA ACCEPT:1,1460\r\n")
    if recv_exact(c, 1460) != BLOB[:1460]:
        raise Fail("data to the client")
    settles(s, "AT+CIPACK=1", "\r\n+CIPACK: 1460,1460,0\r\n\r\nOK\r\n")

    # a second client takes 2; closing it from the AT side ends it
    c2, _ = dial(port)
    s.expect("\r\n2, REMOTE IP: 127.0.0.1\r\n")
    s.tr("AT+CIPCLOSE=2", "\r\n2, CLOSE OK\r\n")
    if not reset_or_eof(c2):
        raise Fail("CIPCLOSE must end the client's connection")

    # remote close: CLOSED after the last byte was read
    c.sendall(b"bye")
    s.expect("\r\n+CIPRXGET: 1,1\r\n")
    c.close()
    time.sleep(0.05)
    s.tr("AT+CIPRXGET=2,1,100", "\r\n+CIPRXGET: 2,1,3,0\r\nbye\r\nOK\r\n")
    s.expect("\r\n1, CLOSED\r\n")

    # every link taken: the next client is reset at once
    clients = []
    for n in range(1, 8):
        cl, _ = dial(port)
        s.expect("\r\n%d, REMOTE IP: 127.0.0.1\r\n" % n)
        clients.append(cl)
    if not dial_reset(port):
        raise Fail("a client beyond the links must be reset")
    s.quiet(0.1)
    for cl in clients:
        cl.close()
    closed = sorted(s.read_until("\r\n", 5) + s.read_until("\r\n", 5) for _ in range(1, 8))
    if closed != [b"\r\n%d, CLOSED\r\n" % n for n in range(1, 8)]:
        raise Fail("remote closes: %r" % closed)

    # closing the listener keeps accepted links
    c3, _ = dial(port)
    s.expect("\r\n1, REMOTE IP: 127.0.0.1\r\n")
    s.tr("AT+CIPSERVER=0", "\r\nOK\r\n")
    s.expect("\r\nSERVER CLOSE\r\n")
    if not refused(port):
        raise Fail("closed server still accepts")
    c3.sendall(b"still")
    s.expect("\r\n+CIPRXGET: 1,1\r\n")
    s.tr("AT+CIPRXGET=2,1,100", "\r\n+CIPRXGET: 2,1,5,0\r\nstill\r\nOK\r\n")

    # CIPRXGET=0 when a client comes: its data is pushed
    s.tr("AT+CIPSERVER=1,%d" % port, "\r\nOK\r\n")
    s.expect("\r\nSERVER OK\r\n")
    s.tr("AT+CIPRXGET=0", "\r\nOK\r\n")
    c5, _ = dial(port)
    s.expect("\r\n2, REMOTE IP: 127.0.0.1\r\n")
    c5.sendall(b"push")
    s.expect("\r\n+RECEIVE,2,4:\r\npush")

    # pdp-deact drops the listener and the accepted links
    s.ctl("pdp-deact")
    s.expect("\r\n+PDP: DEACT\r\n")
    if not reset_or_eof(c3) or not reset_or_eof(c5) or not refused(port):
        raise Fail("pdp-deact must drop the server and its links")
    s.tr("AT+CIPSERVER?", "\r\n+CIPSERVER: 0\r\n\r\nOK\r\n")
    s.tr("AT+CIPSERVER=1,%d" % port, "\r\nERROR\r\n")
    s.tr("ATE1", "\r\nOK\r\n")        # bring_up starts from echo on
    s.bring_up(local_ip=LOCAL)
    s.tr("AT+CIPSERVER=1,%d" % port, "\r\nOK\r\n")
    s.expect("\r\nSERVER OK\r\n")
    c4, _ = dial(port)
    s.expect("\r\n0, REMOTE IP: 127.0.0.1\r\n")
    # so does CIPSHUT
    s.tr("AT+CIPSHUT", "\r\nSHUT OK\r\n")
    if not reset_or_eof(c4) or not refused(port):
        raise Fail("CIPSHUT must close the server and its links")
    s.tr("AT+CSTT", "\r\nOK\r\n")
    s.tr("AT+CIICR", "\r\nOK\r\n")
    s.tr("AT+CIFSR", "\r\n%s\r\n" % LOCAL)
    s.tr("AT+CIPSERVER=1,%d" % port, "\r\nOK\r\n")
    s.expect("\r\nSERVER OK\r\n")
    c4, _ = dial(port)
    s.expect("\r\n0, REMOTE IP: 127.0.0.1\r\n")

    # reboot forgets them
    s.ctl("reboot")
    s.expect("\r\nRDY\r\n", timeout=3)
    s.drain(0.1)
    if not reset_or_eof(c4) or not refused(port):
        raise Fail("reboot must forget the server")
    if not logged(s, "AT+CIPSERVER=1,%d" % port) or not logged(s, "AT+CIPSERVER?"):
        raise Fail("--log must record CIPSERVER")
    up.close()


def n11_frames(s, total):
    """+TCPRECV(S) pushes until total bytes came; checks each <= 1460."""
    data = b""
    while len(data) < total:
        hdr = s.read_until(",", 5)
        hdr += s.read_until(",", 5)
        m = re.match(rb"\r\n\+TCPRECV\(S\): (\d),(\d+),$", hdr)
        if not m:
            raise Fail("push header %r" % hdr)
        n = int(m.group(2))
        if n > 1460:
            raise Fail("push of %d bytes" % n)
        data += s.read_exact(n)
        s.expect("\r\n")
    return int(m.group(1)), data


def n11v2(make):
    s = make("--model", "n11v2", "--local-ip", LOCAL)
    port, port2 = free_port(), free_port()
    s.send("ATE0\r")
    s.expect("ATE0\r\r\nOK\r\n")
    s.tr("AT+TCPLISTEN=%d" % port, "\r\n+TCPLISTEN: ERROR\r\n")     # no PPP link
    s.tr("AT+XIIC=1", "\r\nOK\r\n")
    s.tr("AT+XIIC?", "\r\n+XIIC:    1,%s\r\n\r\nOK\r\n" % LOCAL)
    s.tr("AT+TCPLISTEN?", "\r\n+TCPLISTEN: not listening\r\n\r\nOK\r\n")
    s.tr("AT+TCPLISTEN=0", "\r\n+TCPLISTEN: ERROR\r\n")
    s.tr("AT+CLOSELISTEN", "\r\nERROR\r\n")
    bsrv, bport = busy_port()
    s.tr("AT+TCPLISTEN=%d" % bport, "\r\n+TCPLISTEN: bind error\r\n")
    bsrv.close()

    # socket 0 is a client link, so the listener takes socket 1
    up = TcpServer()
    s.tr("AT+TCPSETUP=0,127.0.0.1,%d" % up.port, "\r\nOK\r\n")
    s.expect("\r\n+TCPSETUP: 0,OK\r\n")
    s.tr("AT+TCPLISTEN=%d" % port, "\r\n+TCPLISTEN: 1,OK\r\n\r\nOK\r\n")
    s.tr("AT+TCPLISTEN=%d" % port2, "\r\nListening...\r\n")
    s.tr("AT+TCPLISTEN?", "\r\n+TCPLISTEN: listening status\r\n\r\nOK\r\n")
    s.tr("AT+TCPSETUP=1,127.0.0.1,%d" % up.port, "\r\n+TCPSETUP: 1,ERROR1\r\n")

    c, cport = dial(port)
    s.expect("\r\nAcceptSocket=2,ClientAddr=127.0.0.1,ClientPort=%d\r\n" % cport)
    s.tr("AT+IPSTATUS=2", "\r\n+IPSTATUS: 2,CONNECT,TCP,4096\r\n\r\nOK\r\n")
    # client -> module: pushed as +TCPRECV(S), raw bytes, <= 1460 each
    c.sendall(BLOB)
    sock, got = n11_frames(s, len(BLOB))
    if sock != 2 or got != BLOB:
        raise Fail("pushed client data differs (socket %d, %d bytes)" % (sock, len(got)))
    # module -> client: buffer mode, then command mode
    s.tr("AT+TCPSENDS=2,3000", "\r\n>")
    s.send(BLOB[:3000])
    s.expect("\r\nOK\r\n\r\n+TCPSENDS: 2,3000\r\n")
    s.tr('AT+TCPSENDS=2,4,"a\\"\\\\b"', "\r\nOK\r\n\r\n+TCPSENDS: 2,4\r\n")
    if recv_exact(c, 3004) != BLOB[:3000] + b'a"\\b':
        raise Fail("data to the client")
    settles(s, "AT+TCPACKS=2", "\r\n+TCPACKS: 2,3004,3004\r\n\r\nOK\r\n")
    s.tr("AT+TCPACKS=0", "\r\n+TCPACKS: 0,DISCONNECT\r\n\r\nOK\r\n")   # a client link
    s.tr("AT+TCPACKS=5", "\r\nERROR\r\n")
    # the client and server commands keep to their own sockets
    s.tr("AT+TCPSENDS=0,5", "\r\n+TCPSENDS: 0 is not link\r\n")
    s.tr("AT+TCPSENDS=3,5", "\r\n+TCPSENDS: 3 is not link\r\n")
    s.tr("AT+TCPSENDS=2,4097", "\r\n+TCPSENDS: DATA LENGTH ERROR\r\n")
    s.tr("AT+TCPSEND=2,5", "\r\n+TCPSEND: SOCKET ID OPEN FAILED\r\n")
    s.tr("AT+TCPCLOSE=2", "\r\n+TCPCLOSE: ERROR\r\n")
    s.tr("AT+TCPACK=2", "\r\n+TCPACK: 2,DISCONNECT\r\n\r\nOK\r\n")
    s.tr("AT+CLOSECLIENT=0", "\r\nERROR\r\n")

    # remote close: the data first, then the unsolicited CLOSELISTEN form
    c.sendall(b"bye")
    c.close()
    s.expect("\r\n+TCPRECV(S): 2,3,bye\r\n\r\n+CLOSELISTEN: 2,local link closed\r\n")
    s.tr("AT+TCPACKS=2", "\r\n+TCPACKS: 2,DISCONNECT\r\n\r\nOK\r\n")

    # sockets 2, 3, 4 accept; the next client is reset; CLOSECLIENT ends them
    clients = []
    for n in (2, 3, 4):
        cl, clport = dial(port)
        s.expect("\r\nAcceptSocket=%d,ClientAddr=127.0.0.1,ClientPort=%d\r\n" % (n, clport))
        clients.append(cl)
    if not dial_reset(port):
        raise Fail("a client beyond the sockets must be reset")
    s.quiet(0.1)
    s.tr("AT+CLOSECLIENT=3", "\r\n+CLOSECLIENT: 3,remote link closed\r\n\r\nOK\r\n")
    if not reset_or_eof(clients[1]):
        raise Fail("CLOSECLIENT=3 must end that client")
    s.tr("AT+CLOSECLIENT", "\r\n+CLOSECLIENT: 2,remote link closed\r\n"
         "\r\n+CLOSECLIENT: 4,remote link closed\r\n\r\nOK\r\n")
    if not reset_or_eof(clients[0]) or not reset_or_eof(clients[2]):
        raise Fail("CLOSECLIENT must end every client")
    s.tr("AT+CLOSECLIENT", "\r\n+CLOSECLIENT: All remote link closed\r\n\r\nOK\r\n")
    s.tr("AT+CLOSECLIENT=2", "\r\nERROR\r\n")

    # CLOSELISTEN closes the listener; an accepted link stays
    c2, c2port = dial(port)
    s.expect("\r\nAcceptSocket=2,ClientAddr=127.0.0.1,ClientPort=%d\r\n" % c2port)
    s.tr("AT+CLOSELISTEN", "\r\n+CLOSELISTEN: 1,local link closed\r\n\r\nOK\r\n")
    if not refused(port):
        raise Fail("closed listener still accepts")
    s.tr("AT+TCPLISTEN?", "\r\n+TCPLISTEN: not listening\r\n\r\nOK\r\n")
    s.tr('AT+TCPSENDS=2,2,"ok"', "\r\nOK\r\n\r\n+TCPSENDS: 2,2\r\n")
    if recv_exact(c2, 2) != b"ok":
        raise Fail("accepted link after CLOSELISTEN")

    # pdp-deact: every socket reports, listener included, in socket order
    s.tr("AT+TCPLISTEN=%d" % port, "\r\n+TCPLISTEN: 1,OK\r\n\r\nOK\r\n")
    s.ctl("pdp-deact")
    s.expect("\r\n+TCPCLOSE: 0,Link Closed\r\n"
             "\r\n+CLOSELISTEN: 1,local link closed\r\n"
             "\r\n+CLOSELISTEN: 2,local link closed\r\n"
             "\r\nGPRS DISCONNECTION\r\n")
    if not reset_or_eof(c2) or not refused(port):
        raise Fail("pdp-deact must drop the listener and its links")
    s.tr("AT+XIIC=1", "\r\nOK\r\n")
    s.tr("AT+TCPLISTEN=%d" % port, "\r\n+TCPLISTEN: 0,OK\r\n\r\nOK\r\n")
    c3, c3port = dial(port)
    s.expect("\r\nAcceptSocket=1,ClientAddr=127.0.0.1,ClientPort=%d\r\n" % c3port)

    # reboot forgets them
    s.ctl("reboot")
    s.expect("\r\n+PBREADY\r\n", timeout=3)
    if not reset_or_eof(c3) or not refused(port):
        raise Fail("reboot must forget the listener")
    s.send("ATE0\r")
    s.expect("ATE0\r\r\nOK\r\n")
    s.tr("AT+TCPLISTEN?", "\r\n+TCPLISTEN: not listening\r\n\r\nOK\r\n")
    for line in ("AT+TCPLISTEN=%d" % port, "AT+CLOSECLIENT", "AT+TCPACKS=2", "AT+CLOSELISTEN"):
        if not logged(s, line):
            raise Fail("--log must record %s" % line)
    up.close()


def n11v2_readings(make):
    """--reading server=no-ok and spacing=format on chapter 13's answers."""
    s = make("--model", "n11v2", "--local-ip", LOCAL, "--reading", "server=no-ok,spacing=format")
    port = free_port()
    s.send("ATE0\r")
    s.expect("ATE0\r\r\nOK\r\n")
    s.tr("AT+XIIC=1", "\r\nOK\r\n")
    s.tr("AT+TCPLISTEN=%d" % port, "\r\n+TCPLISTEN:0,OK\r\n")
    s.tr("AT+TCPLISTEN?", "\r\n+TCPLISTEN:listening status\r\n")
    c, cport = dial(port)
    s.expect("\r\nAcceptSocket=1,ClientAddr=127.0.0.1,ClientPort=%d\r\n" % cport)
    c.sendall(b"x")
    s.expect("\r\n+TCPRECV(S): 1,1,x\r\n")
    s.tr('AT+TCPSENDS=1,1,"y"', "\r\nOK\r\n\r\n+TCPSENDS:1,1\r\n")
    s.tr("AT+TCPACKS=0", "\r\n+TCPACKS: 0,DISCONNECT\r\n")
    s.tr("AT+CLOSECLIENT", "\r\n+CLOSECLIENT: 1,remote link closed\r\n")
    s.tr("AT+CLOSELISTEN", "\r\n+CLOSELISTEN:0,local link closed\r\n")
    c.close()


def default_address(make):
    """Without --local-ip the model's own address, which this host lacks."""
    s = make("--model", "n11v2")
    s.send("ATE0\r")
    s.expect("ATE0\r\r\nOK\r\n")
    s.tr("AT+XIIC=1", "\r\nOK\r\n")
    s.tr("AT+XIIC?", "\r\n+XIIC:    1,10.232.165.29\r\n\r\nOK\r\n")
    s.tr("AT+TCPLISTEN=%d" % free_port(), "\r\n+TCPLISTEN: bind error\r\n")


def test(make):
    t0 = time.time()
    sim7000(make)
    n11v2(make)
    n11v2_readings(make)
    default_address(make)
    print("server tests: %.2f s" % (time.time() - t0))


run(test)
