package vmdk

import (
	"path"
	"strings"
)

// IsExtentName reports names ESXi and Workstation give to the files a
// disk is made of besides its descriptor (flat, delta, SESparse, change
// tracking and RDM mapping extents): files whose name ends in .vmdk but
// which are not a disk of their own.
func IsExtentName(name string) bool {
	n := strings.ToLower(path.Base(name))
	for _, s := range []string{"-flat.vmdk", "-delta.vmdk", "-sesparse.vmdk", "-ctk.vmdk", "-rdm.vmdk", "-rdmp.vmdk"} {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// IsDiskName reports a name that a VMDK disk (a descriptor or a
// single-file sparse disk) carries: NAME.vmdk, not an extent's name.
func IsDiskName(name string) bool {
	return strings.HasSuffix(strings.ToLower(name), ".vmdk") && !IsExtentName(name)
}
