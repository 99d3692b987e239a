// fastpath: the Go port of bench/fastpath.c (drop mode only: Go cannot free).
// Objects are pointer-holding (a slice of size/8 pointers, like ALLOC in the
// C version, which collectors scan); each is touched and published to a
// global sink so the compiler cannot keep it on the stack.
//
//	fastpath-go drop <pairs|batch> <threads 1|2> <ops_scale>
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
)

var sizes = [4]int{16, 64, 256, 1024}
var baseOps = [4]int64{4000000 / 8, 4000000 / 8, 2000000 / 8, 1000000 / 8}

var sink [2][8][]*byte
var one byte

func runPairs(id, size int, ops int64) {
	words := size / 8
	for i := int64(0); i < ops; i++ {
		p := make([]*byte, words)
		p[0] = &one
		p[words-1] = &one
		sink[id][0] = p
	}
}

func runBatch(id, size int, ops int64) {
	words := size / 8
	arr := make([][]*byte, 1000)
	for done := int64(0); done < ops; done += 1000 {
		for j := 0; j < 1000; j++ {
			p := make([]*byte, words)
			p[0] = &one
			p[words-1] = &one
			arr[j] = p
		}
		sink[id][0] = arr[999]
	}
}

// opsFor is fastpath.c's stage_ops: the stage's operations, whole batches
// of 1000 in batch mode.
func opsFor(s int, scale float64, batch bool) int64 {
	ops := int64(float64(baseOps[s]) * scale)
	if ops < 1000 {
		ops = 1000
	}
	if batch {
		ops = (ops + 999) / 1000 * 1000
	}
	return ops
}

func main() {
	const u = "fastpath <drop> <pairs|batch> <threads 1|2> <ops_scale>"
	checkArgs(u, 4)
	batch := os.Args[2] == "batch"
	if !batch && os.Args[2] != "pairs" {
		usage(u)
	}
	threads, err1 := strconv.Atoi(os.Args[3])
	scale, err2 := strconv.ParseFloat(os.Args[4], 64)
	if err1 != nil || err2 != nil || threads < 1 || threads > 2 || scale <= 0 {
		usage(u)
	}
	var elapsed [4][2]uint64
	for s := range sizes {
		ops := opsFor(s, scale, batch)
		var wg sync.WaitGroup
		for id := 0; id < threads; id++ {
			wg.Add(1)
			go func(id int) {
				defer wg.Done()
				t0 := nowNs()
				if batch {
					runBatch(id, sizes[s], ops)
				} else {
					runPairs(id, sizes[s], ops)
				}
				elapsed[s][id] = nowNs() - t0
			}(id)
		}
		wg.Wait()
		gcsPoll()
	}
	out := "RESULT"
	for s := range sizes {
		ops := opsFor(s, scale, batch)
		e := elapsed[s][0]
		if elapsed[s][1] > e {
			e = elapsed[s][1]
		}
		out += fmt.Sprintf(" ns%d=%.2f", sizes[s], float64(e)/float64(ops))
	}
	fmt.Println(out + gcsString())
}
