package configstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/vmfsrecover/vmfsrecover/netcfg/internal/fixture"
)

// ddl is the Config table as the research notes quote it from dissect.
const ddl = `CREATE TABLE Config (Component TEXT, ConfigGroup TEXT, Name TEXT, Identifier TEXT NOT NULL DEFAULT '',
 ModifiedTime DATETIME DEFAULT (datetime(CURRENT_TIMESTAMP)), CreationTime DATETIME, Version TEXT DEFAULT '',
 Success BOOLEAN DEFAULT 1, AutoConfValue TEXT, UserValue TEXT, VitalValue TEXT, CachedValue TEXT, DesiredValue TEXT,
 Revision INTEGER DEFAULT 0, PRIMARY KEY (Component, ConfigGroup, Name, Identifier))`

func manyRows(withoutRowid bool) (string, map[string]string) {
	var sb strings.Builder
	sb.WriteString("PRAGMA page_size=1024;\n")
	d := ddl
	if withoutRowid {
		d += " WITHOUT ROWID"
	}
	sb.WriteString(d + ";\nBEGIN;\n")
	want := map[string]string{}
	for i := 0; i < 400; i++ {
		id := fmt.Sprintf("id%04d", i)
		v := fmt.Sprintf(`{"device":"vmk%d","ip":{"ipv4_address":"10.0.%d.%d"}}`, i, i/250, i%250)
		if i == 7 {
			v = `{"blob":"` + strings.Repeat("x", 5000) + `"}` // spills into overflow pages
		}
		want[id] = v
		fmt.Fprintf(&sb, "INSERT INTO Config (Component, ConfigGroup, Name, Identifier, UserValue) VALUES ('esx','network','vmknics','%s','%s');\n", id, v)
	}
	sb.WriteString(`INSERT INTO Config (Component, ConfigGroup, Name, VitalValue, DesiredValue) VALUES ('esx','advanced_options','misc','{"host_name":"esx80","host_IP_addr":"198.51.100.21"}','{"host_name":"wanted"}');` + "\nCOMMIT;\n")
	return sb.String(), want
}

func TestReadConfigTable(t *testing.T) {
	for _, wr := range []bool{false, true} {
		t.Run(fmt.Sprintf("withoutRowid=%v", wr), func(t *testing.T) {
			sql, want := manyRows(wr)
			s, err := Open(fixture.SQLite(t, sql))
			if err != nil {
				t.Fatal(err)
			}
			rows := s.Find("esx", "network", "vmknics")
			if len(rows) != len(want) {
				t.Fatalf("%d vmknic rows, want %d", len(rows), len(want))
			}
			for _, r := range rows {
				v, col := r.Effective()
				if v != want[r.Identifier] || col != "UserValue" {
					t.Fatalf("%s: %q from %s", r.Identifier, v, col)
				}
			}
			misc := s.Find("esx", "advanced_options", "misc")
			if len(misc) != 1 || misc[0].Identifier != "" || misc[0].Values["DesiredValue"] != `{"host_name":"wanted"}` {
				t.Fatalf("misc: %+v", misc)
			}
			if v, col := misc[0].Effective(); col != "VitalValue" || !strings.Contains(v, "host_IP_addr") {
				t.Errorf("misc effective %q from %s", v, col)
			}
			if misc[0].Modified == "" {
				t.Error("ModifiedTime default not read")
			}
		})
	}
}

func TestCorruptDatabase(t *testing.T) {
	sql, _ := manyRows(false)
	db := fixture.SQLite(t, sql)
	if _, err := Open(db[:50]); !errors.Is(err, ErrNotSQLite) {
		t.Errorf("short: %v", err)
	}
	// Cut the file: pages referenced by the b-tree are missing.
	if _, err := Open(db[:len(db)/2]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated: %v", err)
	}
	// Point every interior page's right-most child at page 1... find the
	// first interior table page and make it reference itself.
	bad := bytes.Clone(db)
	ps := int(binary.BigEndian.Uint16(bad[16:]))
	for n := 2; n*ps <= len(bad); n++ {
		pg := bad[(n-1)*ps:]
		if pg[0] == 0x05 {
			binary.BigEndian.PutUint32(pg[8:], uint32(n))
			break
		}
	}
	var fe *FormatError
	if _, err := Open(bad); !errors.As(err, &fe) || !strings.Contains(fe.Msg, "twice") {
		t.Errorf("loop: %v", err)
	}
	noTable := fixture.SQLite(t, "CREATE TABLE Other (a TEXT);")
	if _, err := Open(noTable); !errors.Is(err, ErrNoTable) {
		t.Errorf("no Config table: %v", err)
	}
}

func TestParseColumns(t *testing.T) {
	cols, pk, wr := parseColumns(ddl + " WITHOUT ROWID")
	if len(cols) != 14 || cols[9] != "UserValue" || strings.Join(pk, ",") != "Component,ConfigGroup,Name,Identifier" || !wr {
		t.Errorf("%v %v %v", cols, pk, wr)
	}
}

func FuzzOpen(f *testing.F) {
	f.Add([]byte("SQLite format 3\x00\x04\x00"))
	f.Add(fixture.SQLite(f, ddl+`;
INSERT INTO Config (Component, ConfigGroup, Name, Identifier, UserValue) VALUES ('esx', 'network_vmknic', 'vmknic', 'vmk0', '{"ip": "10.0.0.5"}');`))
	// Whatever the bytes: an error of one of the package's classes, and
	// the same answer every time (no state kept between reads).
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Open(data)
		if err != nil && !errors.Is(err, ErrNotSQLite) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrNoTable) {
			t.Fatalf("error of no class: %v", err)
		}
		if err != nil && s == nil {
			return
		}
		again, err2 := Open(data)
		if fmt.Sprint(err) != fmt.Sprint(err2) || !reflect.DeepEqual(s, again) {
			t.Fatalf("two opens differ: %v / %v", err, err2)
		}
	})
}
