#!/usr/bin/env python3
"""atbridge benchmarks: every scenario through atbridge-sim, in network
namespaces made here (see tests/bench/run.sh, which calls this as root).

  bench.py BUILD_DIR OUT_DIR

Writes OUT_DIR/benchmarks.json (raw figures), OUT_DIR/benchmarks.md (tables
and targets) and OUT_DIR/benchmarks-throughput.svg (gnuplot). Traffic stays
inside the two namespaces: the server side has documentation addresses on
its loopback, the client side has only tun0 (or the PPP reference's link).
"""
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SRV = "198.51.100.10"
SRV2 = "203.0.113.10"
DNS_ANY = "198.51.100.53"   # any address: atbridge answers port 53 itself
QUICK = os.environ.get("BENCH_QUICK") == "1"
TICK = os.sysconf("SC_CLK_TCK")

BUILD = os.path.abspath(sys.argv[1])
OUT = os.path.abspath(sys.argv[2])
ATB = os.path.join(BUILD, "bin", "atbridge")
SIM = os.path.join(BUILD, "bin", "atbridge-sim")
LOAD = os.path.join(HERE, "load.py")
UPPP = os.path.join(HERE, "uppp.py")
HTTPD = os.path.join(REPO, "tests", "e2e", "httpd.py")

TAG = "atbb%d" % os.getpid()
NS_SRV, NS_CLI = TAG + "srv", TAG + "cli"
WORK = tempfile.mkdtemp(prefix="atbridge-bench.")
PROCS = []

# transfer sizes: about 25 s per bulk transfer on the paced lines
SIZES = {115200: 300_000, 921600: 2_000_000, 0: 64_000_000}
UP_SIZES = {115200: 300_000, 921600: 2_000_000, 0: 16_000_000}
FLOW_SECONDS, FLOW_WARM = 24.0, 4.0
if QUICK:
    SIZES = {115200: 30_000, 921600: 200_000, 0: 8_000_000}
    UP_SIZES = {115200: 30_000, 921600: 200_000, 0: 2_000_000}
    FLOW_SECONDS, FLOW_WARM = 6.0, 1.0

# subsets (a partial run; the report says which): BENCH_MODELS=n11v2,
# BENCH_LINKS=multi, BENCH_BAUDS=115200,0 (0: unpaced)
MODELS = os.environ.get("BENCH_MODELS", "sim7000,n11v2").split(",")
LINKS = [x for x in os.environ.get("BENCH_LINKS", "").split(",") if x]
BAUDS = [int(x) for x in os.environ.get("BENCH_BAUDS", "115200,921600,0").split(",")]

R = {"meta": {}, "bulk": [], "flows": [], "rr": [], "dns": [], "resources": [],
     "ppp": {}, "notes": []}


def log(*a):
    print(*a, flush=True)


def run(args, check=True, **kw):
    return subprocess.run(args, check=check, **kw)


def in_ns(ns, args):
    return ["ip", "netns", "exec", ns] + args


def setup():
    for ns in (NS_SRV, NS_CLI):
        run(["ip", "netns", "add", ns])
        run(in_ns(ns, ["ip", "link", "set", "lo", "up"]))
    run(in_ns(NS_SRV, ["ip", "addr", "add", SRV + "/32", "dev", "lo"]))
    run(in_ns(NS_SRV, ["ip", "addr", "add", SRV2 + "/32", "dev", "lo"]))
    with open(os.path.join(WORK, "hosts"), "w") as f:
        f.write("%s www.example.test\n%s other.example.test\n" % (SRV, SRV2))
        for i in range(40):
            f.write("%s n%d.example.test\n" % (SRV, i))
    www = os.path.join(WORK, "www")
    os.mkdir(www)
    for name, n in (("small", 100), ("big", 8_000_000)):
        with open(os.path.join(www, name), "wb") as f:
            f.write(os.urandom(n))
    for baud, n in SIZES.items():
        with open(os.path.join(www, "bulk%d" % baud), "wb") as f:
            left = n
            while left:
                k = min(left, 1 << 20)
                f.write(os.urandom(k))
                left -= k
    p = subprocess.Popen(in_ns(NS_SRV, ["python3", HTTPD, "--addr", SRV, "--port", "80",
                                        "--root", www]),
                         stderr=open(os.path.join(WORK, "httpd.log"), "w"))
    PROCS.append(p)
    for _ in range(50):
        r = run(in_ns(NS_SRV, ["bash", "-c", "exec 3<>/dev/tcp/%s/80" % SRV]),
                check=False, stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            return
        time.sleep(0.1)
    raise SystemExit("HTTP server did not start")


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.terminate()
    for p in PROCS:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
    for ns in (NS_SRV, NS_CLI):
        run(["ip", "netns", "del", ns], check=False, stderr=subprocess.DEVNULL)
    if os.environ.get("BENCH_KEEP"):
        log("kept", WORK)
    else:
        shutil.rmtree(WORK, ignore_errors=True)


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def link_modes():
    h = run([ATB, "--help"], capture_output=True, text=True, check=False).stdout
    return ["multi", "transparent"] if "--link" in h else ["multi"]


class Bridge:
    def __init__(self, model="sim7000", baud=115200, latency=0, link="multi", extra=()):
        self.model, self.baud, self.latency, self.link = model, baud, latency, link
        self.extra = list(extra)
        self.ctl = os.path.join(WORK, "sim.ctl")
        name = "%s-%d-%d-%s%s" % (model, baud, latency, link, "".join(self.extra).replace("-", "_"))
        self.logp = os.path.join(WORK, "bridge-%s.log" % name)
        self.simlog = os.path.join(WORK, "sim-%s.log" % name)
        args = [ATB, "--sim", "--sim-path", SIM, "--sim-netns", NS_SRV,
                "--sim-arg=--hosts=" + os.path.join(WORK, "hosts"),
                "--sim-arg=--control=" + self.ctl,
                "--sim-arg=--log=" + self.simlog,
                "--sim-arg=--model=" + model,
                "--baud", str(baud if baud else 921600),
                "--control-socket", "none"]
        if baud == 0:
            args.append("--sim-arg=--baud=0")
        if latency:
            args.append("--sim-arg=--latency-ms=%d" % latency)
        if link != "multi":
            args += ["--link", link]
        args += self.extra
        self.f = open(self.logp, "w")
        self.p = subprocess.Popen(in_ns(NS_CLI, args), stdout=self.f, stderr=subprocess.STDOUT)
        PROCS.append(self.p)
        self.pid = self.p.pid
        t0 = time.monotonic()
        while True:
            with open(self.logp) as f:
                if "data link up" in f.read():
                    break
            if self.p.poll() is not None or time.monotonic() - t0 > 60:
                raise RuntimeError("atbridge did not come up: see " + self.logp)
            time.sleep(0.1)
        self.up_s = time.monotonic() - t0
        self.bulk_cpu = 0.0
        self.bulk_bytes = 0
        self.sim_pid = None
        try:
            with open("/proc/%d/task/%d/children" % (self.pid, self.pid)) as f:
                kids = f.read().split()
            self.sim_pid = int(kids[0]) if kids else None
        except OSError:
            pass

    def cpu(self):
        return proc_cpu(self.pid)

    def sim_cpu(self):
        return proc_cpu(self.sim_pid) if self.sim_pid else 0.0

    def hwm_kb(self):
        return proc_hwm_kb(self.pid)

    def stats(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.ctl)
        s.sendall(b"stats\n")
        buf = b""
        while not buf.endswith(b"\n"):
            d = s.recv(1 << 20)
            if not d:
                break
            buf += d
        s.close()
        return json.loads(buf)

    def commands_seen(self, prefix):
        try:
            with open(self.simlog) as f:
                return any(line.upper().startswith(prefix) for line in f)
        except OSError:
            return False

    def stop(self):
        res = {"model": self.model, "baud": self.baud, "latency_ms": self.latency,
               "link": self.link, "extra_args": self.extra, "peak_rss_kb": self.hwm_kb(), "cpu_s": self.cpu(),
               "bring_up_s": round(self.up_s, 2), "bulk_bytes": self.bulk_bytes,
               "bulk_cpu_s": round(self.bulk_cpu, 3),
               "bulk_cpu_s_per_MB": round(self.bulk_cpu / (self.bulk_bytes / 1e6), 4)
               if self.bulk_bytes else None}
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.f.close()
        return res


def load(ns, *args, timeout=600):
    r = run(in_ns(ns, ["python3", LOAD] + [str(a) for a in args]), capture_output=True,
            text=True, timeout=timeout, check=False)
    if r.returncode != 0:
        raise RuntimeError("load.py %s failed: %s" % (args, r.stderr.strip()[-500:]))
    return json.loads(r.stdout)


def line_rate(baud):
    return baud / 10.0 if baud else None


def ack_queries(b):
    """In-flight queries (AT+CIPACK, AT+TCPACK) the simulator has answered so
    far; None without a simulator to ask or for a transparent link."""
    if not isinstance(b, Bridge) or b.link != "multi":
        return None
    try:
        c = b.stats().get("commands", {})
    except (OSError, ValueError):
        return None
    return sum(n for k, n in c.items() if k in ("AT+CIPACK", "AT+TCPACK"))


def bulk(b, direction, via="atbridge", ns=None, addr=SRV):
    ns = ns or NS_CLI
    baud = b.baud if isinstance(b, Bridge) else b
    n = (SIZES if direction == "down" else UP_SIZES)[baud]
    c0 = b.cpu() if isinstance(b, Bridge) else 0
    s0 = b.sim_cpu() if isinstance(b, Bridge) else 0
    q0 = ack_queries(b)
    if direction == "down":
        r = load(ns, "down", addr, "bulk%d" % baud)
    else:
        r = load(ns, "up", addr, n)
    rate = r["bytes"] / r["seconds"]
    row = {"via": via, "direction": direction, "baud": baud, "bytes": r["bytes"],
           "seconds": round(r["seconds"], 3), "Bps": round(rate), "line_Bps": line_rate(baud),
           "fraction": round(rate / line_rate(baud), 4) if baud else None}
    if isinstance(b, Bridge):
        cpu = b.cpu() - c0
        b.bulk_cpu += cpu
        b.bulk_bytes += r["bytes"]
        row.update(model=b.model, link=b.link, extra_args=b.extra, cpu_s=round(cpu, 3),
                   cpu_s_per_MB=round(cpu / (r["bytes"] / 1e6), 4),
                   cores=round(cpu / r["seconds"], 3),
                   sim_cpu_s=round(b.sim_cpu() - s0, 3))
        q1 = ack_queries(b)
        if q0 is not None and q1 is not None:
            row.update(ack_queries=q1 - q0, ack_queries_per_MB=round((q1 - q0) / (r["bytes"] / 1e6), 1))
    if r["bytes"] != n and direction == "down":
        row["short"] = True
    log("  %-8s %-4s %-11s %-7s %7d baud: %9.0f B/s%s" % (
        via, direction, row.get("model", ""), row.get("link", ""), baud, rate,
        "  (%.3f of line)" % row["fraction"] if baud else ""))
    R["bulk"].append(row)
    return row


def flows(b, n):
    c0 = b.cpu()
    r = load(NS_CLI, "flows", SRV, "big", n, FLOW_SECONDS, FLOW_WARM,
             timeout=FLOW_SECONDS + 120)
    cpu = b.cpu() - c0
    row = {"flows": n, "baud": b.baud, "model": b.model, "link": b.link,
           "aggregate_Bps": round(r["aggregate_Bps"]), "line_Bps": line_rate(b.baud),
           "fraction": round(r["aggregate_Bps"] / line_rate(b.baud), 4),
           "jain": round(r["jain"], 4), "per_flow_bytes": r["per_flow_bytes"],
           "window_s": r["window_s"], "ended_early": r["ended_early"],
           "cpu_s": round(cpu, 3), "peak_rss_kb_after": b.hwm_kb()}
    log("  %d flows: %.0f B/s (%.3f of line), Jain %.3f, peak RSS %d kB" % (
        n, row["aggregate_Bps"], row["fraction"], row["jain"], row["peak_rss_kb_after"]))
    R["flows"].append(row)


def rr(b, count=8):
    s0 = b.stats()
    r = load(NS_CLI, "rr", SRV, "small", count)
    s1 = b.stats()
    rate = line_rate(b.baud)
    to_mod = (s1["bytes_from_client"] - s0["bytes_from_client"]) / count
    to_host = (s1["bytes_to_client"] - s0["bytes_to_client"]) / count
    lat = b.latency / 1000.0
    # the payload: our request up, the server's reply (headers + 100 bytes) down
    req = len("GET /small HTTP/1.0\r\nHost: bench\r\n\r\n")
    reply = r["body_bytes"] + 150   # httpd.py's status line and headers: about 150 bytes
    row = {"baud": b.baud, "model": b.model, "latency_ms": b.latency, "count": count,
           "connect_median_s": round(statistics.median(r["connect_s"]), 4),
           "get_median_s": round(statistics.median(r["get_s"]), 4),
           "connect_all_s": [round(x, 4) for x in r["connect_s"]],
           "get_all_s": [round(x, 4) for x in r["get_s"]],
           # the simulator's connect result comes one latency after the command
           "connect_ideal_s": round(lat, 4),
           "get_ideal_s": round((req + reply) / rate + 2 * lat, 4),
           "line_bytes_to_module_per_req": round(to_mod),
           "line_bytes_to_host_per_req": round(to_host),
           "line_time_all_at_bytes_s": round((to_mod + to_host) / rate, 4)}
    log("  rr lat %d ms: connect %.3f s (ideal %.3f), GET %.3f s (ideal %.3f), AT bytes/req %d+%d" % (
        b.latency, row["connect_median_s"], row["connect_ideal_s"], row["get_median_s"],
        row["get_ideal_s"], to_mod, to_host))
    R["rr"].append(row)


def dig_check():
    """dig through tun0 must give the hosts file's answer"""
    r = run(in_ns(NS_CLI, ["dig", "@" + DNS_ANY, "www.example.test", "A", "+tries=1",
                           "+time=10"]), capture_output=True, text=True, check=False)
    return "status: NOERROR" in r.stdout and SRV in r.stdout


def dns(b):
    base = 8 * len(R["dns"])
    names = ["n%d.example.test" % (base + i) for i in range(8)]
    ok = dig_check()  # also a first look-up of www.example.test
    q = load(NS_CLI, "dns", DNS_ANY, *(names + names))["queries"]
    ms = [round(x["seconds"] * 1000, 3) if x["status"] == "ok" else None for x in q]
    cold, cached = ms[:8], ms[8:]
    good_c = [x for x in cold if x is not None]
    good_h = [x for x in cached if x is not None]
    row = {"baud": b.baud, "model": b.model, "latency_ms": b.latency, "dig_ok": ok,
           "cold_ms": cold, "cached_ms": cached,
           "cold_median_ms": round(statistics.median(good_c), 3) if good_c else None,
           "cached_median_ms": round(statistics.median(good_h), 3) if good_h else None,
           "cold_ideal_ms": 2 * b.latency}
    log("  dns lat %d ms: cold %s ms, cached %s ms" % (b.latency, row["cold_median_ms"],
                                                     row["cached_median_ms"]))
    R["dns"].append(row)


# ---- the pppd reference -------------------------------------------------

def kernel_ppp():
    if shutil.which("modprobe"):
        run(["modprobe", "ppp_async"], check=False, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
    try:
        os.close(os.open("/dev/ppp", os.O_RDWR))
        return True
    except OSError:
        return False


class PppLink:
    """atbridge-sim in the server namespace in PPP data mode with a PPP peer
    on its module side; the client side dials ATD*99# on the simulator's
    pty. kind 'pppd': Debian's pppd both sides (needs kernel PPP);
    kind 'uppp': tests/bench/uppp.py both sides (user-space PPP on tun)."""

    def __init__(self, kind, baud):
        self.kind, self.baud = kind, baud
        if kind == "pppd":
            srv_cmd = ("exec pppd nodetach noauth local nocrtscts nodefaultroute noccp "
                       "mtu 1500 mru 1500 10.64.64.1:10.64.64.2")
        else:
            srv_cmd = "exec python3 %s --local 10.64.64.1 --remote 10.64.64.2 --ifname upppm" % UPPP
        # the module side's peer address must reach the server: it is local
        # to this namespace (lo), routing replies back over the PPP link
        run(in_ns(NS_SRV, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]))
        self.sim = subprocess.Popen(in_ns(NS_SRV, [SIM, "--baud", str(baud), "--ppp-cmd", srv_cmd,
                                                    "--hosts", os.path.join(WORK, "hosts")]),
                                    stdout=subprocess.PIPE)
        PROCS.append(self.sim)
        self.tty = self.sim.stdout.readline().decode().strip()
        self.sim_pid = self.sim.pid
        logp = os.path.join(WORK, "ppp-client-%s-%d.log" % (kind, baud))
        self.logf = open(logp, "w")
        if kind == "pppd":
            chat = os.path.join(WORK, "chat")
            with open(chat, "w") as f:
                f.write("ABORT ERROR\nABORT 'NO CARRIER'\n'' AT\nOK ATD*99#\nCONNECT ''\n")
            args = ["pppd", self.tty, str(baud), "connect", "chat -f " + chat, "noauth",
                    "local", "nocrtscts", "nodetach", "defaultroute", "noipdefault", "noccp",
                    "mtu", "1500", "mru", "1500", "ifname", "ppp0"]
            self.ifname = "ppp0"
        else:
            args = ["python3", UPPP, "--device", self.tty, "--dial", "--ifname", "upppc",
                    "--default-route"]
            self.ifname = "upppc"
        self.cli = subprocess.Popen(in_ns(NS_CLI, args), stdout=self.logf, stderr=subprocess.STDOUT)
        PROCS.append(self.cli)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30:
            r = run(in_ns(NS_CLI, ["ip", "-4", "route", "show", "default"]), capture_output=True,
                    text=True, check=False)
            if self.ifname in r.stdout:
                return
            if self.cli.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("the PPP link did not come up (see %s)" % logp)

    def stop(self):
        for p in (self.cli, self.sim):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.logf.close()


def ppp_reference(bauds):
    kind = None
    if shutil.which("pppd") and kernel_ppp():
        kind = "pppd"
    else:
        R["notes"].append("pppd could not run on this machine: the kernel has no PPP "
                          "support (/dev/ppp missing, no ppp_generic/ppp_async). The PPP "
                          "reference was measured with tests/bench/uppp.py instead, a "
                          "user-space PPP (RFC 1661/1662 framing, LCP, IPCP) on tun "
                          "devices: same HDLC framing, ACCM 0, PFC and ACFC as pppd; no VJ "
                          "header compression, which Linux does not apply to TCP segments "
                          "carrying timestamps anyway.")
        kind = "uppp"
    R["ppp"]["kind"] = kind
    log("PPP reference: %s" % kind)
    for baud in bauds:
        try:
            link = PppLink(kind, baud)
        except RuntimeError as e:
            R["notes"].append("PPP reference at %d baud failed: %s" % (baud, e))
            log("  ", e)
            continue
        try:
            for d in ("down", "up"):
                bulk(baud, d, via=kind)
        finally:
            link.stop()


# ---- main ---------------------------------------------------------------

def main():
    R["meta"] = {"date_utc": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
                 "quick": QUICK, "kernel": os.uname().release, "cpus": os.cpu_count(),
                 "git": os.environ.get("BENCH_GIT") or run(
                     ["git", "-C", REPO, "describe", "--always", "--dirty"],
                     capture_output=True, text=True, check=False).stdout.strip(),
                 "sizes": {str(k): v for k, v in SIZES.items()},
                 "up_sizes": {str(k): v for k, v in UP_SIZES.items()},
                 "flow_seconds": FLOW_SECONDS, "flow_warm": FLOW_WARM}
    try:
        R["meta"]["cpu_model"] = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                  if l.startswith("model name")][0]
    except (OSError, IndexError):
        pass
    modes = link_modes()
    R["meta"]["link_modes"] = modes
    if "transparent" not in modes:
        R["notes"].append("transparent mode: not yet available (atbridge --help lists no --link)")
    t_start = time.monotonic()
    setup()
    only = os.environ.get("BENCH_ONLY", "bulk,flows,rr,dns,ppp,diag").split(",")
    try:
        for model in MODELS:
            for link in modes:
                if LINKS and link not in LINKS:
                    continue
                for baud in BAUDS:
                    if link == "transparent" and any(
                            n.startswith("%s --link transparent" % model) and "was NOT" in n
                            for n in R["notes"]):
                        continue  # accepted but not in effect: measured once, at 115200
                    if "bulk" not in only and not (model == "sim7000" and link == "multi"
                                                    and baud == 115200):
                        continue
                    log("== %s %s %s" % (model, link, baud or "unpaced"))
                    try:
                        b = Bridge(model, baud, link=link)
                    except RuntimeError as e:
                        R["notes"].append("%s %s %s: %s" % (model, link, baud, e))
                        log("  ", e)
                        continue
                    try:
                        if link == "transparent" and not b.commands_seen("AT+CIPMODE=1") \
                                and not b.commands_seen("AT+TCPTRANS"):
                            pass  # judged after the transfer below
                        if "bulk" in only:
                            for d in ("down", "up"):
                                try:
                                    bulk(b, d)
                                except (RuntimeError, subprocess.TimeoutExpired) as e:
                                    R["notes"].append("bulk %s %s %s %s: %s" % (
                                        d, model, link, baud, e))
                                    log("  ", e)
                        if link == "transparent":
                            used = b.commands_seen("AT+CIPMODE=1") or b.commands_seen("AT+TCPTRANS")
                            R["notes"].append("%s --link transparent at %s: the module %s put in "
                                              "transparent mode" % (model, baud or "unpaced",
                                                                    "was" if used else "was NOT"))
                        if model == "sim7000" and link == "multi" and baud == 115200:
                            if "rr" in only:
                                rr(b)
                            if "dns" in only:
                                dns(b)
                            if "flows" in only:
                                for n in (1, 4, 8):
                                    try:
                                        flows(b, n)
                                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                                        R["notes"].append("%d concurrent flows: %s" % (
                                            n, str(e).strip().splitlines()[-1][:200]))
                                        log("  ", e)
                    finally:
                        res = b.stop()
                        R["resources"].append(res)
                        log("  peak RSS %d kB, CPU %.2f s" % (res["peak_rss_kb"], res["cpu_s"]))
        if "diag" in only:
            # what would close the unpaced upload gap: the in-flight bound
            for mi in (65536,):
                log("== sim7000 multi unpaced, --max-inflight %d" % mi)
                b = Bridge("sim7000", 0, extra=["--max-inflight", str(mi)])
                try:
                    bulk(b, "up")
                finally:
                    R["resources"].append(b.stop())
        if "rr" in only or "dns" in only:
            for lat in (50, 200):
                log("== sim7000 multi 115200, latency %d ms" % lat)
                b = Bridge("sim7000", 115200, latency=lat)
                try:
                    if "rr" in only:
                        rr(b)
                    if "dns" in only:
                        dns(b)
                finally:
                    R["resources"].append(b.stop())
        if "ppp" in only:
            ppp_reference((115200, 921600))
    finally:
        R["meta"]["run_seconds"] = round(time.monotonic() - t_start, 1)
        os.makedirs(OUT, exist_ok=True)
        with open(os.path.join(OUT, "benchmarks.json"), "w") as f:
            json.dump(R, f, indent=1)
            f.write("\n")
        cleanup()
    log("run took %.0f s" % R["meta"]["run_seconds"])


if __name__ == "__main__":
    main()
