#!/usr/bin/env bash
# End-to-end over transparent links (--link transparent): SIM7000 CIPMODE=1
# or N11V2 TCPTRANS (ATB_MODEL), one flow at a time in data mode.
# Usage: transparent.sh CASE
#   download | upload | sequential | queuewait | remoteclose | pdpdeact
#   | localclose | plus | dns | udp
. "$(dirname "$0")"/lib.sh

case_=${1:?case}
e2e_netns
e2e_httpd
url=http://$SRV_ADDR
NS_ADDR=203.0.113.53 # port 53 is answered by atbridge itself
case $ATB_MODEL in
sim7000) SIM_LINK=0; AT_TOPEN='AT+CIPSTART="TCP"'; AT_TCLOSE='AT+CIPCLOSE' ;;
n11v2) SIM_LINK=7; AT_TOPEN='AT+TCPTRANS='; AT_TCLOSE='AT+TRANSCLOSE' ;;
esac

ctl() { sim_ctl "$@"; }

get_check() { # name -> compares sha256 of a download with the original
	local name=$1 out=$WORK/got-$1
	in_cli curl -sS --max-time 120 -o "$out" "$url/$name" || fail "curl $name failed"
	[ "$(sha_of "$out")" = "$(sha_of "$WORK/www/$name")" ] || fail "$name: sha256 differs"
}

put_check() { # file -> the server's sha256 of the upload must match
	local want got
	want=$(sha_of "$1")
	got=$(in_cli curl -sS --max-time 120 -T "$1" "$url/sha256") || fail "upload of $1 failed"
	[ "$got" = "$want" ] || fail "upload: server saw sha256 $got, sent $want"
}

# An echo server in the server namespace (port 7): writes back what it reads.
e2e_echod() {
	ip netns exec "$NS_SRV" python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("'$SRV_ADDR'", 7)); s.listen(8)
def serve(c):
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
' &
	SRV_PIDS+=($!)
	for _ in $(seq 50); do
		in_srv bash -c "exec 3<>/dev/tcp/$SRV_ADDR/7" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "echo server did not start"
}

opens() { grep -c -F -- "$AT_TOPEN" "$WORK"/sim-commands.log; }

case $case_ in
download)
	e2e_bridge --link transparent --sim-arg=--baud=0
	sim_log_has 'AT+CIPMODE=1' || [ "$ATB_MODEL" = n11v2 ] || fail "no AT+CIPMODE=1 in bring-up"
	e2e_file 1m 1048576
	get_check 1m
	pass "1 MB download intact over a transparent link"
	get_check 1m
	[ "$(opens)" -ge 2 ] || fail "expected one open per download, log has $(opens)"
	pass "second download on a fresh link intact"
	;;
upload)
	e2e_bridge --link transparent --sim-arg=--baud=0
	head -c 1048576 /dev/urandom >"$WORK"/up
	put_check "$WORK"/up
	pass "1 MB upload intact over a transparent link"
	;;
sequential)
	# two flows at once: the second waits for the link, then runs
	e2e_bridge --link transparent --sim-arg=--baud=0 --sim-arg=--latency-ms=50
	e2e_file a 400000
	e2e_file b 300000
	in_cli curl -sS --max-time 120 -o "$WORK"/got-a "$url/a" &
	pa=$!
	in_cli curl -sS --max-time 120 -o "$WORK"/got-b "$url/b" &
	pb=$!
	wait $pa || fail "first concurrent curl failed"
	wait $pb || fail "second concurrent curl failed"
	for f in a b; do
		[ "$(sha_of "$WORK/got-$f")" = "$(sha_of "$WORK/www/$f")" ] || fail "$f: sha256 differs"
	done
	[ "$(opens)" -eq 2 ] || fail "expected 2 link opens, log has $(opens)"
	pass "two concurrent flows ran one after the other, both intact"
	;;
queuewait)
	# the link is busy longer than --queue-wait-ms: the waiting SYN gets RST
	e2e_bridge --link transparent --sim-arg=--baud=115200 --queue-wait-ms 1500
	e2e_file big 1048576
	in_cli curl -sS --max-time 60 -o /dev/null "$url/big" 2>/dev/null &
	pc=$!
	for _ in $(seq 100); do [ "$(opens)" -ge 1 ] && break; sleep 0.1; done
	start=$(date +%s%N)
	err=$(in_cli python3 -c 'import socket,errno,sys
s=socket.socket(); s.settimeout(20)
try: s.connect((sys.argv[1], 80)); print("connected")
except OSError as e: print(errno.errorcode.get(e.errno, e))' $SRV_ADDR)
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[ "$err" = ECONNREFUSED ] || fail "a flow waiting past queue-wait-ms: $err, want ECONNREFUSED (RST)"
	[ $ms -ge 1000 ] && [ $ms -lt 5000 ] || fail "RST after $ms ms, want about 1.5 s"
	pass "a flow that waited past queue-wait-ms got RST after $ms ms"
	kill $pc 2>/dev/null
	wait $pc 2>/dev/null || true
	;;
udp)
	command -v socat >/dev/null || { echo "SKIP: socat not installed"; exit 77; }
	e2e_bridge --link transparent --sim-arg=--baud=0 --dns forward
	ip netns exec "$NS_SRV" socat UDP4-RECVFROM:9000,bind=$SRV_ADDR,fork PIPE &
	SRV_PIDS+=($!)
	sleep 0.3
	# One datagram at a time, letters only: in transparent mode the module
	# packs bytes into datagrams as they come (the simulator also cuts
	# before every '+'), so only the bytes, not the boundaries, are kept.
	in_cli python3 - $SRV_ADDR <<'PY' || fail "UDP echo"
import random, socket, string, sys
rng = random.Random(7)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for i in range(100):
    want = "".join(rng.choice(string.ascii_letters) for _ in range(1 + rng.randrange(512))).encode()
    s.sendto(want, (sys.argv[1], 9000))
    got = b""
    while len(got) < len(want):
        d, _ = s.recvfrom(65535)
        got += d
    if got != want:
        print("datagram %d: sent %d bytes, got %d different ones" % (i, len(want), len(got)))
        sys.exit(1)
PY
	case $ATB_MODEL in sim7000) p='AT+CIPSTART="UDP"' ;; n11v2) p='AT+UDPTRANS=' ;; esac
	sim_log_has "$p" || fail "no $p in the simulator's log"
	pass "100 datagrams echoed intact over a transparent UDP link"
	;;
remoteclose)
	# paced line: the transfer is still running when the remote closes
	e2e_bridge --link transparent --sim-arg=--baud=115200
	e2e_file big 1048576
	e2e_file small 20000
	in_cli curl -sS --max-time 60 -o "$WORK"/got-big "$url/big" 2>"$WORK"/curl.err &
	pc=$!
	for _ in $(seq 100); do
		[ -s "$WORK"/got-big ] && [ "$(stat -c %s "$WORK"/got-big)" -gt 20000 ] && break
		sleep 0.1
	done
	ans=$(ctl close $SIM_LINK)
	case $ans in OK*) ;; *) fail "close $SIM_LINK: $ans" ;; esac
	start=$(date +%s)
	wait $pc && fail "curl succeeded although the remote closed mid-transfer"
	el=$(( $(date +%s) - start ))
	[ $el -lt 30 ] || fail "the client learned of the remote close after $el s"
	pass "remote close mid-transfer ended the client's transfer ($el s)"
	get_check small
	pass "next flow on the link after the remote close intact"
	;;
pdpdeact)
	# the network drops the context in the middle of a transfer
	e2e_bridge --link transparent --sim-arg=--baud=115200
	e2e_file big 1048576
	e2e_file small 20000
	in_cli curl -sS --max-time 60 -o "$WORK"/got-big "$url/big" 2>/dev/null &
	pc=$!
	for _ in $(seq 100); do
		[ -s "$WORK"/got-big ] && [ "$(stat -c %s "$WORK"/got-big)" -gt 20000 ] && break
		sleep 0.1
	done
	ans=$(ctl pdp-deact)
	case $ans in OK*) ;; *) fail "pdp-deact: $ans" ;; esac
	wait $pc && fail "curl succeeded although the context was lost mid-transfer"
	for _ in $(seq 300); do [ "$(grep -c "data link up" "$WORK"/bridge.log)" -ge 2 ] && break; sleep 0.1; done
	[ "$(grep -c "data link up" "$WORK"/bridge.log)" -ge 2 ] || fail "the data link did not come back"
	pass "context lost in data mode: transfer ended, data link up again"
	get_check small
	pass "next flow after the context came back intact"
	;;
localclose)
	e2e_bridge --link transparent --sim-arg=--baud=115200
	e2e_file big 1048576
	e2e_file small 20000
	# the client gives up after 3 s: RST, the bridge leaves data mode
	in_cli curl -sS --max-time 3 -o /dev/null "$url/big" 2>/dev/null && fail "curl finished 1 MB in 3 s at 115200"
	for _ in $(seq 100); do sim_log_has "$AT_TCLOSE" && break; sleep 0.1; done
	sim_log_has "$AT_TCLOSE" || fail "no $AT_TCLOSE after the client went away"
	pass "local close: +++ with guard times, then $AT_TCLOSE"
	get_check small
	pass "next flow after the local close intact"
	;;
plus)
	e2e_bridge --link transparent --sim-arg=--baud=0
	e2e_echod
	# a file made of "+++" runs, many at the ends of segments and writes
	python3 -c '
import os, sys
out = bytearray()
while len(out) < 400000:
    out += b"+++" * (1 + os.urandom(1)[0] % 4)
    out += os.urandom(os.urandom(1)[0] % 1400 + 1)
    out += b"+++"
sys.stdout.buffer.write(bytes(out))' >"$WORK"/www/plus
	get_check plus
	put_check "$WORK"/www/plus
	pass "download and upload of a file of +++ runs intact"
	# the hard case: "+++" alone after more than the guard time of silence,
	# then silence again: exactly what the escape looks like
	in_cli python3 - $SRV_ADDR <<'PY' || fail "lone +++ writes did not come back intact"
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7), timeout=30)
want = b""
for chunk in (b"+++", b"+++", b"x+++", b"++", b"+", b"+++y", b"+++"):
    time.sleep(1.5)
    s.sendall(chunk)
    want += chunk
time.sleep(1.5)
s.sendall(b"end")
want += b"end"
got = b""
s.settimeout(20)
while len(got) < len(want):
    d = s.recv(4096)
    if not d:
        break
    got += d
if got != want:
    print("sent %r, echoed %r" % (want, got))
    sys.exit(1)
PY
	pass "lone +++ after guard-long silences carried as data"
	;;
dns)
	command -v dig >/dev/null || { echo "SKIP: dig not installed"; exit 77; }
	e2e_bridge --link transparent --sim-arg=--baud=115200
	a=$(in_cli dig +time=5 +tries=1 +short @$NS_ADDR www.example.test A) || fail "dig failed"
	[ "$a" = $SRV_ADDR ] || fail "dig answered '$a' with the link idle"
	pass "name resolved while no link is open"
	e2e_file big 1048576
	# ip netns exec execs curl: $! is curl itself, so the kill below ends it
	ip netns exec "$NS_CLI" curl -sS --max-time 60 -o /dev/null "$url/big" 2>/dev/null &
	pc=$!
	for _ in $(seq 100); do [ "$(opens)" -ge 1 ] && break; sleep 0.1; done
	sleep 1
	# A cached name is answered at once, with the line in data mode.
	a=$(in_cli dig +time=5 +tries=1 +short @$NS_ADDR www.example.test A)
	[ "$a" = $SRV_ADDR ] || fail "cached name not answered in data mode: '$a'"
	pass "cached name answered in data mode"
	# A new name waits for the line (no command can go out in data mode)
	# and is answered once the link gives it back, not refused at once.
	in_cli dig +time=9 +tries=1 +short @$NS_ADDR other.example.test A >"$WORK"/dig.out 2>&1 &
	pd=$!
	sleep 1
	! grep -q "other.example.test" "$WORK"/sim-commands.log || fail "a resolve went out in data mode"
	kill $pc 2>/dev/null
	wait $pc 2>/dev/null || true
	start=$(date +%s%N)
	wait $pd || fail "dig after the link was given back: $(cat "$WORK"/dig.out)"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[ "$(cat "$WORK"/dig.out)" = $SRV_ADDR2 ] || fail "dig that waited for the line: $(cat "$WORK"/dig.out)"
	pass "a name asked in data mode answered once the line was free ($ms ms after the client left)"
	kill $pc 2>/dev/null
	wait $pc 2>/dev/null || true
	;;
*) fail "unknown case $case_" ;;
esac
