"""Command line contract: --help, one-line errors with exit 2, --link."""
import os
import subprocess
import sys
import tempfile
from simharness import Sim, run, Fail

EXE = sys.argv[1]


def bad(args, flag):
    p = subprocess.run([EXE] + args, capture_output=True, timeout=5)
    err = p.stderr.decode()
    if p.returncode != 2:
        raise Fail("%r: exit %d" % (args, p.returncode))
    first = err.splitlines()[0] if err else ""
    if len(err.splitlines()) != 1:
        raise Fail("%r: expected one line, got %r" % (args, err))
    if flag not in first:
        raise Fail("%r: message %r does not name %s" % (args, first, flag))


def test(make):
    p = subprocess.run([EXE, "--help"], capture_output=True, timeout=5)
    out = p.stdout.decode()
    for flag in ("--model", "--baud", "--latency-ms", "--hosts", "--link", "--control",
                 "--seed", "--urc-race", "--chunk-jitter", "--rxbuf", "--log", "--verbose",
                 "--local-ip"):
        if flag not in out:
            raise Fail("--help lacks %s" % flag)
    bad(["--baud", "fast"], "--baud")
    bad(["--baud", "-1"], "-1")
    bad(["--model", "sim900"], "sim900")
    bad(["--rxbuf", "0"], "--rxbuf")
    bad(["--latency-ms", "1x"], "1x")
    bad(["--seed", "x"], "--seed")
    bad(["--bogus"], "--bogus")
    bad(["--local-ip", "1.2.3"], "--local-ip")
    bad(["--local-ip=::1"], "::1")
    bad(["--baud"], "--baud")
    bad(["--hosts", "/nonexistent/hosts"], "/nonexistent/hosts")
    bad(["--log", "/nonexistent/log"], "/nonexistent/log")
    bad(["--control", "/nonexistent/ctl"], "/nonexistent/ctl")
    d0 = tempfile.mkdtemp()
    regular = os.path.join(d0, "plainfile")
    open(regular, "w").close()
    bad(["--link", regular], regular)
    d = tempfile.mkdtemp()
    link = os.path.join(d, "ttyMODEM")
    os.symlink("/nonexistent", link)     # an old symlink is replaced
    s = make("--link", link)
    if os.readlink(link) != s.path:
        raise Fail("--link points to %r" % os.readlink(link))
    s.tr("ATE0", "ATE0\r\r\nOK\r\n")
    s.stop()
    if os.path.lexists(link):
        raise Fail("--link not removed on exit")


run(test)
