// churn: the Go port of bench/churn.c (drop mode only).
//
//	churn-go drop <live_mib> <rounds>
package main

import (
	"fmt"
	"os"
	"strconv"
	"unsafe"
)

type rec struct {
	next    *rec
	key     uint64
	sum     uint64
	payload [5]uint64
}

var table []*rec
var mask uint64

func hash(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// fill derives the payload words from the key; every byte is in 1..63.
func fill(r *rec, key uint64) uint64 {
	var sum uint64
	for i := 0; i < 5; i++ {
		w := (key + uint64(i) + 1) * 0x9E3779B97F4A7C15
		w ^= w >> 29
		w = (w & 0x3f3f3f3f3f3f3f3f) | 0x0101010101010101
		r.payload[i] = w
		sum = sum*131 + w
	}
	return sum
}

func insert(key uint64) {
	r := &rec{key: key}
	r.sum = fill(r, key)
	h := hash(key) & mask
	r.next = table[h]
	table[h] = r
}

func del(key uint64) bool {
	pp := &table[hash(key)&mask]
	for r := *pp; r != nil; pp, r = &r.next, r.next {
		if r.key == key {
			*pp = r.next
			return true
		}
	}
	return false
}

func lookup(key uint64) *rec {
	for r := table[hash(key)&mask]; r != nil; r = r.next {
		if r.key == key {
			return r
		}
	}
	return nil
}

func keyOf(slot uint64, gen uint16) uint64 { return uint64(gen)<<40 | slot }

func main() {
	const u = "churn <drop> <live_mib> <rounds>"
	checkArgs(u, 3)
	liveMiB, err1 := strconv.ParseUint(os.Args[2], 10, 64)
	rounds, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || liveMiB < 1 || rounds < 0 || rounds > 60000 {
		usage(u)
	}
	recSize := uint64(unsafe.Sizeof(rec{}))
	n := liveMiB * 1048576 / (recSize + 8 + 2)
	nb := uint64(1)
	for nb < n {
		nb <<= 1
	}
	mask = nb - 1
	table = make([]*rec, nb)
	gen := make([]uint16, n)
	live := n*recSize + nb*8 + n*2

	t0 := nowNs()
	for i := uint64(0); i < n; i++ {
		insert(keyOf(i, 0))
	}
	t1 := nowNs()
	gcsPoll()
	fmt.Printf("built %d records (%.0f MiB live) in %.2f s\n", n, float64(live)/1048576, float64(t1-t0)/1e9)

	rng := uint64(0x853c49e6748fea9b)
	var stall uint64
	perRound := n / 10
	for r := 0; r < rounds; r++ {
		for done := uint64(0); done < perRound; done += 1000 {
			c0 := nowNs()
			m := uint64(1000)
			if perRound-done < 1000 {
				m = perRound - done
			}
			for k := uint64(0); k < m; k++ {
				slot := rngNext(&rng) % n
				if !del(keyOf(slot, gen[slot])) {
					fmt.Fprintf(os.Stderr, "churn: key %d missing\n", slot)
					os.Exit(3)
				}
				gen[slot]++
				insert(keyOf(slot, gen[slot]))
			}
			if dt := nowNs() - c0; dt > stall {
				stall = dt
			}
		}
		for k := 0; k < 1000; k++ {
			slot := rngNext(&rng) % n
			x := lookup(keyOf(slot, gen[slot]))
			var tmp rec
			if x == nil || x.sum != fill(&tmp, x.key) || x.payload != tmp.payload {
				fmt.Fprintf(os.Stderr, "churn: record %d damaged\n", slot)
				os.Exit(3)
			}
		}
		gcsPoll()
	}
	t2 := nowNs()
	fmt.Printf("%d rounds of %d replacements in %.2f s\n", rounds, perRound, float64(t2-t1)/1e9)
	var check uint64
	for i := uint64(0); i < n; i += 97 {
		check += lookup(keyOf(i, gen[i])).sum & 0xffff
	}
	fmt.Printf("RESULT check=%d live_bytes=%d stall_ms=%.3f%s\n", check, live, float64(stall)/1e6, gcsString())
}
