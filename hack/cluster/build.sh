#!/usr/bin/env bash
# Build the embedded control plane from source (Go module proxy) into bin/:
#   etcd                      go.etcd.io/etcd/server/v3   (wrapper module hack/cluster/etcd)
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#                             k8s.io/kubernetes/cmd/...    (wrapper module hack/cluster/k8s)
#   kwok                      sigs.k8s.io/kwok/cmd/kwok    (plain go install, hack/go-tool.sh)
#   kueue                     sigs.k8s.io/kueue/cmd/kueue  (plain go install; started by hack/cluster/kueue.sh)
#   cluster-nsproxy           hack/cluster/nsproxy         (host loopback -> API server in the netns)
# and the real node (hack/cluster/node-up.sh):
#   kubelet                   k8s.io/kubernetes/cmd/kubelet (wrapper module hack/cluster/k8s)
#   containerd, containerd-shim-runc-v2, ctr
#                             github.com/containerd/containerd/v2/cmd/... (go install)
#   cni/bridge, cni/host-local, cni/loopback
#                             github.com/containernetworking/plugins/plugins/... (go install)
#   coredns                   github.com/coredns/coredns (go install)
#   kube-router               github.com/cloudnativelabs/kube-router/v2/cmd/kube-router (go install;
#                             only its firewall runs: NetworkPolicy, docs/network-policy.md)
#   kube-proxy                k8s.io/kubernetes/cmd/kube-proxy (wrapper module hack/cluster/kube-proxy)
# (kube-router and kube-proxy are built only when named: `make node-firewall`.)
# Versions: hack/versions.env. A binary is rebuilt only when its stamp
# (bin/.NAME.stamp: package@version + hash of the wrapper go.mod/go.sum, flags
# and Go version) changed. Go's default GOCACHE/GOMODCACHE are used, so a fresh
# clone on the same machine relinks in seconds.
# usage: hack/cluster/build.sh [NAME...]     (default: all)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$root/bin
# shellcheck source=../lib.sh
source "$here/../lib.sh"
# shellcheck source=../versions.env
source "$ROOT/hack/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0

# Regenerate a wrapper module when versions.env moved on (needs the proxy).
grep -q "^require k8s.io/kubernetes $KUBERNETES_VERSION\$" "$here/k8s/go.mod" 2>/dev/null || "$here/gen-mods.sh" k8s
grep -q "^require go.etcd.io/etcd/server/v3 $ETCD_VERSION\$" "$here/etcd/go.mod" 2>/dev/null || "$here/gen-mods.sh" etcd
grep -q "^require k8s.io/kubernetes $KUBERNETES_VERSION\$" "$here/kube-proxy/go.mod" 2>/dev/null || "$here/gen-mods.sh" kube-proxy

k8s_minor=${KUBERNETES_VERSION#v1.}; k8s_minor=${k8s_minor%%.*}
# Module publish time as the build date: reproducible, and what the tag says.
k8s_date=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
  python3 -c 'import json,sys; print(json.load(sys.stdin).get("Time",""))' 2>/dev/null || true)
k8s_date=${k8s_date:-1970-01-01T00:00:00Z}
k8s_ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $p.gitTreeState=clean -X $p.gitCommit= -X $p.buildDate=$k8s_date"
done
etcd_ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"

go_version=$(go env GOVERSION)
k8s_key="$KUBERNETES_VERSION $(short_hash "$here/k8s/go.mod" "$here/k8s/go.sum") $go_version $(echo "$k8s_ldflags" | sha256sum | cut -c1-8)"
nsproxy_key="$(short_hash "$here/nsproxy/go.mod" "$here/nsproxy/go.sum" "$here/nsproxy/main.go") $go_version"
kube_proxy_key="$KUBERNETES_VERSION $(short_hash "$here/kube-proxy/go.mod" "$here/kube-proxy/go.sum") $go_version $(echo "$k8s_ldflags" | sha256sum | cut -c1-8)"
etcd_key="$ETCD_VERSION $(short_hash "$here/etcd/go.mod" "$here/etcd/go.sum" "$here/etcd/main.go") $go_version $(echo "$etcd_ldflags" | sha256sum | cut -c1-8)"

mkdir -p "$bin"
t0=$(date +%s)

# build NAME MODULE_DIR PACKAGE STAMP LDFLAGS (see hack/go-build.sh)
build() { "$root/hack/go-build.sh" "$@"; }

want=("$@")
((${#want[@]})) || want=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kueue cluster-nsproxy
  kubelet containerd containerd-shim-runc-v2 ctr cni/bridge cni/host-local cni/loopback coredns)
for name in "${want[@]}"; do
  case $name in
    etcd) build etcd "$here/etcd" . "go.etcd.io/etcd/server/v3 $etcd_key" "$etcd_ldflags" ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl|kubelet)
      build "$name" "$here/k8s" "k8s.io/kubernetes/cmd/$name" "k8s.io/kubernetes/cmd/$name $k8s_key" "$k8s_ldflags" ;;
    kwok)
      "$root/hack/go-tool.sh" kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" ;;
    kueue)
      "$root/hack/go-tool.sh" kueue sigs.k8s.io/kueue/cmd/kueue "$KUEUE_VERSION" \
        "-X sigs.k8s.io/kueue/pkg/version.GitVersion=$KUEUE_VERSION -X sigs.k8s.io/kueue/pkg/version.GitCommit=" ;;
    cluster-nsproxy) build cluster-nsproxy "$here/nsproxy" . "nsproxy $nsproxy_key" "-s -w" ;;
    containerd|ctr)
      "$root/hack/go-tool.sh" "$name" "github.com/containerd/containerd/v2/cmd/$name" "$CONTAINERD_VERSION" \
        "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" "urfave_cli_no_docs osusergo netgo no_btrfs" ;;
    containerd-shim-runc-v2)
      "$root/hack/go-tool.sh" "$name" "github.com/containerd/containerd/v2/cmd/$name" "$CONTAINERD_VERSION" \
        "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" "urfave_cli_no_docs osusergo netgo no_grpc" ;;
    cni/bridge|cni/loopback)
      "$root/hack/go-tool.sh" "$name" "github.com/containernetworking/plugins/plugins/main/${name#cni/}" "$CNI_PLUGINS_VERSION" ;;
    cni/host-local)
      "$root/hack/go-tool.sh" "$name" "github.com/containernetworking/plugins/plugins/ipam/host-local" "$CNI_PLUGINS_VERSION" ;;
    coredns) "$root/hack/go-tool.sh" coredns github.com/coredns/coredns "$COREDNS_VERSION" ;;
    kube-router)
      "$root/hack/go-tool.sh" kube-router "$KUBE_ROUTER_MODULE/cmd/kube-router" "$KUBE_ROUTER_VERSION" \
        "-X $KUBE_ROUTER_MODULE/pkg/version.Version=$KUBE_ROUTER_VERSION" ;;
    kube-proxy)
      build kube-proxy "$here/kube-proxy" k8s.io/kubernetes/cmd/kube-proxy "k8s.io/kubernetes/cmd/kube-proxy $kube_proxy_key" "$k8s_ldflags" ;;
    *) echo "unknown binary: $name" >&2; exit 2 ;;
  esac
done
echo ">> control-plane binaries ready in $(( $(date +%s) - t0 ))s" >&2
