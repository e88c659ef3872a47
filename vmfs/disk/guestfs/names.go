package guestfs

import "fmt"

// Names makes the names of a directory's entries unique as the readers
// list them: a live entry whose name (as the file system compares names)
// is taken is left out, the first wins; a deleted one is renamed
// NAME~deleted-ID, and left out when that name is taken too. Offer the
// live entries first.
type Names struct {
	fold func(string) string
	seen map[string]bool
}

// NewNames returns Names that compare names by fold(name): strings.ToLower
// where names are case-insensitive, nil where they are compared as bytes.
func NewNames(fold func(string) string) *Names {
	if fold == nil {
		fold = func(s string) string { return s }
	}
	return &Names{fold: fold, seen: map[string]bool{}}
}

// Take returns the name to list an entry under, or false to leave it out;
// id is the deleted entry's inode, MFT record or first cluster.
func (n *Names) Take(name string, deleted bool, id uint64) (string, bool) {
	if n.seen[n.fold(name)] {
		if !deleted {
			return "", false
		}
		name = fmt.Sprintf("%s~deleted-%d", name, id)
		if n.seen[n.fold(name)] {
			return "", false
		}
	}
	n.seen[n.fold(name)] = true
	return name, true
}
