package configstore

import (
	"fmt"
	"strings"
)

// MaxSize bounds the database held in memory.
const MaxSize = 64 << 20

// Row is one Config row.
type Row struct {
	Component  string            `json:"component"`
	Group      string            `json:"group"`
	Name       string            `json:"name"`
	Identifier string            `json:"identifier"`
	Modified   string            `json:"modified,omitempty"`
	Values     map[string]string `json:"values"` // column -> JSON text, non-empty columns only
}

// valueColumns in the order Effective prefers them.
var valueColumns = []string{"UserValue", "VitalValue", "AutoConfValue", "CachedValue"}

// Effective returns the JSON value to use and the column it came from.
func (r *Row) Effective() (string, string) {
	for _, c := range valueColumns {
		if v := r.Values[c]; v != "" {
			return v, c
		}
	}
	return "", ""
}

// Address is component/group/name[/identifier].
func (r *Row) Address() string {
	a := r.Component + "/" + r.Group + "/" + r.Name
	if r.Identifier != "" {
		a += "[" + r.Identifier + "]"
	}
	return a
}

// Store is a decoded ConfigStore.
type Store struct {
	Rows []Row
}

// Open decodes a ConfigStore database held in memory.
func Open(data []byte) (*Store, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: ConfigStore of %d bytes exceeds the %d-byte limit", ErrUnsupported, len(data), MaxSize)
	}
	cols, rows, err := readTable(data, "Config")
	if err != nil && len(rows) == 0 {
		return nil, err
	}
	idx := map[string]int{}
	for i, c := range cols {
		idx[strings.ToLower(c)] = i
	}
	for _, need := range []string{"component", "configgroup", "name"} {
		if _, ok := idx[need]; !ok {
			return nil, fmt.Errorf("%w: table Config has no %s column (columns: %v)", ErrUnsupported, need, cols)
		}
	}
	get := func(r []any, col string) string {
		i, ok := idx[strings.ToLower(col)]
		if !ok || i >= len(r) || r[i] == nil {
			return ""
		}
		switch v := r[i].(type) {
		case string:
			return v
		case []byte:
			return string(v)
		default:
			return fmt.Sprint(v)
		}
	}
	s := &Store{}
	for _, r := range rows {
		row := Row{
			Component: get(r, "Component"), Group: get(r, "ConfigGroup"), Name: get(r, "Name"),
			Identifier: get(r, "Identifier"), Modified: get(r, "ModifiedTime"), Values: map[string]string{},
		}
		for _, c := range append(valueColumns, "DesiredValue") {
			if v := strings.TrimSpace(get(r, c)); v != "" {
				row.Values[c] = v
			}
		}
		s.Rows = append(s.Rows, row)
	}
	return s, err
}

// Find returns the rows at component/group/name, in stored order.
func (s *Store) Find(component, group, name string) []Row {
	var out []Row
	for _, r := range s.Rows {
		if r.Component == component && r.Group == group && (name == "" || r.Name == name) {
			out = append(out, r)
		}
	}
	return out
}
