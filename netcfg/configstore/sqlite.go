package configstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// This file is a minimal, read-only reader of the SQLite 3 file format: the
// 100-byte header, table and index b-tree pages, overflow chains and the
// record format. It reads one table's rows and nothing else.

var (
	ErrNotSQLite   = errors.New("not an SQLite 3 database")
	ErrCorrupt     = errors.New("corrupt SQLite database")
	ErrUnsupported = errors.New("unsupported SQLite feature")
	ErrNoTable     = errors.New("table not found")
)

// FormatError is a structural problem at a byte offset of the database.
type FormatError struct {
	Page int64 // 1-based page number, 0 for the header
	Off  int64 // byte offset in the file
	Msg  string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("SQLite page %d (byte %d): %s", e.Page, e.Off, e.Msg)
}

func (e *FormatError) Unwrap() error { return ErrCorrupt }

type db struct {
	data     []byte
	pageSize int64
	usable   int64
	pages    int64
}

func openDB(data []byte) (*db, error) {
	if len(data) < 100 || string(data[:16]) != "SQLite format 3\x00" {
		return nil, fmt.Errorf("%w: header magic missing", ErrNotSQLite)
	}
	ps := int64(binary.BigEndian.Uint16(data[16:]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return nil, &FormatError{0, 16, fmt.Sprintf("page size %d", ps)}
	}
	reserved := int64(data[20])
	if enc := binary.BigEndian.Uint32(data[56:]); enc > 1 {
		return nil, fmt.Errorf("%w: text encoding %d (only UTF-8 is read)", ErrUnsupported, enc)
	}
	d := &db{data: data, pageSize: ps, usable: ps - reserved, pages: int64(len(data)) / ps}
	if d.usable < 480 {
		return nil, &FormatError{0, 20, fmt.Sprintf("usable page size %d", d.usable)}
	}
	return d, nil
}

func (d *db) page(n int64) ([]byte, error) {
	if n < 1 || n > d.pages {
		return nil, &FormatError{n, (n - 1) * d.pageSize, fmt.Sprintf("page %d outside 1..%d", n, d.pages)}
	}
	return d.data[(n-1)*d.pageSize : n*d.pageSize], nil
}

func varint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < 9 && i < len(b); i++ {
		if i == 8 {
			return v<<8 | uint64(b[i]), 9
		}
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// walk calls fn with the payload of every cell of the b-tree rooted at root,
// in key order. Pages are visited once (a loop is corruption).
func (d *db) walk(root int64, fn func(payload []byte) error) error {
	seen := map[int64]bool{}
	var visit func(n int64, depth int) error
	visit = func(n int64, depth int) error {
		if seen[n] {
			return &FormatError{n, (n - 1) * d.pageSize, "b-tree page visited twice (loop)"}
		}
		if depth > 64 {
			return &FormatError{n, (n - 1) * d.pageSize, "b-tree deeper than 64 levels"}
		}
		seen[n] = true
		pg, err := d.page(n)
		if err != nil {
			return err
		}
		hdr := int64(0)
		if n == 1 {
			hdr = 100
		}
		typ := pg[hdr]
		cells := int64(binary.BigEndian.Uint16(pg[hdr+3:]))
		interior := typ == 0x05 || typ == 0x02
		ptrs := hdr + 8
		if interior {
			ptrs = hdr + 12
		}
		if typ != 0x05 && typ != 0x0D && typ != 0x02 && typ != 0x0A {
			return &FormatError{n, (n-1)*d.pageSize + hdr, fmt.Sprintf("page type 0x%02x is not a b-tree page", typ)}
		}
		if ptrs+2*cells > d.usable {
			return &FormatError{n, (n-1)*d.pageSize + hdr, fmt.Sprintf("%d cells do not fit the page", cells)}
		}
		for i := int64(0); i < cells; i++ {
			off := int64(binary.BigEndian.Uint16(pg[ptrs+2*i:]))
			if off < ptrs || off >= d.usable {
				return &FormatError{n, (n-1)*d.pageSize + off, fmt.Sprintf("cell %d pointer %d outside the page", i, off)}
			}
			c := pg[off:d.usable]
			if interior {
				if len(c) < 4 {
					return &FormatError{n, (n-1)*d.pageSize + off, "interior cell cut short"}
				}
				if err := visit(int64(binary.BigEndian.Uint32(c)), depth+1); err != nil {
					return err
				}
				if typ == 0x05 {
					continue
				}
				c = c[4:]
			}
			size, k := varint(c)
			if k == 0 {
				return &FormatError{n, (n-1)*d.pageSize + off, "bad payload-size varint"}
			}
			c = c[k:]
			if typ == 0x0D {
				_, k = varint(c) // rowid
				if k == 0 {
					return &FormatError{n, (n-1)*d.pageSize + off, "bad rowid varint"}
				}
				c = c[k:]
			}
			p, err := d.payload(n, off, c, int64(size), typ == 0x0D)
			if err != nil {
				return err
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		if interior {
			return visit(int64(binary.BigEndian.Uint32(pg[hdr+8:])), depth+1)
		}
		return nil
	}
	return visit(root, 0)
}

// payload assembles a cell's payload, following its overflow chain.
func (d *db) payload(pageNo, off int64, c []byte, size int64, table bool) ([]byte, error) {
	if size > int64(len(d.data)) {
		return nil, &FormatError{pageNo, (pageNo-1)*d.pageSize + off, fmt.Sprintf("payload of %d bytes exceeds the file", size)}
	}
	u := d.usable
	x := u - 35
	if !table {
		x = (u-12)*64/255 - 23
	}
	if size <= x {
		if size > int64(len(c)) {
			return nil, &FormatError{pageNo, (pageNo-1)*d.pageSize + off, "payload runs past the page"}
		}
		return c[:size], nil
	}
	m := (u-12)*32/255 - 23
	local := m + (size-m)%(u-4)
	if local > x {
		local = m
	}
	if local+4 > int64(len(c)) {
		return nil, &FormatError{pageNo, (pageNo-1)*d.pageSize + off, "payload runs past the page"}
	}
	out := make([]byte, 0, size)
	out = append(out, c[:local]...)
	next := int64(binary.BigEndian.Uint32(c[local:]))
	seen := map[int64]bool{}
	for int64(len(out)) < size {
		if seen[next] {
			return nil, &FormatError{next, (next - 1) * d.pageSize, "overflow chain loops"}
		}
		seen[next] = true
		pg, err := d.page(next)
		if err != nil {
			return nil, err
		}
		take := min(size-int64(len(out)), u-4)
		out = append(out, pg[4:4+take]...)
		next = int64(binary.BigEndian.Uint32(pg))
	}
	return out, nil
}

// record decodes an SQLite record into Go values: nil, int64, float64,
// string (TEXT) or []byte (BLOB).
func record(p []byte) ([]any, error) {
	hs, k := varint(p)
	if k == 0 || hs > uint64(len(p)) || hs < uint64(k) {
		return nil, fmt.Errorf("%w: record header size %d", ErrCorrupt, hs)
	}
	hdr := p[k:hs]
	body := p[hs:]
	var out []any
	for len(hdr) > 0 {
		st, k := varint(hdr)
		if k == 0 {
			return nil, fmt.Errorf("%w: bad serial type", ErrCorrupt)
		}
		hdr = hdr[k:]
		var n uint64
		switch {
		case st == 0 || st == 8 || st == 9:
			n = 0
		case st <= 4:
			n = st
		case st == 5:
			n = 6
		case st == 6 || st == 7:
			n = 8
		case st >= 12:
			n = (st - 12) / 2
		default:
			return nil, fmt.Errorf("%w: reserved serial type %d", ErrCorrupt, st)
		}
		if n > uint64(len(body)) {
			return nil, fmt.Errorf("%w: field of %d bytes past the record", ErrCorrupt, n)
		}
		v := body[:n]
		body = body[n:]
		switch {
		case st == 0:
			out = append(out, nil)
		case st == 8:
			out = append(out, int64(0))
		case st == 9:
			out = append(out, int64(1))
		case st <= 6:
			var x int64
			if v[0]&0x80 != 0 {
				x = -1
			}
			for _, b := range v {
				x = x<<8 | int64(b)
			}
			out = append(out, x)
		case st == 7:
			out = append(out, math.Float64frombits(binary.BigEndian.Uint64(v)))
		case st%2 == 1:
			out = append(out, string(v))
		default:
			out = append(out, bytes.Clone(v))
		}
	}
	return out, nil
}

// readTable returns the column names and rows of table name.
func readTable(data []byte, name string) ([]string, [][]any, error) {
	d, err := openDB(data)
	if err != nil {
		return nil, nil, err
	}
	var root int64
	var sql string
	err = d.walk(1, func(p []byte) error {
		r, err := record(p)
		if err != nil {
			return err
		}
		if len(r) >= 5 && r[0] == "table" && strings.EqualFold(fmt.Sprint(r[1]), name) {
			if n, ok := r[3].(int64); ok {
				root = n
			}
			sql, _ = r[4].(string)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("schema: %w", err)
	}
	if root == 0 {
		return nil, nil, fmt.Errorf("%w: %s", ErrNoTable, name)
	}
	cols, pk, withoutRowid := parseColumns(sql)
	if len(cols) == 0 {
		return nil, nil, fmt.Errorf("%w: cannot read the columns of %q", ErrUnsupported, sql)
	}
	if withoutRowid {
		// A WITHOUT ROWID table stores its primary-key columns first.
		var order []string
		for _, p := range pk {
			order = append(order, p)
		}
		for _, c := range cols {
			if !contains(pk, c) {
				order = append(order, c)
			}
		}
		cols = order
	}
	var rows [][]any
	err = d.walk(root, func(p []byte) error {
		r, err := record(p)
		if err != nil {
			return err
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return cols, rows, fmt.Errorf("table %s: %w", name, err)
	}
	return cols, rows, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// parseColumns reads column names, primary-key columns and WITHOUT ROWID
// from a CREATE TABLE statement.
func parseColumns(sql string) (cols, pk []string, withoutRowid bool) {
	open := strings.IndexByte(sql, '(')
	close := strings.LastIndexByte(sql, ')')
	if open < 0 || close < open {
		return nil, nil, false
	}
	withoutRowid = strings.Contains(strings.ToUpper(sql[close:]), "WITHOUT ROWID")
	var parts []string
	depth, start := 0, open+1
	for i := open + 1; i < close; i++ {
		switch sql[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, sql[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, sql[start:close])
	unquote := func(s string) string { return strings.Trim(s, "\"`[]'") }
	for _, p := range parts {
		f := strings.Fields(p)
		if len(f) == 0 {
			continue
		}
		up := strings.ToUpper(f[0])
		switch up {
		case "PRIMARY", "UNIQUE", "CONSTRAINT", "CHECK", "FOREIGN":
			if up == "PRIMARY" {
				in := p[strings.IndexByte(p, '(')+1:]
				if i := strings.IndexByte(in, ')'); i >= 0 {
					for _, c := range strings.Split(in[:i], ",") {
						if c = unquote(strings.Fields(c + " x")[0]); c != "x" {
							pk = append(pk, c)
						}
					}
				}
			}
			continue
		}
		cols = append(cols, unquote(f[0]))
		if strings.Contains(strings.ToUpper(p), "PRIMARY KEY") {
			pk = append(pk, unquote(f[0]))
		}
	}
	return cols, pk, withoutRowid
}
