// binary_trees: the Go port of bench/binary_trees.c (drop mode only).
//
//	binary_trees-go drop <max_depth>
package main

import (
	"fmt"
	"os"
	"strconv"
)

type node struct {
	left, right *node
}

func makeTree(depth int) *node {
	n := &node{}
	if depth > 0 {
		n.left = makeTree(depth - 1)
		n.right = makeTree(depth - 1)
	}
	return n
}

func (n *node) check() int64 {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func treeNodes(depth int) int64 { return (2 << depth) - 1 }

func main() {
	const u = "binary_trees <drop> <max_depth>"
	checkArgs(u, 2)
	maxDepth, err := strconv.Atoi(os.Args[2])
	if err != nil {
		usage(u)
	}
	if maxDepth < 6 {
		maxDepth = 6
	}

	bad := false
	var total int64
	stretch := makeTree(maxDepth + 1)
	c := stretch.check()
	stretch = nil
	fmt.Printf("stretch tree of depth %d\t check: %d\n", maxDepth+1, c)
	bad = bad || c != treeNodes(maxDepth+1)
	total += c
	gcsPoll()

	longLived := makeTree(maxDepth)
	var stall uint64
	for d := 4; d <= maxDepth; d += 2 {
		iterations := int64(1) << (maxDepth - d + 4)
		var sum int64
		for i := int64(0); i < iterations; i++ {
			t0 := nowNs()
			sum += makeTree(d).check()
			if dt := nowNs() - t0; dt > stall {
				stall = dt
			}
		}
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", iterations, d, sum)
		bad = bad || sum != iterations*treeNodes(d)
		total += sum
		gcsPoll()
	}
	c = longLived.check()
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, c)
	bad = bad || c != treeNodes(maxDepth)
	total += c
	if bad {
		fmt.Fprintln(os.Stderr, "binary_trees: wrong node count")
		os.Exit(3)
	}
	fmt.Printf("RESULT check=%d stall_ms=%.3f%s\n", total, float64(stall)/1e6, gcsString())
}
