"""--baud 9600 paces both directions at 960 bytes/s (loose bounds)."""
import time
from simharness import TcpServer, recv_exact, run, Fail


def test(make):
    s = make("--baud", "9600")
    # output: 2000 bytes injected on the line
    t0 = time.time()
    if s.ctl("garbage " + "55" * 2000) != "OK garbage 2000":
        raise Fail("garbage")
    s.expect(b"\x55" * 2000, timeout=10)
    dt = time.time() - t0
    if not 1.6 < dt < 3.5:
        raise Fail("2000 bytes out took %.2f s, expected about 2.1" % dt)

    # input: the simulator reads the client's bytes at the same pace
    srv = TcpServer()
    s.bring_up()
    s.tr('AT+CIPSTART=0,"TCP","127.0.0.1",%d' % srv.port, "\r\nOK\r\n")
    s.expect("\r\n0, CONNECT OK\r\n")
    s.tr("AT+CIPSEND=0,1460", "\r\n> ")
    t0 = time.time()
    s.send(b"y" * 1460)
    recv_exact(srv.conn(), 1460, timeout=10)
    dt = time.time() - t0
    if not 1.1 < dt < 3.0:
        raise Fail("1460 bytes in took %.2f s, expected about 1.5" % dt)
    s.expect("\r\nDATA ACCEPT:0,1460\r\n")
    srv.close()


run(test)
