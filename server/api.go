package server

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/ledger"
	"github.com/fleetscore/fleetscore/query"
)

//go:embed openapi.json
var openAPI []byte

// apiError is the API's error: { "error": { "code", "message" } }.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Message }

func badRequest(format string, a ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "bad_request", Message: fmt.Sprintf(format, a...)}
}

// writeError maps an error to its status in one place: bad input is a 400,
// an unknown tenant a 404, anything else a 500 whose detail stays in the log.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case exceptionError(err) != nil:
		ae = exceptionError(err)
	case campaignError(err) != nil:
		ae = campaignError(err)
	case errors.Is(err, fleetscore.ErrNotFound):
		ae = &apiError{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, context.Canceled):
		return // the client went away
	default:
		s.log.Error("api", "path", r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; the server log has the details"}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(ae.Status)
	_ = json.NewEncoder(w).Encode(map[string]*apiError{"error": ae})
}

// format is the representation a list is asked for: ?format= wins over
// Accept; JSON is the default.
func format(r *http.Request) (string, error) {
	switch f := strings.ToLower(r.URL.Query().Get("format")); f {
	case "json", "csv":
		return f, nil
	case "":
	default:
		return "", badRequest("format %q is not one of json, csv", f)
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "text/csv":
			return "csv", nil
		case "application/json", "*/*":
			return "json", nil
		}
	}
	return "json", nil
}

// table is a list flattened for CSV: a header row and one row per item.
type table struct {
	name   string // the download's file name, without .csv
	header []string
	rows   [][]string
}

// writeList answers with v as JSON or t as CSV (RFC 4180, header row).
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, v any, t func() table) {
	f, err := format(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if f == "csv" {
		tb := t()
		w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.csv"`, tb.name))
		_ = writeCSV(w, tb)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	var b []byte
	if a, ok := v.(answerAppender); ok {
		if out, ok := a.appendAnswer(nil); ok {
			b = out
		}
	}
	if b == nil {
		if b, err = encodeAnswer(v); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	_, _ = w.Write(b)
}

// writeCSV writes a table as CSV (RFC 4180, header row), every cell
// through safeCell: every CSV fleetscore serves passes here.
func writeCSV(w io.Writer, t table) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // RFC 4180
	write := func(row []string) error {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = safeCell(c)
		}
		return cw.Write(cells)
	}
	if err := write(t.header); err != nil {
		return err
	}
	for _, row := range t.rows {
		if err := write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvNumber is a plain decimal number, the only cell starting with - or +
// a spreadsheet reads as a value rather than a formula.
var csvNumber = regexp.MustCompile(`^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$`)

// safeCell defuses CSV formula injection (OWASP): a cell a spreadsheet
// would run as a formula (it starts with =, +, -, @, a tab or a CR, after
// any spaces and line feeds a spreadsheet may trim) gets a leading single
// quote, so it shows as text. Tenant names, control titles from Graph and
// names typed at sign-in all reach CSV cells. Numbers stay numbers.
func safeCell(c string) string {
	t := strings.TrimLeft(c, " \n")
	if t == "" || !strings.ContainsRune("=+-@\t\r", rune(t[0])) || csvNumber.MatchString(c) {
		return c
	}
	return "'" + c
}

// Number formatting for CSV: the shortest text that reads back to the same
// float, so CSV and JSON carry the same values.
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// The API's edge rounds what it shows, and only there: points to 2
// decimals and percents (and percentage points) to 4, so that a sum such as
// 112.59000000000002 reads 112.59; the query layer keeps full precision.
const (
	pointDecimals   = 2
	percentDecimals = 4
)

func round(f float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	r := math.Round(f*p) / p
	if r == 0 {
		return 0 // never -0
	}
	return r
}

func apiPercent(f float64) string { return num(round(f, percentDecimals)) }

func pointsPtr(f *float64) string {
	if f == nil {
		return ""
	}
	return points(*f)
}

func percentPtr(f *float64) string {
	if f == nil {
		return ""
	}
	return apiPercent(*f)
}

// roundJSON rounds every fractional member of an encoded answer by its
// name, as the CSV columns are: percents ("percent" in the name, and the
// change_ fields, which are percentage points) to 4 decimals, durations
// (seconds) as they are, everything else (points) to 2.
//
// A fractional member is what the pattern
//
//	([{,\s])"([A-Za-z0-9_]+)":(\s*)(-?[0-9]+\.[0-9]+(?:[eE][-+]?[0-9]+)?)
//
// matches (jsonFraction finds each, leftmost first): the opening quote of
// the key follows {, a comma or white space; inside a string every quote
// is escaped, so no string's text can match. One pass over the bytes, not
// a regular expression: an answer of a tenant's three years is ~200 KB.
func roundJSON(b []byte) []byte {
	var out []byte
	last := 0
	// A match starts just before a quote: the scan jumps from quote to
	// quote.
	for i := 0; i < len(b); {
		q := bytes.IndexByte(b[i+1:], '"')
		if q < 0 {
			break
		}
		at := i + q // the byte before the quote
		keyStart, keyEnd, valStart, valEnd, ok := jsonFraction(b, at)
		if !ok {
			i = at + 1
			continue
		}
		i = valEnd
		key, val := b[keyStart:keyEnd], b[valStart:valEnd]
		f, err := strconv.ParseFloat(string(val), 64)
		if err != nil || string(key) == "seconds" {
			continue
		}
		decimals := keyDecimals(string(key))
		if out == nil {
			out = make([]byte, 0, len(b))
		}
		// As points and apiPercent write it.
		out = strconv.AppendFloat(append(out, b[last:valStart]...), round(f, decimals), 'f', -1, 64)
		last = valEnd
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// encodeAnswer is v as the API sends it: JSON indented by two spaces, its
// fractions rounded (roundJSON), a newline at the end, as a json.Encoder
// with SetIndent("", "  ") and then roundJSON would write it. Rounded,
// then indented: the same bytes as rounding the indented text (a key
// follows { or , in one, white space in the other).
func encodeAnswer(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	b = roundJSON(b)
	out := indentJSON(make([]byte, 0, len(b)+len(b)/2+1), b)
	return append(out, '\n'), nil
}

// indentJSON appends src, compact JSON as json.Marshal writes it, to dst
// indented as json.Indent(dst, src, "", "  ") would: one pass that knows
// its input is valid and compact, where json.Indent runs the full
// scanner (a third of the CPU of a tenant's scores answer).
func indentJSON(dst, src []byte) []byte {
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, ' ', ' ')
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '"':
			// A string, copied as it is up to its closing quote.
			j := i + 1
			for j < len(src) {
				k := bytes.IndexAny(src[j:], `"\`)
				if k < 0 {
					j = len(src)
					break
				}
				j += k
				if src[j] == '\\' {
					j += 2
					continue
				}
				break
			}
			end := min(j+1, len(src))
			dst = append(dst, src[i:end]...)
			i = end - 1
		case '{', '[':
			dst = append(dst, c)
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				// An empty object or array stays as it is.
				dst = append(dst, src[i+1])
				i++
				continue
			}
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// jsonFraction matches the pattern of roundJSON at b[i:]: the key's and
// the value's bounds.
func jsonFraction(b []byte, i int) (keyStart, keyEnd, valStart, valEnd int, ok bool) {
	space := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
	digit := func(c byte) bool { return '0' <= c && c <= '9' }
	digits := func(j int) int {
		for j < len(b) && digit(b[j]) {
			j++
		}
		return j
	}
	if c := b[i]; c != '{' && c != ',' && !space(c) {
		return
	}
	j := i + 1
	if j >= len(b) || b[j] != '"' {
		return
	}
	j++
	keyStart = j
	for j < len(b) && (digit(b[j]) || b[j] == '_' || 'a' <= b[j] && b[j] <= 'z' || 'A' <= b[j] && b[j] <= 'Z') {
		j++
	}
	keyEnd = j
	if keyEnd == keyStart || j+1 >= len(b) || b[j] != '"' || b[j+1] != ':' {
		return
	}
	j += 2
	for j < len(b) && space(b[j]) {
		j++
	}
	valStart = j
	if j < len(b) && b[j] == '-' {
		j++
	}
	k := digits(j)
	if k == j || k >= len(b) || b[k] != '.' {
		return
	}
	j = digits(k + 1)
	if j == k+1 {
		return
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		e := j + 1
		if e < len(b) && (b[e] == '+' || b[e] == '-') {
			e++
		}
		if d := digits(e); d > e {
			j = d
		}
	}
	return keyStart, keyEnd, valStart, j, true
}

func strPtr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// dayRange reads ?from= and ?to= (YYYY-MM-DD, inclusive).
func dayRange(r *http.Request) (from, to fleetscore.Day, err error) {
	q := r.URL.Query()
	for _, p := range []struct {
		key string
		day *fleetscore.Day
	}{{"from", &from}, {"to", &to}} {
		v := q.Get(p.key)
		if v == "" {
			continue
		}
		d, err := fleetscore.ParseDay(v)
		if err != nil {
			return from, to, badRequest("%s: %v", p.key, err)
		}
		*p.day = d
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return from, to, badRequest("from %s is after to %s", from, to)
	}
	return from, to, nil
}

// tenantID reads and checks the {id} path value: a GUID.
func tenantID(r *http.Request) (string, error) {
	id := strings.ToLower(r.PathValue("id"))
	if !isGUID(id) {
		return "", badRequest("tenant id %q is not a GUID", r.PathValue("id"))
	}
	return id, nil
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// checkParams refuses parameters the route does not know, so a typo is a
// 400 rather than a silently ignored filter.
func checkParams(r *http.Request, known ...string) error {
	for k := range r.URL.Query() {
		ok := k == "format"
		for _, kk := range known {
			ok = ok || k == kk
		}
		if !ok {
			return badRequest("unknown parameter %q; this endpoint takes %s", k, strings.Join(append(known, "format"), ", "))
		}
	}
	return nil
}

func tenantsTable(rows []query.Tenant) table {
	t := table{name: "tenants", header: []string{"tenant_id", "name", "percent", "current_score", "max_score", "as_of",
		"target_percent", "meets_target", "change_7d", "change_30d", "last_collection_at", "last_collection_status", "last_collection_error", "stale"}}
	for _, r := range rows {
		at, status, errText := "", "", ""
		if lc := r.LastCollection; lc != nil {
			at, status, errText = stamp(lc.At), lc.Status, lc.Error
		}
		t.rows = append(t.rows, []string{r.TenantID, r.Name, percentPtr(r.Percent), pointsPtr(r.CurrentScore), pointsPtr(r.MaxScore),
			strPtr(r.AsOf), apiPercent(r.TargetPercent), strconv.FormatBool(r.MeetsTarget), percentPtr(r.Change7d), percentPtr(r.Change30d),
			at, status, errText, strconv.FormatBool(r.Stale)})
	}
	return t
}

func (s *Server) apiTenants(w http.ResponseWriter, r *http.Request) {
	if err := checkParams(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	rows, err := query.TenantsAsOf(r.Context(), s.srcFor(r.Context()), s.dataNow())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, rows, func() table { return tenantsTable(rows) })
}

func (s *Server) apiTenant(w http.ResponseWriter, r *http.Request) {
	id, err := tenantID(r)
	if err == nil {
		err = checkParams(r)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	row, ok, err := query.TenantAsOf(r.Context(), s.srcFor(r.Context()), s.dataNow(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ok {
		s.writeList(w, r, row, func() table { return tenantsTable([]query.Tenant{row}) })
		return
	}
	s.writeError(w, r, fmt.Errorf("tenant %q: %w", id, fleetscore.ErrNotFound))
}

func (s *Server) apiScores(w http.ResponseWriter, r *http.Request) {
	id, err := tenantID(r)
	if err == nil {
		err = checkParams(r, "from", "to")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	from, to, err := dayRange(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	days, err := query.TenantScores(r.Context(), s.srcFor(r.Context()), id, from, to)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, dayScores(days), func() table {
		t := table{name: "scores-" + id, header: []string{"date", "current_score", "max_score", "percent",
			"average_AllTenants", "average_TotalSeats", "average_IndustryTypes"}}
		for _, d := range days {
			avg := func(b string) string {
				if v, ok := d.Averages[b]; ok {
					return points(v)
				}
				return ""
			}
			t.rows = append(t.rows, []string{d.Date, points(d.CurrentScore), points(d.MaxScore), apiPercent(d.Percent),
				avg(fleetscore.BasisAllTenants), avg(fleetscore.BasisTotalSeats), avg(fleetscore.BasisIndustryTypes)})
		}
		return t
	})
}

func (s *Server) apiControls(w http.ResponseWriter, r *http.Request) {
	id, err := tenantID(r)
	if err == nil {
		err = checkParams(r)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cs, err := query.TenantControls(r.Context(), s.srcFor(r.Context()), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, cs, func() table {
		t := table{name: "controls-" + id, header: []string{"control", "title", "category", "score", "max_score", "state",
			"user_impact", "implementation_cost", "tier", "action_url", "deprecated", "open", "points_available"}}
		for _, c := range cs {
			t.rows = append(t.rows, []string{c.Control, c.Title, c.Category, points(c.Score), points(c.MaxScore), c.State,
				c.UserImpact, c.ImplementationCost, c.Tier, c.ActionURL, strconv.FormatBool(c.Deprecated),
				strconv.FormatBool(c.Open), points(c.PointsAvailable)})
		}
		return t
	})
}

// actionFilter reads the actions filters.
func actionFilter(r *http.Request) (query.ActionFilter, error) {
	if err := checkParams(r, "category", "tier", "user_impact", "implementation_cost", "tenant", "long"); err != nil {
		return query.ActionFilter{}, err
	}
	q := r.URL.Query()
	f := query.ActionFilter{Category: q.Get("category"), Tier: q.Get("tier"), UserImpact: q.Get("user_impact"),
		ImplementationCost: q.Get("implementation_cost"), Tenant: strings.ToLower(q.Get("tenant"))}
	if f.Category != "" {
		ok := false
		for _, c := range fleetscore.Categories {
			ok = ok || strings.EqualFold(c, f.Category)
		}
		if !ok {
			return f, badRequest("category %q is not one of %s", f.Category, strings.Join(fleetscore.Categories, ", "))
		}
	}
	if f.Tenant != "" && !isGUID(f.Tenant) {
		return f, badRequest("tenant %q is not a GUID", q.Get("tenant"))
	}
	return f, nil
}

func (s *Server) apiActions(w http.ResponseWriter, r *http.Request) {
	f, err := actionFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	long, err := longForm(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	actions, err := query.Actions(r.Context(), s.srcFor(r.Context()), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if long {
		s.writeList(w, r, actions, func() table { return actionsLongTable(actions) })
		return
	}
	s.writeList(w, r, actions, func() table {
		t := table{name: "actions", header: []string{"control", "title", "category", "tier", "user_impact", "implementation_cost",
			"open_tenants", "tenants", "points_available", "fleet_percent_gain", "ignored_tenants", "third_party_tenants", "deprecated_tenants", "excepted_tenants"}}
		for _, a := range actions {
			t.rows = append(t.rows, []string{a.Control, a.Title, a.Category, a.Tier, a.UserImpact, a.ImplementationCost,
				strconv.Itoa(a.OpenTenants), strings.Join(a.Tenants, " "), points(a.PointsAvailable), apiPercent(a.FleetPercentGain),
				strconv.Itoa(a.IgnoredTenants), strconv.Itoa(a.ThirdPartyTenants), strconv.Itoa(a.DeprecatedTenants),
				strconv.Itoa(a.ExceptedTenants)})
		}
		return t
	})
}

// longForm reads ?long=: the CSV of actions with one row per action and
// open tenant (what Power BI and Excel pivot), instead of one row per
// action with its tenants space-separated in one cell.
func longForm(r *http.Request) (bool, error) {
	v := r.URL.Query().Get("long")
	switch v {
	case "", "0", "false":
		return false, nil
	case "1", "true":
	default:
		return false, badRequest("long %q must be 1 or 0", v)
	}
	f, err := format(r)
	if err != nil {
		return false, err
	}
	if f != "csv" {
		return false, badRequest("long=1 is a form of the CSV: add format=csv (the JSON lists each action's tenants already)")
	}
	return true, nil
}

// actionsLongTable is the long form of the actions' CSV: one row per
// action and tenant where it is open, so an action open in n tenants has
// n rows (its open_tenants) and one done everywhere has none.
func actionsLongTable(actions []query.Action) table {
	t := table{name: "actions-long", header: []string{"control", "tenant_id", "title", "category", "tier", "user_impact", "implementation_cost"}}
	for _, a := range actions {
		for _, id := range a.Tenants {
			t.rows = append(t.rows, []string{a.Control, id, a.Title, a.Category, a.Tier, a.UserImpact, a.ImplementationCost})
		}
	}
	return t
}

func (s *Server) apiFleet(w http.ResponseWriter, r *http.Request) {
	if err := checkParams(r, "from", "to"); err != nil {
		s.writeError(w, r, err)
		return
	}
	from, to, err := dayRange(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	days, err := query.Fleet(r.Context(), s.srcFor(r.Context()), from, to)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, days, func() table {
		t := table{name: "fleet", header: []string{"date", "average_percent", "tenants", "tenants_meeting_target"}}
		for _, d := range days {
			t.rows = append(t.rows, []string{d.Date, apiPercent(d.AveragePercent), strconv.Itoa(d.Tenants), strconv.Itoa(d.TenantsMeetingTarget)})
		}
		return t
	})
}

func (s *Server) apiCollections(w http.ResponseWriter, r *http.Request) {
	if err := checkParams(r, "tenant", "limit"); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	limit := 200
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			s.writeError(w, r, badRequest("limit %q must be a whole number from 1 to 10000", v))
			return
		}
		limit = n
	}
	tenant := strings.ToLower(q.Get("tenant"))
	if tenant != "" && !isGUID(tenant) {
		s.writeError(w, r, badRequest("tenant %q is not a GUID", q.Get("tenant")))
		return
	}
	rows, err := query.Collections(r.Context(), s.srcFor(r.Context()), tenant, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, rows, func() table {
		t := table{name: "collections", header: []string{"id", "tenant_id", "tenant", "started_at", "finished_at", "seconds",
			"status", "error", "advice", "days", "requests"}}
		for _, c := range rows {
			t.rows = append(t.rows, []string{strconv.FormatInt(c.ID, 10), c.TenantID, c.Tenant, stamp(c.StartedAt), stamp(c.FinishedAt),
				num(c.Seconds), c.Status, c.Error, c.Advice, strconv.Itoa(c.Days), strconv.Itoa(c.Requests)})
		}
		return t
	})
}

func (s *Server) apiCollectStatus(w http.ResponseWriter, r *http.Request) {
	if s.runner == nil {
		s.writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "this server runs no collections"})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(s.runner.Status())
}

func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(openAPI)
}

func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "not_found",
		Message: fmt.Sprintf("no API route %s %s; see /api/v1/openapi.json", r.Method, r.URL.Path)})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	check := s.ready
	if check == nil {
		check = func(ctx context.Context) error { _, err := s.src.Tenants(ctx); return err }
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := check(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unreachable\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// changeDays is the default range of a tenant's changes: the last 30 days.
const changeDays = 30

func (s *Server) apiTenantChanges(w http.ResponseWriter, r *http.Request) {
	id, err := tenantID(r)
	if err == nil {
		err = checkParams(r, "from", "to")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	from, to, err := dayRange(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if to.IsZero() {
		to = fleetscore.DayOf(s.now())
		if !from.IsZero() && to.Before(from) {
			to = from
		}
	}
	if from.IsZero() {
		from = to.AddDays(-changeDays + 1)
	}
	changes, err := query.TenantChanges(r.Context(), s.srcFor(r.Context()), id, from, to)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, changes, func() table {
		t := table{name: "changes-" + id, header: append([]string{"day", "previous_day", "percent", "percent_change",
			"percent_change_from_points", "percent_change_from_max", "current_change", "max_change"}, itemColumns...)}
		for _, c := range changes {
			head := []string{c.Day.String(), c.PreviousDay.String(), apiPercent(c.Percent), apiPercent(c.PercentChange),
				apiPercent(c.PercentChangeFromPoints), apiPercent(c.PercentChangeFromMax), points(c.CurrentChange), points(c.MaxChange)}
			if len(c.Items) == 0 { // the day's totals still have a row
				t.rows = append(t.rows, append(head, make([]string, len(itemColumns))...))
			}
			for _, it := range c.Items {
				t.rows = append(t.rows, append(append([]string(nil), head...), itemCells(it)...))
			}
		}
		return t
	})
}

// itemColumns are the CSV columns of a ledger item; its max_change is
// item_max_change beside the day's max_change.
var itemColumns = []string{"kind", "control", "title", "category", "points_change", "item_max_change", "state_from", "state_to", "by", "comment"}

func itemCells(it ledger.Item) []string {
	return []string{it.Kind, it.Control, it.Title, it.Category, points(it.PointsChange), points(it.MaxChange),
		it.StateFrom, it.StateTo, it.By, it.Comment}
}

// defaultFleetChangeDays is the default window of GET /api/v1/changes.
const defaultFleetChangeDays = 7

func (s *Server) apiChanges(w http.ResponseWriter, r *http.Request) {
	if err := checkParams(r, "days"); err != nil {
		s.writeError(w, r, err)
		return
	}
	days := defaultFleetChangeDays
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > query.MaxChangeDays {
			s.writeError(w, r, badRequest("days %q is not a whole number from 1 to %d", v, query.MaxChangeDays))
			return
		}
		days = n
	}
	rep, err := query.FleetChanges(r.Context(), s.srcFor(r.Context()), days, s.now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, rep, func() table {
		t := table{name: "changes", header: []string{"record", "tenant_id", "name", "tenant_percent_change",
			"tenant_percent_change_from_points", "tenant_percent_change_from_max", "day", "percent_effect", "tenants"}}
		t.header = append(t.header, itemColumns...)
		for _, tt := range rep.Tenants {
			head := []string{"tenant", tt.TenantID, tt.Name, apiPercent(tt.PercentChange),
				apiPercent(tt.PercentChangeFromPoints), apiPercent(tt.PercentChangeFromMax)}
			if len(tt.Items) == 0 {
				t.rows = append(t.rows, append(head, make([]string, 3+len(itemColumns))...))
			}
			for _, it := range tt.Items {
				row := append(append([]string(nil), head...), it.Day, apiPercent(it.PercentEffect), "")
				t.rows = append(t.rows, append(row, itemCells(it.Item)...))
			}
		}
		for _, e := range rep.Events {
			row := []string{"event", strings.Join(e.TenantIDs, " "), "", "", "", "", e.Day, apiPercent(e.PercentChange),
				strconv.Itoa(e.Tenants)}
			t.rows = append(t.rows, append(row, itemCells(ledger.Item{Kind: e.Kind, Control: e.Control, Title: e.Title})...))
		}
		return t
	})
}
