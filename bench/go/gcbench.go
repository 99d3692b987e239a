// gcbench: the Go port of bench/gcbench.c (drop mode only).
//
//	gcbench-go drop <stretch_depth> <long_lived_depth> <max_depth> <array_size>
package main

import (
	"fmt"
	"os"
	"strconv"
)

type node struct {
	left, right *node
	i, j        int32
}

var stretchDepth int

func treeSize(i int) int64 { return (int64(1) << (i + 1)) - 1 }

func numIters(i int) int64 { return 2 * treeSize(stretchDepth) / treeSize(i) }

// populate builds the tree top-down.
func populate(depth int, n *node) {
	if depth <= 0 {
		return
	}
	depth--
	n.left = &node{}
	n.right = &node{}
	populate(depth, n.left)
	populate(depth, n.right)
}

// makeTree builds the tree bottom-up.
func makeTree(depth int) *node {
	if depth <= 0 {
		return &node{}
	}
	l := makeTree(depth - 1)
	r := makeTree(depth - 1)
	return &node{left: l, right: r}
}

func count(n *node) int64 {
	if n == nil {
		return 0
	}
	return 1 + count(n.left) + count(n.right)
}

func timeConstruction(depth int) int64 {
	n := numIters(depth)
	var nodes int64
	t0 := nowNs()
	for i := int64(0); i < n; i++ {
		t := &node{}
		populate(depth, t)
		if t.left != nil {
			nodes++
		}
	}
	t1 := nowNs()
	for i := int64(0); i < n; i++ {
		t := makeTree(depth)
		if t.left != nil {
			nodes++
		}
	}
	t2 := nowNs()
	fmt.Printf("depth %2d: %6d trees top-down %7.1f ms, bottom-up %7.1f ms\n", depth, n,
		float64(t1-t0)/1e6, float64(t2-t1)/1e6)
	return nodes
}

func main() {
	const u = "gcbench <drop> <stretch_depth> <long_lived_depth> <max_depth> <array_size>"
	checkArgs(u, 5)
	var a [4]int
	for i := range a {
		v, err := strconv.Atoi(os.Args[2+i])
		if err != nil {
			usage(u)
		}
		a[i] = v
	}
	stretchDepth = a[0]
	longLivedDepth, maxDepth, arraySize := a[1], a[2], a[3]
	if stretchDepth < 4 || longLivedDepth < 4 || maxDepth < 4 || arraySize < 2000 {
		usage(u)
	}

	var check int64
	t := makeTree(stretchDepth)
	check += count(t)
	t = nil
	gcsPoll()

	longLived := &node{}
	populate(longLivedDepth, longLived)
	array := make([]float64, arraySize)
	for i := 0; i < arraySize/2; i++ {
		array[i] = 1.0 / float64(i)
	}

	for d := 4; d <= maxDepth; d += 2 {
		check += timeConstruction(d)
		gcsPoll()
	}

	if array[1000] != 1.0/1000 || count(longLived) != treeSize(longLivedDepth) {
		fmt.Fprintln(os.Stderr, "gcbench: long-lived data damaged")
		os.Exit(3)
	}
	check += count(longLived)
	fmt.Printf("RESULT check=%d%s\n", check, gcsString())
}
