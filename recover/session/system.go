package session

import (
	"io/fs"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/recover/deepscan"
	"github.com/vmfsrecover/vmfsrecover/vmfs"
)

// SystemFile reports the volume's own metadata files: the .NAME.sf files
// and folders at the root of a VMFS volume (.fdc.sf, .pbc.sf, .sbc.sf,
// .vh.sf, .pb2.sf, .fbb.sf, .jbc.sf, .sdd.sf), and any entry whose file
// descriptor says "system" (a deep scan finds them anywhere). They hold the
// volume's structures, not user data: listings and exports leave them out
// unless asked for. name is the fs.FS path ("a/b"); info may be nil.
func SystemFile(name string, info fs.FileInfo) bool {
	if info != nil {
		switch a := info.Sys().(type) {
		case *vmfs.Attributes:
			if a.Type == "system" {
				return true
			}
		case *deepscan.Finding:
			if a.VMFS != nil && a.VMFS.Type == "system" {
				return true
			}
		}
	}
	if strings.Contains(name, "/") || !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".sf") || len(name) < 5 {
		return false
	}
	for _, r := range name[1 : len(name)-3] {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
