package client

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// EstablishedSockets counts this process's ESTABLISHED TCP connections to
// remotePort. /proc/self/net/tcp lists every socket of the network namespace
// (including other processes and the server's side), so the entries are
// matched against the socket inodes in /proc/self/fd.
func EstablishedSockets(remotePort int) (int, error) {
	own, err := ownSocketInodes()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		data, err := os.ReadFile(table)
		if os.IsNotExist(err) { // no IPv6
			continue
		} else if err != nil {
			return 0, err
		}
		for _, inode := range ParseEstablished(data, remotePort) {
			if own[inode] {
				n++
			}
		}
	}
	return n, nil
}

// WaitSockets polls EstablishedSockets until it is at most want or timeout
// passes, and returns the last count. Closed gRPC connections take a moment
// to leave ESTABLISHED.
func WaitSockets(remotePort, want int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		n, err := EstablishedSockets(remotePort)
		if err != nil || n <= want || time.Now().After(deadline) {
			return n, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ParseEstablished returns the inodes of the ESTABLISHED (state 01) entries
// of a /proc/net/tcp or tcp6 table whose remote port is remotePort.
func ParseEstablished(table []byte, remotePort int) []uint64 {
	var inodes []uint64
	sc := bufio.NewScanner(bytes.NewReader(table))
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != "01" {
			continue
		}
		_, portHex, ok := strings.Cut(f[2], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(portHex, 16, 16)
		if err != nil || int(port) != remotePort {
			continue
		}
		if inode, err := strconv.ParseUint(f[9], 10, 64); err == nil {
			inodes = append(inodes, inode)
		}
	}
	return inodes
}

func ownSocketInodes() (map[uint64]bool, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	own := make(map[uint64]bool)
	for _, e := range entries {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil { // closed meanwhile (e.g. the ReadDir fd itself)
			continue
		}
		var inode uint64
		if _, err := fmt.Sscanf(link, "socket:[%d]", &inode); err == nil {
			own[inode] = true
		}
	}
	return own, nil
}

// RSSMB returns this process's resident set size (VmRSS) in MiB.
func RSSMB() (float64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	kb, err := ParseVmRSS(data)
	return float64(kb) / 1024, err
}

// ParseVmRSS returns the VmRSS value (kB) of a /proc/<pid>/status file.
func ParseVmRSS(status []byte) (int64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
			return strconv.ParseInt(kb, 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// CPUTime returns the user plus system CPU time this process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
