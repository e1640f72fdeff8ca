#!/usr/bin/env python3
"""The lab's MTA-STS (RFC 8461) cases: policy domains, the nginx that serves their policies,
their DNS records, and the checks. Used by lab/lab (via lab/nginx/nginx.sh), lab/pki/make-pki.sh,
lab/dns/dnslab.py (the records) and lab/selftest.py.

    mtasts.py sans                                  the policy host names the lab certificate
                                                    mta-sts.lab.test must carry (for make-pki.sh)
    mtasts.py build  --lab DIR --port P --dead-port Q --smtp-port S
                                                    DIR/nginx/: nginx.conf, www/ (the policies),
                                                    variants/, dns-records.json (for dnslab.py
                                                    build), cases.json, variant
    mtasts.py verify [--lab DIR]                    DNS (unbound-host with dns.conf) and HTTPS
                                                    (curl) of every case; writes DIR/mta-sts.json;
                                                    exit 1 on any difference
    mtasts.py switch [--lab DIR] --variant 1|2      the TXT-id-change cases: serve variant N's
                                                    policy and TXT id (re-signs lab.test in place
                                                    and reloads NSD; needs the user of `lab up`)
    mtasts.py status [--lab DIR]                    current variant; does nginx answer?

DIR defaults to $OSTLS_LAB_DIR or /tmp/ostls-lab. Only 127.0.0.0/8 is ever used. See
lab/README.md, section "MTA-STS".
"""
import argparse
import concurrent.futures
import fcntl
import glob
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

APEX = "lab.test"
SUFFIX = "sts." + APEX            # every MTA-STS lab domain is <case>.sts.lab.test
MX_HOST = "mx." + SUFFIX          # their MX host: SAN of the mx.lab.test certificate, no TLSA
LOOP = "127.0.0.1"
POLICY_PATH = "/.well-known/mta-sts.txt"
REDIRECT_PATH = "/policy/mta-sts.txt"
MAX_BODY = 64 * 1024              # RFC 8461 section 3.3: senders SHOULD limit the body to 64 KiB
OVERSIZE = 70 * 1024
CERT = "mta-sts.lab.test"         # lab/pki: the policy hosts' certificate
WRONG_CERT = "mx.lab.test"        # a valid lab-CA chain for another name (webpki-invalid)
DAY = 86400
DANE_MX = "mx.ee311.dane.lab.test"  # lab/dns: a DANE-EE host with a matching, secure TLSA RRset
VARIANTS = (1, 2)


def die(msg):
    print("mtasts: " + msg, file=sys.stderr)
    sys.exit(1)


def default_lab():
    return os.environ.get("OSTLS_LAB_DIR", "/tmp/ostls-lab").rstrip("/") or "/"


# ---------------------------------------------------------------------------------------------
# the cases

def policy_text(mode, mx, max_age, eol="\r\n"):
    lines = ["version: STSv1", f"mode: {mode}"] + [f"mx: {m}" for m in mx] + [f"max_age: {max_age}"]
    return eol.join(lines) + eol


def parsed(mode, mx, max_age):
    return {"mode": mode, "mx": list(mx), "max_age": max_age}


# What ostls must conclude under --policy opportunistic, probed as smtp://<domain>:<smtp port>
# with --cafile <lab CA> and the lab's dns.conf (no TLSA exists for the MX host, so DANE does not
# apply), with an empty TOFU store (--no-store) unless the key says otherwise.
AUTH = {"verdict": "ok", "protection": "authenticated", "trust": "Verified", "auth_method": "mta-sts"}
ENCRYPTED = {"verdict": "ok", "protection": "encrypted", "trust": "Trusted", "auth_method": "none"}
# The MX host is not in an enforced policy: no delivery to it (RFC 8461 section 4.1 / 5). Whether
# ostls refuses before connecting or after the handshake is its choice: protection unspecified.
MX_MISMATCH = {"verdict": "fail", "auth_method": "none", "result_type": "validation-failure"}

ENFORCE_OK = parsed("enforce", [MX_HOST], DAY)
# The policy served by the cases whose fetch must fail: it would be valid, in enforce mode, and
# matches no MX of the domain, so a client that wrongly accepts it fails visibly (verdict fail).
DECOY = parsed("enforce", [f"mx.other.{SUFFIX}", f"*.{MX_HOST}"], DAY)


def case_defs():
    """name -> definition. `serve`: how nginx serves the policy path; `body`: the bytes served
    (None for the variant cases, see `variants`); `policy`: the valid policy a correct client
    gets (None when the fetch must fail); `fetch`: the expected fetch result (TLS-RPT result
    type, RFC 8460 section 4.3.2.2, or "ok")."""
    decoy = policy_text(DECOY["mode"], DECOY["mx"], DECOY["max_age"])
    pad_line = "x-lab-padding: " + "a" * 98 + "\r\n"   # unknown keys are ignored (section 3.2)
    pad = pad_line * ((OVERSIZE - len(decoy)) // len(pad_line) + 1)
    oversized = decoy + pad
    malformed = "version: STSv1\r\nmode: enforce\r\nmx " + MX_HOST + "\r\nmax_age: soon\r\n"
    defs = [
        dict(name="enforce", serve="plain", body=policy_text("enforce", [MX_HOST], DAY),
             policy=ENFORCE_OK, fetch="ok", expect={"opportunistic": AUTH},
             description="enforce, mx: mx.sts.lab.test (the MX host itself): the MX host's "
                         "certificate verifies (lab CA) for that name: authenticated (mta-sts)"),
        dict(name="enforce-wildcard", serve="plain",
             body=policy_text("enforce", [f"*.{SUFFIX}"], DAY, eol="\n"),
             policy=parsed("enforce", [f"*.{SUFFIX}"], DAY), fetch="ok",
             expect={"opportunistic": AUTH},
             description="enforce, mx: *.sts.lab.test (a wildcard matching one label, RFC 8461 "
                         "section 4.1), LF line endings instead of CRLF (both allowed, section "
                         "3.2): authenticated (mta-sts)"),
        dict(name="enforce-mismatch", serve="plain", body=decoy, policy=DECOY, fetch="ok",
             expect={"opportunistic": MX_MISMATCH},
             description="enforce, mx: mx.other.sts.lab.test and *.mx.sts.lab.test (a wildcard "
                         "matches exactly one more label, so not mx.sts.lab.test itself): the "
                         "MX host is not in the policy: fail, no delivery"),
        dict(name="testing", serve="plain", body=policy_text("testing", [MX_HOST], DAY),
             policy=parsed("testing", [MX_HOST], DAY), fetch="ok",
             expect={"opportunistic": ENCRYPTED},
             description="testing, mx: mx.sts.lab.test: nothing is enforced (failures would only "
                         "be reported): encrypted, not authenticated by MTA-STS"),
        dict(name="none", serve="plain", body=policy_text("none", [MX_HOST], DAY),
             policy=parsed("none", [MX_HOST], DAY), fetch="ok",
             expect={"opportunistic": ENCRYPTED},
             description="mode none (the domain withdraws MTA-STS): encrypted, not authenticated"),
        dict(name="malformed", serve="plain", body=malformed, policy=None,
             fetch="sts-policy-invalid", expect={"opportunistic": ENCRYPTED},
             description="200 text/plain, but not a policy: an 'mx' line without ':' and "
                         "'max_age: soon' (not a number); a parser that skips bad lines still "
                         "lacks max_age (and would get enforce with no mx: fail): sts-policy-"
                         "invalid, delivery as if the domain had no MTA-STS (RFC 8461 section 5)"),
        dict(name="oversized", serve="plain", body=oversized, policy=None,
             fetch="sts-policy-fetch-error", expect={"opportunistic": ENCRYPTED},
             description=f"200 text/plain with Content-Length {len(oversized)} (> 64 KiB, RFC 8461 "
                         "section 3.3): the decoy policy followed by padding lines of an unknown "
                         "key; refused by the size limit: sts-policy-fetch-error (the transfer "
                         "is abandoned), as if no MTA-STS"),
        dict(name="oversized-chunked", serve="chunked", body=oversized, policy=None,
             fetch="sts-policy-fetch-error", expect={"opportunistic": ENCRYPTED},
             description="the same > 64 KiB body sent with Transfer-Encoding: chunked and no "
                         "Content-Length (nginx's SSI filter): the limit must be enforced while "
                         "reading, not only from the header"),
        dict(name="content-type", serve="html", body=decoy, policy=None,
             fetch="sts-policy-invalid", expect={"opportunistic": ENCRYPTED},
             description="200 with the decoy policy as Content-Type text/html (the policy MUST "
                         "be text/plain, RFC 8461 section 3.3): sts-policy-invalid, as if no "
                         "MTA-STS"),
        dict(name="redirect", serve="redirect", body=decoy, policy=None,
             fetch="sts-policy-fetch-error", expect={"opportunistic": ENCRYPTED},
             description=f"301 to {REDIRECT_PATH} on the same host, which serves the decoy policy "
                         "(200 text/plain): redirects MUST NOT be followed (RFC 8461 section "
                         "3.3): sts-policy-fetch-error, as if no MTA-STS"),
        dict(name="webpki-invalid", serve="plain", body=decoy, policy=None, cert=WRONG_CERT,
             fetch="sts-webpki-invalid", expect={"opportunistic": ENCRYPTED},
             description="the policy host presents a valid lab-CA chain for mx.lab.test, not "
                         "for mta-sts.webpki-invalid.sts.lab.test: sts-webpki-invalid, as if no "
                         "MTA-STS"),
        dict(name="rotate", serve="plain", body=None, policy=None, fetch=None, expect=None,
             variants={1: dict(policy=parsed("testing", [MX_HOST], DAY), fetch="ok",
                               expect={"opportunistic": ENCRYPTED}),
                       2: dict(policy=ENFORCE_OK, fetch="ok", expect={"opportunistic": AUTH})},
             description="the TXT id changes: variant 1 serves a testing policy with id ...v1, "
                         "variant 2 an enforce policy with id ...v2 (mtasts.py switch). A policy "
                         "cached under the other variant's id must be fetched again: after "
                         "switching 1 -> 2 the outcome is authenticated (mta-sts), after 2 -> 1 "
                         "encrypted; a client that keeps its cached policy shows the other one"),
        dict(name="unreachable", serve="plain", body=policy_text("enforce", [MX_HOST], DAY),
             policy=ENFORCE_OK, fetch="sts-policy-fetch-error", dead=True,
             expect={"opportunistic": ENCRYPTED, "opportunistic+cached": AUTH},
             variants={1: {}, 2: {}},
             description="the policy host's HTTPS port is the lab's dead port (connection "
                         "refused): without a cached policy sts-policy-fetch-error and delivery "
                         "as if no MTA-STS; with a policy cached before (fetched once from "
                         "prime_port, where nginx does serve it: enforce, mx.sts.lab.test, "
                         "max_age 1 day) that policy still applies until max_age "
                         "(RFC 8461 section 5.1): authenticated (mta-sts). The TXT id changes "
                         "with the variant, so that after a switch the client must try to "
                         "refresh and fail"),
        dict(name="unreachable-short", serve="plain",
             body=policy_text("enforce", [MX_HOST], 15), policy=parsed("enforce", [MX_HOST], 15),
             fetch="sts-policy-fetch-error", dead=True,
             expect={"opportunistic": ENCRYPTED, "opportunistic+cached": AUTH,
                     "opportunistic+cache-expired": ENCRYPTED},
             variants={1: {}, 2: {}},
             description="like unreachable with max_age 15: the cached policy applies for 15 s "
                         "after it was fetched, then it has expired and (the refresh failing) "
                         "delivery goes on as if no MTA-STS"),
        dict(name="dane-wins", serve="plain", body=policy_text("enforce", [MX_HOST], DAY),
             policy=ENFORCE_OK, fetch="ok", mx_host=DANE_MX,
             expect={"opportunistic": {"verdict": "ok", "protection": "authenticated",
                                       "trust": "Verified", "auth_method": "dane-ee"}},
             description=f"MTA-STS and DANE together (RFC 8461 section 2: DANE wins): the MX is "
                         f"{DANE_MX} (the lab zone's DANE-EE 3 1 1 host, TLSA secure and "
                         "matching), the policy is enforce with mx: mx.sts.lab.test, which does "
                         "not list it: DANE applies, authenticated (dane-ee); a client that let "
                         "MTA-STS override DANE fails"),
    ]
    for d in defs:
        d.setdefault("mx_host", MX_HOST)
        d.setdefault("cert", CERT)
        d.setdefault("dead", False)
        d.setdefault("variants", None)
        d.setdefault("decoy", d["body"] is not None and d["body"].startswith(
            policy_text(DECOY["mode"], DECOY["mx"], DECOY["max_age"])) and d["policy"] is None)
    return defs


def sans():
    return [f"mta-sts.{d['name']}.{SUFFIX}" for d in case_defs() if d["cert"] == CERT]


# ---------------------------------------------------------------------------------------------
# build: nginx.conf, policies, DNS records, cases.json

def quoted_txt(txt):
    return '"' + txt + '"'


def txt_of(id_):
    return f"v=STSv1; id={id_};"


def served_http(serve, body, host, port):
    """What curl must see at the policy URL."""
    if serve == "redirect":
        return {"status": 301, "content_type": None, "location": f"https://{host}:{port}{REDIRECT_PATH}",
                "content_length": True}
    return {"status": 200, "content_type": "text/html" if serve == "html" else "text/plain",
            "size": len(body.encode()), "content_length": serve != "chunked", "location": None}


def records(meta, variant):
    out = [(MX_HOST, "A", LOOP)]
    for c in meta["cases"]:
        id_ = c["variants"][str(variant)]["id"] if c.get("variants") else c["id"]
        out += [(c["domain"], "MX", f"10 {c['mx'][0]}."),
                (c["txt_name"], "TXT", quoted_txt(txt_of(id_))),
                (c["policy_host"], "A", LOOP)]
    return out


def write_atomic(path, data, mode=0o644):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp.")
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def nginx_conf(ngx, port, cases):
    def server(c):
        host, name = c["policy_host"], c["name"]
        tls = ""
        if c["cert"] != CERT:
            tls = (f"        ssl_certificate {ngx}/tls/wrongname.crt;\n"
                   f"        ssl_certificate_key {ngx}/tls/wrongname.key;\n")
        serve = c["serve"]
        if serve == "plain":
            loc = "            default_type text/plain;\n"
        elif serve == "html":
            loc = "            default_type text/html;\n"
        elif serve == "chunked":
            # the SSI filter drops Content-Length: the body goes out chunked
            loc = ("            default_type text/plain;\n            ssi on;\n"
                   "            ssi_types text/plain;\n")
        elif serve == "redirect":
            loc = f"            return 301 {REDIRECT_PATH};\n"
        else:
            raise ValueError(serve)
        extra = ""
        if serve == "redirect":
            extra = (f"        location = {REDIRECT_PATH} {{\n"
                     "            default_type text/plain;\n        }\n")
        return (f"    # {name}: {c['description'][:90]}…\n"
                f"    server {{\n        listen {LOOP}:{port} ssl;\n        server_name {host};\n{tls}"
                f"        root {ngx}/www/{name};\n"
                f"        location = {POLICY_PATH} {{\n{loc}        }}\n{extra}"
                "        location / {\n            return 404;\n        }\n    }\n")

    servers = "".join(server(c) for c in cases)
    return f"""# ostls lab: private nginx serving the MTA-STS policies (generated by lab/nginx/mtasts.py
# build; throw-away). Runs as www-data: nginx -c {ngx}/nginx.conf -p {ngx}/
# Reads nothing from /etc/nginx; listens on {LOOP}:{port} only.
daemon off;
master_process on;
worker_processes 1;
pid {ngx}/run/nginx.pid;
lock_file {ngx}/run/nginx.lock;
error_log {ngx}/error.log info;
events {{
    worker_connections 256;
}}
http {{
    log_format lab '$remote_addr [$time_iso8601] sni=$ssl_server_name host=$host "$request" '
                   '$status $body_bytes_sent "$sent_http_content_type" $ssl_protocol';
    access_log {ngx}/access.log lab;
    client_body_temp_path {ngx}/tmp/body;
    proxy_temp_path {ngx}/tmp/proxy;
    fastcgi_temp_path {ngx}/tmp/fastcgi;
    uwsgi_temp_path {ngx}/tmp/uwsgi;
    scgi_temp_path {ngx}/tmp/scgi;
    server_tokens off;
    sendfile off;
    keepalive_timeout 10s;
    # no MIME map: every location says its Content-Type; no charset parameter is added
    types {{ }}
    default_type application/octet-stream;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate {ngx}/tls/mta-sts.crt;
    ssl_certificate_key {ngx}/tls/mta-sts.key;

    # any other name, or no SNI: 404 (with the mta-sts.lab.test certificate)
    server {{
        listen {LOOP}:{port} ssl default_server;
        server_name _;
        return 404;
    }}

{servers}}}
"""


def cmd_build(a):
    lab = os.path.abspath(a.lab)
    ngx = os.path.join(lab, "nginx")
    stamp = int(time.time())
    cases = []
    for d in case_defs():
        name = d["name"]
        domain = f"{name}.{SUFFIX}"
        host = f"mta-sts.{domain}"
        https_port = a.dead_port if d["dead"] else a.port
        c = {"name": name, "domain": domain, "description": d["description"],
             "txt_name": f"_mta-sts.{domain}", "policy_host": host, "https_port": https_port,
             "url": f"https://{host}:{https_port}{POLICY_PATH}",
             "mx": [d["mx_host"]], "smtp_port": a.smtp_port, "target": f"smtp://{domain}:{a.smtp_port}",
             "serve": d["serve"], "cert": d["cert"]}
        if d["dead"]:
            c["prime_port"] = a.port
            c["prime_url"] = f"https://{host}:{a.port}{POLICY_PATH}"
        www = os.path.join(ngx, "www", name)
        served = os.path.join(www, POLICY_PATH.lstrip("/"))
        os.makedirs(os.path.dirname(served), exist_ok=True)
        if d["serve"] == "redirect":
            target = os.path.join(www, REDIRECT_PATH.lstrip("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            write_atomic(target, d["body"])
            c["redirect_file"] = target
        c["body_file"] = served
        if d["variants"]:
            c["variants"] = {}
            vdir = os.path.join(ngx, "variants")
            os.makedirs(vdir, exist_ok=True)
            for v, vd in d["variants"].items():
                pol = vd.get("policy", d["policy"])
                body = d["body"] if d["body"] is not None else \
                    policy_text(pol["mode"], pol["mx"], pol["max_age"])
                vfile = os.path.join(vdir, f"{name}.v{v}.txt")
                write_atomic(vfile, body)
                id_ = f"lab{stamp}v{v}"
                c["variants"][str(v)] = {
                    "variant": v, "id": id_, "txt": txt_of(id_), "body_file": vfile,
                    "policy": pol, "fetch": vd.get("fetch", d["fetch"]),
                    "expect": vd.get("expect", d["expect"]),
                    "http": served_http(d["serve"], body, host, a.port)}
            first = c["variants"]["1"]
            write_atomic(served, open(first["body_file"], "rb").read())
            c.update({"id": first["id"], "txt": first["txt"], "policy": first["policy"],
                      "fetch": first["fetch"], "expect": first["expect"], "http": first["http"]})
        else:
            write_atomic(served, d["body"])
            id_ = f"lab{stamp}"
            c.update({"id": id_, "txt": txt_of(id_), "policy": d["policy"], "fetch": d["fetch"],
                      "expect": d["expect"], "http": served_http(d["serve"], d["body"], host, a.port)})
        if d["decoy"]:
            # what a client that wrongly accepted the response would have: fail (no MX matches)
            c["served_policy"] = DECOY
        cases.append(c)
    for sub in ("run", "tmp", "www"):
        os.makedirs(os.path.join(ngx, sub), exist_ok=True)
    meta = {"port": a.port, "dead_port": a.dead_port, "smtp_port": a.smtp_port, "mx_host": MX_HOST,
            "suffix": SUFFIX, "policy_path": POLICY_PATH, "max_body": MAX_BODY,
            "ca_file": os.path.join(lab, "pki", "ca.pem"),
            "dns_conf": os.path.join(lab, "dns", "dns.conf"),
            "certificate": os.path.join(lab, "pki", f"{CERT}.pem"), "certificate_sans": sans(),
            "nginx_conf": os.path.join(ngx, "nginx.conf"), "cases": cases}
    write_atomic(os.path.join(ngx, "nginx.conf"), nginx_conf(ngx, a.port, cases))
    write_atomic(os.path.join(ngx, "cases.json"), json.dumps(meta, indent=2) + "\n")
    write_atomic(os.path.join(ngx, "variant"), "1\n")
    write_dns_records(ngx, meta, 1)
    return 0


def write_dns_records(ngx, meta, variant):
    recs = records(meta, variant)
    write_atomic(os.path.join(ngx, "dns-records.json"),
                 json.dumps({"comment": "MTA-STS lab domains (lab/nginx/mtasts.py); variant "
                                        f"{variant}; read by lab/dns/dnslab.py build",
                             "variant": variant, "records": [list(r) for r in recs]}, indent=2)
                 + "\n")


# ---------------------------------------------------------------------------------------------
# checks: DNS (unbound-host) and HTTPS (curl)

def load(lab):
    path = os.path.join(lab, "nginx", "cases.json")
    if not os.path.exists(path):
        die(f"{path} is missing: run lab/lab up")
    return json.load(open(path))


def current_variant(lab):
    try:
        return int(open(os.path.join(lab, "nginx", "variant")).read().strip())
    except (OSError, ValueError):
        return 1


def state_now(c, variant):
    """The case as it is now: the variant's fields override the case's."""
    if not c.get("variants"):
        return c
    return dict(c, **{k: v for k, v in c["variants"][str(variant)].items() if k != "body_file"})


def unbound_host(conf, qtype, name):
    p = subprocess.run(["unbound-host", "-C", conf, "-v", "-t", qtype, name],
                       capture_output=True, text=True, timeout=30)
    text = (p.stdout + p.stderr).strip()
    secs = re.findall(r"\((secure|insecure|BOGUS[^)]*)\)\s*$", text, re.M)
    sec = ("bogus" if secs[-1].startswith("BOGUS") else secs[-1]) if secs else None
    if "SERVFAIL" in text:
        state = "servfail"
    elif sec == "bogus":
        state = "bogus"
    elif "NXDOMAIN" in text:
        state = "nxdomain"
    elif " has no " in text:
        state = "nodata"
    else:
        state = sec or "error"
    data = re.findall(rf"has {qtype} record (.*?)(?: \((?:secure|insecure|BOGUS[^)]*)\))?$", text, re.M)
    if qtype == "MX":
        data = re.findall(r"mail is handled by (.*?)(?: \((?:secure|insecure|BOGUS[^)]*)\))?$", text, re.M)
    elif qtype == "A":
        data = re.findall(r"has address (\S+)", text)
    return {"qname": name, "qtype": qtype, "state": state, "data": data, "output": text.splitlines()}


def curl(url, host, port, ca, insecure=False, follow=False, timeout=5):
    """One GET like an MTA-STS fetch (no redirects followed): the curl -w %{json} facts, the
    response headers and the body."""
    with tempfile.TemporaryDirectory(prefix="mtasts-") as tmp:
        hdr, body = os.path.join(tmp, "h"), os.path.join(tmp, "b")
        args = ["curl", "-sS", "--max-time", str(timeout), "--cacert", ca, "--resolve",
                f"{host}:{port}:{LOOP}", "-D", hdr, "-o", body, "-w", "%{json}", url]
        if insecure:
            args.insert(1, "-k")
        if follow:
            args.insert(1, "-L")
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 5)
        try:
            w = json.loads(p.stdout)
        except ValueError:
            w = {}
        headers = {}
        if os.path.exists(hdr):
            for line in open(hdr, encoding="latin-1"):
                k, sep, v = line.partition(":")
                if sep:
                    headers[k.strip().lower()] = v.strip()
        data = open(body, "rb").read() if os.path.exists(body) else b""
    return {"exit": p.returncode, "error": p.stderr.strip(), "status": w.get("http_code"),
            "content_type": w.get("content_type"), "size": len(data),
            "content_length": headers.get("content-length"),
            "transfer_encoding": headers.get("transfer-encoding"),
            "location": headers.get("location"), "body": data,
            "ssl_verify_result": w.get("ssl_verify_result")}


def http_checks(meta, variant, check, lab):
    """curl every case's policy URL as the case says. check(label, cond, detail)."""
    ca = meta["ca_file"]
    jobs = []
    for c0 in meta["cases"]:
        c = state_now(c0, variant)
        host = c["policy_host"]
        jobs.append((c, "fetch", c["url"], c["https_port"], False, False))
        if c.get("prime_url"):
            jobs.append((c, "prime", c["prime_url"], c["prime_port"], False, False))
        if c["cert"] != CERT:
            jobs.append((c, "insecure", c["url"], c["https_port"], True, False))
        if c["serve"] == "redirect":
            jobs.append((c, "follow", c["url"], c["https_port"], False, True))
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        got = list(ex.map(lambda j: curl(j[2], j[0]["policy_host"], j[3], ca, j[4], j[5]), jobs))
    observed = {}
    for (c, kind, url, port, _k, _f), r in zip(jobs, got):
        name = c["name"]
        body_file = c["variants"][str(variant)]["body_file"] if c.get("variants") else c["body_file"]
        want_body = open(c.get("redirect_file") or body_file, "rb").read()
        obs = {k: v for k, v in r.items() if k != "body"}
        observed.setdefault(name, {})[kind] = obs
        exp = c["http"]
        label = f"mta-sts {name}: "
        if kind == "fetch" and c.get("prime_url"):
            check(label + f"nothing listens on the policy port {port} (curl exit 7)",
                  r["exit"] == 7, f"curl exit {r['exit']}: {r['error']}")
        elif kind == "fetch" and c["cert"] != CERT:
            check(label + "PKIX fails for the policy host name (curl exit 60)",
                  r["exit"] == 60 and "subject name" in r["error"],
                  f"curl exit {r['exit']}: {r['error']}")
        elif kind == "follow":
            check(label + f"the redirect target serves 200 text/plain (the decoy policy)",
                  r["exit"] == 0 and r["status"] == 200 and r["content_type"] == "text/plain"
                  and r["body"] == want_body, f"{obs}")
        else:
            what = {"fetch": "", "prime": f"(prime port {port}) ", "insecure": "(-k) "}[kind]
            problems = []
            if r["exit"] != 0:
                problems.append(f"curl exit {r['exit']}: {r['error']}")
            if r["status"] != exp["status"]:
                problems.append(f"status {r['status']}, want {exp['status']}")
            if exp["status"] == 301:
                if r["location"] != exp["location"]:
                    problems.append(f"Location {r['location']}, want {exp['location']}")
            else:
                if r["content_type"] != exp["content_type"]:
                    problems.append(f"Content-Type {r['content_type']}, want {exp['content_type']}")
                if r["size"] != exp["size"] or r["body"] != want_body:
                    problems.append(f"body of {r['size']} bytes, want the {exp['size']} of {body_file}")
                if exp["content_length"] != (r["content_length"] is not None):
                    problems.append(f"Content-Length {r['content_length']!r}, "
                                    f"want {'one' if exp['content_length'] else 'none'}")
                if not exp["content_length"] and (r["transfer_encoding"] or "").lower() != "chunked":
                    problems.append(f"Transfer-Encoding {r['transfer_encoding']!r}, want chunked")
            size = f"{exp['size']} bytes" if "size" in exp else exp.get("location")
            check(label + " ".join(str(x) for x in (what + str(exp["status"]), exp.get("content_type"),
                                                     size) if x)
                  + (", > 64 KiB" if exp.get("size", 0) > MAX_BODY else "")
                  + ("" if exp["content_length"] else ", chunked"),
                  not problems, "; ".join(problems))
    return observed


def dns_checks(meta, variant, check, lab):
    conf = meta["dns_conf"]
    if not os.path.exists(conf):
        check("mta-sts: lab DNS configuration present", False, f"{conf} is missing (dns.sh up)")
        return {}
    jobs = [(None, "mx_host", "A", MX_HOST),
            (None, "mx_host_tlsa", "TLSA", f"_{meta['smtp_port']}._tcp.{MX_HOST}")]
    for c0 in meta["cases"]:
        c = state_now(c0, variant)
        jobs += [(c, "txt", "TXT", c["txt_name"]), (c, "mx", "MX", c["domain"]),
                 (c, "policy_host", "A", c["policy_host"])]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        got = list(ex.map(lambda j: unbound_host(conf, j[2], j[3]), jobs))
    observed = {}
    for (c, what, qtype, qname), r in zip(jobs, got):
        if c is None:
            if what == "mx_host":
                check(f"mta-sts: {MX_HOST} A {LOOP} (secure)",
                      r["state"] == "secure" and r["data"] == [LOOP], " | ".join(r["output"]))
            else:
                check(f"mta-sts: no TLSA at {qname} (secure NXDOMAIN: DANE does not preempt)",
                      r["state"] == "nxdomain", " | ".join(r["output"]))
            observed.setdefault("_", {})[what] = r["state"]
            continue
        o = observed.setdefault(c["name"], {})
        o[what] = r["state"]
        if what == "txt":
            want = [quoted_txt(c["txt"])]
            check(f"mta-sts {c['name']}: TXT {qname} {want[0]} (secure)",
                  r["state"] == "secure" and r["data"] == want, " | ".join(r["output"]))
        elif what == "mx":
            check(f"mta-sts {c['name']}: MX {qname} -> {c['mx'][0]} (secure)",
                  r["state"] == "secure" and r["data"] == [f"10 {c['mx'][0]}."],
                  " | ".join(r["output"]))
        else:
            check(f"mta-sts {c['name']}: A {qname} {LOOP} (secure)",
                  r["state"] == "secure" and r["data"] == [LOOP], " | ".join(r["output"]))
    return observed


def mx_check(meta, check):
    """The premise of the enforce cases: the SMTP peer behind the MX host (labca) offers
    STARTTLS and its certificate verifies with the lab CA for the name mx.sts.lab.test."""
    ctx = ssl.create_default_context(cafile=meta["ca_file"])
    try:
        with socket.create_connection((LOOP, meta["smtp_port"]), timeout=5) as s:
            f = s.makefile("rb")

            def reply():
                while True:
                    line = f.readline()
                    if len(line) < 4 or line[3:4] != b"-":
                        return line
            reply()
            s.sendall(b"EHLO selftest.lab.test\r\n")
            reply()
            s.sendall(b"STARTTLS\r\n")
            r = reply()
            if not r.startswith(b"220"):
                raise OSError(f"STARTTLS answered {r!r}")
            with ctx.wrap_socket(s, server_hostname=MX_HOST) as t:
                t.sendall(b"QUIT\r\n")
                detail = ""
                ok = True
    except (OSError, ssl.SSLError) as e:
        ok, detail = False, str(e)
    check(f"mta-sts: the MX host's SMTP port {meta['smtp_port']} (labca) verifies for {MX_HOST} "
          "after STARTTLS (lab CA)", ok, detail)
    return ok


def selfcheck(lab, check, dns=True):
    """Every check of a running lab's MTA-STS cases (lab/selftest.py calls this with its own
    check function). Returns what was observed."""
    meta = load(lab)
    variant = current_variant(lab)
    mx_check(meta, check)
    obs = {"http": http_checks(meta, variant, check, lab)}
    if dns:
        obs["dns"] = dns_checks(meta, variant, check, lab)
    return meta, variant, obs


def cmd_verify(a):
    lab = os.path.abspath(a.lab)
    results = []

    def check(label, cond, detail=""):
        results.append(bool(cond))
        if not cond or a.verbose:
            print(f"{'ok  ' if cond else 'FAIL'} {label}{': ' + detail if detail and not cond else ''}")
        return cond

    meta, variant, obs = selfcheck(lab, check)
    ok = all(results)
    out = {k: meta[k] for k in ("port", "dead_port", "smtp_port", "mx_host", "suffix", "policy_path",
                                "max_body", "ca_file", "dns_conf", "certificate",
                                "certificate_sans", "nginx_conf")}
    out.update({
        "variant": variant,
        "variant_file": os.path.join(lab, "nginx", "variant"),
        "switch": f"{os.path.abspath(__file__)} switch --lab {lab} --variant N",
        "port_note": "RFC 8461 fetches https://mta-sts.<domain>/.well-known/mta-sts.txt on port "
                     "443; the lab serves it on 'port' (each case's https_port), so a client "
                     "must be told that port (a lab-only option) and to connect to 127.0.0.1",
        "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "verified_ok": ok, "checks": len(results), "checks_failed": results.count(False),
        "cases": []})
    for c in meta["cases"]:
        case = {k: v for k, v in c.items()}
        case["dnssec"] = obs.get("dns", {}).get(c["name"], {})
        case["observed"] = obs["http"].get(c["name"], {})
        out["cases"].append(case)
    write_atomic(os.path.join(lab, "mta-sts.json"), json.dumps(out, indent=2) + "\n")
    width = max(len(c["name"]) for c in meta["cases"])
    for c0 in meta["cases"]:
        c = state_now(c0, variant)
        pol = c.get("policy") or {}
        e = c["expect"]["opportunistic"]
        print(f"{c['name']:<{width}}  {c['http']['status']} {pol.get('mode') or '-':<8} "
              f"fetch={c['fetch']:<22} opportunistic={e['verdict']}/{e.get('auth_method')}")
    print(f"mta-sts: {results.count(True)} checks passed, {results.count(False)} failed "
          f"(variant {variant}); {os.path.join(lab, 'mta-sts.json')}")
    return 0 if ok else 1


# ---------------------------------------------------------------------------------------------
# switch: the TXT id (and the policy) of the rotating cases

def resign_apex(lab, meta, variant):
    """Rewrite the rotating cases' TXT records in lab.test's zone file, sign it again with the
    zone's keys (the same as dnslab.py build: valid from a day ago for 30 days), swap it in and
    have NSD reload it; wait until NSD serves the new records."""
    dns = os.path.join(lab, "dns")
    zdir = os.path.join(dns, "zones")
    zone = os.path.join(zdir, f"{APEX}.zone")
    if not os.path.exists(zone):
        die(f"{zone} is missing: is the lab's DNS up (lab/dns/dns.sh up)?")
    text = open(zone).read()
    want = {}
    for c in meta["cases"]:
        if not c.get("variants"):
            continue
        txt = quoted_txt(c["variants"][str(variant)]["txt"])
        want[c["txt_name"]] = txt
        pat = re.compile(rf"^({re.escape(c['txt_name'])}\.\s+\d+\s+IN\s+TXT\s+).*$", re.M)
        text, n = pat.subn(lambda m: m.group(1) + txt, text)
        if n != 1:
            die(f"{zone}: {n} TXT records for {c['txt_name']}, want 1 (zone built without "
                f"{lab}/nginx/dns-records.json?)")
    soa = re.compile(rf"^({re.escape(APEX)}\.\s+\d+\s+IN\s+SOA\s+\S+\s+\S+\s+)(\d+)", re.M)
    m = soa.search(text)
    if not m:
        die(f"{zone}: no SOA record")
    text = soa.sub(lambda m: m.group(1) + str(max(int(m.group(2)) + 1, int(time.time()))), text,
                   count=1)
    keys = sorted(k[:-len(".private")] for k in
                  glob.glob(os.path.join(dns, "keys", f"K{APEX}.+013+*.private")))
    if len(keys) != 2:
        die(f"want the 2 keys (KSK, ZSK) of {APEX} in {dns}/keys, found {len(keys)}")
    write_atomic(zone, text)
    now = int(time.time())
    tmp = os.path.join(zdir, f".{APEX}.zone.signed.tmp")
    subprocess.run(["ldns-signzone", "-o", APEX, "-i", str(now - DAY), "-e", str(now + 30 * DAY),
                    "-f", tmp, zone] + keys, check=True, capture_output=True, text=True)
    subprocess.run(["nsd-checkzone", APEX, tmp], check=True, capture_output=True, text=True)
    os.chmod(tmp, 0o644)
    os.replace(tmp, zone + ".signed")
    port = json.load(open(os.path.join(dns, "cases.json")))["port"]
    pid = int(open(os.path.join(dns, "nsd.pid")).read().split()[0])

    def served():
        for name, txt in want.items():
            p = subprocess.run(["drill", "-p", str(port), f"@{LOOP}", "TXT", name],
                               capture_output=True, text=True, timeout=5)
            if txt not in p.stdout:
                return False
        return True

    deadline = time.monotonic() + 10
    next_hup = 0
    while True:
        now_m = time.monotonic()
        if now_m >= next_hup:
            os.kill(pid, signal.SIGHUP)   # NSD: reload zone files whose mtime changed
            next_hup = now_m + 1
        time.sleep(0.1)
        if served():
            return
        if now_m > deadline:
            die(f"NSD (pid {pid}) still serves the old TXT records after 10 s")


def cmd_switch(a):
    lab = os.path.abspath(a.lab)
    meta = load(lab)
    ngx = os.path.join(lab, "nginx")
    with open(os.path.join(ngx, "switch.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # the policy first, then the id: a client that sees the new id fetches the new policy
        for c in meta["cases"]:
            if c.get("variants"):
                v = c["variants"][str(a.variant)]
                write_atomic(c["body_file"], open(v["body_file"], "rb").read())
        write_dns_records(ngx, meta, a.variant)
        resign_apex(lab, meta, a.variant)
        write_atomic(os.path.join(ngx, "variant"), f"{a.variant}\n")
        # confirm with the validating resolver: the new TXT records are secure
        bad = []
        for c in meta["cases"]:
            if c.get("variants"):
                r = unbound_host(meta["dns_conf"], "TXT", c["txt_name"])
                want = quoted_txt(c["variants"][str(a.variant)]["txt"])
                if r["state"] != "secure" or r["data"] != [want]:
                    bad.append(" | ".join(r["output"]))
        if bad:
            die("after the switch: " + "; ".join(bad))
    for c in meta["cases"]:
        if c.get("variants"):
            v = c["variants"][str(a.variant)]
            print(f"{c['name']}: variant {a.variant}, TXT {v['txt']!r}, policy "
                  f"{(v['policy'] or {}).get('mode')}")
    return 0


def cmd_status(a):
    lab = os.path.abspath(a.lab)
    path = os.path.join(lab, "mta-sts.json")
    if not os.path.exists(os.path.join(lab, "nginx", "cases.json")):
        print("mta-sts: no cases (lab not up)")
        return 1
    meta = load(lab)
    try:
        socket.create_connection((LOOP, meta["port"]), timeout=1).close()
        up = True
    except OSError:
        up = False
    print(f"mta-sts: nginx {'answers' if up else 'DOWN'} on {LOOP}:{meta['port']}, "
          f"{len(meta['cases'])} cases, variant {current_variant(lab)}, "
          f"{path if os.path.exists(path) else 'no mta-sts.json'}")
    return 0 if up and os.path.exists(path) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("sans")
    b = sub.add_parser("build")
    b.add_argument("--lab", default=default_lab())
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--dead-port", type=int, required=True)
    b.add_argument("--smtp-port", type=int, required=True)
    v = sub.add_parser("verify")
    v.add_argument("--lab", default=default_lab())
    v.add_argument("-v", "--verbose", action="store_true", help="print passing checks too")
    s = sub.add_parser("switch")
    s.add_argument("--lab", default=default_lab())
    s.add_argument("--variant", type=int, choices=VARIANTS, required=True)
    st = sub.add_parser("status")
    st.add_argument("--lab", default=default_lab())
    a = ap.parse_args()
    if a.cmd == "sans":
        print("\n".join(sans()))
        return 0
    return {"build": cmd_build, "verify": cmd_verify, "switch": cmd_switch,
            "status": cmd_status}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
