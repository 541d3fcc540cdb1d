#!/bin/sh
# A throwaway CA and a server certificate it signs, for the TLS tests (openssl CLI).
# usage: tests/clients/test_ca.sh DIR [NAME]   -> DIR/ca.pem, DIR/NAME.pem, DIR/NAME.key
# The CA is made on first use of DIR; each NAME (default: server) is a new certificate for
# 127.0.0.1 and localhost, ECDSA P-256, valid for a day.
set -eu
dir=$1
name=${2:-server}
mkdir -p "$dir"
if [ ! -f "$dir/ca.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 1 -subj "/CN=keyledger test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    2>/dev/null
fi
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=keyledger $name" 2>/dev/null
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$dir/$name.ext"
openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
  -set_serial "0x$(openssl rand -hex 8)" -days 1 -extfile "$dir/$name.ext" \
  -out "$dir/$name.pem" 2>/dev/null
chmod 600 "$dir/$name.key" "$dir/ca.key"
rm -f "$dir/$name.csr" "$dir/$name.ext"
