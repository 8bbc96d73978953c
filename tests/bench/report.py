#!/usr/bin/env python3
"""Turns benchmarks.json into benchmarks.md and a gnuplot chart.

  report.py JSON OUT_DIR

The analysis section of the Markdown (why a target is missed, what would
close it) is kept between the markers <!-- analysis --> and
<!-- /analysis --> of an existing OUT_DIR/benchmarks.md and carried over,
so that re-running the benchmarks refreshes the figures without losing it.
"""
import json
import os
import shutil
import subprocess
import sys

J = json.load(open(sys.argv[1]))
OUT = sys.argv[2]
MD = os.path.join(OUT, "benchmarks.md")
SVG = "benchmarks-throughput.svg"


def f3(x):
    return "—" if x is None else "%.3f" % x


def baud_name(b):
    return "unpaced" if b == 0 else str(b)


def rate(x):
    if x >= 1e6:
        return "%.2f MB/s" % (x / 1e6)
    return "%.0f B/s" % x


# "--link transparent" accepted but the module never put in transparent mode
NOT_IN_EFFECT = set()
for n in J["notes"]:
    if "--link transparent at" in n and "was NOT" in n:
        w = n.split()
        NOT_IN_EFFECT.add((w[0], 0 if w[4] == "unpaced:" else int(w[4].rstrip(":"))))


def link_label(r):
    if r.get("link") == "transparent" and (r.get("model"), r["baud"]) in NOT_IN_EFFECT:
        return "transparent (not in effect: multi-link)"
    return " ".join([r.get("link", "")] + r.get("extra_args", []))


def find_bulk(via, model, link, baud, d):
    for r in J["bulk"]:
        if r["via"] == via and r.get("model", model) == model and r.get("link", link) == link \
                and r["baud"] == baud and r["direction"] == d and not r.get("extra_args"):
            return r
    return None


def ppp_row(baud, d):
    for r in J["bulk"]:
        if r["via"] in ("pppd", "uppp") and r["baud"] == baud and r["direction"] == d:
            return r
    return None


lines = []
P = lines.append
m = J["meta"]
ppp_kind = J.get("ppp", {}).get("kind")
ppp_name = {"pppd": "pppd", "uppp": "PPP (uppp.py)"}.get(ppp_kind, "PPP")

P("# Benchmarks")
P("")
P("How close atbridge gets to the serial line's limit, and how it compares with")
P("PPP over the same simulated line. Every figure below comes from one run of")
P("`tests/bench/run.sh` (as root); the raw figures are in")
P("[`benchmarks.json`](benchmarks.json). Do not edit the tables by hand: re-run.")
P("")
P("Run: %s, git `%s`, kernel %s, %s CPUs (%s), %s s%s." % (
    m.get("date_utc"), m.get("git"), m.get("kernel"), m.get("cpus"), m.get("cpu_model", "?"),
    m.get("run_seconds"), ", QUICK sizes (not for publication)" if m.get("quick") else ""))
P("")
P("## Method")
P("")
P("- Two network namespaces made by the harness: the server side holds an HTTP")
P("  server (`tests/e2e/httpd.py`) on 198.51.100.10 and `atbridge-sim`; the client")
P("  side holds atbridge's `tun0` (default route) and the load generator")
P("  (`tests/bench/load.py`, plain sockets, its own timestamps). No traffic leaves them.")
P("- atbridge is a RelWithDebInfo build without sanitizers, started with `--sim`, so")
P("  the simulator runs in the server namespace on a pty; `--baud` paces the line at")
P("  baud/10 bytes/s each way (8N1), `--sim-arg=--baud=0` leaves it unpaced.")
P("- Throughput is payload bytes over the time from sending the request to the last")
P("  byte (download) or to the server's answer (upload), reported as a fraction of")
P("  the line's limit baud/10. Sizes in bytes, down: %s; up: %s." % (
    ", ".join("%s %s" % (baud_name(int(k)), v) for k, v in m["sizes"].items()),
    ", ".join("%s %s" % (baud_name(int(k)), v) for k, v in m.get("up_sizes", {}).items())))
P("- CPU: utime+stime of the atbridge process from `/proc/PID/stat` (10 ms ticks,")
P("  so only the large transfers give a meaningful per-MB figure); peak RSS is")
P("  `VmHWM` from `/proc/PID/status` at the end of each atbridge instance.")
P("- Concurrent flows: N downloads of one large file at once; bytes per flow are")
P("  counted in a %.0f s window after %.0f s of warm-up; Jain's index" % (
    m["flow_seconds"] - m["flow_warm"], m["flow_warm"]))
P("  (Σx)²/(N·Σx²) over the per-flow rates.")
P("- The PPP reference runs through the same simulator, in its PPP data mode")
P("  (`ATD*99#` → `CONNECT`, see docs/simulator.md), same pacing, same server.")
P("")
if J["notes"]:
    P("Notes from this run:")
    P("")
    for n in J["notes"]:
        P("- " + n)
    P("")

P("## Bulk transfers")
P("")
P("| module | link mode | line | direction | bytes | payload rate | fraction of line | atbridge CPU s/MB | atbridge cores | simulator cores |")
P("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in J["bulk"]:
    if r["via"] != "atbridge":
        continue
    P("| %s | %s | %s | %s | %d | %s | %s | %s | %s | %.3f |" % (
        r["model"], link_label(r), baud_name(r["baud"]), r["direction"], r["bytes"], rate(r["Bps"]),
        f3(r["fraction"]), "%.4f" % r["cpu_s_per_MB"], "%.3f" % r["cores"],
        r["sim_cpu_s"] / r["seconds"]))
P("")
P("Per atbridge instance (CPU over all its bulk transfers, peak RSS over its life):")
P("")
P("| module | link mode | line | latency ms | bulk MB | CPU s | CPU s/MB | peak RSS kB |")
P("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
for r in J["resources"]:
    P("| %s | %s | %s | %d | %.1f | %.2f | %s | %d |" % (
        r["model"], link_label(r), baud_name(r["baud"]), r["latency_ms"], r.get("bulk_bytes", 0) / 1e6,
        r["cpu_s"], "—" if r.get("bulk_cpu_s_per_MB") is None else "%.4f" % r["bulk_cpu_s_per_MB"],
        r["peak_rss_kb"]))
P("")
acks = [r for r in J["bulk"] if r["via"] == "atbridge" and r["direction"] == "up"
        and r.get("ack_queries") is not None]
if acks:
    P("In-flight queries during multi-link uploads (`AT+CIPACK` on the SIM7000,")
    P("`AT+TCPACK` on the N11V2, as the simulator counted them), per MB moved:")
    P("")
    P("| module | link mode | line | queries | per MB |")
    P("| --- | --- | --- | ---: | ---: |")
    for r in acks:
        P("| %s | %s | %s | %d | %.1f |" % (r["model"], link_label(r), baud_name(r["baud"]),
                                          r["ack_queries"], r["ack_queries_per_MB"]))
    P("")

P("## atbridge against %s" % ppp_name)
P("")
P("Same simulated line, same server, same transfers; atbridge on the SIM7000.")
P("")
P("| line | direction | %s | fraction | atbridge multi-link | fraction | ratio | atbridge transparent | fraction | ratio |" % ppp_name)
P("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
ratios, tratios = {}, {}
for baud in (115200, 921600):
    for d in ("down", "up"):
        p = ppp_row(baud, d)
        a = find_bulk("atbridge", "sim7000", "multi", baud, d)
        t = find_bulk("atbridge", "sim7000", "transparent", baud, d)
        if t and ("sim7000", baud) in NOT_IN_EFFECT:
            t = None
        if not p or not a:
            continue
        ratios[(baud, d)] = a["Bps"] / p["Bps"]
        cells = [baud_name(baud), d, rate(p["Bps"]), f3(p["fraction"]), rate(a["Bps"]),
                 f3(a["fraction"]), "%.3f" % ratios[(baud, d)]]
        if t:
            tratios[(baud, d)] = t["Bps"] / p["Bps"]
            cells += [rate(t["Bps"]), f3(t["fraction"]), "%.3f" % tratios[(baud, d)]]
        else:
            cells += ["—", "—", "—"]
        P("| " + " | ".join(cells) + " |")
if not ratios:
    P("| — | — | not measured | | | | | | | |")
P("")

P("## Concurrent flows (sim7000, multi-link, 115200 baud)")
P("")
P("| flows | aggregate | fraction of line | Jain's index | per-flow bytes in window | peak RSS after (kB) |")
P("| ---: | ---: | ---: | ---: | --- | ---: |")
for r in J["flows"]:
    P("| %d | %s | %s | %s | %s | %d |" % (r["flows"], rate(r["aggregate_Bps"]), f3(r["fraction"]),
                                          f3(r["jain"]), " ".join(str(x) for x in r["per_flow_bytes"]),
                                          r["peak_rss_kb_after"]))
P("")

P("## Small request/response (sim7000, multi-link, 115200 baud)")
P("")
P("Median of %d; *ideal* is the payload's time on the line (request up, reply of" %
  (J["rr"][0]["count"] if J["rr"] else 0))
P("about 250 bytes down) plus the simulated network latency (the simulator delays a")
P("connect result by one latency and data by one latency each way). *AT bytes* are")
P("all bytes the line carried per request (command, replies, notifications, data),")
P("from the simulator's `stats`.")
P("")
P("| latency ms | connect | ideal | 100-byte GET | ideal | AT bytes to module / to host | their line time |")
P("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in J["rr"]:
    P("| %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %d / %d | %.1f ms |" % (
        r["latency_ms"], r["connect_median_s"] * 1e3, r["connect_ideal_s"] * 1e3,
        r["get_median_s"] * 1e3, r["get_ideal_s"] * 1e3, r["line_bytes_to_module_per_req"],
        r["line_bytes_to_host_per_req"], r["line_time_all_at_bytes_s"] * 1e3))
P("")

P("## DNS (atbridge answers port 53 through the module's resolver)")
P("")
P("| latency ms | cold (median) | ideal cold | cached (median) | dig through tun0 |")
P("| ---: | ---: | ---: | ---: | --- |")
for r in J["dns"]:
    P("| %d | %.1f ms | %d ms | %.2f ms | %s |" % (
        r["latency_ms"], r["cold_median_ms"], r["cold_ideal_ms"], r["cached_median_ms"],
        "answer ok" if r.get("dig_ok") else "FAILED"))
P("")

# ---- targets ----
T = []


def target(name, got, want, ok):
    T.append((name, got, want, "met" if ok else "**missed**"))


for model in ("sim7000", "n11v2"):
    for baud in (115200, 921600):
        for d, want in (("down", 0.97), ("up", 0.95)):
            r = find_bulk("atbridge", model, "multi", baud, d)
            if r:
                target("multi-link %s %s %s" % (d, model, baud), f3(r["fraction"]), "≥ %.2f" % want,
                       r["fraction"] >= want)
for model in ("sim7000", "n11v2"):
    for baud in (115200, 921600):
        for d in ("down", "up"):
            r = find_bulk("atbridge", model, "transparent", baud, d)
            if r and (model, baud) in NOT_IN_EFFECT:
                if baud == 115200 and d == "down":
                    T.append(("transparent ≥ 0.99 each way, %s" % model, "—", "",
                              "not measurable: `--link transparent` is accepted but the modem "
                              "layer does not use it yet (no CIPMODE=1/TCPTRANS on the line)"))
            elif r:
                target("transparent %s %s %s" % (d, model, baud), f3(r["fraction"]), "≥ 0.99",
                       r["fraction"] >= 0.99)
if "transparent" not in m.get("link_modes", []):
    T.append(("transparent ≥ 0.99 each way; atbridge/pppd ≥ 1.0 transparent", "—", "",
              "not available (no `--link` in `atbridge --help`)"))
for r in J["flows"]:
    if r["flows"] == 8:
        target("8 flows aggregate", f3(r["fraction"]), "≥ 0.95", r["fraction"] >= 0.95)
        target("8 flows Jain's index", f3(r["jain"]), "≥ 0.95", r["jain"] >= 0.95)
        target("peak RSS with 8 flows", "%d kB" % r["peak_rss_kb_after"], "≤ 8192 kB",
               r["peak_rss_kb_after"] <= 8192)
for d in ("down", "up"):
    if (115200, d) in ratios:
        target("atbridge/%s multi-link 115200 %s" % (ppp_name, d), "%.3f" % ratios[(115200, d)],
               "≥ 0.97", ratios[(115200, d)] >= 0.97)
for d in ("down", "up"):
    if (115200, d) in tratios:
        target("atbridge/%s transparent 115200 %s" % (ppp_name, d), "%.3f" % tratios[(115200, d)],
               "≥ 1.0", tratios[(115200, d)] >= 1.0)
for model in ("sim7000", "n11v2"):
    for link, d in [(l, d) for l in m.get("link_modes", ["multi"]) for d in ("down", "up")]:
        r = find_bulk("atbridge", model, link, 0, d)
        if r and not (link == "transparent" and (model, 115200) in NOT_IN_EFFECT):
            target("unpaced %s %s %s" % (link, d, model), "%.1f MB/s, %.2f cores" % (r["Bps"] / 1e6, r["cores"]),
                   "≥ 25 MB/s, ≤ 1 core", r["Bps"] >= 25e6 and r["cores"] <= 1.0)

P("## Targets")
P("")
P("| target | measured | wanted | result |")
P("| --- | --- | --- | --- |")
for t in T:
    P("| %s | %s | %s | %s |" % t)
P("")

# ---- chart ----
dat = os.path.join(OUT, "benchmarks-throughput.dat")
rows = []
for model in ("sim7000", "n11v2"):
    for link in m.get("link_modes", ["multi"]):
        for baud in (115200, 921600):
            if link == "transparent" and (model, baud) in NOT_IN_EFFECT:
                continue
            dn = find_bulk("atbridge", model, link, baud, "down")
            up = find_bulk("atbridge", model, link, baud, "up")
            if dn and up:
                rows.append(("%s %s %s" % (model, link, baud),
                             dn["fraction"], up["fraction"]))
for baud in (115200, 921600):
    dn, up = ppp_row(baud, "down"), ppp_row(baud, "up")
    if dn and up:
        rows.append(("%s %s" % (ppp_kind, baud), dn["fraction"], up["fraction"]))
with open(dat, "w") as f:
    for name, a, b in rows:
        f.write('"%s" %.4f %.4f\n' % (name, a, b))
gp = """set terminal %s
set output '%s'
set title 'Payload throughput as a fraction of the line rate (baud/10)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0.80:1.0]
set ytics 0.02
set grid ytics
set xtics rotate by -30
set key outside right top
plot '%s' using 2:xtic(1) title 'download', '' using 3 title 'upload', 0.97 with lines lw 2 title 'download target 0.97', 0.95 with lines lw 2 dt 2 title 'upload target 0.95'
"""
if shutil.which("gnuplot") and rows:
    subprocess.run(["gnuplot"], input=gp % ("svg size 1000,480 dynamic", os.path.join(OUT, SVG), dat),
                   text=True, check=True)
    P("## Chart")
    P("")
    P("![throughput as a fraction of the line rate](%s)" % SVG)
    P("")
os.remove(dat)

# ---- carry the hand-written analysis over ----
analysis = "<!-- analysis -->\n## Analysis\n\n(to be written after a full run)\n<!-- /analysis -->"
if os.path.exists(MD):
    old = open(MD).read()
    a, b = old.find("<!-- analysis -->"), old.find("<!-- /analysis -->")
    if a >= 0 and b > a:
        analysis = old[a:b + len("<!-- /analysis -->")]
P(analysis)
P("")
with open(MD, "w") as f:
    f.write("\n".join(lines))
print("\n".join("%-55s %-28s %-22s %s" % t for t in T))
