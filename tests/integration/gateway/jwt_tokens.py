"""JWTs for the governance tests, signed with the openssl CLI (RS256, ES256, HS256), so
girder is checked against tokens it did not make itself."""
import base64
import json
import os
import subprocess


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def openssl(args, data=None):
    return subprocess.run(["openssl"] + args, input=data, capture_output=True,
                          check=True).stdout


def make_keys(d):
    """RSA-2048 and EC P-256 key pairs under d; returns their file names."""
    k = {}
    for name, opts in (("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
                       ("ec", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])):
        priv, pub = os.path.join(d, name + ".pem"), os.path.join(d, name + ".pub")
        openssl(["genpkey"] + opts + ["-out", priv])
        openssl(["pkey", "-in", priv, "-pubout", "-out", pub])
        k[name], k[name + "_pub"] = priv, pub
    return k


def der_to_raw(der, size=32):
    """ECDSA signature: ASN.1 SEQUENCE{INTEGER r, INTEGER s} -> r || s (JWS form)."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7f)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\x00")
        out += v.rjust(size, b"\x00")
        i += 2 + n
    return out


def token(header, claims, alg_key=None, hmac_key=None):
    """Signs header.claims: alg_key = ("RS256"|"ES256", private pem path), or hmac_key
    (bytes) for HS256; neither: no signature (alg none)."""
    si = (b64url(json.dumps(header).encode()) + "." +
          b64url(json.dumps(claims).encode())).encode()
    if hmac_key is not None:
        sig = openssl(["dgst", "-sha256", "-mac", "HMAC", "-macopt",
                       "hexkey:" + hmac_key.hex(), "-binary"], si)
    elif alg_key is not None:
        alg, pem = alg_key
        sig = openssl(["dgst", "-sha256", "-sign", pem], si)
        if alg == "ES256":
            sig = der_to_raw(sig)
    else:
        sig = b""
    return si.decode() + "." + b64url(sig)
