package archive

import (
	"net/url"
	"strings"
	"testing"
)

func TestScrub(t *testing.T) {
	key := "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	c := &Container{secrets: connectionStringSecrets("AccountName=a;AccountKey=" + key + ";SharedAccessSignature=sv=1&sig=SAS-SECRET-VALUE")}
	for _, tc := range []struct{ in, want string }{
		{`Put "https://a.blob.core.windows.net/c/x.json?sv=2024&sig=abc%2Bdef": EOF`, `Put "https://a.blob.core.windows.net/c/x.json?REDACTED": EOF`},
		{"conn AccountKey=" + key + ";x", "conn AccountKey=REDACTED;x"},
		{"bare " + key + " and " + url.QueryEscape(key), "bare REDACTED and REDACTED"},
		{"SharedAccessSignature=sv=1&sig=SAS-SECRET-VALUE", "SharedAccessSignature=REDACTED"},
		{"token sig=zzz&se=1", "token sig=REDACTED&se=1"},
		{"Authorization: Bearer eyJ0eXAi.eyJhdWQi.c2ln", "Authorization: Bearer REDACTED"},
		{"nothing secret here", "nothing secret here"},
	} {
		if got := c.scrub(tc.in); got != tc.want {
			t.Errorf("scrub(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestAccountName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://acct.blob.core.windows.net/", "acct"},
		{"https://acct.blob.core.usgovcloudapi.net", "acct"},
		{"https://acct.privatelink.blob.core.windows.net/", "acct"},
		{"http://127.0.0.1:10000/devstoreaccount1", "devstoreaccount1"},
		{"http://localhost:10000/devstoreaccount1/", "devstoreaccount1"},
		{"http://azurite:10000/devstoreaccount1", "devstoreaccount1"},
		{"http://127.0.0.1:10000/", ""},
	} {
		u, err := url.Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := accountName(u); got != tc.want {
			t.Errorf("accountName(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCheckContainerName(t *testing.T) {
	for name, ok := range map[string]bool{
		"abc": true, "secure-scores": true, "a1-b2-c3": true, strings.Repeat("a", 63): true,
		"ab": false, strings.Repeat("a", 64): false, "-abc": false, "abc-": false, "a--b": false,
		"ABC": false, "a_b": false, "a.b": false, "": false,
	} {
		if err := checkContainerName(name); (err == nil) != ok {
			t.Errorf("checkContainerName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}
