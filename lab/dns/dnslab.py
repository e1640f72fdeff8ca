#!/usr/bin/env python3
"""The lab's DNSSEC zones and DANE cases: generation, signing, verification (used by dns.sh).

    dnslab.py build  --lab DIR --port P --dead-port Q   keys, zones (signed), nsd.conf, dns.conf,
                                                         cases.json (what the zones should answer)
    dnslab.py verify --lab DIR                           unbound-host every case query with
                                                         dns.conf, compare with cases.json, write
                                                         dns.json (observed states); exit 1 on any
                                                         difference
    dnslab.py tls    --lab DIR                           openssl s_client -dane_tlsa_* against the
                                                         real peers: do the TLSA records match?

Everything is written below DIR/dns/. Only 127.0.0.0/8 is ever used.
"""
import argparse
import base64
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

APEX = "lab.test"
DANE = "dane.lab.test"
INSECURE = "insecure." + DANE
BOGUS = "bogus." + DANE
SERVFAIL = "servfail." + DANE
TTL = 300
LOOP = "127.0.0.1"
REFUSED_PORT = "127.0.0.2"  # nothing listens on 127.0.0.2: connection refused

# name, signing, served by NSD, DS in the parent, stub target ("nsd" | "dead")
ZONES = [
    (APEX, "valid", True, None, "nsd"),           # trust anchor = its KSK's DS
    (DANE, "valid", True, True, "nsd"),
    (INSECURE, None, True, False, "nsd"),         # unsigned, no DS: provably insecure
    (BOGUS, "expired", True, True, "nsd"),        # DS in parent, all signatures expired
    (SERVFAIL, "valid", False, True, "dead"),     # DS in parent, its server does not exist
]
BOGUS_INCEPTION = "20200101000000"
BOGUS_EXPIRATION = "20200201000000"


def die(msg):
    print("dnslab: " + msg, file=sys.stderr)
    sys.exit(1)


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


# ---------------------------------------------------------------------------------------------
# digests of the lab's real certificates

def pem_der(path):
    text = open(path).read()
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    if not m:
        die(f"no certificate in {path}")
    return base64.b64decode("".join(m.group(1).split()))


def cert_sha256(path):
    return hashlib.sha256(pem_der(path)).hexdigest()


def spki_der(path):
    pub = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-pubkey"], check=True,
                         capture_output=True).stdout
    return subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                          check=True, capture_output=True).stdout


def spki_sha256(path):
    return hashlib.sha256(spki_der(path)).hexdigest()


# ---------------------------------------------------------------------------------------------
# the cases

def zone_of(name):
    best = None
    for z, *_ in ZONES:
        if name == z or name.endswith("." + z):
            if best is None or len(z) > len(best):
                best = z
    if best is None:
        die(f"{name} is in no lab zone")
    return best


def tlsa_name(port, host):
    return f"_{port}._tcp.{host}"


def host(name, tlsa=(), addr=LOOP, pref=10, cname=None):
    """One MX host (or the implicit-MX host). cname: the host name is an alias of this name,
    which carries the address and the TLSA records."""
    return {"name": name, "pref": pref, "address": addr, "cname": cname, "tlsa": list(tlsa)}


def build_cases(ports, d):
    """ports: peer name -> port; d: digests. Returns the list of cases (with their records)."""
    P = ports["labca"]
    ee311 = f"3 1 1 {d['leaf_spki']}"
    ee301 = f"3 0 1 {d['leaf_cert']}"
    ta201 = f"2 0 1 {d['ca_cert']}"
    ta211 = f"2 1 1 {d['ca_spki']}"
    wrong = f"3 1 1 {d['wrong']}"
    S, I, N, B, F = "secure", "insecure", "nodata", "bogus", "servfail"

    def C(name, domain, port, description, hosts=(), expect=(S, S, S), mx="records",
          tls=None, deviation=None):
        return {"name": name, "domain": domain, "port": port, "description": description,
                "hosts": list(hosts), "expect": dict(zip(("mx", "host", "tlsa"), expect)),
                "mx_kind": mx, "tls": tls, "deviation": deviation}

    cases = [
        C("ee311", f"ee311.{DANE}", P,
          "DANE-EE(3) SPKI(1) SHA-256(1) of the labca leaf key: authenticated (dane-ee)",
          [host(f"mx.ee311.{DANE}", [ee311])], tls="match"),
        C("ee301", f"ee301.{DANE}", P,
          "DANE-EE(3) Cert(0) SHA-256(1) of the labca leaf certificate: authenticated (dane-ee)",
          [host(f"mx.ee301.{DANE}", [ee301])], tls="match"),
        C("ta201", f"ta201.{DANE}", P,
          "DANE-TA(2) Cert(0) SHA-256(1) of the lab CA certificate (the peer sends it in its "
          "chain): authenticated (dane-ta). The MX host is mx.lab.test, the only name in the "
          "labca certificate, because DANE-TA needs a name match (RFC 7672 section 3.2.2)",
          [host(f"mx.{APEX}", [ta201])], tls="match"),
        C("ta211", f"ta211.{DANE}", ports["submission"],
          "DANE-TA(2) SPKI(1) SHA-256(1) of the lab CA key: authenticated (dane-ta). MX host "
          "mx.lab.test like ta201; to have an RRset of its own it uses the port of the "
          "'submission' peer (same mx.lab.test certificate and chain as labca, STARTTLS)",
          [host(f"mx.{APEX}", [ta211])], tls="match",
          deviation="port is the submission peer's, not labca's: the labca certificate names "
                    "only mx.lab.test, and _<labca port>._tcp.mx.lab.test already holds ta201"),
        C("ta-wrongname", f"ta-wrongname.{DANE}", P,
          "DANE-TA(2) 2 0 1 of the lab CA, which does anchor the chain, but the certificate "
          "(mx.lab.test) names neither the MX host nor the domain: must fail, RFC 7672 "
          "section 3.2.2 (name checks apply to DANE-TA)",
          [host(f"mx.ta-wrongname.{DANE}", [ta201])], tls="namecheck-fail"),
        C("mismatch", f"mismatch.{DANE}", P,
          "DANE-EE 3 1 1 with a digest that matches no key: authentication expected and "
          "impossible, must fail (never a downgrade)",
          [host(f"mx.mismatch.{DANE}", [wrong])], tls="nomatch"),
        C("unusable", f"unusable.{DANE}", P,
          "secure TLSA RRset with only unusable records (usage 4, matching type 9, PKIX-EE(1) "
          "which RFC 7672 section 3.1.3 excludes for SMTP): no usable record, but TLS is "
          "mandatory (SPEC R8: effective level encrypt)",
          [host(f"mx.unusable.{DANE}",
                [f"4 1 1 {d['leaf_spki']}", f"3 1 9 {d['leaf_spki']}",
                 f"1 1 1 {d['leaf_spki']}"])],
          tls={f"4 1 1 {d['leaf_spki']}": "unusable", f"3 1 9 {d['leaf_spki']}": "unusable",
               f"1 1 1 {d['leaf_spki']}": "namecheck-fail"}),
        C("nostarttls", f"nostarttls.{DANE}", ports["plain"],
          "valid 3 1 1 for the labca key, but the MX host's port is the 'plain' peer, which "
          "offers no STARTTLS: DANE makes TLS mandatory, so no cleartext fallback (fail)",
          [host(f"mx.nostarttls.{DANE}", [ee311])], tls="no-starttls"),
        C("insecure", INSECURE, P,
          "unsigned child zone delegated without DS (provably insecure): MX, A and a TLSA "
          "record that must be ignored (its digest matches nothing, so honouring it would "
          "fail the handshake): no DANE, opportunistic TLS (encrypted, not authenticated)",
          [host(f"mx.{INSECURE}", [wrong])], expect=(I, I, I)),
        C("bogus", BOGUS, P,
          "signed child zone with a DS in the parent but every signature expired in 2020: "
          "MX, A and TLSA are BOGUS, lookups fail: defer, never cleartext (SPEC R9)",
          [host(f"mx.{BOGUS}", [ee311])], expect=(B, B, B)),
        C("servfail", SERVFAIL, P,
          "signed child zone (DS in the parent) whose only server (stub-addr "
          "127.0.0.1@<dead port>) does not answer: SERVFAIL after the infra-cache-max-rtt "
          "timeout: defer",
          [host(f"mx.{SERVFAIL}", [ee311])], expect=(F, F, F)),
        C("secure-mx-insecure-host", f"secure-mx-insecure-host.{DANE}", P,
          "signed domain whose MX host lives in the unsigned child zone: MX secure, the host's "
          "A insecure, so its TLSA (a digest matching nothing) must not be used (RFC 7672 "
          "section 2.2.2): no DANE, opportunistic TLS",
          [host(f"host.{INSECURE}", [wrong])], expect=(S, I, I)),
        C("insecure-mx-secure-host", f"insecure-mx-secure-host.{INSECURE}", P,
          "domain in the unsigned child zone whose MX points to the secure ee311 MX host "
          "(valid 3 1 1): MX insecure, host A and TLSA secure",
          [host(f"mx.ee311.{DANE}", [ee311])], expect=(I, S, S), tls="match"),
        C("multi-mx", f"multi-mx.{DANE}", P,
          "MX 10 -> mx1 at 127.0.0.2 (nothing listens there: connection refused), MX 20 -> mx2 "
          "at 127.0.0.1; both with a valid 3 1 1: the second MX host authenticates (dane-ee)",
          [host(f"mx1.multi-mx.{DANE}", [ee311], addr=REFUSED_PORT, pref=10),
           host(f"mx2.multi-mx.{DANE}", [ee311], pref=20)], tls="match"),
        C("null-mx", f"null-mx.{DANE}", P,
          "RFC 7505 null MX (MX 0 .): the domain accepts no mail; no host, no TLSA",
          [], expect=(S, None, None), mx="null"),
        C("implicit-mx", f"implicit-mx.{DANE}", P,
          "no MX (secure NODATA) but an A record: RFC 5321 section 5 implicit MX, the domain "
          "is the host; valid 3 1 1 at _PORT._tcp.<domain>: authenticated (dane-ee)",
          [host(f"implicit-mx.{DANE}", [ee311])], expect=(N, S, S), mx="implicit",
          tls="match"),
        C("nxdomain", f"nxdomain.{DANE}", P,
          "the name does not exist in the signed zone (secure NXDOMAIN, NSEC-proven): "
          "no host, no TLSA",
          [], expect=("nxdomain", None, None), mx="none"),
        C("cname", f"cname.{DANE}", P,
          "MX -> mx.cname (a CNAME) -> host.cname (A 127.0.0.1); the TLSA (valid 3 1 1) is at "
          "_PORT._tcp.host.cname, the CNAME-expanded name (RFC 7672 section 2.2.2); "
          "_PORT._tcp.mx.cname does not exist (secure NXDOMAIN): authenticated (dane-ee)",
          [host(f"mx.cname.{DANE}", [ee311], cname=f"host.cname.{DANE}")], tls="match"),
        C("ee311-selfsigned", f"ee311-selfsigned.{DANE}", ports["selfsigned"],
          "3 1 1 of the 'selfsigned' peer's key at its port: DANE-EE authenticates a "
          "self-signed certificate (no PKIX, no name checks)",
          [host(f"mx.ee311-selfsigned.{DANE}", [f"3 1 1 {d['self_spki']}"])], tls="match"),
        C("ee311-expired", f"ee311-expired.{DANE}", ports["expired"],
          "3 1 1 of the 'expired' peer's key at its port: DANE-EE ignores the certificate's "
          "validity dates (RFC 7671 section 5.1): authenticated",
          [host(f"mx.ee311-expired.{DANE}", [f"3 1 1 {d['expired_spki']}"])], tls="match"),
    ]
    for c in cases:
        for h in c["hosts"]:
            base = h["cname"] or h["name"]
            h["tlsa_name"] = tlsa_name(c["port"], base)
        c["mx"] = [h["name"] for h in c["hosts"]] if c["mx_kind"] == "records" else []
        c["tlsa"] = c["hosts"][0]["tlsa"] if c["hosts"] else []
        c["tlsa_name"] = c["hosts"][0]["tlsa_name"] if c["hosts"] else None
    return cases


# ---------------------------------------------------------------------------------------------
# SRV cases (RFC 2782 + RFC 7673): `ostls probe --srv SCHEME://DOMAIN`

# scheme -> (SRV service label, openssl s_client -starttls value or None for implicit TLS);
# mirrors src/probe/srv.cpp
SRV_SERVICES = {
    "imap": ("_imap._tcp", "imap"), "imaps": ("_imaps._tcp", None),
    "pop3": ("_pop3._tcp", "pop3"), "pop3s": ("_pop3s._tcp", None),
    "submission": ("_submission._tcp", "smtp"), "smtps": ("_submissions._tcp", None),
    "xmpp": ("_xmpp-client._tcp", "xmpp"), "xmpp-server": ("_xmpp-server._tcp", "xmpp-server"),
}


def srv_target(name, port, tlsa=(), addr=LOOP, prio=10, weight=0):
    """One SRV record's target server (its A record and the TLSA at _port._tcp.name)."""
    return {"name": name, "priority": prio, "weight": weight, "port": port, "address": addr,
            "tlsa": list(tlsa), "tlsa_name": tlsa_name(port, name)}


def build_srv_cases(ports, d):
    """SRV cases: a service domain, its SRV RRset (or none, or "."), each target's A and TLSA."""
    ee_imap = f"3 1 1 {d['imap_spki']}"
    ee_mx = f"3 1 1 {d['leaf_spki']}"
    ee_xmpp = f"3 1 1 {d['xmpp_spki']}"
    ta = f"2 0 1 {d['ca_cert']}"
    wrong = f"3 1 1 {d['wrong']}"
    S, I, B, F = "secure", "insecure", "bogus", "servfail"
    SRVD = f"srv-ee.{DANE}"
    dovecot = f"imap.{SRVD}"   # one target host for the four Dovecot services, one port each
    postfix = f"smtp.{SRVD}"

    def C(name, scheme, domain, description, targets=(), expect=(S, S, S), kind="records",
          tls=None, tls_base=None, xmpp_domain=None, port=None):
        service, _ = SRV_SERVICES[scheme]
        targets = list(targets)
        return {"name": name, "scheme": scheme, "service": service, "domain": domain,
                "owner": f"{service}.{domain}", "description": description, "targets": targets,
                "expect": dict(zip(("srv", "host", "tlsa"), expect)), "srv_kind": kind,
                "tls": tls, "tls_base": tls_base, "xmpp_domain": xmpp_domain,
                # the port written in the target: used by ostls only when there is no SRV RRset
                "port": port or (targets[0]["port"] if targets else ports[scheme])}

    return [
        C("srv-imap", "imap", SRVD,
          "secure SRV _imap._tcp -> the Dovecot STARTTLS port; 3 1 1 of the imap.lab.test key "
          "at _PORT._tcp.<SRV target> (RFC 7673 section 3.3): authenticated (dane-ee)",
          [srv_target(dovecot, ports["imap"], [ee_imap])], tls="match"),
        C("srv-imaps", "imaps", SRVD,
          "secure SRV _imaps._tcp (RFC 6186) -> the Dovecot implicit-TLS port, 3 1 1: dane-ee",
          [srv_target(dovecot, ports["imaps"], [ee_imap])], tls="match"),
        C("srv-pop3", "pop3", SRVD,
          "secure SRV _pop3._tcp -> the Dovecot STLS port, 3 1 1: dane-ee",
          [srv_target(dovecot, ports["pop3"], [ee_imap])], tls="match"),
        C("srv-pop3s", "pop3s", SRVD,
          "secure SRV _pop3s._tcp -> the Dovecot implicit-TLS POP3 port, 3 1 1: dane-ee",
          [srv_target(dovecot, ports["pop3s"], [ee_imap])], tls="match"),
        C("srv-submission", "submission", SRVD,
          "secure SRV _submission._tcp -> the Postfix submission port, 3 1 1 of the "
          "mx.lab.test key: dane-ee",
          [srv_target(postfix, ports["submission"], [ee_mx])], tls="match"),
        C("srv-submissions", "smtps", SRVD,
          "secure SRV _submissions._tcp (RFC 8314 section 5.1; scheme smtps) -> the Postfix "
          "implicit-TLS port, 3 1 1: dane-ee",
          [srv_target(postfix, ports["smtps"], [ee_mx])], tls="match"),
        C("srv-xmpp-ee", "xmpp", SRVD,
          "secure SRV _xmpp-client._tcp -> the Prosody c2s port, 3 1 1 of the xmpp.lab.test "
          "key: dane-ee. Prosody serves only the virtual host xmpp.lab.test, so this one is "
          "probed with --xmpp-domain xmpp.lab.test",
          [srv_target(f"xmpp.{SRVD}", ports["xmpp"], [ee_xmpp])], tls="match",
          xmpp_domain=f"xmpp.{APEX}"),
        C("srv-xmpp-ta", "xmpp", f"xmpp.{APEX}",
          "secure SRV _xmpp-client._tcp.xmpp.lab.test -> c2s.srv-ta.dane.lab.test (a name the "
          "certificate does not carry) with DANE-TA 2 0 1 of the lab CA: the stream 'to' is "
          "the service domain xmpp.lab.test (RFC 6120), and the DANE-TA name check passes only "
          "because the service domain is a reference identifier (RFC 7673 section 6): dane-ta",
          [srv_target(f"c2s.srv-ta.{DANE}", ports["xmpp"], [ta])], tls="match",
          tls_base=f"xmpp.{APEX}"),
        C("srv-xmpp-server", "xmpp-server", f"xmpp.{APEX}",
          "secure SRV _xmpp-server._tcp.xmpp.lab.test -> the Prosody s2s port, 3 1 1: dane-ee",
          [srv_target(f"s2s.{SRVD}", ports["xmpp-server"], [ee_xmpp])], tls="match"),
        C("srv-ta-target", "imap", f"srv-ta.{DANE}",
          "secure SRV -> imap.lab.test (the name in the Dovecot certificate) with DANE-TA 2 0 1 "
          "of the lab CA at _PORT._tcp.imap.lab.test: the target host is the reference "
          "identifier that matches (dane-ta); at verify (PKIX, lab CA) the same name verifies",
          [srv_target(f"imap.{APEX}", ports["imap"], [ta])], tls="match"),
        C("srv-ta-wrongname", "imap", f"srv-ta-wrongname.{DANE}",
          "DANE-TA 2 0 1 of the lab CA (it does anchor the chain) but the certificate "
          "(imap.lab.test) names neither the SRV target nor the service domain: fail",
          [srv_target(f"imap.srv-ta-wrongname.{DANE}", ports["imap"], [ta])],
          tls="namecheck-fail"),
        C("srv-mismatch", "imap", f"srv-mismatch.{DANE}",
          "secure SRV, usable 3 1 1 whose digest matches no key: fail, never a downgrade",
          [srv_target(f"imap.srv-mismatch.{DANE}", ports["imap"], [wrong])], tls="nomatch"),
        C("srv-insecure", "imap", f"srv.{INSECURE}",
          "SRV in the unsigned zone (insecure) -> imap.lab.test, whose secure DANE-TA TLSA "
          "would authenticate: RFC 7673 section 3.1, no DANE after an insecure SRV RRset; the "
          "only reference identifier (and SNI) is the service domain (section 4.1), so "
          "verify fails the name check",
          [srv_target(f"imap.{APEX}", ports["imap"], [ta])], expect=(I, S, S)),
        C("srv-insecure-host", "imap", f"srv-insecure-host.{DANE}",
          "secure SRV -> a target in the unsigned zone (insecure A) with a TLSA that matches "
          "nothing: no TLSA lookup (RFC 7673 section 3.2), opportunistic TLS",
          [srv_target(f"imap.host.{INSECURE}", ports["imap"], [wrong])], expect=(S, I, I)),
        C("srv-dot", "imap", f"srv-dot.{DANE}",
          "SRV 0 0 0 . : the service is decidedly not offered (RFC 2782): fail",
          [], expect=(S, None, None), kind="dot", port=ports["imap"]),
        C("srv-none", "imap", f"srv-none.{DANE}",
          "no SRV RRset (secure NXDOMAIN at _imap._tcp) but an A record at the domain and a "
          "valid 3 1 1 at _PORT._tcp.<domain>: ostls falls back to the domain on the target's "
          "port, with plain RFC 6698 DANE as without --srv: dane-ee",
          [srv_target(f"srv-none.{DANE}", ports["imap"], [ee_imap])],
          expect=("nxdomain", S, S), kind="none", tls="match"),
        C("srv-multi", "imap", f"srv-multi.{DANE}",
          "SRV 10 -> imap1 at 127.0.0.2 (connection refused), SRV 20 -> imap2 (3 1 1): the "
          "second target authenticates",
          [srv_target(f"imap1.srv-multi.{DANE}", ports["imap"], [ee_imap], addr=REFUSED_PORT,
                      prio=10),
           srv_target(f"imap2.srv-multi.{DANE}", ports["imap"], [ee_imap], prio=20)],
          tls="match"),
        C("srv-bogus", "imap", f"srv.{BOGUS}",
          "SRV, A and TLSA in the zone whose signatures expired in 2020: the SRV lookup is "
          "BOGUS: defer at every level (RFC 7673 section 3.1, SPEC R9)",
          [srv_target(f"imap.srv.{BOGUS}", ports["imap"], [ee_imap])], expect=(B, B, B)),
        C("srv-servfail", "imap", f"srv.{SERVFAIL}",
          "SRV in the zone whose server does not answer: SERVFAIL: defer",
          [srv_target(f"imap.srv.{SERVFAIL}", ports["imap"], [ee_imap])], expect=(F, F, F)),
    ]


def srv_records(cases):
    """(owner, type, rdata) triples for the SRV cases."""
    out = []
    for c in cases:
        if c["srv_kind"] == "records":
            for t in c["targets"]:
                out.append((c["owner"], "SRV", f"{t['priority']} {t['weight']} {t['port']} {t['name']}."))
        elif c["srv_kind"] == "dot":
            out.append((c["owner"], "SRV", "0 0 0 ."))
        for t in c["targets"]:
            out.append((t["name"], "A", t["address"]))
            for r in t["tlsa"]:
                out.append((t["tlsa_name"], "TLSA", r))
    return out


def case_records(cases):
    """(owner, type, rdata) triples, deduplicated, for all the cases."""
    out = []
    for c in cases:
        dom = c["domain"]
        if c["mx_kind"] == "records":
            for h in c["hosts"]:
                out.append((dom, "MX", f"{h['pref']} {h['name']}."))
        elif c["mx_kind"] == "null":
            out.append((dom, "MX", "0 ."))
        for h in c["hosts"]:
            target = h["name"]
            if h["cname"]:
                out.append((h["name"], "CNAME", h["cname"] + "."))
                target = h["cname"]
            out.append((target, "A", h["address"]))
            for t in h["tlsa"]:
                out.append((h["tlsa_name"], "TLSA", t))
    seen, res = set(), []
    for r in out:
        if r not in seen:
            seen.add(r)
            res.append(r)
    return res


def mta_sts_records(lab):
    """(owner, type, rdata) triples of the MTA-STS lab domains (<case>.sts.lab.test: MX, the
    _mta-sts TXT, the mta-sts.<domain> address), which lab/nginx/mtasts.py build writes to
    DIR/nginx/dns-records.json before this runs; none if it is not there. Checked by
    mtasts.py verify, not here."""
    path = os.path.join(lab, "nginx", "dns-records.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [tuple(r) for r in json.load(f)["records"]]


def tlsrpt_cases():
    """TLS-RPT policy records (RFC 8460 section 3) at _smtp._tls.<domain> of some DANE case
    domains, for `ostls report tlsrpt --check` (tests/lab/test_tlsrpt.py): the TXT strings of each
    record (one list per record), its DNSSEC state, the exit status and the rua URIs expected."""
    def C(domain, records, dnssec, status, rua=(), error=None):
        return {"domain": domain, "owner": f"_smtp._tls.{domain}", "records": records,
                "dnssec": dnssec, "status": status, "rua": list(rua), "error": error}

    return [
        C(f"ee311.{DANE}", [["v=TLSRPTv1; rua=mailto:tlsrpt@ee311.dane.lab.test"]], "secure", 0,
          ["mailto:tlsrpt@ee311.dane.lab.test"]),
        # one record in two strings (concatenated), two URIs, an extension, an SPF record beside it
        C(f"mismatch.{DANE}", [["v=TLSRPTv1;", "rua=mailto:tlsrpt@lab.test, https://tlsrpt.lab.test/v1;ext=1"],
                               ["v=spf1 -all"]], "secure", 0,
          ["mailto:tlsrpt@lab.test", "https://tlsrpt.lab.test/v1"]),
        C(INSECURE, [["v=TLSRPTv1; rua=ftp://tlsrpt.lab.test/"]], "insecure", 1,
          error="unsupported URI scheme"),
        C(f"multi-mx.{DANE}", [["v=TLSRPTv1; rua=mailto:a@lab.test"], ["v=TLSRPTv1; rua=mailto:b@lab.test"]],
          "secure", 1, error="2 records begin with v=TLSRPTv1"),
        C(f"null-mx.{DANE}", [["v=TLSRPTv1; rua=mailto:a@lab.test "]], "secure", 1,
          error="white space at the end"),
        C(f"implicit-mx.{DANE}", [], "none", 1, error="no TLS-RPT policy"),
        C(BOGUS, [["v=TLSRPTv1; rua=mailto:tlsrpt@lab.test"]], "bogus", 75, error="bogus"),
        C(SERVFAIL, [["v=TLSRPTv1; rua=mailto:tlsrpt@lab.test"]], "servfail", 75, error="lookup failed"),
    ]


def tlsrpt_records(cases):
    """(owner, "TXT", rdata) triples of the TLS-RPT cases."""
    return [(c["owner"], "TXT", " ".join(json.dumps(s) for s in strings))
            for c in cases for strings in c["records"]]


# ---------------------------------------------------------------------------------------------
# build: keys, zones, signatures, configuration files

def keygen(kdir, zone, ksk):
    args = ["ldns-keygen", "-a", "ECDSAP256SHA256"] + (["-k"] if ksk else []) + [zone]
    return os.path.join(kdir, run(args, cwd=kdir).strip())


def ds_of(key):
    line = run(["ldns-key2ds", "-n", "-2", key + ".key"]).strip()
    f = line.split()
    # owner ttl IN DS tag alg digtype digest
    i = f.index("DS")
    return " ".join(f[i + 1:])


def cmd_build(a):
    lab = os.path.abspath(a.lab)
    dns = os.path.join(lab, "dns")
    pki = os.path.join(lab, "pki")
    labjson = os.path.join(lab, "lab.json")
    if not os.path.exists(labjson):
        die(f"{labjson} is missing: run lab/lab up first")
    labdef = json.load(open(labjson))
    ports = {}
    for p in labdef["peers"]:
        m = re.search(r":(\d+)$", p["target"])
        if m:
            ports[p["name"]] = int(m.group(1))
    for need in ("labca", "plain", "submission", "selfsigned", "expired", "smtps", "imap", "imaps",
                 "pop3", "pop3s", "xmpp", "xmpp-server"):
        if need not in ports:
            die(f"lab.json has no peer '{need}'")

    d = {
        "leaf_spki": spki_sha256(os.path.join(pki, "mx.lab.test.pem")),
        "leaf_cert": cert_sha256(os.path.join(pki, "mx.lab.test.pem")),
        "ca_cert": cert_sha256(os.path.join(pki, "ca.pem")),
        "ca_spki": spki_sha256(os.path.join(pki, "ca.pem")),
        "self_spki": spki_sha256(os.path.join(pki, "selfsigned.lab.test.pem")),
        "expired_spki": spki_sha256(os.path.join(pki, "expired.lab.test.pem")),
        "imap_spki": spki_sha256(os.path.join(pki, "imap.lab.test.pem")),
        "xmpp_spki": spki_sha256(os.path.join(pki, "xmpp.lab.test.pem")),
        "wrong": hashlib.sha256(b"ostls lab: this digest matches no key").hexdigest(),
    }
    labca = next(p for p in labdef["peers"] if p["name"] == "labca")
    if (labca.get("spki_sha256"), labca.get("cert_sha256")) != (d["leaf_spki"], d["leaf_cert"]):
        die("the digests of pki/mx.lab.test.pem differ from lab.json's labca peer")

    cases = build_cases(ports, d)
    srv_cases = build_srv_cases(ports, d)
    records = []
    tlsrpt = tlsrpt_cases()
    for r in case_records(cases) + srv_records(srv_cases) + mta_sts_records(lab) + tlsrpt_records(tlsrpt):
        if r not in records:
            records.append(r)

    zdir = os.path.join(dns, "zones")
    kdir = os.path.join(dns, "keys")
    for sub in (zdir, kdir):
        shutil.rmtree(sub, ignore_errors=True)
        os.makedirs(sub)
    os.chmod(kdir, 0o700)

    keys, ds = {}, {}
    for name, signing, _served, _ds, _stub in ZONES:
        if signing:
            keys[name] = (keygen(kdir, name, True), keygen(kdir, name, False))
            ds[name] = ds_of(keys[name][0])

    serial = int(time.time())
    now = int(time.time())
    for name, signing, _served, _ds, _stub in ZONES:
        rr = [(name, "SOA", f"ns.{APEX}. hostmaster.{APEX}. {serial} 3600 600 86400 {TTL}"),
              (name, "NS", f"ns.{APEX}.")]
        if name == APEX:
            rr.append((f"ns.{APEX}", "A", LOOP))
        for child, _sg, _sv, has_ds, _st in ZONES:
            if child != APEX and zone_of(child.split(".", 1)[1]) == name:
                rr.append((child, "NS", f"ns.{APEX}."))
                if has_ds:
                    rr.append((child, "DS", ds[child]))
        rr += [r for r in records if zone_of(r[0]) == name]
        path = os.path.join(zdir, name + ".zone")
        with open(path, "w") as f:
            f.write(f"; {name}: generated by lab/dns/dnslab.py build (throw-away)\n")
            f.write(f"$ORIGIN {name}.\n$TTL {TTL}\n")
            for owner, typ, rdata in rr:
                f.write(f"{owner}.\t{TTL}\tIN\t{typ}\t{rdata}\n")
        if signing:
            if signing == "expired":
                inc, exp = BOGUS_INCEPTION, BOGUS_EXPIRATION
            else:
                inc, exp = str(now - 86400), str(now + 30 * 86400)
            run(["ldns-signzone", "-o", name, "-i", inc, "-e", exp, "-f", path + ".signed",
                 path] + list(keys[name]))
        # nsd-checkzone catches what NSD would refuse to load
        run(["nsd-checkzone", name, path + (".signed" if signing else "")])

    # the trust anchor: the DS of the apex KSK
    anchor = f"{APEX}. IN DS {ds[APEX]}"
    with open(os.path.join(dns, "trust-anchor.ds"), "w") as f:
        f.write(anchor + "\n")

    write_nsd_conf(dns, a.port)
    write_dns_conf(dns, a.port, a.dead_port)

    meta = {"port": a.port, "dead_port": a.dead_port, "conf": os.path.join(dns, "dns.conf"),
            "trust_anchor": anchor, "trust_anchor_file": os.path.join(dns, "trust-anchor.ds"),
            "zones": [{"name": n, "signed": s or "no", "served": sv,
                       "ds_in_parent": dsp, "server": f"{LOOP}@{a.port if st == 'nsd' else a.dead_port}",
                       "ds": ds.get(n)}
                      for n, s, sv, dsp, st in ZONES],
            "digests": d, "peers": {k: ports[k] for k in sorted(ports)}, "cases": cases,
            "srv_cases": srv_cases, "tlsrpt_cases": tlsrpt}
    with open(os.path.join(dns, "cases.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


def write_nsd_conf(dns, port):
    user = ""
    if os.getuid() == 0:
        try:
            import pwd
            pw = pwd.getpwnam("nsd")
            user = "nsd"
            for sub in ("nsd",):
                p = os.path.join(dns, sub)
                os.makedirs(p, exist_ok=True)
                os.chown(p, pw.pw_uid, pw.pw_gid)
        except KeyError:
            pass
    os.makedirs(os.path.join(dns, "nsd"), exist_ok=True)
    zones = "".join(
        f'zone:\n    name: "{n}"\n    zonefile: "{n}.zone{".signed" if s else ""}"\n'
        for n, s, served, _d, _st in ZONES if served)
    conf = f"""# NSD for the ostls lab (generated by lab/dns/dns.sh up; throw-away)
server:
    ip-address: {LOOP}@{port}
    port: {port}
    do-ip4: yes
    do-ip6: no
    server-count: 1
    reuseport: no
    username: "{user}"
    chroot: ""
    zonesdir: "{dns}/zones"
    database: ""
    zonelistfile: "{dns}/nsd/zone.list"
    xfrdfile: "{dns}/nsd/xfrd.state"
    xfrdir: "{dns}/nsd"
    pidfile: "{dns}/nsd.pid"
    logfile: "{dns}/nsd.log"
    log-only-syslog: no
    verbosity: 1
    hide-version: yes
    hide-identity: yes
    refuse-any: yes
    zonefiles-write: 0
remote-control:
    control-enable: no
{zones}"""
    with open(os.path.join(dns, "nsd.conf"), "w") as f:
        f.write(conf)


def write_dns_conf(dns, port, dead_port):
    stubs = ""
    for n, _s, _sv, _d, st in ZONES:
        p = port if st == "nsd" else dead_port
        why = {"nsd": "the lab's NSD", "dead": "nothing listens here: SERVFAIL case"}[st]
        stubs += f'stub-zone:\n    name: "{n}."\n    stub-addr: {LOOP}@{p}    # {why}\n'
    conf = f"""# ostls lab resolver configuration (generated by lab/dns/dns.sh up; throw-away).
# unbound.conf syntax for libunbound's ub_ctx_config() and `unbound-host -C`.
# Needs nothing from /etc/unbound, no root hints, no root trust anchor, no network.
server:
    # The lab's authoritative server is on 127.0.0.1: unbound does not query localhost
    # addresses unless told so.
    do-not-query-localhost: no
    # .test is a special-use TLD: unbound's built-in local zone answers NXDOMAIN for it.
    local-zone: "test." nodefault
    # Safety net: nothing outside lab.test is ever sent anywhere (no root servers, no
    # internet); such names get REFUSED at once. lab.test itself is resolved normally.
    local-zone: "." refuse
    local-zone: "lab.test." transparent
    # DNSSEC: the lab apex's DS is the only trust anchor; without it every answer would
    # merely be insecure.
    trust-anchor-file: "{dns}/trust-anchor.ds"
    # A server that does not answer is given up after ~0.5 s instead of ~17 s (servfail case).
    infra-cache-max-rtt: 500
    # Say why an answer is BOGUS (ub_result.why_bogus, unbound-host -v).
    val-log-level: 2
    do-ip6: no
    verbosity: 0
    use-syslog: no

# NS records carry no port and the lab's server listens on port {port}: every zone, the
# apex and each delegated child, needs its own stub-zone.
{stubs}"""
    with open(os.path.join(dns, "dns.conf"), "w") as f:
        f.write(conf)


# ---------------------------------------------------------------------------------------------
# verify: what does libunbound (through unbound-host) make of every case?

def classify(text):
    """unbound-host -v output -> (state, security)."""
    sec = None
    m = re.findall(r"\((secure|insecure|BOGUS[^\n]*?)\)\s*$", text, re.M)
    if m:
        sec = "bogus" if m[-1].startswith("BOGUS") else m[-1]
    if "SERVFAIL" in text:
        state = "servfail"
    elif sec == "bogus":
        state = "bogus"
    elif "NXDOMAIN" in text:
        state = "nxdomain"
    elif re.search(r" has no ", text):
        state = "nodata"
    elif sec in ("secure", "insecure"):
        state = sec
    else:
        state = "error"
    return state, sec


def unbound_host(conf, qtype, name):
    t0 = time.monotonic()
    p = subprocess.run(["unbound-host", "-C", conf, "-v", "-t", qtype, name],
                       capture_output=True, text=True, timeout=30)
    ms = round((time.monotonic() - t0) * 1000)
    text = (p.stdout + p.stderr).strip()
    state, sec = classify(text)
    return {"qname": name, "qtype": qtype, "state": state, "security": sec, "ms": ms,
            "output": text.splitlines()}


def cmd_verify(a):
    dns = os.path.join(os.path.abspath(a.lab), "dns")
    meta = json.load(open(os.path.join(dns, "cases.json")))
    conf = meta["conf"]
    jobs = []
    for c in meta["cases"]:
        jobs.append((c["name"], "mx", None, "MX", c["domain"]))
        for i, h in enumerate(c["hosts"]):
            jobs.append((c["name"], "host", i, "A", h["name"]))
            jobs.append((c["name"], "tlsa", i, "TLSA", h["tlsa_name"]))
            if h["cname"]:
                jobs.append((c["name"], "tlsa_original", i, "TLSA",
                             tlsa_name(c["port"], h["name"])))
    srv_jobs = []
    for c in meta.get("srv_cases", []):
        srv_jobs.append((c["name"], "srv", None, "SRV", c["owner"]))
        for i, t in enumerate(c["targets"]):
            srv_jobs.append((c["name"], "host", i, "A", t["name"]))
            srv_jobs.append((c["name"], "tlsa", i, "TLSA", t["tlsa_name"]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        every = list(ex.map(lambda j: unbound_host(conf, j[3], j[4]), jobs + srv_jobs))
    results, srv_results = every[:len(jobs)], every[len(jobs):]

    bad = []
    by_case = {c["name"]: c for c in meta["cases"]}
    for c in meta["cases"]:
        c["dnssec"] = {"mx": None, "host": None, "tlsa": None}
        c["queries"] = []
    for (cname, what, i, _qt, _qn), r in zip(jobs, results):
        c = by_case[cname]
        c["queries"].append(r)
        if what == "tlsa_original":
            c["hosts"][i]["dnssec_tlsa_original"] = r["state"]
            if r["state"] != "nxdomain":
                bad.append(f"{cname}: TLSA at the pre-CNAME name is {r['state']}, want nxdomain")
            continue
        if i is not None:
            c["hosts"][i].setdefault("dnssec", {})[what] = r["state"]
        if i in (None, 0):
            c["dnssec"][what] = r["state"]
        want = c["expect"][what]
        if r["state"] != want:
            bad.append(f"{cname}: {r['qtype']} {r['qname']} is {r['state']}, want {want}: "
                       + " | ".join(r["output"]))
        if r["ms"] > 2500:
            bad.append(f"{cname}: {r['qtype']} {r['qname']} took {r['ms']} ms (> 2.5 s)")

    by_srv = {c["name"]: c for c in meta.get("srv_cases", [])}
    for c in by_srv.values():
        c["dnssec"] = {"srv": None, "host": None, "tlsa": None}
        c["queries"] = []
    for (cname, what, i, _qt, _qn), r in zip(srv_jobs, srv_results):
        c = by_srv[cname]
        c["queries"].append(r)
        if i is not None:
            c["targets"][i].setdefault("dnssec", {})[what] = r["state"]
        if i in (None, 0):
            c["dnssec"][what] = r["state"]
            want = c["expect"][what]
            if r["state"] != want:
                bad.append(f"{cname}: {r['qtype']} {r['qname']} is {r['state']}, want {want}: "
                           + " | ".join(r["output"]))
        if r["ms"] > 2500:
            bad.append(f"{cname}: {r['qtype']} {r['qname']} took {r['ms']} ms (> 2.5 s)")

    out = {"port": meta["port"], "conf": conf, "trust_anchor": meta["trust_anchor"],
           "trust_anchor_file": meta["trust_anchor_file"], "dead_port": meta["dead_port"],
           "zones": meta["zones"], "peers": meta["peers"],
           "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "verified_ok": not bad, "cases": []}
    for c in meta["cases"]:
        case = {k: c[k] for k in ("name", "domain", "port", "mx", "tlsa", "tlsa_name",
                                  "dnssec", "description")}
        case["mx_kind"] = c["mx_kind"]
        case["hosts"] = [{k: h.get(k) for k in ("name", "pref", "address", "cname", "tlsa_name",
                                                "tlsa", "dnssec", "dnssec_tlsa_original")
                          if h.get(k) is not None}
                         for h in c["hosts"]]
        case["openssl_dane"] = c["tls"]
        if c["deviation"]:
            case["deviation"] = c["deviation"]
        case["queries"] = c["queries"]
        out["cases"].append(case)
    out["srv_cases"] = []
    for c in meta.get("srv_cases", []):
        case = {k: c[k] for k in ("name", "scheme", "service", "domain", "owner", "port", "srv_kind",
                                  "targets", "dnssec", "description")}
        case["openssl_dane"] = c["tls"]
        if c["xmpp_domain"]:
            case["xmpp_domain"] = c["xmpp_domain"]
        case["queries"] = c["queries"]
        out["srv_cases"].append(case)
    tmp = os.path.join(dns, "dns.json.tmp")
    with open(tmp, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(dns, "dns.json"))

    width = max(len(c["name"]) for c in out["cases"])
    for c in out["cases"]:
        slow = max(q["ms"] for q in c["queries"])
        s = c["dnssec"]
        print(f"{c['name']:<{width}}  mx={s['mx'] or '-':<9} host={s['host'] or '-':<9} "
              f"tlsa={s['tlsa'] or '-':<9} slowest={slow} ms")
    width = max([width] + [len(c["name"]) for c in out["srv_cases"]])
    for c in out["srv_cases"]:
        slow = max(q["ms"] for q in c["queries"])
        s = c["dnssec"]
        print(f"{c['name']:<{width}}  srv={s['srv'] or '-':<8} host={s['host'] or '-':<9} "
              f"tlsa={s['tlsa'] or '-':<9} slowest={slow} ms")
    for b in bad:
        print("MISMATCH " + b, file=sys.stderr)
    return 1 if bad else 0


# ---------------------------------------------------------------------------------------------
# tls: cross-check the TLSA data against the real peers with OpenSSL's own DANE code

def s_client(port, base, rrdata, cafile=None, starttls="smtp", xmpphost=None):
    args = ["openssl", "s_client", "-brief", "-connect", f"{LOOP}:{port}",
            "-no-CApath", "-no-CAstore", "-dane_ee_no_namechecks", "-dane_tlsa_domain", base]
    if starttls:
        args += ["-starttls", starttls]
    if xmpphost:
        args += ["-xmpphost", xmpphost]
    args += ["-CAfile", cafile] if cafile else ["-no-CAfile"]
    for r in rrdata:
        args += ["-dane_tlsa_rrdata", r]
    p = subprocess.run(args, input="QUIT\r\n", capture_output=True, text=True, timeout=15)
    return p.stdout + p.stderr


def tls_verdict(out):
    if "Failed to import any TLSA records" in out:
        return "unusable"
    if re.search(r"Didn't find STARTTLS|didn't find starttls", out, re.I):
        return "no-starttls"
    if "hostname mismatch" in out:
        return "namecheck-fail"
    m = re.search(r"DANE TLSA (\d) \d \d .* matched", out)
    if "Verification: OK" in out and m:
        return "match-pkix" if m.group(1) in "01" else "match"
    return "nomatch"


def cmd_tls(a):
    dns = os.path.join(os.path.abspath(a.lab), "dns")
    meta = json.load(open(os.path.join(dns, "cases.json")))
    cafile = os.path.join(os.path.abspath(a.lab), "pki", "ca.pem")
    bad = 0
    for c in meta["cases"]:
        if not c["tls"]:
            continue
        hosts = [h for h in c["hosts"] if h["address"] == LOOP]
        h = hosts[0]
        base = h["cname"] or h["name"]
        if isinstance(c["tls"], dict):
            # one record at a time, with the lab CA trusted (so that PKIX usages could match)
            checks = [([rr], want, cafile) for rr, want in c["tls"].items()]
        else:
            checks = [(h["tlsa"], c["tls"], None)]
        for rrdata, want, ca in checks:
            out = s_client(c["port"], base, rrdata, ca)
            got = tls_verdict(out)
            ok = got == want
            bad += not ok
            detail = [ln.strip() for ln in out.splitlines()
                      if re.search(r"DANE TLSA|Verification|verify error|STARTTLS|unusable", ln)]
            what = f" [{rrdata[0][:5]}{' +CAfile' if ca else ''}]" if len(checks) > 1 else ""
            print(f"{'ok  ' if ok else 'FAIL'} {c['name']:<24} port {c['port']} base {base}{what}: "
                  f"{got} (want {want}) {'; '.join(detail)}")
    for c in meta.get("srv_cases", []):
        if not c["tls"]:
            continue
        t = next(t for t in c["targets"] if t["address"] == LOOP)
        base = c["tls_base"] or t["name"]
        starttls = SRV_SERVICES[c["scheme"]][1]
        xmpphost = (c["xmpp_domain"] or c["domain"]) if c["scheme"].startswith("xmpp") else None
        out = s_client(t["port"], base, t["tlsa"], None, starttls, xmpphost)
        got = tls_verdict(out)
        ok = got == c["tls"]
        bad += not ok
        detail = [ln.strip() for ln in out.splitlines()
                  if re.search(r"DANE TLSA|Verification|verify error|STARTTLS|unusable", ln)]
        print(f"{'ok  ' if ok else 'FAIL'} {c['name']:<24} port {t['port']} base {base}: "
              f"{got} (want {c['tls']}) {'; '.join(detail)}")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--lab", required=True)
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--dead-port", type=int, required=True)
    for n in ("verify", "tls"):
        s = sub.add_parser(n)
        s.add_argument("--lab", required=True)
    a = ap.parse_args()
    if a.cmd == "build":
        cmd_build(a)
        return 0
    return {"verify": cmd_verify, "tls": cmd_tls}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
