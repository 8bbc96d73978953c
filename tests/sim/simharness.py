"""Test harness for atbridge-sim: start it, talk to it over its pty, run
local servers on 127.0.0.1, use the control socket. Python 3 stdlib only."""
import os
import select
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty


class Fail(Exception):
    pass


class Sim:
    def __init__(self, *args, hosts=None, control=True, log=True):
        self.exe = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ATBRIDGE_SIM", "atbridge-sim")
        self.tmp = tempfile.mkdtemp(prefix="atbsim-")
        cmd = [self.exe] + list(args)
        if hosts is not None:
            hp = os.path.join(self.tmp, "hosts")
            with open(hp, "w") as f:
                f.write(hosts)
            cmd += ["--hosts", hp]
        self.control_path = None
        if control:
            self.control_path = os.path.join(self.tmp, "ctl")
            cmd += ["--control", self.control_path]
        self.log_path = None
        if log:
            self.log_path = os.path.join(self.tmp, "log")
            cmd += ["--log", self.log_path]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        self.path = self.proc.stdout.readline().decode().strip()
        if not self.path.startswith("/dev/"):
            raise Fail("no slave path printed: %r" % self.path)
        self.fd = None
        self.open()
        self.rx = b""

    def open(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        attrs = termios.tcgetattr(self.fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)

    def close_port(self):
        os.close(self.fd)
        self.fd = None

    def stop(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                rc = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise Fail("simulator did not exit on SIGTERM")
            if rc != 0:
                raise Fail("simulator exited with %d" % rc)
        elif self.proc.returncode != 0:
            raise Fail("simulator died with %d" % self.proc.returncode)

    # ---- line I/O ----
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        off = 0
        deadline = time.time() + 10
        while off < len(data):
            try:
                off += os.write(self.fd, data[off:])
            except BlockingIOError:
                if time.time() > deadline:
                    raise Fail("write to pty blocked")
                select.select([], [self.fd], [], 0.1)

    def _fill(self, timeout):
        r, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if r:
            try:
                d = os.read(self.fd, 65536)
            except (BlockingIOError, OSError):
                return
            self.rx += d

    def read_exact(self, n, timeout=5.0):
        deadline = time.time() + timeout
        while len(self.rx) < n:
            left = deadline - time.time()
            if left <= 0:
                raise Fail("timeout: wanted %d bytes, have %r" % (n, self.rx))
            self._fill(left)
        d, self.rx = self.rx[:n], self.rx[n:]
        return d

    def expect(self, want, timeout=5.0):
        if isinstance(want, str):
            want = want.encode()
        got = self.read_exact(len(want), timeout)
        if got != want:
            raise Fail("expected %r\n     got %r (+ buffered %r)" % (want, got, self.rx))
        return got

    def read_until(self, token, timeout=5.0):
        if isinstance(token, str):
            token = token.encode()
        deadline = time.time() + timeout
        while token not in self.rx:
            left = deadline - time.time()
            if left <= 0:
                raise Fail("timeout waiting for %r, have %r" % (token, self.rx))
            self._fill(left)
        i = self.rx.index(token) + len(token)
        d, self.rx = self.rx[:i], self.rx[i:]
        return d

    def quiet(self, t=0.2):
        """Assert nothing arrives for t seconds."""
        deadline = time.time() + t
        while time.time() < deadline:
            self._fill(deadline - time.time())
        if self.rx:
            raise Fail("unexpected output %r" % self.rx)

    def drain(self, t=0.1):
        deadline = time.time() + t
        while True:
            left = deadline - time.time()
            if left <= 0:
                break
            self._fill(left)
        d, self.rx = self.rx, b""
        return d

    def tr(self, cmd, reply, timeout=5.0):
        """Send a command line (echo off) and expect the exact reply bytes."""
        self.send(cmd + "\r")
        try:
            self.expect(reply, timeout)
        except Fail as e:
            raise Fail("%s: %s" % (cmd, e))

    # ---- control socket ----
    def ctl(self, line):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.control_path)
        s.sendall((line + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            d = s.recv(1 << 20)
            if not d:
                break
            buf += d
        s.close()
        return buf.decode().rstrip("\n")

    def bring_up(self, mux=1, rxget=1, qsend=1, local_ip="10.78.245.128"):
        """ATE0 and the multi-link bring-up used by the bridge; local_ip is
        the simulator's --local-ip (the SIM7000 model's own by default)."""
        self.send("ATE0\r")
        self.expect("ATE0\r\r\nOK\r\n")
        self.tr("AT+CMEE=0", "\r\nOK\r\n")
        self.tr("AT+CIPSHUT", "\r\nSHUT OK\r\n")
        self.tr("AT+CIPMUX=%d" % mux, "\r\nOK\r\n")
        self.tr("AT+CIPRXGET=%d" % rxget, "\r\nOK\r\n")
        self.tr("AT+CIPQSEND=%d" % qsend, "\r\nOK\r\n")
        self.tr('AT+CSTT="CMNET"', "\r\nOK\r\n")
        self.tr("AT+CIICR", "\r\nOK\r\n")
        self.tr("AT+CIFSR", "\r\n%s\r\n" % local_ip)


class TcpServer:
    """A 127.0.0.1 TCP server: accepts connections and keeps them; each
    accepted socket is available in .conns. Optional echo mode."""

    def __init__(self, echo=False, rcvbuf=None):
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.conns = []
        self.echo = echo
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            with self.cv:
                self.conns.append(c)
                self.cv.notify_all()
            if self.echo:
                threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    def _echo(self, c):
        while True:
            try:
                d = c.recv(65536)
            except OSError:
                return
            if not d:
                c.close()
                return
            c.sendall(d)

    def conn(self, i=0, timeout=5):
        with self.cv:
            self.cv.wait_for(lambda: len(self.conns) > i, timeout)
            if len(self.conns) <= i:
                raise Fail("server: no connection %d" % i)
            return self.conns[i]

    def close(self):
        self.ls.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def recv_exact(sock, n, timeout=5):
    sock.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            raise Fail("server side: EOF after %r" % buf)
        buf += d
    return buf


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def run(test):
    """Run test(sim-factory) and report; exit code for ctest."""
    sims = []

    def make(*a, **k):
        s = Sim(*a, **k)
        sims.append(s)
        return s
    try:
        test(make)
        for s in sims:
            s.stop()
    except Fail as e:
        print("FAIL:", e)
        for s in sims:
            if s.proc.poll() is None:
                s.proc.kill()
        sys.exit(1)
    print("PASS")
    sys.exit(0)
