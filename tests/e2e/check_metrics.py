#!/usr/bin/python3
"""Checks Prometheus text exposition on stdin with a real parser.

python3-prometheus-client's parser reads it (a malformed line raises), and
on top of it what strict scrapers reject but that parser lets pass: a
metric family whose # HELP or # TYPE appears twice, a sample before or
without its family's # TYPE, and a family spread over two places.
Usage: check_metrics.py < metrics.txt   (exit 0 valid, 1 invalid, 77 no parser)
Debian's python3 (/usr/bin/python3) is where the package installs.
"""
import re
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("SKIP: python3-prometheus-client is not installed")
    sys.exit(77)

text = sys.stdin.read()
errors = []
help_seen, type_seen, closed = set(), {}, set()
current = None
for n, line in enumerate(text.splitlines(), 1):
    m = re.match(r"# (HELP|TYPE) (\S+)", line)
    if m:
        kind, name = m.groups()
        seen = help_seen if kind == "HELP" else type_seen
        if name in seen:
            errors.append(f"line {n}: second # {kind} for {name}")
        if kind == "HELP":
            help_seen.add(name)
        else:
            type_seen[name] = line.split()[3] if len(line.split()) > 3 else ""
        if name != current:
            if name in closed:
                errors.append(f"line {n}: family {name} continues after another family")
            if current:
                closed.add(current)
            current = name
        continue
    if not line or line.startswith("#"):
        continue
    sample = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
    if sample != current:
        errors.append(f"line {n}: sample {sample} outside its family (# TYPE {current})")
try:
    families = list(text_string_to_metric_families(text))
except Exception as e:  # the parser's own verdict
    errors.append(f"parser: {e}")
    families = []
for name in type_seen:
    if name not in help_seen:
        errors.append(f"{name}: # TYPE without # HELP")
for e in errors:
    print("invalid metrics:", e)
if errors:
    sys.exit(1)
print(f"metrics valid: {len(families)} families, "
      f"{sum(len(f.samples) for f in families)} samples")
