"""Power-up defaults: echo on (the command line echoed as received,
including its CR), ATV1 framing, ATV0 numeric codes, and a client that
closes and reopens the port."""
from simharness import run, Fail


def test(make):
    s = make()
    s.send("AT\r")
    s.expect("AT\r\r\nOK\r\n")
    s.send("at+cpin?\r")
    s.expect("at+cpin?\r\r\n+CPIN: READY\r\n\r\nOK\r\n")
    s.send("ATV0\r")
    s.expect("ATV0\r0\r")
    s.send("AT+NOSUCH\r")
    s.expect("AT+NOSUCH\r4\r")
    s.send("AT+CSQ\r")
    s.expect("AT+CSQ\r+CSQ: 20,0\r\n0\r")
    s.send("ATV1\r")
    s.expect("ATV1\r\r\nOK\r\n")
    s.send("ATE0\r")
    s.expect("ATE0\r\r\nOK\r\n")
    s.tr("AT", "\r\nOK\r\n")
    # reopen: the simulator keeps state and keeps answering
    s.close_port()
    s.open()
    s.tr("AT", "\r\nOK\r\n")
    s.close_port()
    s.open()
    s.tr("ATE1", "\r\nOK\r\n")
    s.send("AT\r")
    s.expect("AT\r\r\nOK\r\n")
    # identity (SIM7000)
    s.send("ATE0\r")
    s.expect("ATE0\r\r\nOK\r\n")
    s.tr("AT+CGMI", "\r\nSIMCOM_Ltd\r\n\r\nOK\r\n")
    s.tr("AT+CGMM", "\r\nSIMCOM_SIM7000E\r\n\r\nOK\r\n")
    s.quiet(0.1)


run(test)
