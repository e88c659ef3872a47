package bootbank

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vmfsrecover/vmfsrecover/netcfg"
	"github.com/vmfsrecover/vmfsrecover/recover/source"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

// LoadFile loads the configuration from a local path: any source Load
// accepts, or a VMDK virtual disk (descriptor, sparse or stream-optimized)
// of an ESXi boot disk. For a bare local.tgz.ve, encryption.info (or
// .#encryption.info) is read from the same folder.
func LoadFile(path string) (*netcfg.Input, error) {
	d, err := source.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	head := make([]byte, 1024)
	n, _ := d.ReadAt(head, 0)
	head = head[:n]
	var opt Options
	if bytes.HasPrefix(head, []byte("DataTransformEnvelope")) {
		for _, name := range []string{"encryption.info", ".#encryption.info"} {
			if b, err := os.ReadFile(filepath.Join(filepath.Dir(path), name)); err == nil {
				opt.EncryptionInfo = b
				break
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
	}
	if isVMDK(head) {
		v, err := vmdk.Open(path, &vmdk.Options{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer v.Close()
		in, err := Load(v, v.Size(), path+" (VMDK)", opt)
		if err != nil {
			return nil, err
		}
		for _, w := range v.Warnings() {
			in.Notes = append(in.Notes, "VMDK: "+w)
		}
		return in, nil
	}
	return Load(d, d.Size(), path, opt)
}

// isVMDK recognises a hosted sparse extent (KDMV), an ESX 2.x/3.x COWD
// file, or a text descriptor.
func isVMDK(head []byte) bool {
	return bytes.HasPrefix(head, []byte("KDMV")) || bytes.HasPrefix(head, []byte("COWD")) ||
		bytes.Contains(head, []byte("# Disk DescriptorFile")) || bytes.Contains(head, []byte("createType="))
}
