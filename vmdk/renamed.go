package vmdk

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Ransomware, and admins in a hurry, rename files: "base.vmdk" becomes
// "base.vmdk.locked", and a snapshot's parent or an extent is then missing
// under the name its descriptor gives. The functions here find such a file
// by what it is, in the same folder, and the caller says so in a warning.

// maxRenameProbe bounds the files of one folder examined.
const maxRenameProbe = 1024

// parentByCID finds, in the folder of l, the one disk whose descriptor has
// the CID that l's parentCID names, leaving out the links already in the
// chain. It reports the candidates when there are several.
func (d *Disk) parentByCID(fsys fs.FS, l *link, seen map[string]bool) (string, error) {
	want := l.desc.ParentCID
	if want == 0xFFFFFFFF {
		return "", nil
	}
	var found []string
	for _, name := range folderFiles(fsys, path.Dir(l.path)) {
		if seen[name] {
			continue
		}
		if desc := d.peekDescriptor(fsys, name); desc != nil && desc.CID == want {
			found = append(found, name)
		}
	}
	if len(found) > 1 {
		for i := range found {
			found[i] = d.prefix + found[i]
		}
		return "", fmt.Errorf("%d disks in the folder have the CID %08x it names (%s); rename the right one to the name the hint gives", len(found), want, strings.Join(found, ", "))
	}
	if len(found) == 0 {
		return "", nil
	}
	return found[0], nil
}

// renamedExtent finds, beside the missing extent name, the one file whose
// name is name with something appended ("-flat.vmdk.locked") and that is
// large enough to hold need bytes.
func (d *Disk) renamedExtent(fsys fs.FS, name string, need int64) (*file, bool) {
	var found []string
	for _, f := range folderFiles(fsys, path.Dir(name)) {
		if strings.HasPrefix(f, name) && len(f) > len(name) {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		return nil, false
	}
	f, err := openFile(fsys, found[0], d.prefix+found[0])
	if err != nil {
		return nil, false
	}
	if f.size < need {
		f.c.Close()
		return nil, false
	}
	return f, true
}

// folderFiles lists the regular files of dir, up to maxRenameProbe.
func folderFiles(fsys fs.FS, dir string) []string {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if len(out) == maxRenameProbe {
			break
		}
		if e.Type().IsRegular() {
			out = append(out, path.Join(dir, e.Name()))
		}
	}
	return out
}

// peekDescriptor returns the descriptor of name, a text descriptor or a
// sparse file's embedded one, or nil when it has none that parses.
func (d *Disk) peekDescriptor(fsys fs.FS, name string) *Descriptor {
	f, err := openFile(fsys, name, d.prefix+name)
	if err != nil {
		return nil
	}
	defer f.c.Close()
	head := make([]byte, min(f.size, headSize))
	if err := f.readFull(head, 0, "head"); err != nil {
		return nil
	}
	var text []byte
	switch {
	case f.size <= MaxDescriptorSize && looksLikeDescriptor(head):
		text = make([]byte, f.size)
		if f.readFull(text, 0, "descriptor") != nil {
			return nil
		}
	case sparseKind(head) == "KDMV":
		h, err := decodeSparseHeader(f, 0)
		if err != nil {
			return nil
		}
		if text, err = embeddedDescriptor(f, h); err != nil || text == nil {
			return nil
		}
	default:
		return nil
	}
	desc, err := ParseDescriptor(text)
	if err != nil {
		return nil
	}
	return desc
}
