package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Graph's pages are decoded by a hand-written decoder for the wire types,
// not by encoding/json: one pass over the bytes, no reflection, no second
// validating scan (encoding/json's checkValid), strings without escapes
// taken as they are. On the same bytes into the same structs it costs a
// fraction of encoding/json's CPU (BenchmarkDecodePage). It keeps every
// encoding/json rule the wire types rely on, and TestDecoderAgrees and
// FuzzDecoderAgrees hold it to encoding/json's answers: the same syntax
// refused (numbers, escapes, control characters, nesting deeper than
// 10,000), keys matched exactly and then case-insensitively with the same
// folding, unknown keys skipped, null leaving a field as it is (a slice or
// pointer nil), the last of duplicate keys winning, a value of the wrong
// type refusing the page, invalid UTF-8 and lone surrogates turned into
// U+FFFD, and the flex types' UnmarshalJSON given the raw value.
//
// github.com/goccy/go-json was measured too (BenchmarkDecodePage): its
// Unmarshal is fast but it matches keys case-sensitively in structs of more
// than 16 fields (a control profile has 20) and accepts numbers such as 01,
// - and 1., so it would change what a collection stores; its stream
// decoder is slower than encoding/json's.

// maxAnnounced is the largest Content-Length a buffer is sized to up front;
// a larger page grows its buffer as it arrives.
const maxAnnounced = 16 << 20

// decodeBody reads r whole and decodes it into v in one pass: the answers
// that are no page (a profile, a change), and pages a WithBodyHook sees
// whole. Pages are otherwise decoded as they arrive (decodeStream). No
// buffer is kept for reuse: a pool of whole pages (8 of up to 16 MB) stayed
// resident for the life of the process. seen, if not nil, is called with
// the raw bytes (it must copy what it keeps).
func decodeBody(r io.Reader, size int64, v any, seen func([]byte)) error {
	buf := new(bytes.Buffer)
	if size > 0 && size <= maxAnnounced {
		// The length Graph announced, and room to see the end.
		buf.Grow(int(size) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	if seen != nil {
		seen(buf.Bytes())
	}
	return unmarshal(buf.Bytes(), v)
}

// unmarshal decodes one JSON document as json.Unmarshal would: the wire
// types by the hand-written decoder, anything else by encoding/json.
func unmarshal(data []byte, v any) error {
	d := &decoder{data: data}
	switch v.(type) {
	case *page[secureScoreWire], *page[controlProfileWire], *page[rawScore], *controlProfileWire, *secureScoreWire:
	default:
		return json.Unmarshal(data, v)
	}
	if err := decodeTop(d, v); err != nil {
		return err
	}
	d.ws()
	if d.i < len(d.data) {
		return d.syntax("after the top-level value")
	}
	return nil
}

// decodeTop decodes the top-level value of a wire type into v, leaving d
// after it.
func decodeTop(d *decoder, v any) error {
	var err error
	switch v := v.(type) {
	case *page[secureScoreWire]:
		err = decodePage(d, v, (*decoder).secureScore)
	case *page[controlProfileWire]:
		err = decodePage(d, v, (*decoder).controlProfile)
	case *page[rawScore]:
		err = decodePage(d, v, (*decoder).rawScore)
	case *controlProfileWire:
		err = d.controlProfile(v)
	case *secureScoreWire:
		err = d.secureScore(v)
	}
	return err
}

// SyntaxError is JSON the decoder refused, at byte Offset.
type SyntaxError struct {
	Msg    string
	Offset int64
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s (at byte %d)", e.Msg, e.Offset) }

// typeError is a value of the wrong JSON type for its field.
type typeError struct {
	field  string
	offset int
}

func (e *typeError) Error() string {
	return fmt.Sprintf("the value of %s at byte %d is of the wrong type", e.field, e.offset)
}

type decoder struct {
	data  []byte
	i     int
	depth int // of the containers open around d.i
	// base is the offset in the document of data[0]; src, when set, is
	// the stream data is a window of (see decodeStream).
	base int64
	src  *stream
}

// off is d.i's offset in the document.
func (d *decoder) off() int64 { return d.base + int64(d.i) }

func (d *decoder) ws() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) syntax(what string) error {
	if d.i >= len(d.data) {
		return io.ErrUnexpectedEOF
	}
	return &SyntaxError{Msg: fmt.Sprintf("invalid character %q %s", d.data[d.i], what), Offset: d.off()}
}

// peek skips white space and returns the next byte, 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.i >= len(d.data) {
		return 0
	}
	return d.data[d.i]
}

// null consumes a null if one comes next.
func (d *decoder) null() (bool, error) {
	if d.peek() != 'n' {
		return false, nil
	}
	return true, d.literal("null")
}

func (d *decoder) literal(lit string) error {
	for k := 0; k < len(lit); k++ {
		if d.i >= len(d.data) {
			return io.ErrUnexpectedEOF
		}
		if d.data[d.i] != lit[k] {
			return d.syntax("in literal " + lit)
		}
		d.i++
	}
	return nil
}

const maxDepth = 10000 // encoding/json's

// skip validates and passes one value, returning its bytes.
func (d *decoder) skip() ([]byte, error) {
	d.ws()
	start := d.i
	var arr [32]byte
	stack := arr[:0] // the open containers: '{' or '['
	for {
		c := d.peek()
		switch c {
		case 0:
			return nil, io.ErrUnexpectedEOF
		case '{', '[':
			stack = append(stack, c)
			if d.depth+len(stack) > maxDepth {
				return nil, &SyntaxError{Msg: "exceeded max depth", Offset: d.off()}
			}
			d.i++
			end := byte('}')
			if c == '[' {
				end = ']'
			}
			if d.peek() == end {
				d.i++
				stack = stack[:len(stack)-1]
				break
			}
			if c == '{' {
				if err := d.key(); err != nil {
					return nil, err
				}
			}
			continue
		case '"':
			if _, err := d.rawString(); err != nil {
				return nil, err
			}
		case 't':
			if err := d.literal("true"); err != nil {
				return nil, err
			}
		case 'f':
			if err := d.literal("false"); err != nil {
				return nil, err
			}
		case 'n':
			if err := d.literal("null"); err != nil {
				return nil, err
			}
		default:
			if err := d.number(); err != nil {
				return nil, err
			}
		}
		// After a value: close containers or go on to the next element.
	after:
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			switch c := d.peek(); {
			case c == ',':
				d.i++
				if top == '{' {
					if err := d.key(); err != nil {
						return nil, err
					}
				}
				break after
			case c == '}' && top == '{', c == ']' && top == '[':
				d.i++
				stack = stack[:len(stack)-1]
			default:
				return nil, d.syntax("after a value")
			}
		}
		if len(stack) == 0 {
			return d.data[start:d.i], nil
		}
	}
}

// key reads an object key and its colon.
func (d *decoder) key() error {
	if d.peek() != '"' {
		return d.syntax("looking for beginning of object key string")
	}
	if _, err := d.rawString(); err != nil {
		return err
	}
	if d.peek() != ':' {
		return d.syntax("after object key")
	}
	d.i++
	return nil
}

func (d *decoder) number() error {
	b, i := d.data, d.i
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		digits()
	default:
		d.i = i
		return d.syntax("looking for beginning of value")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			d.i = i
			return d.syntax("after decimal point in numeric literal")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			d.i = i
			return d.syntax("in exponent of numeric literal")
		}
	}
	if i == start {
		return d.syntax("looking for beginning of value")
	}
	d.i = i
	return nil
}

// rawString passes a string, validating it, and says whether it needs
// unquoting (escapes, or bytes that are not plain ASCII).
func (d *decoder) rawString() (plain bool, err error) {
	b := d.data
	i := d.i + 1
	plain = true
	for {
		if i >= len(b) {
			d.i = i
			return false, io.ErrUnexpectedEOF
		}
		c := b[i]
		switch {
		case c == '"':
			d.i = i + 1
			return plain, nil
		case c < 0x20:
			d.i = i
			return false, d.syntax("in string literal")
		case c == '\\':
			plain = false
			i++
			if i >= len(b) {
				d.i = i
				return false, io.ErrUnexpectedEOF
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				i++
				for k := 0; k < 4; k++ {
					if i >= len(b) {
						d.i = i
						return false, io.ErrUnexpectedEOF
					}
					if !isHex(b[i]) {
						d.i = i
						return false, d.syntax("in \\u hexadecimal character escape")
					}
					i++
				}
			default:
				d.i = i
				return false, d.syntax("in string escape code")
			}
		case c >= utf8.RuneSelf:
			plain = false
			i++
		default:
			i++
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// str reads a string value as encoding/json would store it.
func (d *decoder) str() (string, error) {
	start := d.i
	plain, err := d.rawString()
	if err != nil {
		return "", err
	}
	raw := d.data[start+1 : d.i-1]
	if plain || bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw), nil
	}
	return string(unescape(raw)), nil
}

// unescape turns a validated string's body into its value: escapes decoded,
// surrogate pairs joined, a lone surrogate or an invalid byte made U+FFFD
// (one per byte, as encoding/json does).
func unescape(s []byte) []byte {
	out := make([]byte, 0, len(s)+2*utf8.UTFMax)
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			r++
			switch s[r] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				rr := hex4(s[r+1:])
				r += 4
				if utf16.IsSurrogate(rr) {
					if r+6 < len(s)+0 && s[r+1] == '\\' && s[r+2] == 'u' {
						if rr1 := utf16.DecodeRune(rr, hex4(s[r+3:])); rr1 != unicode.ReplacementChar {
							out = utf8.AppendRune(out, rr1)
							r += 7
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, rr)
			default: // " \ /
				out = append(out, s[r])
			}
			r++
		case c < utf8.RuneSelf:
			out = append(out, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			out = utf8.AppendRune(out, rr)
		}
	}
	return out
}

func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// object calls field with each key (unquoted) of the object that comes
// next; field must consume the value. null is no object and no error, as
// encoding/json leaves the target alone; any other value is of the wrong
// type (what names the target in the error).
func (d *decoder) object(what string, field func(key []byte) error) error {
	switch d.peek() {
	case 'n':
		return d.literal("null")
	case '{':
	default:
		return d.wrongType(what)
	}
	if d.depth++; d.depth > maxDepth {
		return &SyntaxError{Msg: "exceeded max depth", Offset: d.off()}
	}
	defer func() { d.depth-- }()
	d.i++
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.syntax("looking for beginning of object key string")
		}
		start := d.i
		plain, err := d.rawString()
		if err != nil {
			return err
		}
		key := d.data[start+1 : d.i-1]
		if !plain {
			key = unescape(key)
		}
		if d.peek() != ':' {
			return d.syntax("after object key")
		}
		d.i++
		if err := field(key); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.syntax("after object key:value pair")
		}
	}
}

// wrongType refuses the value that comes next, once it is known to be
// valid JSON (invalid JSON is a syntax error, as for encoding/json).
func (d *decoder) wrongType(what string) error {
	at := d.i
	if _, err := d.skip(); err != nil {
		return err
	}
	return &typeError{field: what, offset: int(d.base) + at}
}

// array calls elem for each element of the array that comes next. null
// sets the slice nil (reset); a slice is reused as encoding/json does.
func (d *decoder) array(what string, reset func(), elem func(i int) error) error {
	switch d.peek() {
	case 'n':
		reset()
		return d.literal("null")
	case '[':
	default:
		return d.wrongType(what)
	}
	if d.depth++; d.depth > maxDepth {
		return &SyntaxError{Msg: "exceeded max depth", Offset: d.off()}
	}
	defer func() { d.depth-- }()
	d.i++
	if d.peek() == ']' {
		d.i++
		return elem(-1)
	}
	for i := 0; ; i++ {
		if err := elem(i); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.syntax("after array element")
		}
	}
}

// slice decodes an array into *s: elements decoded into the slice's
// existing backing array where there is one (encoding/json does not zero
// them), the length set to the elements read, [] an empty slice.
func slice[T any](d *decoder, what string, s *[]T, elem func(*decoder, *T) error) error {
	return d.array(what, func() { *s = nil }, func(i int) error {
		if i < 0 {
			if *s == nil {
				*s = []T{}
			}
			*s = (*s)[:0]
			return nil
		}
		if i == 0 {
			*s = (*s)[:0]
		}
		if len(*s) < cap(*s) {
			*s = (*s)[:len(*s)+1]
		} else {
			var zero T
			*s = append(*s, zero)
		}
		return elem(d, &(*s)[i])
	})
}

// text decodes a string into *p: null leaves it, anything else but a
// string is of the wrong type.
func (d *decoder) text(what string, p *string) error {
	switch d.peek() {
	case '"':
		s, err := d.str()
		if err == nil {
			*p = s
		}
		return err
	case 'n':
		return d.literal("null")
	}
	return d.wrongType(what)
}

// skipText passes a string no one reads (a control score's description and
// status, a different sentence each day), refusing what encoding/json would
// refuse for a string field, without building the string.
func (d *decoder) skipText(what string) error {
	switch d.peek() {
	case '"':
		_, err := d.rawString()
		return err
	case 'n':
		return d.literal("null")
	}
	return d.wrongType(what)
}

func textElem(d *decoder, p *string) error { return d.text("a list of strings", p) }

// raw hands the next value's bytes to an UnmarshalJSON.
func (d *decoder) raw(u json.Unmarshaler) error {
	b, err := d.skip()
	if err != nil {
		return err
	}
	return u.UnmarshalJSON(b)
}

// fields is a struct's JSON keys, matched as encoding/json matches them:
// exactly, else by their case-folded form.
type fields struct {
	names  []string
	folded []string
}

func newFields(names ...string) *fields {
	f := &fields{names: names}
	for _, n := range names {
		f.folded = append(f.folded, string(foldName([]byte(n))))
	}
	return f
}

// index is the field key names, or -1.
func (f *fields) index(key []byte) int {
	for i, n := range f.names {
		if string(key) == n {
			return i
		}
	}
	var arr [32]byte
	k := appendFoldedName(arr[:0], key)
	for i, n := range f.folded {
		if string(k) == n {
			return i
		}
	}
	return -1
}

// foldName is encoding/json's (fold.go): ASCII upper-cased, other runes
// mapped to the smallest rune of their simple-folding orbit.
func foldName(in []byte) []byte {
	var arr [32]byte
	return appendFoldedName(arr[:0], in)
}

func appendFoldedName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

func (d *decoder) skipField(_ []byte) error {
	_, err := d.skip()
	return err
}

var pageFields = newFields("value", "@odata.nextLink")

func decodePage[T any](d *decoder, p *page[T], elem func(*decoder, *T) error) error {
	return d.object("a page", func(key []byte) error {
		switch pageFields.index(key) {
		case 0:
			if d.src != nil {
				return slice(d, "value", &p.Value, func(d *decoder, v *T) error { return streamElem(d, v, elem) })
			}
			return slice(d, "value", &p.Value, elem)
		case 1:
			return d.text("@odata.nextLink", &p.NextLink)
		}
		return d.skipField(key)
	})
}

func (d *decoder) rawScore(r *rawScore) error { return d.raw(r) }

var scoreFields = newFields("id", "azureTenantId", "activeUserCount", "createdDateTime", "currentScore", "maxScore",
	"enabledServices", "licensedUserCount", "averageComparativeScores", "controlScores", "vendorInformation")

func (d *decoder) secureScore(w *secureScoreWire) error {
	return d.object("a secure score", func(key []byte) error {
		switch scoreFields.index(key) {
		case 0:
			return d.text("id", &w.ID)
		case 1:
			return d.text("azureTenantId", &w.AzureTenantID)
		case 2:
			return d.raw(&w.ActiveUserCount)
		case 3:
			return d.text("createdDateTime", &w.CreatedDateTime)
		case 4:
			return d.raw(&w.CurrentScore)
		case 5:
			return d.raw(&w.MaxScore)
		case 6:
			return slice(d, "enabledServices", &w.EnabledServices, textElem)
		case 7:
			return d.raw(&w.LicensedUserCount)
		case 8:
			return slice(d, "averageComparativeScores", &w.AverageComparativeScores, (*decoder).average)
		case 9:
			return slice(d, "controlScores", &w.ControlScores, (*decoder).controlScore)
		case 10:
			return d.vendor(&w.VendorInformation)
		}
		return d.skipField(key)
	})
}

var averageFields = newFields("basis", "averageScore", "seatSizeRangeLowerValue", "seatSizeRangeUpperValue",
	"categoryValue", "identityScore", "dataScore", "deviceScore", "appsScore", "infrastructureScore")

func (d *decoder) average(a *averageWire) error {
	return d.object("an average", func(key []byte) error {
		switch averageFields.index(key) {
		case 0:
			return d.text("basis", &a.Basis)
		case 1:
			return d.raw(&a.AverageScore)
		case 2:
			return d.raw(&a.SeatSizeRangeLowerValue)
		case 3:
			return d.raw(&a.SeatSizeRangeUpperValue)
		case 4:
			return d.text("categoryValue", &a.CategoryValue)
		case 5:
			return d.raw(&a.IdentityScore)
		case 6:
			return d.raw(&a.DataScore)
		case 7:
			return d.raw(&a.DeviceScore)
		case 8:
			return d.raw(&a.AppsScore)
		case 9:
			return d.raw(&a.InfrastructureScore)
		}
		return d.skipField(key)
	})
}

var controlScoreFields = newFields("controlCategory", "controlName", "description", "score", "scoreInPercentage",
	"implementationStatus", "count", "total")

func (d *decoder) controlScore(c *controlScoreWire) error {
	return d.object("a control score", func(key []byte) error {
		switch controlScoreFields.index(key) {
		case 0:
			return d.text("controlCategory", &c.ControlCategory)
		case 1:
			return d.text("controlName", &c.ControlName)
		case 2:
			return d.skipText("description")
		case 3:
			return d.raw(&c.Score)
		case 4:
			return d.raw(&c.ScoreInPercentage)
		case 5:
			return d.skipText("implementationStatus")
		case 6:
			return d.raw(&c.Count)
		case 7:
			return d.raw(&c.Total)
		}
		return d.skipField(key)
	})
}

var vendorFields = newFields("provider", "providerVersion", "subProvider", "vendor")

// vendor decodes a pointer to a struct as encoding/json does: null sets it
// nil, an object fills the struct it points to (a new one if nil).
func (d *decoder) vendor(p **vendorWire) error {
	if ok, err := d.null(); ok || err != nil {
		*p = nil
		return err
	}
	if d.peek() != '{' {
		return d.wrongType("vendorInformation")
	}
	if *p == nil {
		*p = new(vendorWire)
	}
	v := *p
	return d.texts("vendorInformation", vendorFields, &v.Provider, &v.ProviderVersion, &v.SubProvider, &v.Vendor)
}

// texts decodes an object of strings only: ptrs are f's fields in order.
func (d *decoder) texts(what string, f *fields, ptrs ...*string) error {
	return d.object(what, func(key []byte) error {
		if i := f.index(key); i >= 0 {
			return d.text(f.names[i], ptrs[i])
		}
		return d.skipField(key)
	})
}

var profileFields = newFields("id", "azureTenantId", "actionType", "actionUrl", "controlCategory", "controlStateUpdates",
	"complianceInformation", "deprecated", "implementationCost", "lastModifiedDateTime", "maxScore", "rank",
	"remediation", "remediationImpact", "service", "threats", "tier", "title", "userImpact", "vendorInformation")

func (d *decoder) controlProfile(w *controlProfileWire) error {
	return d.object("a control profile", func(key []byte) error {
		switch profileFields.index(key) {
		case 0:
			return d.text("id", &w.ID)
		case 1:
			return d.text("azureTenantId", &w.AzureTenantID)
		case 2:
			return d.text("actionType", &w.ActionType)
		case 3:
			return d.text("actionUrl", &w.ActionURL)
		case 4:
			return d.text("controlCategory", &w.ControlCategory)
		case 5:
			return slice(d, "controlStateUpdates", &w.ControlStateUpdates, (*decoder).stateUpdate)
		case 6:
			return slice(d, "complianceInformation", &w.ComplianceInformation, (*decoder).compliance)
		case 7:
			return d.raw(&w.Deprecated)
		case 8:
			return d.text("implementationCost", &w.ImplementationCost)
		case 9:
			return d.text("lastModifiedDateTime", &w.LastModifiedDateTime)
		case 10:
			return d.raw(&w.MaxScore)
		case 11:
			return d.raw(&w.Rank)
		case 12:
			return d.text("remediation", &w.Remediation)
		case 13:
			return d.text("remediationImpact", &w.RemediationImpact)
		case 14:
			return d.text("service", &w.Service)
		case 15:
			return slice(d, "threats", &w.Threats, textElem)
		case 16:
			return d.text("tier", &w.Tier)
		case 17:
			return d.text("title", &w.Title)
		case 18:
			return d.text("userImpact", &w.UserImpact)
		case 19:
			return d.vendor(&w.VendorInformation)
		}
		return d.skipField(key)
	})
}

var stateUpdateFields = newFields("assignedTo", "comment", "state", "updatedBy", "updatedDateTime")

func (d *decoder) stateUpdate(u *controlStateUpdateWire) error {
	return d.texts("a control state update", stateUpdateFields, &u.AssignedTo, &u.Comment, &u.State, &u.UpdatedBy, &u.UpdatedDateTime)
}

var complianceFields = newFields("certificationName", "certificationControls")
var certControlFields = newFields("name", "url")

func (d *decoder) compliance(c *complianceInformatonWire) error {
	return d.object("complianceInformation", func(key []byte) error {
		switch complianceFields.index(key) {
		case 0:
			return d.text("certificationName", &c.CertificationName)
		case 1:
			return slice(d, "certificationControls", &c.CertificationControls, func(d *decoder, cc *struct {
				Name string `json:"name"`
				URL  string `json:"url"`
			}) error {
				return d.texts("a certification control", certControlFields, &cc.Name, &cc.URL)
			})
		}
		return d.skipField(key)
	})
}
