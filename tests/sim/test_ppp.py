"""PPP data mode (ppp.c): ATD*99# and AT+CGDATA="PPP",1 answer CONNECT and
the line carries bytes to and from the program given by --ppp-cmd; when it
exits the module says NO CARRIER and takes commands again. Then the same
with Debian's pppd behind the module: an LCP Configure-Request from us gets
an LCP frame back. Skips (77) when pppd is missing or cannot run here (no
kernel PPP, not root) after the program-agnostic part has passed."""
import os
import shutil
import sys
from simharness import Sim, Fail


def part_program():
    # the program echoes 8 bytes and exits
    s = Sim("--ppp-cmd", "exec dd bs=1 count=8 2>/dev/null", "--baud", "115200")
    try:
        s.send("ATE0\r")
        s.expect("ATE0\r\r\nOK\r\n")
        s.tr("ATD*99#", "\r\nCONNECT\r\n")
        s.send(b"\x7e\x00\x0d\x0a+++\x7e")
        s.expect(b"\x7e\x00\x0d\x0a+++\x7e", timeout=5)
        s.expect("\r\nNO CARRIER\r\n", timeout=5)
        s.tr("AT", "\r\nOK\r\n")
        # CGDATA form, and a test command
        s.tr("AT+CGDATA=?", '\r\n+CGDATA: ("PPP")\r\n\r\nOK\r\n')
        s.tr('AT+CGDATA="PPP",1', "\r\nCONNECT\r\n")
        s.send(b"12345678")
        s.expect(b"12345678")
        s.expect("\r\nNO CARRIER\r\n", timeout=5)
        s.tr('AT+CGDATA="X25",1', "\r\nERROR\r\n")
        s.tr("ATD123;", "\r\nERROR\r\n")
        s.stop()
    except Fail:
        s.proc.kill()
        raise
    # a reboot ends the session: NO CARRIER, the boot notifications, commands
    s = Sim("--ppp-cmd", "exec cat")
    try:
        s.send("ATE0\r")
        s.expect("ATE0\r\r\nOK\r\n")
        s.tr("ATD*99#", "\r\nCONNECT\r\n")
        s.send(b"xyz")
        s.expect(b"xyz")
        if not s.ctl("reboot").startswith("OK"):
            raise Fail("reboot")
        s.expect("\r\nNO CARRIER\r\n")
        s.read_until(b"SMS Ready\r\n", timeout=5)
        s.send("AT\r")
        s.expect("AT\r\r\nOK\r\n")
        s.stop()
    except Fail:
        s.proc.kill()
        raise
    # the N11V2 has the same dial-up
    s = Sim("--model", "n11v2", "--ppp-cmd", "exec dd bs=1 count=4 2>/dev/null")
    try:
        s.send("ATE0\r")
        s.expect("ATE0\r\r\nOK\r\n")
        s.tr("ATD*99***1#", "\r\nCONNECT\r\n")
        s.send(b"abcd")
        s.expect(b"abcd")
        s.expect("\r\nNO CARRIER\r\n", timeout=5)
        s.stop()
    except Fail:
        s.proc.kill()
        raise


def fcs16(data):
    fcs = 0xFFFF
    for b in data:
        fcs ^= b
        for _ in range(8):
            fcs = (fcs >> 1) ^ 0x8408 if fcs & 1 else fcs >> 1
    return fcs ^ 0xFFFF


def hdlc(frame):
    f = frame + fcs16(frame).to_bytes(2, "little")
    out = bytearray(b"\x7e")
    for b in f:
        if b < 0x20 or b in (0x7d, 0x7e):
            out += bytes([0x7d, b ^ 0x20])
        else:
            out.append(b)
    return bytes(out + b"\x7e")


def pppd_usable():
    if not shutil.which("pppd"):
        return "pppd is not installed"
    try:
        os.close(os.open("/dev/ppp", os.O_RDWR))
    except OSError as e:
        return "no kernel PPP (/dev/ppp: %s)" % e.strerror
    return None


def part_pppd():
    s = Sim("--ppp-cmd", "exec pppd nodetach noauth local nocrtscts nodefaultroute "
            "noccp lcp-max-configure 3 10.64.64.1:10.64.64.2")
    try:
        s.send("ATE0\r")
        s.expect("ATE0\r\r\nOK\r\n")
        s.tr("ATD*99#", "\r\nCONNECT\r\n")
        # LCP Configure-Request id 1 with magic number 0x01020304
        lcp = bytes([0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x0a, 0x05, 0x06, 1, 2, 3, 4])
        s.send(hdlc(lcp))
        # pppd's first frame: flag, address 0xff, escaped control, LCP 0xc021
        s.read_until(b"\x7e\xff\x7d\x23\xc0\x21", timeout=10)
        s.stop()
    except Fail:
        s.proc.kill()
        raise


def main():
    try:
        part_program()
    except Fail as e:
        print("FAIL:", e)
        sys.exit(1)
    why = pppd_usable()
    if why:
        print("program part PASS; SKIP pppd part:", why)
        sys.exit(77)
    try:
        part_pppd()
    except Fail as e:
        print("FAIL (pppd):", e)
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
