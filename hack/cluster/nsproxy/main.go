// Command nsproxy forwards TCP connections from a loopback address of the host
// to an address inside a network namespace. hack/cluster/up.sh uses it (for
// `make demo`) so that a kubeconfig on the host reaches the API server, which
// listens on 127.0.0.1 inside the control plane's namespace. Both ends are
// loopback addresses: it refuses any other.
//
// usage: nsproxy -netns /run/netns/NAME -listen 127.0.0.1:0 -target 127.0.0.1:6443 -port-file FILE
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

func main() {
	netns := flag.String("netns", "", "path of the network namespace (/run/netns/NAME)")
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on in the host's namespace")
	target := flag.String("target", "127.0.0.1:6443", "loopback address to connect to inside -netns")
	portFile := flag.String("port-file", "", "write the port listened on to this file")
	flag.Parse()
	for _, a := range []string{*listen, *target} {
		host, _, err := net.SplitHostPort(a)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			log.Fatalf("%s: only loopback addresses are allowed", a)
		}
	}
	ns, err := os.Open(*netns)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if *portFile != "" {
		if err := os.WriteFile(*portFile, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("forwarding %s -> %s in %s", ln.Addr(), *target, *netns)
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			t, err := dialIn(int(ns.Fd()), *target)
			if err != nil {
				log.Print(err)
				return
			}
			defer t.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(t, c); t.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
			go func() { io.Copy(c, t); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
			<-done
			<-done
		}()
	}
}

// dialIn opens the connection from a thread that joined the namespace: the
// socket belongs to the namespace it was created in. The thread stays locked
// and is discarded when the goroutine ends, so no other goroutine runs there.
func dialIn(nsFd int, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(nsFd, unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns: %w", err)}
			return
		}
		c, err := net.Dial("tcp", addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
