"""Random command soup in every mode (commands, sends with odd lengths,
binary, transparent data, control faults), for both models, with race and
jitter on: the simulator must keep answering and exit cleanly (the build
runs it under ASan/UBSan when ATB_SANITIZE=ON). The module's server listens
on 127.0.0.1 when the soup says so, and clients come and go."""
import random
import socket
import time
from simharness import TcpServer, free_port, run, Fail

SIM7000 = [
    "AT", "ATE0", "ATE1", "ATV0", "ATV1", "AT+CMEE=2", "AT+CIPSHUT", "AT+CIPMUX=1",
    "AT+CIPMUX=0", "AT+CIPRXGET=1", "AT+CIPQSEND=1", "AT+CIPQSEND=0", 'AT+CSTT="x"',
    "AT+CIICR", "AT+CIFSR", "AT+CIPSTATUS", 'AT+CIPSTART=%d,"TCP","127.0.0.1",%d',
    'AT+CIPSTART="TCP","127.0.0.1",%d', "AT+CIPSEND=%d,%d", "AT+CIPSEND=%d", "AT+CIPSEND",
    "AT+CIPRXGET=2,%d,%d", "AT+CIPRXGET=3,%d,%d", "AT+CIPRXGET=4,%d", "AT+CIPACK=%d",
    "AT+CIPCLOSE=%d", "AT+CIPSEND?", "AT+CDNSGIP=x.test", "AT+CIPMODE=1", "AT+CIPMODE=0",
    "ATO", "+++", "AT+CGATT=0", "AT+CFUN=1", "AT+CIPRXGET=2,%d,0",
    "AT+CIPSERVER=1,%L", "AT+CIPSERVER=0", "AT+CIPSERVER?",
]
N11V2 = [
    "AT", "ATE0", "ATE1", 'AT+NETAPN="a","",""', "AT+XIIC=1", "AT+XIIC=0", "AT+XIIC?",
    "AT+TCPSETUP=%d,127.0.0.1,%d", "AT+UDPSETUP=%d,127.0.0.1,%d", "AT+TCPSEND=%d,%d",
    "AT+TCPSEND=%d", "AT+UDPSEND=%d,%d", "AT+TCPREAD=%d,%d", "AT+TCPCLOSE=%d",
    "AT+IPSTATUS=%d", "AT+TCPACK=%d", "AT+RECVMODE=0,0", "AT+RECVMODE=1,1",
    "AT+DATAFORMAT=0,0", "AT+DATAFORMAT=1,1", "AT+TCPTRANS=127.0.0.1,%d", "AT+TRANSCLOSE",
    "ATO", "+++", "AT+DNS=x.test", "AT+PING=127.0.0.1", "AT+CGATT=0", "AT+CGATT=1",
    "AT+TCPLISTEN=%L", "AT+TCPLISTEN?", "AT+CLOSELISTEN", "AT+CLOSECLIENT",
    "AT+CLOSECLIENT=%d", "AT+TCPSENDS=%d,%d", "AT+TCPSENDS=%d", "AT+TCPACKS=%d",
]
# each soup starts with the module's server listening, so that clients
# reach it before the soup takes the context down
PRELUDE = {
    "sim7000": ["AT+CIPMUX=1", 'AT+CSTT="x"', "AT+CIICR", "AT+CIFSR", "AT+CIPSERVER=1,%L"],
    "n11v2": ["AT+XIIC=1", "AT+TCPLISTEN=%L"],
}
CONTROL = ["garbage 0d0a2b", "drop-urc 2", "close %d", "stall 30", "pdp-deact", "stats", "bogus"]


def fill(rnd, cmd, port, lport=0):
    cmd = cmd.replace("%L", str(lport))
    n = cmd.count("%d")
    vals = []
    for i in range(n):
        if "127.0.0.1" in cmd and i == n - 1:
            vals.append(port)
        else:
            vals.append(rnd.choice([0, 1, 2, 4, 7, 9, 5, 1460, 3000, rnd.randrange(2000)]))
    return cmd % tuple(vals)


def knock(rnd, lport, clients):
    """A client of the module's server comes, talks, or goes."""
    if clients and rnd.random() < 0.4:
        clients.pop(rnd.randrange(len(clients))).close()
        return
    try:
        c = socket.create_connection(("127.0.0.1", lport), timeout=0.2)
        c.setblocking(False)
        c.send(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 3000))))
        clients.append(c)
    except OSError:
        pass   # not listening, refused, reset, or its buffer full


def soup(make, model, cmds, seed):
    srv = TcpServer(echo=True)
    rnd = random.Random(seed)
    lport = free_port()
    clients = []
    s = make("--model", model, "--urc-race", "--chunk-jitter", "--seed", str(seed),
             "--rxbuf", "3000", "--latency-ms", "5", "--local-ip", "127.0.0.1")
    for cmd in PRELUDE[model]:
        s.send(fill(rnd, cmd, srv.port, lport) + "\r")
        s.drain(0.02)
    t_end = time.time() + 2
    while time.time() < t_end:
        r = rnd.random()
        if r < 0.1:
            knock(rnd, lport, clients)
        elif r < 0.6:
            s.send(fill(rnd, rnd.choice(cmds), srv.port, lport) + "\r")
        elif r < 0.85:
            s.send(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200))))
        elif r < 0.95:
            s.ctl(fill(rnd, rnd.choice(CONTROL), 0).replace("close 9", "close 1"))
        else:
            s.send(b"\x1b\x1a\r")
        s.drain(rnd.choice([0, 0.001, 0.01]))
        if s.proc.poll() is not None:
            raise Fail("%s died (seed %d)" % (model, seed))
    # back to a known state: reboot, then it must answer
    if s.ctl("reboot") != "OK reboot":
        raise Fail("reboot refused")
    time.sleep(1.3)
    s.drain(0.2)
    s.send("AT\r")
    s.read_until("OK\r\n", timeout=3)
    srv.close()
    for c in clients:
        c.close()
    s.stop()


def test(make):
    for seed in (1, 2):
        soup(make, "sim7000", SIM7000, seed)
        soup(make, "n11v2", N11V2, seed)


run(test)
