package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/emulator"
)

// emulatorPages are real-shaped pages (quirks on) as the client reads them:
// every secureScores and control-profile page of a few emulated tenants.
var emulatorPages = sync.OnceValues(func() ([][]byte, error) {
	now := fleetscore.MustDay("2026-03-15").Time().Add(9 * time.Hour)
	emu := emulator.New(emulator.Options{Seed: 5, Tenants: 3, Now: func() time.Time { return now }, Unthrottled: true, ProfilePageSize: 40})
	if err := emu.Start(); err != nil {
		return nil, err
	}
	defer emu.Close()
	const id, secret = "11111111-2222-3333-4444-555555555555", "s3cret-value"
	emu.AddApp(emulator.App{ClientID: id, Secrets: []string{secret}})
	emu.ConsentAll(id)
	hc := NewHTTPClient(emu.CACertPEM())
	c, err := New(Options{BaseURL: emu.URL(), HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	cred, err := NewCredential(App{ClientID: id, Secret: func() string { return secret }}, "organizations",
		AuthOptions{AuthorityHost: emu.URL() + "/", Custom: true, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	var pages [][]byte
	ctx := WithBodyHook(context.Background(), func(_, _ string, b []byte) { pages = append(pages, bytes.Clone(b)) })
	for _, ti := range emu.Tenants() {
		tg := Target{TenantID: ti.ID, ClientID: id, Credential: cred}
		if _, err := c.SecureScores(ctx, tg, 0); err != nil {
			return nil, err
		}
		if _, err := c.ControlProfiles(ctx, tg); err != nil {
			return nil, err
		}
	}
	return pages, nil
})

// hostile are bodies a broken or hostile upstream might send.
var hostile = []string{
	``, `null`, `{}`, `[]`, `"x"`, `{"value":null}`, `{"value":[null]}`, `{"value":[{}]}`,
	`{"value":[{"id":"a"}],"@odata.nextLink":null}`,
	`{"value":[{"currentScore":"1e400","maxScore":"-0","rank":"NaN","activeUserCount":"9223372036854775808"}]}`,
	`{"value":[{"currentScore":1e400}]}`,
	`{"value":[{"currentScore":"  12.5 ","maxScore":true,"rank":{},"count":[1]}]}`,
	`{"value":[{"ID":"caps","TITLE":"Upper","Rank":"3","DEPRECATED":"TRUE"}]}`,
	`{"value":[{"id":"dup","id":"second"}]}`,
	`{"value":[{"title":"N\u0000UL","controlName":"a\u0000b","threats":["\u0000"]}]}`,
	"{\"value\":[{\"title\":\"bad \xff\xfe utf8\",\"controlName\":\"\xc3\"}]}",
	`{"value":[{"title":"\ud800 lone surrogate","remediation":"\uDFFF\u00e9"}]}`,
	`{"value":[{"title":"esc \"\\\/\b\f\n\r\t"}]}`,
	`{"value":[{"threats":"not a list"}]}`,
	`{"value":[{"title":12}]}`,
	`{"value":[{"controlScores":[{"controlName":"x","score":null}]}]}`,
	`{"value":[{"controlStateUpdates":[{"state":"Ignored","updatedDateTime":null}]}]}`,
	`{"value":[{"vendorInformation":"x"}]}`,
	`{"value":[{"averageComparativeScores":[{"basis":"AllTenants","averageScore":"-1"}]}]}`,
	`{"value":[{"id":"a"}]`, `{"value":[{"id":"a"`, `{"value":[{"id":`, `{"value"`,
	`{"value":[{"id":"a",}]}`, `{"value":[{"id":'a'}]}`, `{"value":[01]}`, `{"value":[{"rank":01}]}`,
	`{"value":[]} trailing`, `{"value":[]}{"value":[]}`, " \n\t{\"value\":[]}\n",
	`{"value":[{"rank":-}]}`, `{"value":[{"rank":1.}]}`, `{"value":[{"rank":.5}]}`, `{"value":[{"rank":"0x10"}]}`,
	`{"value":[{"id":"a"}],"value":[{"id":"b"}]}`,
	`{"value":[{"maxScore":"10","maxscore":"20"}]}`,
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	`{"value":[{"title":"` + strings.Repeat(`\u00e9`, 500) + `"}]}`,
}

// decoded is what a page decodes to, with either library.
type decoded struct {
	Scores     page[secureScoreWire]
	ScoresErr  bool
	Profiles   page[controlProfileWire]
	ProfileErr bool
	Raw        page[rawScore]
	RawErr     bool
}

func decodeWith(data []byte, f func([]byte, any) error) decoded {
	var d decoded
	d.ScoresErr = f(data, &d.Scores) != nil
	d.ProfileErr = f(data, &d.Profiles) != nil
	d.RawErr = f(data, &d.Raw) != nil
	return d
}

type conversion struct {
	Scores   []fleetscore.Score
	Errs     []string
	Raw      [][]byte
	Profiles []fleetscore.ControlProfile
	Next     []string
}

func converted(d decoded) conversion {
	var c conversion
	for _, w := range d.Scores.Value {
		s, err := w.toScore("t")
		c.Scores = append(c.Scores, s)
		c.Errs = append(c.Errs, fmt.Sprint(err))
	}
	for _, r := range d.Raw.Value {
		s, err := r.toScore("t")
		c.Scores = append(c.Scores, s)
		c.Errs = append(c.Errs, fmt.Sprint(err))
		c.Raw = append(c.Raw, r.raw)
	}
	for _, w := range d.Profiles.Value {
		c.Profiles = append(c.Profiles, w.toProfile())
	}
	c.Next = []string{d.Scores.NextLink, d.Raw.NextLink}
	return c
}

// streamed decodes a page from data as the client does from a response
// body: through a window of at least window bytes, the body arriving in
// reads of at most chunk bytes.
func streamed(window, chunk int) func([]byte, any) error {
	return func(data []byte, v any) error {
		var r io.Reader = bytes.NewReader(data)
		if chunk == 1 {
			r = iotest.OneByteReader(r)
		} else if chunk > 0 {
			r = &chunkReader{r: r, n: chunk}
		}
		ok, err := decodeStream(r, v, window)
		if !ok {
			return fmt.Errorf("decodeStream did not take a %T", v)
		}
		return err
	}
}

type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// refusedCleared is d with every refused page emptied: a refused page is
// not used, whatever was decoded before the error.
func refusedCleared(d decoded) decoded {
	if d.ScoresErr {
		d.Scores = page[secureScoreWire]{}
	}
	if d.ProfileErr {
		d.Profiles = page[controlProfileWire]{}
	}
	if d.RawErr {
		d.Raw = page[rawScore]{}
	}
	return d
}

// agree fails t when encoding/json and the client's decoder differ on data:
// both refuse it, or both accept it with the same values. The client's
// decoder streaming the page (through windows down to one byte) must give
// exactly what it gives on the whole page.
func agree(t *testing.T, name string, data []byte) {
	t.Helper()
	std := decodeWith(data, json.Unmarshal)
	got := decodeWith(data, unmarshal)
	for _, w := range []struct{ window, chunk int }{{1, 1}, {7, 3}, {64, 0}, {defaultWindow, 0}} {
		st := decodeWith(data, streamed(w.window, w.chunk))
		if want := refusedCleared(got); !reflect.DeepEqual(refusedCleared(st), want) {
			t.Errorf("%s: streamed through a window of %d bytes in reads of %d: %+v\nwhole: %+v", name, w.window, w.chunk, refusedCleared(st), want)
		}
	}
	if std.ScoresErr != got.ScoresErr || std.ProfileErr != got.ProfileErr || std.RawErr != got.RawErr {
		t.Errorf("%s: refused by encoding/json %v/%v/%v, by the client's decoder %v/%v/%v (scores/profiles/raw)",
			name, std.ScoresErr, std.ProfileErr, std.RawErr, got.ScoresErr, got.ProfileErr, got.RawErr)
		return
	}
	// A refused page is not used, whatever was decoded before the error.
	if std.ScoresErr {
		std.Scores, got.Scores = page[secureScoreWire]{}, page[secureScoreWire]{}
	}
	if std.ProfileErr {
		std.Profiles, got.Profiles = page[controlProfileWire]{}, page[controlProfileWire]{}
	}
	if std.RawErr {
		std.Raw, got.Raw = page[rawScore]{}, page[rawScore]{}
	}
	// What the client keeps of a page: the converted scores and profiles
	// (the decoder leaves out strings that the conversion never reads).
	if !reflect.DeepEqual(converted(std), converted(got)) {
		t.Errorf("%s: encoding/json decoded %+v\nthe client's decoder %+v", name, converted(std), converted(got))
	}
	std.Scores, got.Scores = page[secureScoreWire]{}, page[secureScoreWire]{}
	std.Raw.Value, got.Raw.Value = nil, nil
	if !reflect.DeepEqual(std, got) {
		t.Errorf("%s: encoding/json decoded %+v\nthe client's decoder %+v", name, std, got)
	}
}

// TestDecoderAgrees holds the client's decoder to encoding/json's answers on
// the quirks fixture, on emulated pages and on hostile bodies.
func TestDecoderAgrees(t *testing.T) {
	data, err := os.ReadFile("testdata/securescores-quirks.json")
	if err != nil {
		t.Fatal(err)
	}
	agree(t, "testdata/securescores-quirks.json", data)
	pages, err := emulatorPages()
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 6 {
		t.Fatalf("only %d emulated pages", len(pages))
	}
	for i, p := range pages {
		agree(t, fmt.Sprintf("emulated page %d", i), p)
	}
	for i, h := range hostile {
		agree(t, fmt.Sprintf("hostile body %d %.40q", i, h), []byte(h))
	}
}

func FuzzDecoderAgrees(f *testing.F) {
	if data, err := os.ReadFile("testdata/securescores-quirks.json"); err == nil {
		f.Add(data)
	}
	for _, h := range hostile {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, data []byte) { agree(t, "fuzzed body", data) })
}

// BenchmarkDecodePage compares decoders on the same emulated pages into the
// same structs.
func BenchmarkDecodePage(b *testing.B) {
	pages, err := emulatorPages()
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, p := range pages {
		size += int64(len(p))
	}
	into := func(p []byte) any {
		if bytes.Contains(p[:min(len(p), 200)], []byte("secureScores")) {
			return new(page[secureScoreWire])
		}
		return new(page[controlProfileWire])
	}
	for _, c := range []struct {
		name string
		f    func([]byte, any) error
	}{
		{"encoding-json", json.Unmarshal},
		{"encoding-json-stream", func(p []byte, v any) error { return json.NewDecoder(bytes.NewReader(p)).Decode(v) }},
		{"goccy", gojson.Unmarshal},
		{"client", func(p []byte, v any) error { return decodeBody(bytes.NewReader(p), int64(len(p)), v, nil) }},
		{"client-stream", streamed(defaultWindow, 0)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				for _, p := range pages {
					if err := c.f(p, into(p)); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
