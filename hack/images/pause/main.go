// Command pause is the pod sandbox ("infra") process for containerd: it holds the pod's
// namespaces open by sleeping forever, reaps every child that is re-parented to it (it is
// PID 1 of the pod when the PID namespace is shared), and exits 0 on SIGTERM or SIGINT.
// It uses only the standard library and is built static (CGO_ENABLED=0) by
// hack/images/build.sh.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is printed by -v; build.sh sets it from PAUSE_VERSION (hack/images/versions.env).
var version = "dev"

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "--version") {
		fmt.Println("pause", version)
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "pause: warning: not running as PID 1")
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		switch sig {
		case syscall.SIGCHLD:
			reap()
		default:
			fmt.Fprintf(os.Stderr, "pause: shutting down on %v\n", sig)
			os.Exit(0)
		}
	}
}

// reap collects every exited child without blocking. Signals coalesce, so one SIGCHLD can
// stand for many children: loop until there is none left to collect.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
