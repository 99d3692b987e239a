// Shared helpers of the Go ports of the benchmark workloads (bench/*.c).
// Each workload is built as `go build -o <workload>-go common.go <workload>.go`
// by bench/run.sh; standard library only.
//
// Collector figures come from runtime.MemStats: NumGC, PauseNs (a ring of
// the last 256 pauses, polled between rounds like mgc's pause_ns ring),
// PauseTotalNs. The RESULT line has the same keys as the C workloads print.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"
)

var start = time.Now()

// nowNs is a monotonic clock in nanoseconds.
func nowNs() uint64 { return uint64(time.Since(start)) }

// rngNext is xorshift64*, the same generator as bench/sys.h.
func rngNext(s *uint64) uint64 {
	x := *s
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*s = x
	return x * 0x2545F4914F6CDD1D
}

func usage(u string) {
	fmt.Fprintf(os.Stderr, "usage: %s\n", u)
	os.Exit(64)
}

func skip(reason string) {
	fmt.Printf("SKIP %s\n", reason)
	os.Exit(77)
}

// checkArgs is the start of every port's main: nargs arguments after the
// program name (else usage u), the first a mode checkMode accepts.
func checkArgs(u string, nargs int, extra ...string) {
	if len(os.Args) != nargs+1 {
		usage(u)
	}
	checkMode(os.Args[1], extra...)
}

// checkMode accepts drop (the only mode Go has: no explicit free) and the
// port's extra modes; it skips free and realloc (exit 77) and rejects any
// other mode with usage (exit 64).
func checkMode(mode string, extra ...string) {
	if mode == "drop" {
		return
	}
	for _, e := range extra {
		if mode == e {
			return
		}
	}
	if mode == "free" || mode == "realloc" {
		skip("Go has no explicit " + mode)
	}
	usage("unknown mode " + mode)
}

var gcs struct {
	pauses []uint64
	lost   uint64
	seen   uint32
	max    uint64
	total  uint64
}

var ms runtime.MemStats

// gcsPoll copies new pauses out of runtime.MemStats.PauseNs.
func gcsPoll() {
	runtime.ReadMemStats(&ms)
	from, to := gcs.seen, ms.NumGC
	if to-from > 256 {
		gcs.lost += uint64(to - from - 256)
		from = to - 256
	}
	for c := from + 1; c <= to; c++ {
		p := ms.PauseNs[(c-1)%256]
		gcs.pauses = append(gcs.pauses, p)
		if p > gcs.max {
			gcs.max = p
		}
	}
	gcs.seen = to
	gcs.total = ms.PauseTotalNs
}

// percentile: nearest rank, sorts v.
func percentile(v []uint64, p float64) uint64 {
	if len(v) == 0 {
		return 0
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	k := int(p/100*float64(len(v)) + 0.999999)
	if k < 1 {
		k = 1
	}
	if k > len(v) {
		k = len(v)
	}
	return v[k-1]
}

// gcsString is the collector part of the RESULT line.
func gcsString() string {
	gcsPoll()
	s := fmt.Sprintf(" cycles=%d pause_max_ns=%d pause_p99_ns=%d pause_total_ns=%d pause_samples=%d",
		gcs.seen, gcs.max, percentile(gcs.pauses, 99), gcs.total, len(gcs.pauses))
	if gcs.lost > 0 {
		s += fmt.Sprintf(" pause_lost=%d", gcs.lost)
	}
	return s
}
