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
func LoadFile(path string, opt Options) (*netcfg.Input, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return LoadDir(os.DirFS(path), path)
	}
	d, err := source.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	head := make([]byte, 1024)
	n, _ := d.ReadAt(head, 0)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("DataTransformEnvelope")) {
		for _, name := range []string{"encryption.info", ".#encryption.info"} {
			if opt.EncryptionInfo != nil {
				break
			}
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

// LoadDir reads an unpacked configuration: a mounted or copied bootbank
// (boot.cfg and state.tgz), an extracted local.tgz or vm-support bundle
// (etc/vmware/esx.conf, possibly inside one top-level folder).
func LoadDir(fsys fs.FS, name string) (*netcfg.Input, error) {
	if _, err := fs.Stat(fsys, "state.tgz"); err == nil {
		f, err := fsys.Open("state.tgz")
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in, err := loadTgz(f, name+"/state.tgz", Options{})
		if err != nil {
			return nil, err
		}
		if cfg, err := fs.ReadFile(fsys, "boot.cfg"); err == nil {
			in.BootBuild = ParseBootCfg(cfg).Build
		}
		return in, nil
	}
	root := "."
	if _, err := fs.Stat(fsys, pathEsxConf); err != nil {
		// An extracted bundle: one folder down.
		entries, _ := fs.ReadDir(fsys, ".")
		for _, e := range entries {
			if _, err := fs.Stat(fsys, e.Name()+"/"+pathEsxConf); err == nil && e.IsDir() {
				root = e.Name()
				break
			}
		}
	}
	files := map[string][]byte{}
	for _, p := range []string{pathEsxConf, pathHosts, pathResolv, pathLocalSh, pathDvsData, pathConfigStore, pathConfigStoreLive} {
		full := p
		if root != "." {
			full = root + "/" + p
		}
		fi, err := fs.Stat(fsys, full)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if fi.Size() > maxMember {
			return nil, fmt.Errorf("%s/%s: %w: larger than %d bytes", name, full, ErrArchive, maxMember)
		}
		b, err := fs.ReadFile(fsys, full)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", name, full, err)
		}
		if p == pathConfigStoreLive {
			p = pathConfigStore
		}
		files[p] = b
	}
	base := name
	if root != "." {
		base = name + "/" + root
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: %w: neither state.tgz nor %s in the folder", name, ErrNoConfig, pathEsxConf)
	}
	return fromLocal(files, &netcfg.Input{}, base)
}
