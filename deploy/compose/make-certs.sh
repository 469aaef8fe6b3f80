#!/usr/bin/env bash
# A private CA and the brokers' certificate for the compose site (certs/). Collectors get
# certs/ca.pem. Replace with your organisation's CA for production.
set -euo pipefail
cd "$(dirname "$0")"
HOST="${KAFKA_PUBLIC_HOST:-localhost}"
mkdir -p certs && cd certs
[ -f ca.key ] || openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=deskpulse CA" \
  -keyout ca.key -out ca.pem
openssl req -newkey rsa:3072 -nodes -subj "/CN=$HOST" -keyout kafka.key -out kafka.csr
printf 'subjectAltName=DNS:%s,DNS:kafka-1,DNS:kafka-2,DNS:kafka-3,DNS:localhost\n' "$HOST" > san.ext
openssl x509 -req -in kafka.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
  -extfile san.ext -out kafka.crt
cat kafka.key kafka.crt > kafka.pem
chmod 600 ca.key kafka.key kafka.pem
rm -f kafka.csr san.ext
echo "certs/ca.pem is the CA collectors trust (ssl.ca.location)"
