package starttiming

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// Values worked by hand from the formulas R's wilcox.test(exact = FALSE,
// correct = TRUE) uses.
func TestMannWhitneyKnownValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float64
		u, p float64
	}{
		// No ties: U = 0, mu 4.5, sigma^2 = 9/12 * 7, z = 4/sqrt(5.25).
		{"separated", []float64{1, 2, 3}, []float64{4, 5, 6}, 0, 0.0808556},
		// Ties: ranks 1, 3, 3, 6 for a (R = 13, U = 3); sigma^2 =
		// 16/12 * (9 - 48/56); z = 4.5/sigma.
		{"ties", []float64{1, 2, 2, 3}, []float64{2, 3, 3, 4}, 3, 0.1720},
	} {
		u, p := MannWhitney(tc.a, tc.b)
		if u != tc.u || !near(p, tc.p, 5e-4) {
			t.Errorf("%s: U = %v, p = %.6f; want %v, %.6f", tc.name, u, p, tc.u, tc.p)
		}
		u2, p2 := MannWhitney(tc.b, tc.a)
		if u+u2 != float64(len(tc.a)*len(tc.b)) || !near(p, p2, 1e-12) {
			t.Errorf("%s: swapped gives U %v, p %v: want U1+U2 = n1*n2 and the same p", tc.name, u2, p2)
		}
	}
	if _, p := MannWhitney([]float64{5, 5, 5}, []float64{5, 5}); p != 1 {
		t.Errorf("all tied: p = %v, want 1", p)
	}
}

// On samples from one distribution p is rarely small; on shifted ones it
// is, at the sizes the tool uses. Fixed seeds: deterministic.
func TestMannWhitneySeparates(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	draw := func(shift float64) []float64 {
		xs := make([]float64, 100)
		for i := range xs {
			xs[i] = 1000 + 50*r.NormFloat64() + shift
		}
		return xs
	}
	small := 0
	for range 200 {
		if _, p := MannWhitney(draw(0), draw(0)); p < 0.01 {
			small++
		}
	}
	if small > 8 { // 2 expected
		t.Errorf("%d of 200 same-distribution pairs at p < 0.01", small)
	}
	if _, p := MannWhitney(draw(0), draw(50)); p > 1e-6 {
		t.Errorf("a shift of one standard deviation: p = %v", p)
	}
}

func TestQuantileAndCoverage(t *testing.T) {
	xs := []float64{4, 1, 3, 2, 5}
	for q, want := range map[float64]float64{0: 1, 0.25: 2, 0.5: 3, 0.1: 1.4, 1: 5} {
		if got := Quantile(xs, q); !near(got, want, 1e-12) {
			t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if c := Coverage(xs, 2, 4); c != 0.6 {
		t.Errorf("Coverage = %v, want 0.6", c)
	}
}
