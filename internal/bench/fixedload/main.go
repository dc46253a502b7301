// Command fixedload sends a fixed number of GET requests over a few
// keep-alive connections and fails unless every answer is 200. wrk runs
// for a time, not a count; the instruction-count benchmark
// (BENCH_INSTR=N ./xcaddy.sh bench) needs a count, to divide the
// gateway's instructions by.
//
//	go run ./internal/bench/fixedload -n 2000 -H 'Authorization: Bearer …' http://127.0.0.1:8080/
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	n := flag.Int("n", 2000, "requests to send in all")
	conns := flag.Int("c", 4, "connections, sharing the n requests, each sending its share in turn")
	var hdrs headers
	flag.Var(&hdrs, "H", "a request header, `Name: value` (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 || *conns < 1 || *n < *conns {
		fmt.Fprintln(os.Stderr, "usage: fixedload [-n N] [-c C] [-H 'Name: value']... URL  (N >= C >= 1)")
		os.Exit(2)
	}
	url := flag.Arg(0)
	header := http.Header{}
	for _, h := range hdrs {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintf(os.Stderr, "fixedload: header %q has no colon\n", h)
			os.Exit(2)
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns, DisableCompression: true}}

	var (
		mu       sync.Mutex
		failed   int
		firstErr error
		wg       sync.WaitGroup
	)
	for c := 0; c < *conns; c++ {
		share := *n / *conns
		if c < *n%*conns {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range share {
				if err := get(client, url, header); err != nil {
					mu.Lock()
					if failed++; firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "fixedload: %d of %d requests failed, the first: %v\n", failed, *n, firstErr)
		os.Exit(1)
	}
}

func get(client *http.Client, url string, header http.Header) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header = header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
