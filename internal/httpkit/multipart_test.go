package httpkit

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// chromeForm is the body Chromium sends for
// fd = new FormData(); fd.append("strategy","email_otp"); fd.append("email","a@example.com").
const chromeForm = "------WebKitFormBoundaryx1Ab2Cd3Ef4Gh5Ij\r\n" +
	"Content-Disposition: form-data; name=\"strategy\"\r\n\r\nemail_otp\r\n" +
	"------WebKitFormBoundaryx1Ab2Cd3Ef4Gh5Ij\r\n" +
	"Content-Disposition: form-data; name=\"email\"\r\n\r\na@example.com\r\n" +
	"------WebKitFormBoundaryx1Ab2Cd3Ef4Gh5Ij--\r\n"

const chromeType = "multipart/form-data; boundary=----WebKitFormBoundaryx1Ab2Cd3Ef4Gh5Ij"

func multipartBody(t testing.TB, build func(*multipart.Writer)) (string, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	build(mw)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), b.String()
}

func readMultipartBody(ctype, body string) (url.Values, bool, *BodyError) {
	r := httptest.NewRequest("POST", "/wacht/auth/signin", strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	var dst struct{ Email string }
	isForm, err := ReadBodyOrMultipart(httptest.NewRecorder(), r, &dst)
	if !isForm && err == nil {
		return url.Values{"json:email": {dst.Email}}, false, nil
	}
	return r.PostForm, isForm, err
}

func TestReadBodyOrMultipart(t *testing.T) {
	form, isForm, err := readMultipartBody(chromeType, chromeForm)
	if err != nil || !isForm {
		t.Fatalf("a browser's FormData: %v (form %v)", err, isForm)
	}
	if want := (url.Values{"strategy": {"email_otp"}, "email": {"a@example.com"}}); !reflect.DeepEqual(form, want) {
		t.Fatalf("fields %v, want %v", form, want)
	}

	// The other forms still read as ReadBody reads them.
	if form, isForm, err := readMultipartBody("application/x-www-form-urlencoded", "email=b%40example.com"); err != nil || !isForm || form.Get("email") != "b@example.com" {
		t.Fatalf("urlencoded: %v %v %v", form, isForm, err)
	}
	if form, isForm, err := readMultipartBody("application/json", `{"email":"c@example.com"}`); err != nil || isForm || form.Get("json:email") != "c@example.com" {
		t.Fatalf("JSON: %v %v %v", form, isForm, err)
	}
	if _, _, err := readMultipartBody("", ""); err != nil {
		t.Fatalf("an empty body without a type (the client's prepare-verification): %v", err)
	}

	// Unicode and a value the size of a real field pass as sent.
	ctype, body := multipartBody(t, func(mw *multipart.Writer) {
		mw.WriteField("first_name", "Zoë 😀")
		mw.WriteField("code", " 123 456 ")
	})
	if form, _, err := readMultipartBody(ctype, body); err != nil || form.Get("first_name") != "Zoë 😀" || form.Get("code") != " 123 456 " {
		t.Fatalf("unicode: %v %v", form, err)
	}

	for _, tc := range []struct {
		name   string
		ctype  string
		body   func() (string, string)
		status int
	}{
		{"no boundary", "multipart/form-data", func() (string, string) { return "", chromeForm }, 400},
		{"wrong boundary", "multipart/form-data; boundary=other", func() (string, string) { return "", chromeForm }, 400},
		{"truncated", chromeType, func() (string, string) { return "", chromeForm[:len(chromeForm)-30] }, 400},
		{"a file", "", func() (string, string) {
			return multipartBody(t, func(mw *multipart.Writer) {
				fw, _ := mw.CreateFormFile("avatar", "me.png")
				fw.Write([]byte("\x89PNG"))
			})
		}, 400},
		{"an empty file name", chromeType, func() (string, string) {
			return "", strings.Replace(chromeForm, `name="email"`, `name="email"; filename=""`, 1)
		}, 400},
		{"a blob", chromeType, func() (string, string) {
			return "", strings.Replace(chromeForm, "name=\"email\"\r\n", "name=\"email\"\r\nContent-Type: application/octet-stream\r\n", 1)
		}, 400},
		{"text/plain is text", chromeType, func() (string, string) {
			return "", strings.Replace(chromeForm, "name=\"email\"\r\n", "name=\"email\"\r\nContent-Type: text/plain; charset=utf-8\r\n", 1)
		}, 0},
		{"no field name", chromeType, func() (string, string) {
			return "", strings.Replace(chromeForm, `form-data; name="email"`, `form-data`, 1)
		}, 400},
		{"not UTF-8", "", func() (string, string) {
			return multipartBody(t, func(mw *multipart.Writer) { mw.WriteField("email", "a\xffb@example.com") })
		}, 400},
		{"too many parts", "", func() (string, string) {
			return multipartBody(t, func(mw *multipart.Writer) {
				for i := range MaxFormParts + 1 {
					mw.WriteField(fmt.Sprint("f", i), "x")
				}
			})
		}, 400},
		{"as many parts as allowed", "", func() (string, string) {
			return multipartBody(t, func(mw *multipart.Writer) {
				for i := range MaxFormParts {
					mw.WriteField(fmt.Sprint("f", i), "x")
				}
			})
		}, 0},
		{"too large", "", func() (string, string) {
			return multipartBody(t, func(mw *multipart.Writer) { mw.WriteField("email", strings.Repeat("a", MaxBodyBytes)) })
		}, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctype, body := tc.body()
			if tc.ctype != "" {
				ctype = tc.ctype
			}
			_, isForm, err := readMultipartBody(ctype, body)
			switch {
			case tc.status == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.status != 0 && (err == nil || err.Status != tc.status || err.Message == ""):
				t.Fatalf("got %+v, want %d", err, tc.status)
			case !isForm:
				t.Fatal("not reported as a form")
			}
		})
	}
}

// Doors that read with ReadBody still refuse multipart: adding it for
// Wacht's FormData changed nothing for them.
func TestReadBodyRefusesMultipart(t *testing.T) {
	r := httptest.NewRequest("POST", "/auth/start", strings.NewReader(chromeForm))
	r.Header.Set("Content-Type", chromeType)
	var dst struct{ Email string }
	if _, err := ReadBody(httptest.NewRecorder(), r, &dst); err == nil || err.Status != http.StatusUnsupportedMediaType {
		t.Fatalf("ReadBody on multipart: %+v", err)
	}
}

// A multipart body that trickles in is cut off at the read deadline with
// 408, as any other body.
func TestMultipartReadTimeout(t *testing.T) {
	defer SetBodyReadTimeout(100 * time.Millisecond)()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var dst struct{}
		_, err := ReadBodyOrMultipart(w, r, &dst)
		if err == nil {
			w.WriteHeader(200)
			return
		}
		w.WriteHeader(err.Status)
	}))
	defer srv.Close()
	pr, pw := ioPipe()
	go func() {
		pw.Write([]byte(chromeForm[:40]))
		<-time.After(2 * time.Second) // a client that stops sending
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", srv.URL, pr)
	req.Header.Set("Content-Type", chromeType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", resp.StatusCode)
	}
}

// FuzzReadMultipart: whatever the body, reading answers a form or a 400,
// 408 or 413; a form it reads holds exactly the fields net/http's own
// multipart parser finds, all of them text.
func FuzzReadMultipart(f *testing.F) {
	f.Add("----WebKitFormBoundaryx1Ab2Cd3Ef4Gh5Ij", chromeForm)
	f.Add("x", "--x\r\nContent-Disposition: form-data; name=\"a\"; filename=\"f\"\r\n\r\nv\r\n--x--\r\n")
	f.Add("x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n--x--\r\n")
	f.Add("x", "--x\r\nContent-Disposition: form-data; name*=UTF-8''%C3%A9\r\n\r\nv\r\n--x--\r\n")
	f.Add("x", "--x--")
	f.Add("x", "")
	f.Fuzz(func(t *testing.T, boundary, body string) {
		ctype := "multipart/form-data; boundary=\"" + strings.ReplaceAll(boundary, `"`, "") + `"`
		form, isForm, err := readMultipartBody(ctype, body)
		if err != nil {
			switch err.Status {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			default:
				t.Fatalf("status %d", err.Status)
			}
			return
		}
		if !isForm {
			return // the content type did not parse as multipart: ReadBody's answer
		}
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		if e := r.ParseMultipartForm(MaxBodyBytes); e != nil {
			t.Fatalf("read %v, but net/http refuses the body: %v", form, e)
		}
		if len(r.MultipartForm.File) != 0 {
			t.Fatalf("read %v, but net/http finds files %v", form, r.MultipartForm.File)
		}
		got, want := map[string][]string(form), r.MultipartForm.Value
		if len(got) == 0 && len(want) == 0 {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("read %q, net/http reads %q", got, want)
		}
	})
}

func ioPipe() (*io.PipeReader, *io.PipeWriter) { return io.Pipe() }
