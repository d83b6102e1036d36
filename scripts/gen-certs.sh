#!/usr/bin/env bash
# Creates a development certificate authority and, per node, a key and a certificate
# signed by it, in the layout `meshinfer node --tls-dir` reads.
#
#   scripts/gen-certs.sh [--cluster-name NAME] [--san LIST] [--days N] DIR NODE...
#
#   DIR/ca.crt            the CA certificate (every node trusts it; give it to clients: --ca-cert)
#   DIR/ca.key            the CA's private key: it can mint members of the cluster, keep it private
#   DIR/NODE/tls.key      the node's private key (RSA, unencrypted PKCS#8 PEM, mode 600)
#   DIR/NODE/tls.crt      the node's certificate, signed by the CA (PEM)
#   DIR/NODE/ca.crt       a copy of DIR/ca.crt
#
# Start a node with `--tls-dir DIR/NODE`. A CA already in DIR is reused, so running the
# script again for a node issues it a new key and certificate from the same CA: this is
# certificate rotation, and a running node picks the new files up without a restart
# (within meshinfer.security.tls-refresh-interval). The files are written beside the old
# ones and renamed over them one after the other.
#
# Each node certificate names: CN=NODE, and as subject alternative names DNS:NODE,
# DNS:<cluster name> (default "meshinfer"), IP:127.0.0.1, plus --san entries (e.g.
# --san DNS:node1.example.com,IP:10.0.0.5; run the script once per node when each needs its
# own). Pekko accepts a peer only when its certificate is signed by the CA AND shares a
# subject name with the node's own certificate: the cluster name is that shared name. No
# name common to all clusters (such as localhost) is added, so one CA may sign several
# clusters of different names and keep them apart. Certificates allow TLS server and
# client use (mutual TLS), for --days days (default 365). Needs openssl.
set -euo pipefail

usage() {
  sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

cluster_name="meshinfer"
extra_san=""
days=365
while (($# > 0)); do
  case "$1" in
    --cluster-name) cluster_name="${2:?--cluster-name needs a value}"; shift 2 ;;
    --cluster-name=*) cluster_name="${1#*=}"; shift ;;
    --san) extra_san="${2:?--san needs a value}"; shift 2 ;;
    --san=*) extra_san="${1#*=}"; shift ;;
    --days) days="${2:?--days needs a value}"; shift 2 ;;
    --days=*) days="${1#*=}"; shift ;;
    -h | --help) usage ;;
    --*) echo "gen-certs: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
(($# >= 2)) || usage
dir="$1"
shift

if ! command -v openssl >/dev/null 2>&1; then
  echo "gen-certs: openssl is not installed; on Debian or Ubuntu: sudo apt-get install -y openssl" >&2
  exit 1
fi
if [[ ! "$days" =~ ^[1-9][0-9]*$ ]]; then
  echo "gen-certs: --days must be a positive number of days" >&2
  exit 2
fi
name_re='^[A-Za-z0-9][A-Za-z0-9.-]*$'
if [[ ! "$cluster_name" =~ $name_re ]]; then
  echo "gen-certs: cluster name '$cluster_name' must be letters, digits, '.' or '-' (it is a DNS name)" >&2
  exit 2
fi
for node in "$@"; do
  if [[ ! "$node" =~ $name_re ]]; then
    echo "gen-certs: node name '$node' must be letters, digits, '.' or '-' (it names a directory and a DNS name)" >&2
    exit 2
  fi
done

umask 077
mkdir -p "$dir"
work="$(mktemp -d "$dir/.gen-certs.XXXXXX")"
trap 'rm -rf "$work"' EXIT

serial() {
  echo "0x$(openssl rand -hex 16)"
}

if [[ -f "$dir/ca.key" && -f "$dir/ca.crt" ]]; then
  echo "using the CA in $dir ($(openssl x509 -in "$dir/ca.crt" -noout -subject))"
else
  cat >"$work/ca.ext" <<EOF
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$work/ca.key" 2>/dev/null
  openssl req -new -key "$work/ca.key" -subj "/O=meshinfer/CN=$cluster_name development CA" -out "$work/ca.csr"
  openssl x509 -req -in "$work/ca.csr" -signkey "$work/ca.key" -days "$((days * 2))" -set_serial "$(serial)" \
    -extfile "$work/ca.ext" -out "$work/ca.crt" 2>/dev/null
  mv "$work/ca.key" "$dir/ca.key"
  chmod 644 "$work/ca.crt"
  mv "$work/ca.crt" "$dir/ca.crt"
  echo "created a CA in $dir: ca.crt (share it), ca.key (keep it private)"
fi

for node in "$@"; do
  san="DNS:$node,DNS:$cluster_name,IP:127.0.0.1"
  if [[ -n "$extra_san" ]]; then san="$san,$extra_san"; fi
  cat >"$work/$node.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  # RSA: Pekko's PEM loader (pekko-pki) reads RSA keys only
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/$node.key" 2>/dev/null
  openssl req -new -key "$work/$node.key" -subj "/O=meshinfer/CN=$node" -out "$work/$node.csr"
  openssl x509 -req -in "$work/$node.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -days "$days" \
    -set_serial "$(serial)" -extfile "$work/$node.ext" -out "$work/$node.crt" 2>/dev/null
  chmod 644 "$work/$node.crt"
  cp "$dir/ca.crt" "$work/$node.ca.crt"
  chmod 644 "$work/$node.ca.crt"
  mkdir -p "$dir/$node"
  chmod 755 "$dir/$node"
  rotated=""
  if [[ -f "$dir/$node/tls.crt" ]]; then rotated=" (replacing the previous ones)"; fi
  mv -f "$work/$node.key" "$dir/$node/tls.key"
  mv -f "$work/$node.crt" "$dir/$node/tls.crt"
  mv -f "$work/$node.ca.crt" "$dir/$node/ca.crt"
  echo "node $node: $dir/$node/{tls.key,tls.crt,ca.crt}$rotated; subject alternative names $san;" \
    "serial $(openssl x509 -in "$dir/$node/tls.crt" -noout -serial | cut -d= -f2)"
done
