// Package reporttest reads PDF reports back for tests with poppler-utils
// (pdftotext, pdftoppm). The tests fail, not skip, when those are missing:
// scripts/test.sh installs them.
package reporttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Tool finds a poppler-utils program; the test fails without it.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s is not installed: run scripts/test.sh, or apt-get install poppler-utils", name)
	}
	return p
}

func write(tb testing.TB, pdf []byte) (dir, path string) {
	tb.Helper()
	dir = tb.TempDir()
	path = filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		tb.Fatal(err)
	}
	return dir, path
}

// Text is pdftotext's text of the PDF with its whitespace collapsed to
// single spaces, so that a title wrapped over two lines still matches.
func Text(tb testing.TB, pdf []byte) string {
	tb.Helper()
	_, in := write(tb, pdf)
	out, err := exec.Command(Tool(tb, "pdftotext"), "-enc", "UTF-8", in, "-").CombinedOutput()
	if err != nil {
		tb.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return Squash(string(out))
}

// Squash collapses runs of whitespace to single spaces.
func Squash(s string) string { return strings.Join(strings.Fields(s), " ") }

var pageCount = regexp.MustCompile(`/Type /Pages\s*/Kids \[[^\]]*\]\s*/Count (\d+)`)

// Pages renders every page with pdftoppm and checks each was drawn; it
// returns the pages the PDF declares and the pages drawn.
func Pages(tb testing.TB, pdf []byte) (declared, drawn int) {
	tb.Helper()
	dir, in := write(tb, pdf)
	if out, err := exec.Command(Tool(tb, "pdftoppm"), "-png", "-r", "40", in, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		tb.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "page-*.png"))
	for _, p := range pngs {
		if st, err := os.Stat(p); err != nil || st.Size() < 500 {
			tb.Errorf("page %s was not drawn (%v)", p, err)
		}
	}
	if m := pageCount.FindSubmatch(pdf); m != nil {
		declared, _ = strconv.Atoi(string(m[1]))
	}
	return declared, len(pngs)
}
