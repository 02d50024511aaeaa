#!/usr/bin/env bash
# Generate the certificates of the embedded control plane with openssl, once per
# state dir (kept across restarts; `down.sh --purge` removes them):
#   ca.crt/ca.key            self-signed CA (10 years), trusted by the kubeconfig
#   apiserver.crt/.key       serving cert for 127.0.0.1, localhost and the
#                            in-cluster names of the kubernetes Service
#   admin.crt/.key           client cert CN=kubernetes-admin, O=system:masters,
#                            used by kubectl/helm, the controller manager,
#                            the scheduler and kwok
#   sa.key/sa.pub            service-account token signing key pair
#   kubelet-client.crt/.key  the real node's client cert (CN=system:node:NODE, O=system:nodes),
#                            authorized by the API server's Node authorizer
#   kubelet-serving.crt/.key the kubelet's serving cert for the node IP
#   apiserver-kubelet-client.crt/.key
#                            the API server's client cert for logs/exec/port-forward
#                            on the kubelet (O=system:masters)
# usage: hack/cluster/pki.sh DIR [NODE_NAME NODE_IP]
set -euo pipefail
dir=$1 node_name=${2:-node0} node_ip=${3:-10.245.0.1}
mkdir -p "$dir"
cd "$dir"
marker=".complete-$node_name-$node_ip"
[[ -f $marker ]] && exit 0
rm -f .complete*
umask 077
days=3650
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ec ca.key
openssl req -x509 -new -key ca.key -sha256 -days $days -subj "/CN=pytorch-chart-embedded-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.crt 2>/dev/null

# sign NAME SUBJECT EXTFILE_CONTENT
sign() {
  ec "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days $days \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sign admin "/O=system:masters/CN=kubernetes-admin" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

sign kubelet-client "/O=system:nodes/CN=system:node:$node_name" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
sign kubelet-serving "/CN=$node_name" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$node_ip,DNS:$node_name"
sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
rm -f ca.srl
chmod 600 ./*.key
chmod 644 ./*.crt sa.pub
touch "$marker"
