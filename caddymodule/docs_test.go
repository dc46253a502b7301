package caddymodule_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	// The plugin as xcaddy builds it: the module, its directive and
	// whatever front doors the root package brings in.
	_ "github.com/passgate/caddy-passgate"
)

// A Caddyfile snippet of the docs: a fenced ```caddyfile block.
type docSnippet struct {
	file string // relative to the repository root
	line int    // of the opening fence
	text string
}

// Every Caddyfile snippet in README.md and docs/ adapts as written, as
// `caddy adapt` would adapt it: no error, no warning (a snippet is as
// `caddy fmt` writes it, so a copy of it draws none either), and a
// passgate handler in the result, so that no snippet can drift from the
// parser.
func TestDocsCaddyfileSnippets(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the repository root should be the test's parent directory: %v", err)
	}
	files := []string{"README.md"}
	err = filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			rel, _ := filepath.Rel(root, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var snippets []docSnippet
	for _, f := range files {
		text, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		found, err := caddyfileSnippets(f, text)
		if err != nil {
			t.Fatal(err)
		}
		if f == "README.md" && len(found) == 0 {
			t.Fatal("README.md has no ```caddyfile snippet: the front page shows a Caddyfile")
		}
		snippets = append(snippets, found...)
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	if adapter == nil {
		t.Fatal("the caddyfile adapter is not registered")
	}
	for _, s := range snippets {
		t.Run(fmt.Sprintf("%s:%d", s.file, s.line), func(t *testing.T) {
			name := fmt.Sprintf("%s (snippet at line %d)", s.file, s.line)
			cfg, warnings, err := adapter.Adapt([]byte(s.text), map[string]any{"filename": name})
			if err != nil {
				t.Fatalf("does not adapt: %v\n%s", err, s.text)
			}
			for _, w := range warnings {
				t.Errorf("adapt warning: %s", w.String())
			}
			if _, unformatted := caddyfile.FormattingDifference(name, []byte(s.text)); unformatted {
				t.Logf("as caddy fmt writes it:\n%s", caddyfile.Format([]byte(s.text)))
			}
			if !bytes.Contains(cfg, []byte(`"handler":"passgate"`)) {
				t.Errorf("adapts to no passgate handler: a snippet is a whole Caddyfile with a passgate block in a site\n%s", s.text)
			}
		})
	}
	t.Logf("%d snippets in %d files", len(snippets), len(files))
}

// caddyfileSnippets returns the fenced ```caddyfile blocks of a Markdown
// file. A fence may be indented (inside a list), and may be ``` or ~~~ of
// any length; the block ends at a fence of the same kind at least as long.
// Blocks of other languages are skipped whole, so a fence shown inside
// one is not taken for a snippet.
func caddyfileSnippets(file string, text []byte) ([]docSnippet, error) {
	var out []docSnippet
	var (
		open   string // the opening fence, while inside a block
		indent int
		keep   bool
		start  int
		body   strings.Builder
	)
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		if open == "" {
			fence, info := splitFence(trimmed)
			if fence == "" {
				continue
			}
			open, indent, start = fence, len(line)-len(trimmed), n
			lang, _, _ := strings.Cut(strings.TrimSpace(info), " ")
			keep = strings.EqualFold(lang, "caddyfile")
			body.Reset()
			continue
		}
		if fence, info := splitFence(trimmed); fence != "" && fence[0] == open[0] && len(fence) >= len(open) && strings.TrimSpace(info) == "" {
			if keep {
				out = append(out, docSnippet{file: file, line: start, text: body.String()})
			}
			open = ""
			continue
		}
		if keep {
			// Drop the fence's own indentation, no more.
			cut := min(indent, len(line)-len(strings.TrimLeft(line, " ")))
			body.WriteString(line[cut:])
			body.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if open != "" {
		return nil, fmt.Errorf("%s:%d: a fenced block is never closed", file, start)
	}
	return out, nil
}

// splitFence returns the fence that opens line (three or more ` or ~) and
// the rest of the line, or "" if the line is no fence.
func splitFence(line string) (fence, rest string) {
	if len(line) < 3 || line[0] != '`' && line[0] != '~' {
		return "", ""
	}
	i := 0
	for i < len(line) && line[i] == line[0] {
		i++
	}
	if i < 3 {
		return "", ""
	}
	return line[:i], line[i:]
}

// The extractor finds indented and tilde fences, and skips a fence shown
// inside a block of another language.
func TestDocsSnippetExtraction(t *testing.T) {
	md := "# t\n\n```caddyfile\na {\n}\n```\n\n- item\n\n  ~~~~ Caddyfile\n  b {\n  \tc\n  }\n  ~~~~\n\n" +
		"````markdown\n```caddyfile\nnot {\n}\n```\n````\n\n```sh\necho\n```\n"
	got, err := caddyfileSnippets("t.md", []byte(md))
	if err != nil {
		t.Fatal(err)
	}
	want := []docSnippet{{"t.md", 3, "a {\n}\n"}, {"t.md", 10, "b {\n\tc\n}\n"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := caddyfileSnippets("t.md", []byte("```caddyfile\na {\n}\n")); err == nil {
		t.Fatal("an unclosed fence was not reported")
	}
}
