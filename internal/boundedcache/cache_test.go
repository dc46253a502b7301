package boundedcache

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBoundedByEntries(t *testing.T) {
	for _, n := range []int{1, 10, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := New[string, int](n, time.Hour, nil)
			for i := range 5 * n {
				c.Put(fmt.Sprint(i), i)
				if c.Len() > n {
					t.Fatalf("after %d inserts: %d entries, bound %d", i+1, c.Len(), n)
				}
			}
			last := fmt.Sprint(5*n - 1)
			if v, ok := c.Get(last); !ok || v != 5*n-1 {
				t.Fatalf("the newest entry is gone: %v %v", v, ok)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	c := New[string, string](10, time.Second, clk.now)
	c.Put("a", "x")
	c.PutUntil("b", "y", clk.t.Add(100*time.Millisecond))
	c.PutUntil("gone", "z", clk.t) // already over: not stored
	tests := []struct {
		at      time.Duration
		key     string
		present bool
	}{
		{0, "a", true},
		{0, "b", true},
		{0, "gone", false},
		{99 * time.Millisecond, "b", true},
		{100 * time.Millisecond, "b", false},
		{999 * time.Millisecond, "a", true},
		{time.Second, "a", false},
	}
	start := clk.t
	for _, tt := range tests {
		clk.t = start.Add(tt.at)
		if _, ok := c.Get(tt.key); ok != tt.present {
			t.Errorf("at +%v %q present=%v, want %v", tt.at, tt.key, ok, tt.present)
		}
	}
}

func TestFullCacheDropsExpiredFirst(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	c := New[int, int](2, time.Second, clk.now)
	c.PutUntil(1, 1, clk.t.Add(time.Millisecond))
	c.Put(2, 2)
	clk.t = clk.t.Add(2 * time.Millisecond)
	c.Put(3, 3)
	if _, ok := c.Get(2); !ok {
		t.Fatal("a live entry was evicted while an expired one was there")
	}
	if c.Len() != 2 {
		t.Fatalf("%d entries, want 2", c.Len())
	}
}

func TestDelete(t *testing.T) {
	c := New[string, int](10, time.Hour, nil)
	for i := range 6 {
		c.Put(fmt.Sprint(i), i)
	}
	c.Delete("0")
	c.DeleteFunc(func(_ string, v int) bool { return v%2 == 1 })
	if c.Len() != 2 {
		t.Fatalf("%d left, want 2 and 4", c.Len())
	}
	c.Clear()
	if c.Len() != 0 {
		t.Fatal("Clear left entries")
	}
}
