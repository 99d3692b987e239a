// mixed: the Go port of bench/mixed.c (drop mode only). Small objects are
// structs of 16..64 bytes with a next pointer (four types, one per size);
// larger ones are byte slices. The long-lived ring holds unsafe.Pointers.
//
//	mixed-go drop <requests> <ring_slots>
package main

import (
	"fmt"
	"math/bits"
	"os"
	"strconv"
	"unsafe"
)

type small16 struct {
	next unsafe.Pointer
	tag  uint64
}
type small32 struct {
	next unsafe.Pointer
	tag  uint64
	w    [2]uint64
}
type small48 struct {
	next unsafe.Pointer
	tag  uint64
	w    [4]uint64
}
type small64 struct {
	next unsafe.Pointer
	tag  uint64
	w    [6]uint64
}

// header is the common prefix of the small types.
type header struct {
	next unsafe.Pointer
	tag  uint64
}

var ring []unsafe.Pointer
var ringPos int

func keep(p unsafe.Pointer) {
	ring[ringPos] = p
	ringPos++
	if ringPos == len(ring) {
		ringPos = 0
	}
}

func newSmall(sz int, x uint64) unsafe.Pointer {
	switch sz {
	case 16:
		return unsafe.Pointer(&small16{tag: x})
	case 32:
		s := &small32{tag: x}
		for w := range s.w {
			s.w[w] = x + uint64(w)
		}
		return unsafe.Pointer(s)
	case 48:
		s := &small48{tag: x}
		for w := range s.w {
			s.w[w] = x + uint64(w)
		}
		return unsafe.Pointer(s)
	default:
		s := &small64{tag: x}
		for w := range s.w {
			s.w[w] = x + uint64(w)
		}
		return unsafe.Pointer(s)
	}
}

func main() {
	const u = "mixed <drop> <requests> <ring_slots>"
	checkArgs(u, 3)
	requests, err1 := strconv.Atoi(os.Args[2])
	ringN, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || requests < 100 || ringN < 1 {
		usage(u)
	}
	ring = make([]unsafe.Pointer, ringN)
	lat := make([]uint64, requests)

	rng := uint64(0x2545F4914F6CDD1D)
	var check, objects, allocated uint64
	var bufs [128][]byte
	for r := 0; r < requests; r++ {
		t0 := nowNs()
		var head unsafe.Pointer
		nbufs := 0
		nobj := 16 + int(rngNext(&rng)%112)
		for i := 0; i < nobj; i++ {
			x := rngNext(&rng)
			k := bits.TrailingZeros64(x | 1<<11)
			size := (16 << k) + int((x>>16)%(uint64(16)<<k))
			survive := (x>>58)&63 == 0
			allocated += uint64(size)
			if size <= 64 {
				sz := (size + 15) &^ 15
				s := newSmall(sz, x)
				if survive {
					keep(s)
				} else {
					(*header)(s).next = head
					head = s
				}
			} else {
				b := make([]byte, size)
				// memset: one byte, then doubling copies (memmove), as fast
				// as C's memset for these sizes.
				b[0] = byte(1 + (x>>40)%64)
				for n := 1; n < size; n *= 2 {
					copy(b[n:], b[:n])
				}
				b[size-1] = byte(size)
				if survive {
					keep(unsafe.Pointer(&b[0]))
				} else {
					bufs[nbufs] = b
					nbufs++
				}
			}
		}
		var sum uint64
		for s := head; s != nil; s = (*header)(s).next {
			sum += (*header)(s).tag >> 32
		}
		for i := 0; i < nbufs; i++ {
			sum += uint64(bufs[i][0])
			bufs[i] = nil
		}
		check += sum
		objects += uint64(nobj)
		lat[r] = nowNs() - t0
		if r&1023 == 1023 {
			gcsPoll()
		}
	}
	var max uint64
	for _, l := range lat {
		if l > max {
			max = l
		}
	}
	p99 := percentile(lat, 99)
	fmt.Printf("%d requests, %d objects, %.1f MiB allocated\n", requests, objects, float64(allocated)/1048576)
	fmt.Printf("RESULT check=%d req_p99_us=%.2f req_max_ms=%.3f%s\n", check, float64(p99)/1e3, float64(max)/1e6, gcsString())
}
