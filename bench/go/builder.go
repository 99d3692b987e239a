// builder: the Go port of bench/builder.c. Modes: drop (the old buffer is
// dropped when the buffer doubles) and exact (the final size allocated once);
// Go has no free or realloc, so those modes are skipped.
//
//	builder-go <drop|exact> <result_bytes> <total_bytes>
package main

import (
	"fmt"
	"os"
	"strconv"
)

var text = []byte("The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs! 0123456789")

func pieceLen(k uint32) int { return 1 + int((k*7)%32) }

func build(target int, exact bool) []byte {
	capacity := 64
	if exact {
		capacity = target
	}
	buf := make([]byte, capacity)
	n := 0
	for k := uint32(0); n < target; k++ {
		m := pieceLen(k)
		if m > target-n {
			m = target - n
		}
		if n+m > capacity {
			nc := capacity * 2
			for nc < n+m {
				nc *= 2
			}
			nb := make([]byte, nc)
			copy(nb, buf[:n])
			buf = nb
			capacity = nc
		}
		off := int(k % 64)
		copy(buf[n:n+m], text[off:off+m])
		n += m
	}
	return buf
}

func main() {
	const u = "builder <drop|exact> <result_bytes> <total_bytes>"
	checkArgs(u, 3, "exact")
	exact := os.Args[1] == "exact"
	target, err1 := strconv.Atoi(os.Args[2])
	total, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || target < 1024 || total < target {
		usage(u)
	}
	results := total / target
	var sum uint64
	for r := 0; r < results; r++ {
		b := build(target, exact)
		for i := 0; i < target; i += 61 {
			sum = sum*31 + uint64(b[i])
		}
		sum += uint64(b[target-1])
		if r&63 == 63 {
			gcsPoll()
		}
	}
	fmt.Printf("%d results of %d bytes\n", results, target)
	fmt.Printf("RESULT check=%d%s\n", sum, gcsString())
}
