"""Bad input: unknown and malformed commands, +CMEE forms, wrong-state
errors, over-long lines, non-AT lines, junk bytes; the simulator survives."""
from simharness import run, Fail


def test(make):
    s = make()
    s.send("ATE0\r")
    s.expect("ATE0\r\r\nOK\r\n")
    s.tr("AT+NOSUCH", "\r\nERROR\r\n")
    s.tr("ATQ7X", "\r\nERROR\r\n")
    s.tr("AT+CIPMUX=7", "\r\nERROR\r\n")
    s.tr("AT+CMEE=1", "\r\nOK\r\n")
    s.tr("AT+CMEE?", "\r\n+CMEE: 1\r\n\r\nOK\r\n")
    s.tr("AT+CIPMUX=7", "\r\n+CME ERROR: 50\r\n")
    s.tr("AT+CIICR", "\r\n+CME ERROR: 3\r\n")      # wrong state (IP INITIAL)
    s.tr('AT+CSTT="unterminated', "\r\n+CME ERROR: 50\r\n")
    s.tr("AT+NOSUCH", "\r\nERROR\r\n")             # unknown stays plain ERROR
    s.tr("AT+CMEE=2", "\r\nOK\r\n")
    s.tr("AT+CIPMUX=7", "\r\n+CME ERROR: Incorrect parameters\r\n")
    s.tr("AT+CIFSR", "\r\n+CME ERROR: operation not allowed\r\n")
    s.tr("AT+CMEE=3", "\r\n+CME ERROR: Incorrect parameters\r\n")
    s.tr("AT+CMEE=0", "\r\nOK\r\n")
    # wrong states for the bring-up commands
    s.tr("AT+CIPSTART=0,\"TCP\",\"127.0.0.1\",1", "\r\nERROR\r\n")  # single mode: 3 args
    s.tr("AT+CIPMUX=1", "\r\nOK\r\n")
    s.tr("AT+CIPSTART=0,\"TCP\",\"127.0.0.1\",1", "\r\nERROR\r\n")  # IP INITIAL
    s.tr('AT+CSTT="a","b","c"', "\r\nOK\r\n")
    s.tr("AT+CSTT?", '\r\n+CSTT: "a","b","c"\r\n\r\nOK\r\n')
    s.tr('AT+CSTT="a"', "\r\nERROR\r\n")            # IP START
    s.tr("AT+CIPMUX=0", "\r\nERROR\r\n")            # only in IP INITIAL
    s.tr("AT+CIPSTART=0,\"TCP\",\"127.0.0.1\",1", "\r\nERROR\r\n")  # IP START
    s.tr("AT+CIFSR", "\r\nERROR\r\n")
    s.tr("AT+CIICR", "\r\nOK\r\n")
    s.tr("AT+CIICR", "\r\nERROR\r\n")
    s.tr("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP GPRSACT\r\n")
    s.tr("AT+CIFSR", "\r\n10.78.245.128\r\n")
    s.tr("AT+CIPSTATUS", "\r\nOK\r\n\r\nSTATE: IP STATUS\r\n")
    s.tr("AT+CIPSEND=0,10", "\r\nERROR\r\n")        # link not connected
    s.tr("AT+CIPSEND=8,10", "\r\nERROR\r\n")
    s.tr("AT+CIPSEND=0,1461", "\r\nERROR\r\n")
    s.tr("AT+CIPSTART=9,\"TCP\",\"127.0.0.1\",1", "\r\nERROR\r\n")
    s.tr("AT+CIPSTART=0,\"SCTP\",\"127.0.0.1\",1", "\r\nERROR\r\n")
    s.tr("AT+CIPSTART=0,\"TCP\",\"127.0.0.1\",70000", "\r\nERROR\r\n")
    s.tr("AT+CIPRXGET=2,0,10", "\r\nERROR\r\n")     # link never opened
    # combined command lines (manual 1.4.4): one final result; an error stops the line
    s.tr("ATE0Q0S0=1S3=13V1X4;+IFC=0,0;+IPR=115200", "\r\nOK\r\n")
    s.tr("AT+CPIN?;+CSQ", "\r\n+CPIN: READY\r\n\r\n+CSQ: 20,0\r\n\r\nOK\r\n")
    s.tr("AT+CSQ;+NOSUCH;+CPIN?", "\r\n+CSQ: 20,0\r\n\r\nERROR\r\n")
    s.tr('AT+CDNSCFG="1.2.3.4";+CDNSCFG?',
         "\r\nPrimaryDns: 1.2.3.4\r\n\r\nSecondaryDns: 0.0.0.0\r\n\r\nOK\r\n")
    s.tr("AT" + "+CSQ;" * 120, "\r\nERROR\r\n")      # over 559 characters
    # over-long line: discarded, one ERROR, then business as usual
    s.send(b"AT+" + b"X" * 5000 + b"\r")
    s.expect("\r\nERROR\r\n")
    s.tr("AT", "\r\nOK\r\n")
    # backspace edits the line
    s.tr("AT+CSX\bQ", "\r\n+CSQ: 20,0\r\n\r\nOK\r\n")
    # lines without AT are ignored; LF and NUL between lines are skipped
    s.send("hello\r\n\x00\nAT\r\n")
    s.expect("\r\nOK\r\n")
    s.quiet(0.1)
    # random junk: only ERRORs or silence, never a crash
    import random
    rnd = random.Random(7)
    for _ in range(200):
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 80)))
        junk = junk.replace(b"\r", b"")
        s.send(b"AT" + junk + b"\r")
    s.drain(0.5)
    s.send("\x1b\x1a\rATE0\r")
    s.drain(0.3)
    s.tr("AT", "\r\nOK\r\n")
    if s.proc.poll() is not None:
        raise Fail("simulator died")


run(test)
