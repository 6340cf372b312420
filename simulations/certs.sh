#!/usr/bin/env bash
# A throw-away CA and a SuperLink server certificate for Flower's TLS (README, "Deployment
# Engine"). Usage: simulations/certs.sh OUT_DIR [HOST_OR_IP ...]   (default: 127.0.0.1 localhost)
#
#   OUT_DIR/ca.crt      → flower-superlink --ssl-ca-certfile; flower-supernode --root-certificates;
#                         root-certificates = "…/ca.crt" in the coordinator's FLWR_HOME/config.toml
#   OUT_DIR/server.pem  → flower-superlink --ssl-certfile
#   OUT_DIR/server.key  → flower-superlink --ssl-keyfile (keep it on the SuperLink host only)
#
# Name every address the SuperNodes and the coordinator use to reach the SuperLink (its IP
# and/or DNS name): the certificate's subjectAltName must contain it. For production, use
# your organisation's CA instead of this one. `simulations.deployment.make_tls_certs` does
# the same in Python (the test uses it).
set -euo pipefail

out=${1:?usage: $0 OUT_DIR [HOST_OR_IP ...]}
shift
hosts=("$@")
[ ${#hosts[@]} -gt 0 ] || hosts=(127.0.0.1 localhost)

san=""
for h in "${hosts[@]}"; do
  if [[ $h =~ ^[0-9.]+$ || $h == *:* ]]; then san+="IP:$h,"; else san+="DNS:$h,"; fi
done
san=${san%,}

mkdir -p "$out"
cd "$out"
openssl ecparam -name secp384r1 -genkey -noout -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=fedstake test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -out ca.crt
openssl ecparam -name secp384r1 -genkey -noout -out server.key.sec1 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in server.key.sec1 -out server.key
rm -f server.key.sec1
openssl req -new -key server.key -subj "/CN=${hosts[0]}" -out server.csr
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -sha256 \
  -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san") -out server.pem \
  2>/dev/null
rm -f server.csr ca.srl
chmod 600 ca.key server.key
echo "CA: $out/ca.crt  server: $out/server.pem + $out/server.key  (SAN $san)"
