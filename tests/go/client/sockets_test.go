package client

import (
	"net"
	"reflect"
	"strconv"
	"testing"
	"time"
)

const tcpTable = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:3AFB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:C350 0100007F:3AFB 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:3AFB 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:C352 0100007F:3AFB 06 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 20 4 30 10 -1
`

const tcp6Table = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:C351 00000000000000000000000001000000:3AFB 01 00000000:00000000 00:00000000 00000000     0        0 444 1 0000000000000000 20 4 30 10 -1
`

func TestParseEstablished(t *testing.T) {
	// 0x3AFB = 15099: only client-side ESTABLISHED entries count, not the
	// listener, the server's side or TIME_WAIT.
	if got := ParseEstablished([]byte(tcpTable), 15099); !reflect.DeepEqual(got, []uint64{222}) {
		t.Errorf("tcp: got %v", got)
	}
	if got := ParseEstablished([]byte(tcp6Table), 15099); !reflect.DeepEqual(got, []uint64{444}) {
		t.Errorf("tcp6: got %v", got)
	}
	if got := ParseEstablished([]byte(tcpTable), 1); got != nil {
		t.Errorf("port 1: got %v", got)
	}
}

func TestEstablishedSockets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback:", err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	conns := make([]net.Conn, 3)
	for i := range conns {
		if conns[i], err = net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err != nil {
			t.Fatal(err)
		}
	}
	// The accepted ends are ours too, but their remote port is ephemeral.
	if n, err := EstablishedSockets(port); err != nil || n != 3 {
		t.Fatalf("EstablishedSockets = %d, %v; want 3", n, err)
	}
	for _, c := range conns {
		c.Close()
	}
	if n, _ := WaitSockets(port, 0, 3*time.Second); n != 0 {
		t.Errorf("after close: %d sockets", n)
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tgo\nVmPeak:\t  9999 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n"
	if kb, err := ParseVmRSS([]byte(status)); err != nil || kb != 12345 {
		t.Errorf("ParseVmRSS = %d, %v", kb, err)
	}
	if _, err := ParseVmRSS([]byte("Name:\tgo\n")); err == nil {
		t.Error("want an error without VmRSS")
	}
	if mb, err := RSSMB(); err != nil || mb <= 0 {
		t.Errorf("RSSMB = %v, %v", mb, err)
	}
}
