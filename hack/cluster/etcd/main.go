// Command etcd is etcd's own server main (go.etcd.io/etcd/server/v3/etcdmain),
// wrapped in a module of ours: etcd's repository modules carry local replace
// directives, so `go install go.etcd.io/etcd/server/v3@vX` cannot build it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
