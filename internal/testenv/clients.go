package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// CodeSink serves, for the official clients' scripts, the latest code and
// link the log delivery wrote for an address: GET ?to=<address> answers
// {"code","link"}, and 404 until a message arrived.
func (g *Gateway) CodeSink() string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to := strings.ToLower(r.URL.Query().Get("to"))
		var last map[string]any
		for _, e := range ReadLog(g.T, g.LogPath) {
			if e["code"] != nil && e["to"] == to {
				last = e
			}
		}
		if last == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"code": last["code"], "link": last["link"]})
	}))
	g.T.Cleanup(srv.Close)
	return srv.URL
}

// ClientsDir is where the official clients' scripts and their
// node_modules are.
func ClientsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "clients")
}

// RunClient runs a script of the official clients (clients/<script>)
// against g, with PASSGATE_URL, PASSGATE_CODE_URL (a CodeSink) and env
// ("NAME=value"), and reports each step it failed as an error of the
// test. It fails the test, naming what to install, without node or the
// client packages.
func (g *Gateway) RunClient(script string, env ...string) {
	t := g.T
	t.Helper()
	dir := ClientsDir()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not found: install Node.js 20 or later (apt-get install nodejs npm); the compatibility tests run the services' official clients")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("the official client packages are not installed: run `npm ci` in %s", dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PASSGATE_URL="+g.Base, "PASSGATE_CODE_URL="+g.CodeSink())
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	steps, failed := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var step struct {
			Step   string
			OK     bool
			Detail any
		}
		if json.Unmarshal(sc.Bytes(), &step) != nil {
			continue
		}
		steps++
		if !step.OK {
			failed++
			d, _ := json.Marshal(step.Detail)
			t.Errorf("%s: %s: %s", script, step.Step, d)
		}
	}
	t.Logf("%s: %d steps, %d failed", script, steps, failed)
	if err != nil && failed == 0 {
		t.Errorf("%s exited with %v and reported no failed step; stderr:\n%s", script, err, stderr.String())
	}
	if steps == 0 {
		t.Errorf("%s checked nothing; stderr:\n%s", script, stderr.String())
	}
}
