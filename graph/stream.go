package graph

import "io"

// A page is decoded from the stream as it arrives through a window a few
// of its elements wide, not read whole first: a 90-day secureScores page is
// about 7 MB, and reading each whole (into a buffer grown by doubling) held
// up to 16 MB per page in flight, most of a backfill's heap. The decoder is
// the same one-pass decoder over a []byte (decoder.data is the window):
//
//   - Before each element of the page's "value" array, the window is
//     filled to twice the largest element so far, the bytes already decoded
//     dropped first (the window compacted) when they are more than half of it. Nothing then refers to
//     the dropped bytes: the decoder copies every string it keeps.
//   - An element that runs past the window ends in io.ErrUnexpectedEOF (a
//     value cut short is never anything else: a cut number is accepted and
//     the byte after it is missing). Unless the stream has ended, the
//     window is widened and the element decoded again into the same
//     target, from its start: the first attempt set only what the same
//     bytes set again, so the result is the same as one pass over the page.
//   - After an element, the next byte is read; when it is not a comma (the
//     array ends, or the page is broken) the rest of the page is read whole.
//   - Before the first element, a page head longer than the window (no
//     real page has one) is read whole and the page decoded again from the
//     start.
//
// So the decoder sees exactly the bytes it would see in the whole page,
// and TestDecoderAgrees and FuzzDecoderAgrees hold the streamed decoding,
// with windows down to one byte, to the whole-page one.

// stream is the reader a decoder's window is filled from.
type stream struct {
	r         io.Reader
	eof       bool // r has ended (or failed: the reader keeps its error)
	window    int  // the least window before an element
	maxElem   int  // the largest element so far, in bytes
	compacted bool // bytes before the window were dropped: no restart
}

// defaultWindow is the least window: a real element (a day's snapshot) is
// about 80 KB.
const defaultWindow = 128 << 10

// readChunk is the least room a read is given.
const readChunk = 32 << 10

// freeWindows holds windows for reuse; one is rarely larger than a few
// hundred KB, and larger ones are not kept.
var freeWindows = make(chan []byte, 16)

const maxPooledWindow = 1 << 20

// fill reads until the window holds at least want bytes from d.i, or the
// stream ends.
func (s *stream) fill(d *decoder, want int) {
	for !s.eof && len(d.data)-d.i < want {
		if cap(d.data)-len(d.data) < readChunk {
			grown := make([]byte, len(d.data), max(2*cap(d.data), len(d.data)+max(want, readChunk)))
			copy(grown, d.data)
			d.data = grown
		}
		n, err := s.r.Read(d.data[len(d.data):cap(d.data)])
		d.data = d.data[:len(d.data)+n]
		if err != nil {
			s.eof = true
		}
	}
}

// fillAll reads the rest of the stream into the window.
func (s *stream) fillAll(d *decoder) {
	for !s.eof {
		s.fill(d, len(d.data)-d.i+readChunk)
	}
}

// compact drops the window's bytes before d.i.
func (d *decoder) compact() {
	if d.i == 0 {
		return
	}
	n := copy(d.data, d.data[d.i:])
	d.data = d.data[:n]
	d.base += int64(d.i)
	d.i = 0
	d.src.compacted = true
}

// streamElem decodes one element of a page's "value" array from the stream.
func streamElem[T any](d *decoder, v *T, elem func(*decoder, *T) error) error {
	s := d.src
	if want := max(s.window, 2*s.maxElem); len(d.data)-d.i < want && !s.eof {
		if d.i > cap(d.data)/2 {
			d.compact() // what is left to decode moves down, less than half the window
		}
		s.fill(d, want)
	}
	for {
		start, depth := d.i, d.depth
		err := elem(d, v)
		if err == nil {
			s.maxElem = max(s.maxElem, d.i-start)
			break
		}
		if err != io.ErrUnexpectedEOF || s.eof {
			return err
		}
		d.i, d.depth = start, depth
		s.fill(d, 2*(len(d.data)-start)+1)
	}
	// What follows: a comma needs nothing more (the next element fills
	// the window); anything else, the rest of the page.
	for d.peek() == 0 && !s.eof {
		s.fill(d, len(d.data)-d.i+1)
	}
	if d.peek() != ',' {
		s.fillAll(d)
	}
	return nil
}

// decodeStream decodes one page (a *page of a wire type) from r as
// unmarshal decodes it whole, through a window of at least window bytes.
// It reports false when v is not a page, for the caller to read the body
// whole.
func decodeStream(r io.Reader, v any, window int) (bool, error) {
	var reset func()
	switch v := v.(type) {
	case *page[secureScoreWire]:
		reset = func() { *v = page[secureScoreWire]{} }
	case *page[controlProfileWire]:
		reset = func() { *v = page[controlProfileWire]{} }
	case *page[rawScore]:
		reset = func() { *v = page[rawScore]{} }
	default:
		return false, nil
	}
	s := &stream{r: r, window: max(window, 1)}
	d := &decoder{src: s}
	select {
	case d.data = <-freeWindows:
		d.data = d.data[:0]
	default:
	}
	defer func() {
		if cap(d.data) <= maxPooledWindow {
			select {
			case freeWindows <- d.data:
			default:
			}
		}
	}()
	s.fill(d, s.window)
	for {
		err := decodeTop(d, v)
		if err == io.ErrUnexpectedEOF && !s.compacted && !s.eof {
			// The page's head did not fit the window: read it all.
			s.fillAll(d)
			reset()
			d.i, d.depth = 0, 0
			continue
		}
		if err != nil {
			return true, err
		}
		break
	}
	s.fillAll(d)
	d.ws()
	if d.i < len(d.data) {
		return true, d.syntax("after the top-level value")
	}
	return true, nil
}
