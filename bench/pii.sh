#!/usr/bin/env bash
# bench/pii.sh: throughput of the PII and secrets detector (src/gateway/pii.c, one PCRE2-JIT
# pass with validators) on chat-sized JSON bodies: 1 KiB, 16 KiB and 256 KiB, each without
# PII (prose, versions, dates, UUIDs, hex digests, integers: the look-alikes the validators
# reject) and with PII (e-mail, phone, card, IBAN, SSN, IPv4/IPv6, an AWS key in every
# fourth sentence). Prints MB/s and microseconds per body (median of ROUNDS runs), one thread.
#
# Env: PII_TOOL (build/tests/unit/gateway/gd_pii_tool), ROUNDS (3), SECONDS_EACH (1).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PII_TOOL=${PII_TOOL:-$here/build/tests/unit/gateway/gd_pii_tool}
ROUNDS=${ROUNDS:-3} SECONDS_EACH=${SECONDS_EACH:-1}
[ -x "$PII_TOOL" ] || { echo "build first: cmake --build build --target gd_pii_tool" >&2; exit 1; }
printf '%-9s %-4s %8s %8s %10s\n' size pii matches MB/s us/body
for kib in 1 16 256; do
    for pii in 0 1; do
        runs=$(for _ in $(seq "$ROUNDS"); do "$PII_TOOL" bench "$kib" "$pii" "$SECONDS_EACH"; done)
        echo "$runs" | /usr/bin/python3 -c '
import sys, statistics
rows = [dict(kv.split("=") for kv in l.split()) for l in sys.stdin if l.strip()]
mb = statistics.median(float(r["mb_s"]) for r in rows)
us = statistics.median(float(r["us_per_body"]) for r in rows)
r = rows[0]
size = r["size_kib"] + " KiB"
yes = "yes" if r["pii"] == "1" else "no"
print("%-9s %-4s %8s %8.1f %10.2f" % (size, yes, r["matches"], mb, us))'
    done
done
