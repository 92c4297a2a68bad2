#!/bin/sh
# Regenerates the TLS fixtures of the fake API server: a test CA and a server
# certificate for 127.0.0.1, ::1 and localhost signed by it, plus an unrelated
# "other" CA and server certificate (for the test that a client refuses a server
# it does not trust). Valid ~30 years; tests/certs.rs fails 2 years before expiry.
# Run from anywhere: sh tests/fake-apiserver/certs/regen.sh
set -eu
cd "$(dirname "$0")"
days=10950
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ca.ext" <<'X'
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
X
cat > "$tmp/server.ext" <<'X'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
authorityKeyIdentifier=keyid
X
gen() { # prefix, CA common name
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1ca.key"
    openssl req -new -key "$1ca.key" -subj "/CN=$2" -out "$tmp/ca.csr"
    openssl x509 -req -in "$tmp/ca.csr" -signkey "$1ca.key" -days $days \
        -extfile "$tmp/ca.ext" -out "$1ca.crt"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1server.key"
    openssl req -new -key "$1server.key" -subj "/CN=kube-apiserver" -out "$tmp/server.csr"
    openssl x509 -req -in "$tmp/server.csr" -CA "$1ca.crt" -CAkey "$1ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days $days \
        -extfile "$tmp/server.ext" -out "$1server.crt"
    rm -f "$1ca.key"   # nobody signs anything else with it
}
gen "" "kured-rs fake apiserver test CA"
gen "other-" "kured-rs unrelated test CA"
