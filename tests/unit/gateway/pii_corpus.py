#!/usr/bin/env python3
"""Labelled corpus for the PII detector (src/gateway/pii.c): positives of every category,
generated with valid checksums, and look-alikes that must not be reported (numbers failing
Luhn, IBANs with a wrong check, never-issued SSNs, versions, dates, timestamps, UUIDs, git SHAs,
plain integers, words). Runs gd_pii_tool scan on it, prints precision/recall per category and
fails below the floors (FLOORS, justified in docs/governance.md). Deterministic (seeded)."""
import base64, json, random, string, subprocess, sys
from collections import Counter

R = random.Random(13)
ALNUM = string.ascii_letters + string.digits

def luhn_digit(body):
    s = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        s += d
    return str((10 - s % 10) % 10)

def card(valid=True):
    pre, n = R.choice([("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16), ("4", 13), ("2221", 16)])
    body = pre + "".join(R.choice(string.digits) for _ in range(n - len(pre) - 1))
    d = luhn_digit(body)
    if not valid:
        d = str((int(d) + R.randint(1, 9)) % 10)
    num = body + d
    sep = R.choice(["", " ", "-"])
    return sep.join(num[i:i + 4] for i in range(0, len(num), 4)) if sep else num

def iban(valid=True):
    cc, n = R.choice([("DE", 18), ("GB", 18), ("FR", 23), ("NL", 14), ("ES", 20), ("IT", 23)])
    bban = "".join(R.choice(string.digits if cc != "GB" else ALNUM.upper()[:36]) for _ in range(n))
    if cc in ("GB", "NL"):
        bban = "".join(R.choice(string.ascii_uppercase) for _ in range(4)) + bban[4:]
    num = int("".join(str(int(c, 36)) for c in bban + cc + "00"))
    chk = 98 - num % 97
    if not valid:
        chk = (chk + R.randint(1, 50)) % 97 + 2
    s = f"{cc}{chk:02d}{bban}"
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4)) if R.random() < 0.5 else s

def ssn(valid=True):
    if valid:
        a = R.choice([R.randint(1, 665), R.randint(667, 899)])
        return f"{a:03d}-{R.randint(1, 99):02d}-{R.randint(1, 9999):04d}"
    return R.choice([f"000-{R.randint(1,99):02d}-{R.randint(1,9999):04d}",
                     f"666-{R.randint(1,99):02d}-{R.randint(1,9999):04d}",
                     f"9{R.randint(0,99):02d}-{R.randint(1,99):02d}-{R.randint(1,9999):04d}",
                     f"{R.randint(1,665):03d}-00-{R.randint(1,9999):04d}",
                     f"{R.randint(1,665):03d}-{R.randint(1,99):02d}-0000"])

def email():
    user = R.choice(["jane.doe", "j_smith+news", "ops", "first.last", "x" + str(R.randint(1, 999))])
    dom = R.choice(["example.com", "mail.example.org", "corp.co.uk", "uni-bonn.de", "a.io"])
    return f"{user}@{dom}"

def phone():
    return R.choice([f"+1 415 {R.randint(200,999)} {R.randint(1000,9999)}",
                     f"+44 20 7946 {R.randint(1000,9999)}", f"+49 30 {R.randint(1000000,9999999)}",
                     f"+33 6 12 34 {R.randint(10,99)} {R.randint(10,99)}",
                     f"+14155552{R.randint(100,999)}",
                     f"({R.randint(201,989)}) {R.randint(200,999)}-{R.randint(1000,9999)}",
                     f"{R.randint(201,989)}-{R.randint(200,999)}-{R.randint(1000,9999)}",
                     f"030 {R.randint(1000,9999)} {R.randint(1000,9999)}",
                     f"020 7946 {R.randint(1000,9999)}"])

def ipv4():
    return ".".join(str(R.randint(1, 255)) for _ in range(4))

def ipv6():
    g = [f"{R.randint(0, 0xffff):x}" for _ in range(8)]
    return R.choice([":".join(g), "2001:db8::" + g[0] + ":" + g[1], "fe80::" + g[2], "::1",
                     "::ffff:192.0.2." + str(R.randint(1, 254))])

def rnd(alpha, n):
    while True:
        s = "".join(R.choice(alpha) for _ in range(n))
        if any(c.isdigit() for c in s) and any(c.isupper() for c in s) and any(c.islower() for c in s):
            return s

def jwt():
    h = base64.urlsafe_b64encode(json.dumps({"alg": R.choice(["HS256", "RS256"]), "typ": "JWT"}).encode()).rstrip(b"=").decode()
    p = base64.urlsafe_b64encode(json.dumps({"sub": str(R.randint(1, 10**6)), "iat": 1700000000}).encode()).rstrip(b"=").decode()
    return f"{h}.{p}.{rnd(ALNUM + '-_', 43)}"

def pem():
    kind = R.choice(["RSA ", "EC ", "", "OPENSSH "])
    body = "\\n".join(rnd(ALNUM + "+/", 64) for _ in range(3))
    return f"-----BEGIN {kind}PRIVATE KEY-----\\n{body}\\n-----END {kind}PRIVATE KEY-----"

SECRETS = {
    "aws_key": lambda: R.choice(["AKIA", "ASIA"]) + "".join(R.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
    "github_token": lambda: R.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + rnd(ALNUM, 36) if R.random() < 0.8 else "github_pat_" + rnd(ALNUM + "_", 82),
    "gitlab_token": lambda: "glpat-" + rnd(ALNUM + "-_", 20),
    "slack_token": lambda: R.choice(["xoxb-", "xoxp-", "xoxa-", "xoxr-"]) + f"{R.randint(10**10, 10**11)}-{R.randint(10**10, 10**11)}-" + rnd(ALNUM, 24),
    "google_api_key": lambda: "AIza" + rnd(ALNUM + "-_", 35),
    "stripe_key": lambda: R.choice(["sk_live_", "rk_live_"]) + rnd(ALNUM, 24),
    "openai_key": lambda: R.choice(["sk-", "sk-proj-"]) + rnd(ALNUM, 48),
    "anthropic_key": lambda: "sk-ant-api03-" + rnd(ALNUM + "-_", 80),
    "jwt": jwt,
    "private_key": pem,
    "secret": lambda: rnd(ALNUM, R.choice([24, 32, 40])),
}
POS = {"email": email, "phone": phone, "credit_card": card, "iban": iban, "ssn": ssn,
       "ipv4": ipv4, "ipv6": ipv6, **SECRETS}

TEMPLATES = ["{}", "my {} please", "Value: {}.", "send it to {} today", "({})", "\"{}\"", "x={}, y=2"]

NEG = [  # look-alikes: nothing must be reported
    lambda: card(valid=False), lambda: iban(valid=False), lambda: ssn(valid=False),
    lambda: f"version {R.randint(0,9)}.{R.randint(0,30)}.{R.randint(0,99)}",
    lambda: f"v{R.randint(1,9)}.{R.randint(0,9)}.{R.randint(0,9)}-rc{R.randint(1,5)}",
    lambda: f"2024-{R.randint(1,12):02d}-{R.randint(1,28):02d}T{R.randint(0,23):02d}:{R.randint(0,59):02d}:{R.randint(0,59):02d}Z",
    lambda: f"{R.randint(1,28):02d}.{R.randint(1,12):02d}.2023 {R.randint(0,23):02d}:{R.randint(0,59):02d}",
    lambda: f"{R.randint(1,12):02d}/{R.randint(1,28):02d}/2024",
    lambda: f"{R.randint(0,23):02d}:{R.randint(0,59):02d}:{R.randint(0,59):02d}",
    lambda: "%08x-%04x-%04x-%04x-%012x" % (R.getrandbits(32), R.getrandbits(16), R.getrandbits(16), R.getrandbits(16), R.getrandbits(48)),
    lambda: "%040x" % R.getrandbits(160), lambda: "%064x" % R.getrandbits(256),
    lambda: str(R.randint(10**9, 10**18)), lambda: f"{R.randint(1000,99999)} requests in {R.randint(2,999)} ms",
    lambda: f"{R.randint(300,999)}.{R.randint(300,999)}.{R.randint(300,999)}.{R.randint(300,999)}",
    lambda: "1.2.3.4.5", lambda: "sk-this-is-not-a-key-at-all", lambda: "internationalization_configuration",
    lambda: "ThisIsAVeryLongIdentifierName", lambda: "/usr/local/lib/python3/site-packages",
    lambda: "std::vector<int>::iterator", lambda: "a:b:c", lambda: "user at example dot com",
    lambda: f"${R.randint(1,999)},{R.randint(100,999)}.{R.randint(10,99)}",
    lambda: f"ISBN 978-{R.randint(0,9)}-{R.randint(100,999)}-{R.randint(10000,99999)}-{R.randint(0,9)}",
    lambda: "the quick brown fox jumps over the lazy dog",
]

FLOORS = {"precision": 0.95, "recall": 0.95}
FLOORS_SECRET = {"precision": 0.95, "recall": 0.90}  # generic tokens: entropy is a heuristic

def main():
    tool = sys.argv[1]
    lines, labels = [], []
    for cat, gen in POS.items():
        for _ in range(60):
            lines.append(R.choice(TEMPLATES).format(gen()))
            labels.append([cat])
    for _ in range(40):  # two values in one text
        a, b = R.sample(sorted(POS), 2)
        lines.append(f"{POS[a]()} and then {POS[b]()}")
        labels.append([a, b])
    for gen in NEG:
        for _ in range(25):
            lines.append(R.choice(TEMPLATES).format(gen()))
            labels.append([])
    out = subprocess.run([tool, "scan"], input="\n".join(lines) + "\n", capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert len(out) == len(lines), (len(out), len(lines))
    tp, fp, fn = Counter(), Counter(), Counter()
    bad = []
    for text, want, got in zip(lines, labels, out):
        g = Counter([] if got == "-" else got.split())
        w = Counter(want)
        for c in set(g) | set(w):
            tp[c] += min(g[c], w[c])
            fp[c] += max(0, g[c] - w[c])
            fn[c] += max(0, w[c] - g[c])
        if g != w:
            bad.append(f"  want={sorted(w.elements())} got={sorted(g.elements())}: {text[:120]}")
    print(f"{len(lines)} texts, {sum(len(l) for l in labels)} labelled values")
    print(f"{'category':16} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}")
    fails = []
    for c in sorted(POS):
        p = tp[c] / (tp[c] + fp[c]) if tp[c] + fp[c] else 1.0
        r = tp[c] / (tp[c] + fn[c]) if tp[c] + fn[c] else 1.0
        print(f"{c:16} {tp[c]:4} {fp[c]:4} {fn[c]:4} {p:9.3f} {r:7.3f}")
        fl = FLOORS_SECRET if c == "secret" else FLOORS
        if p < fl["precision"] or r < fl["recall"]:
            fails.append(c)
    print(f"{len(bad)} texts differ from their labels")
    print("\n".join(bad[:40]))
    if fails:
        print("below floor:", fails)
        sys.exit(1)

main()
