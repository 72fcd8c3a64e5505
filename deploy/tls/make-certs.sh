#!/bin/sh
# The box's own certificate authority and its HTTPS certificate, for the camera of the gate
# page (browsers open a camera only on a secure page). Run on the box, from anywhere:
#
#   deploy/tls/make-certs.sh 192.168.1.50 gate.local     # every address and name phones use
#   docker compose restart edge
#
# Then each phone opens http://<box>:18082/tixgo-ca.crt once, installs the certificate it gets
# (README, "HTTPS for the camera"), and uses https://<box>:18443/ from then on.
#
# What it makes (openssl only):
#   deploy/tls/ca/ca.key           the CA's key (EC P-256, mode 600), outside deploy/nginx, so
#                                  the edge container never sees it; back it up with the box
#   deploy/nginx/certs/ca.crt      the CA certificate (10 years), what phones install
#   deploy/nginx/certs/server.crt  the server certificate (825 days, the most iOS accepts),
#   deploy/nginx/certs/server.key  signed by the CA; SANs: every argument (as an IP address or a
#                                  DNS name) plus localhost and 127.0.0.1
#   deploy/nginx/local.d/https.conf  from deploy/nginx/https.conf.template
# The CA is made once: run it again with new addresses (the box moved to another network) and
# only the server certificate is made anew, signed by the same CA, so phones keep theirs.
#
# TIXGO_TLS_DIR and TIXGO_NGINX_DIR point it at other folders (the tests make certificates in
# their own copies). Exits non-zero on any error.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
tls_dir=${TIXGO_TLS_DIR:-$here}
nginx_dir=${TIXGO_NGINX_DIR:-$here/../nginx}
ca_dir=$tls_dir/ca
certs=$nginx_dir/certs

if [ "$#" -eq 0 ]; then
    echo "usage: $0 ADDRESS_OR_NAME..." >&2
    echo "  e.g. $0 192.168.1.50 gate.local  (the addresses and names phones use for the box)" >&2
    exit 2
fi
if ! command -v openssl >/dev/null 2>&1; then
    echo "make-certs.sh needs openssl" >&2
    exit 2
fi
if [ ! -f "$nginx_dir/https.conf.template" ]; then
    echo "no https.conf.template in $nginx_dir" >&2
    exit 2
fi

is_ip() {
    case "$1" in
    *:*) return 0 ;; # IPv6
    *[!0-9.]* | '') return 1 ;;
    *) return 0 ;;
    esac
}

# The SANs: the arguments, then localhost and 127.0.0.1 (each once).
sans=""
names=""
seen=" "
for name in "$@" localhost 127.0.0.1; do
    case "$name" in
    *[!A-Za-z0-9.:*-]*)
        echo "not an address or a DNS name: $name" >&2
        exit 2
        ;;
    esac
    case "$seen" in
    *" $name "*) continue ;;
    esac
    seen="$seen$name "
    if is_ip "$name"; then
        sans="$sans,IP:$name"
    else
        sans="$sans,DNS:$name"
    fi
    names="$names $name"
done
sans=${sans#,}
names=${names# }

umask 077
mkdir -p "$ca_dir" "$certs" "$nginx_dir/local.d"
chmod 700 "$ca_dir"
chmod 755 "$certs" "$nginx_dir/local.d"
work=$(mktemp -d "${TMPDIR:-/tmp}/tixgo-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ -f "$ca_dir/ca.key" ] && [ -f "$certs/ca.crt" ]; then
    echo "using the existing CA ($certs/ca.crt): phones that installed it keep working"
else
    if [ -f "$ca_dir/ca.key" ] || [ -f "$certs/ca.crt" ]; then
        echo "half a CA found (ca.key or ca.crt alone): move it away or restore the other half" >&2
        exit 1
    fi
    openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key"
    openssl req -x509 -new -key "$work/ca.key" -sha256 -days 3650 \
        -subj "/O=TixGo/CN=TixGo box CA $(date -u +%Y-%m-%d)" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" \
        -out "$work/ca.crt"
    mv "$work/ca.key" "$ca_dir/ca.key"
    chmod 600 "$ca_dir/ca.key"
    mv "$work/ca.crt" "$certs/ca.crt"
    echo "made a new CA: $certs/ca.crt (its key: $ca_dir/ca.key, keep it with the box's backups)"
fi
chmod 644 "$certs/ca.crt"

openssl ecparam -name prime256v1 -genkey -noout -out "$work/server.key"
openssl req -new -key "$work/server.key" -subj "/O=TixGo/CN=${1}" -out "$work/server.csr"
cat >"$work/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$sans
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EXT
openssl x509 -req -in "$work/server.csr" -CA "$certs/ca.crt" -CAkey "$ca_dir/ca.key" \
    -CAcreateserial -CAserial "$work/ca.srl" -sha256 -days 825 \
    -extfile "$work/server.ext" -out "$work/server.crt" 2>/dev/null
openssl verify -CAfile "$certs/ca.crt" "$work/server.crt" >/dev/null

mv "$work/server.crt" "$certs/server.crt"
mv "$work/server.key" "$certs/server.key"
chmod 644 "$certs/server.crt"
# The edge container runs as uid 101 and must read the key: group 101 when we can set it,
# otherwise readable by all (the folder holds nothing else secret: the CA key is elsewhere).
if [ "$(id -u)" = 0 ] && chgrp 101 "$certs/server.key" 2>/dev/null; then
    chmod 640 "$certs/server.key"
else
    chmod 644 "$certs/server.key"
fi

sed "s/@NAMES@/$names/" "$nginx_dir/https.conf.template" >"$work/https.conf"
chmod 644 "$work/https.conf"
mv "$work/https.conf" "$nginx_dir/local.d/https.conf"

echo "server certificate for: $names (825 days)"
echo "wrote $nginx_dir/local.d/https.conf (HTTPS on 18443 and 18444)"
echo "next: docker compose restart edge; phones install http://<box>:18082/tixgo-ca.crt"
