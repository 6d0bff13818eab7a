package server

// Compression of answers: every gzip the server sends is written here,
// with klauspost/compress (the same formats as the standard library's,
// at a third to a fifth of its CPU on the server's pages and JSON) and
// writers from a pool (a deflate writer holds about a megabyte of
// tables: made for each answer, it was most of the garbage of a tenant's
// API routes).

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
)

// compressLevel is the level of every answer compressed: measured on a
// tenant's page (370 KB of HTML), its scores (240 KB of JSON) and
// /metrics at 1,000 tenants (2.1 MB), klauspost's level 3 takes 0.5-0.6 ms
// for the first two, a fifth of the standard library's default level,
// for a fifth more bytes. Most answers are compressed for one request
// (another tenant's each time), so CPU counts more than bytes on a LAN.
const compressLevel = 3

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, compressLevel)
	return w
}}

// newGzip is a pooled gzip writer to w; putGzip returns it once closed.
func newGzip(w io.Writer) *gzip.Writer {
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(w)
	return zw
}

func putGzip(zw *gzip.Writer) {
	zw.Reset(io.Discard)
	gzipWriters.Put(zw)
}

// gzipBytes is b as one gzip member.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b)/8 + 64)
	zw := newGzip(&buf)
	zw.Write(b)
	zw.Close()
	putGzip(zw)
	return buf.Bytes()
}

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(io.Discard, compressLevel)
	return w
}}

// deflateFlushed is b compressed as raw deflate blocks, none final, ending
// on a byte boundary (a sync flush): such pieces can be sent one after
// the other as one stream.
func deflateFlushed(b []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(b)/8 + 64)
	deflateTo(&out, b)
	return out.Bytes()
}

func deflateTo(out io.Writer, b []byte) {
	zw := flateWriters.Get().(*flate.Writer)
	zw.Reset(out)
	zw.Write(b)
	zw.Flush()
	zw.Reset(io.Discard)
	flateWriters.Put(zw)
}

// deflated is a piece of an answer compressed once and sent many times
// inside a gzip member (gzipMember).
type deflated struct {
	raw  int    // its length before compression
	crc  uint32 // its CRC-32 (IEEE)
	data []byte // deflateFlushed
}

func deflatePiece(b []byte) deflated {
	return deflated{raw: len(b), crc: crc32.ChecksumIEEE(b), data: deflateFlushed(b)}
}

// gzipMember writes one gzip member to w from pieces compressed before
// (kept) and bytes of this answer (stored as they are, or compressed
// now): the header, the pieces' deflate blocks one after the other, then
// an empty final block and the trailer, the checksum combined from the
// pieces' own (crc32Combine).
type gzipMember struct {
	w    io.Writer
	buf  bytes.Buffer // what is not written yet
	crc  uint32
	size int64
}

func newGzipMember(w io.Writer) *gzipMember {
	g := &gzipMember{w: w}
	g.buf.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	return g
}

func (g *gzipMember) flush() {
	if g.buf.Len() > 0 {
		g.w.Write(g.buf.Bytes())
		g.buf.Reset()
	}
}

// kept sends a piece compressed before.
func (g *gzipMember) kept(p deflated) {
	g.flush()
	g.w.Write(p.data)
	g.crc = crc32Combine(g.crc, p.crc, int64(p.raw))
	g.size += int64(p.raw)
}

// stored sends b as stored blocks: for the few bytes a request fills in.
func (g *gzipMember) stored(b []byte) {
	storedBlocks(&g.buf, b)
	g.add(b)
}

// compressed sends b compressed now.
func (g *gzipMember) compressed(b []byte) {
	if len(b) == 0 {
		return
	}
	deflateTo(&g.buf, b)
	g.add(b)
}

func (g *gzipMember) add(b []byte) {
	g.crc = crc32.Update(g.crc, crc32.IEEETable, b)
	g.size += int64(len(b))
}

// close ends the member.
func (g *gzipMember) close() {
	g.buf.Write([]byte{1, 0, 0, 0xff, 0xff}) // the final block, empty and stored
	var tr [8]byte
	binary.LittleEndian.PutUint32(tr[:4], g.crc)
	binary.LittleEndian.PutUint32(tr[4:], uint32(g.size))
	g.buf.Write(tr[:])
	g.flush()
}

// storedBlocks writes b as stored (uncompressed) deflate blocks, none
// final; the stream is on a byte boundary before and after.
func storedBlocks(out *bytes.Buffer, b []byte) {
	for len(b) > 0 {
		n := min(len(b), 0xffff)
		out.Write([]byte{0, byte(n), byte(n >> 8), ^byte(n), ^byte(n >> 8)})
		out.Write(b[:n])
		b = b[n:]
	}
}

// crc32Combine is the CRC-32 (IEEE) of a+b from crc1 of a, crc2 of b and
// b's length (zlib's crc32_combine).
func crc32Combine(crc1, crc2 uint32, len2 int64) uint32 {
	if len2 <= 0 {
		return crc1
	}
	var even, odd [32]uint32
	odd[0] = 0xedb88320 // the reversed polynomial
	row := uint32(1)
	for n := 1; n < 32; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four
	// Then one zero byte, two, four...: applied for each bit of len2.
	mats := [2]*[32]uint32{&even, &odd}
	for i := 0; len2 != 0; i ^= 1 {
		gf2Square(mats[i], mats[i^1])
		if len2&1 != 0 {
			crc1 = gf2Times(mats[i], crc1)
		}
		len2 >>= 1
	}
	return crc1 ^ crc2
}

func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for n := range 32 {
		square[n] = gf2Times(mat, mat[n])
	}
}

// pieceText is a piece's text again: its blocks, then an empty final
// one, inflated.
func pieceText(p deflated) []byte {
	zr := flate.NewReader(io.MultiReader(bytes.NewReader(p.data), bytes.NewReader([]byte{1, 0, 0, 0xff, 0xff})))
	defer zr.Close()
	out := make([]byte, 0, p.raw)
	buf := bytes.NewBuffer(out)
	if _, err := io.Copy(buf, zr); err != nil {
		// Our own bytes: a failure is a bug, not an input.
		panic("inflate a kept piece: " + err.Error())
	}
	return buf.Bytes()
}
