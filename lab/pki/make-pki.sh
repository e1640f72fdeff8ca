#!/usr/bin/env bash
# Builds the throw-away lab PKI with the openssl CLI.
#
#   lab/pki/make-pki.sh OUTDIR
#
# Output in OUTDIR (created, previous content replaced):
#   ca.pem ca.key                          lab CA (ECDSA P-256), "ostls lab CA"
#   <name>.pem <name>.key <name>.chain.pem leaf cert, key, chain (key + leaf [+ CA])
#   <name>.fp                              "cert_sha256 spki_sha256" (lowercase hex)
#   fingerprints.json                      {"<name>": {"cert_sha256":…, "spki_sha256":…}}
# for <name> in mx.lab.test (lab CA, P-256), selfsigned.lab.test (self-signed, P-256),
# expired.lab.test (lab CA, P-256, validity entirely in the past),
# legacy.lab.test (lab CA, RSA 2048, for RSA key exchange),
# imap.lab.test (lab CA, P-256, SAN imap.lab.test + pop3.lab.test + sieve.lab.test: the
# Dovecot peers), services.lab.test (lab CA, P-256, SAN also postgres, ldap, ftp, irc and
# news.lab.test: PostgreSQL, slapd, vsftpd, InspIRCd, INN), xmpp.lab.test (lab CA, P-256:
# Prosody), mta-sts.lab.test (lab CA, P-256, SAN also mta-sts.<domain> for every MTA-STS lab
# domain whose policy host presents it, from lab/nginx/mtasts.py: the lab's nginx).
# mx.lab.test also carries SAN mx.sts.lab.test: the MX host of the MTA-STS lab domains, which
# has no TLSA record (mx.lab.test has some, and DANE would preempt MTA-STS).
# Also <name>.certs.pem (leaf + CA, no key) for imap, services, xmpp and mta-sts.lab.test:
# Dovecot's ssl_cert and the other daemons take the certificates alone and the key separately.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
py=${OSTLS_LAB_PYTHON:-}
[[ -n $py ]] || { [[ -x /usr/bin/python3 ]] && py=/usr/bin/python3 || py=python3; }
mta_sts_sans=$("$py" "$here/../nginx/mtasts.py" sans)

out=${1:?usage: make-pki.sh OUTDIR}
rm -rf "$out"
mkdir -p "$out"
cd "$out"
umask 022

ossl() { openssl "$@" 2>>openssl.log; }

new_ec_key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
new_rsa_key() { ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }

# Extension sections used for signing (openssl x509 -extfile / openssl ca -extfile).
cat >ext.cnf <<'EOF'
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[leaf_ec]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:${ENV::LAB_SAN}

[leaf_rsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:${ENV::LAB_SAN}

[leaf_self]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = DNS:${ENV::LAB_SAN}
EOF

# All certificates are issued with "openssl ca", which (unlike OpenSSL 3.0's x509/req
# commands) accepts explicit -startdate/-enddate: the expired leaf needs a validity
# entirely in the past, and the others are back-dated by a day so that a small clock
# difference never makes them "not yet valid".
mkdir -p ca-db
cat >ca.cnf <<'EOF2'
[ca]
default_ca = labca

[labca]
dir = ./ca-db
database = $dir/index.txt
serial = $dir/serial
new_certs_dir = $dir
certificate = ./ca.pem
private_key = ./ca.key
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

[policy_any]
organizationName = optional
commonName = supplied

[req]
distinguished_name = dn
[dn]
EOF2

utc() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

issue() { # name key ext start end [selfsign]   (extra SANs: LAB_EXTRA_SAN=",DNS:x,DNS:y")
  local name=$1 key=$2 ext=$3 start=$4 end=$5 self=${6:-}
  : >ca-db/index.txt
  openssl rand -hex 16 >ca-db/serial
  local LAB_SAN=$name${LAB_EXTRA_SAN:-}
  export LAB_SAN
  ossl req -new -config ca.cnf -key "$key" -subj "/O=ostls lab/CN=$name" -out "$name.csr"
  if [[ $self == selfsign ]]; then
    ossl ca -batch -config ca.cnf -selfsign -keyfile "$key" -in "$name.csr" \
      -out "$name.tmp" -startdate "$start" -enddate "$end" -notext -extfile ext.cnf -extensions "$ext"
  else
    ossl ca -batch -config ca.cnf -in "$name.csr" \
      -out "$name.tmp" -startdate "$start" -enddate "$end" -notext -extfile ext.cnf -extensions "$ext"
  fi
  openssl x509 -in "$name.tmp" -out "$name.pem"
  rm -f "$name.tmp" "$name.csr"
}

past=$(utc '-1 day')
future=$(utc '+825 days')

# --- lab CA: ECDSA P-256, self-signed ------------------------------------
new_ec_key ca.key
issue "ostls lab CA" ca.key ca_ext "$past" "$(utc '+3650 days')" selfsign
mv "ostls lab CA.pem" ca.pem

# mx.lab.test: lab CA, ECDSA P-256; also valid for mx.sts.lab.test (the MTA-STS cases' MX host)
new_ec_key mx.lab.test.key
LAB_EXTRA_SAN=",DNS:mx.sts.lab.test" issue mx.lab.test mx.lab.test.key leaf_ec "$past" "$future"

# legacy.lab.test: lab CA, RSA 2048 (RSA key exchange needs an RSA key)
new_rsa_key legacy.lab.test.key
issue legacy.lab.test legacy.lab.test.key leaf_rsa "$past" "$future"

# selfsigned.lab.test: self-signed, ECDSA P-256
new_ec_key selfsigned.lab.test.key
issue selfsigned.lab.test selfsigned.lab.test.key leaf_self "$past" "$future" selfsign

# expired.lab.test: lab CA, ECDSA P-256, validity entirely in the past
new_ec_key expired.lab.test.key
issue expired.lab.test expired.lab.test.key leaf_ec "$(utc '-400 days')" "$(utc '-35 days')"

# imap.lab.test: lab CA, ECDSA P-256, also valid for pop3.lab.test and sieve.lab.test (the
# Dovecot peers)
new_ec_key imap.lab.test.key
LAB_EXTRA_SAN=",DNS:pop3.lab.test,DNS:sieve.lab.test" \
  issue imap.lab.test imap.lab.test.key leaf_ec "$past" "$future"

# services.lab.test: lab CA, ECDSA P-256, one leaf for the other daemons (PostgreSQL, slapd,
# vsftpd, InspIRCd, INN), each probed with its own name
new_ec_key services.lab.test.key
LAB_EXTRA_SAN=",DNS:postgres.lab.test,DNS:ldap.lab.test,DNS:ftp.lab.test,DNS:irc.lab.test,DNS:news.lab.test" \
  issue services.lab.test services.lab.test.key leaf_ec "$past" "$future"

# xmpp.lab.test: lab CA, ECDSA P-256 (the Prosody peers' virtual host xmpp.lab.test)
new_ec_key xmpp.lab.test.key
issue xmpp.lab.test xmpp.lab.test.key leaf_ec "$past" "$future"

# mta-sts.lab.test: lab CA, ECDSA P-256, one leaf for the policy hosts mta-sts.<domain> of the
# MTA-STS lab domains (lab/nginx)
new_ec_key mta-sts.lab.test.key
sans=""
for n in $mta_sts_sans; do sans+=",DNS:$n"; done
LAB_EXTRA_SAN=$sans issue mta-sts.lab.test mta-sts.lab.test.key leaf_ec "$past" "$future"
rm -rf ca-db ca.cnf

# --- chains (key first, then leaf, then issuer), fingerprints -------------
for name in mx.lab.test legacy.lab.test expired.lab.test imap.lab.test; do
  cat "$name.key" "$name.pem" ca.pem >"$name.chain.pem"
done
for name in imap.lab.test services.lab.test xmpp.lab.test mta-sts.lab.test; do
  cat "$name.pem" ca.pem >"$name.certs.pem"
done
cat selfsigned.lab.test.key selfsigned.lab.test.pem >selfsigned.lab.test.chain.pem

{
  echo "{"
  sep=""
  for name in ca mx.lab.test selfsigned.lab.test expired.lab.test legacy.lab.test imap.lab.test \
    services.lab.test xmpp.lab.test mta-sts.lab.test; do
    cert_fp=$(openssl x509 -in "$name.pem" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
    spki_fp=$(openssl x509 -in "$name.pem" -noout -pubkey | openssl pkey -pubin -outform DER |
      openssl dgst -sha256 -r | cut -d' ' -f1)
    echo "$cert_fp $spki_fp" >"$name.fp"
    printf '%s  "%s": {"cert_sha256": "%s", "spki_sha256": "%s"}' "$sep" "$name" "$cert_fp" "$spki_fp"
    sep=$',\n'
  done
  printf '\n}\n'
} >fingerprints.json

rm -f ext.cnf openssl.log
chmod 600 ./*.key ./*.chain.pem
# Postfix reads the keys as root before dropping privileges; the python peers run as root.
exit 0
