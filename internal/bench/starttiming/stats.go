// Package starttiming measures whether the time of POST /start tells an
// address that may sign in from one that may not (issue 19, item 2). Its
// test TestStartTiming runs passgate in-process in Caddy for each delivery
// configuration, first loaded and just after a reload, and prints for
// pairs of address classes the Mann-Whitney U two-sided p-value and how
// many of each class's times fall in the band [p2.5, p97.5] fitted on the
// first's. It is a measurement, not a CI test: it runs only when asked,
//
//	PASSGATE_TIMING=1 go test -run TestStartTiming -v -timeout 30m ./internal/bench/starttiming
//
// (PASSGATE_TIMING_N sets the starts per class, 100 by default). A correct
// system still shows p < 0.01 in about one comparison in a hundred, so
// these figures are read, never asserted; the deterministic tests in
// verify and caddymodule are what CI holds the behaviour to.
package starttiming

import (
	"math"
	"slices"
)

// MannWhitney returns the U statistic of a against b and its two-sided
// p-value by the normal approximation, with the tie correction and a
// continuity correction of 1/2 (as R's wilcox.test with exact=FALSE and
// SciPy's mannwhitneyu with method="asymptotic" compute it).
func MannWhitney(a, b []float64) (u, p float64) {
	n1, n2 := float64(len(a)), float64(len(b))
	if n1 == 0 || n2 == 0 {
		return 0, 1
	}
	type obs struct {
		v     float64
		inA   bool
		order int
	}
	all := make([]obs, 0, len(a)+len(b))
	for _, v := range a {
		all = append(all, obs{v: v, inA: true})
	}
	for _, v := range b {
		all = append(all, obs{v: v})
	}
	slices.SortFunc(all, func(x, y obs) int {
		switch {
		case x.v < y.v:
			return -1
		case x.v > y.v:
			return 1
		}
		return 0
	})
	n := n1 + n2
	var rankA, ties float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // mean of ranks i+1 .. j
		for k := i; k < j; k++ {
			if all[k].inA {
				rankA += rank
			}
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	u = rankA - n1*(n1+1)/2
	mu := n1 * n2 / 2
	sigma := math.Sqrt(n1 * n2 / 12 * ((n + 1) - ties/(n*(n-1))))
	if sigma == 0 {
		return u, 1
	}
	z := (math.Abs(u-mu) - 0.5) / sigma
	if z < 0 {
		z = 0
	}
	return u, math.Min(1, math.Erfc(z/math.Sqrt2))
}

// Quantile returns the q-quantile of xs by linear interpolation between
// order statistics (R's type 7, NumPy's default).
func Quantile(xs []float64, q float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s) == 0 {
		return math.NaN()
	}
	h := q * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// Coverage returns the share of xs within [lo, hi].
func Coverage(xs []float64, lo, hi float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	in := 0
	for _, x := range xs {
		if lo <= x && x <= hi {
			in++
		}
	}
	return float64(in) / float64(len(xs))
}
