package bootbank

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/vmfsrecover/vmfsrecover/netcfg"
	"github.com/vmfsrecover/vmfsrecover/vmdk"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk"
)

// LoadFrom loads the configuration from where a SOURCE is (see
// disk.LocateOrOpen): the file system its path lives in, local or a
// host's over SFTP (LoadFS), or a whole boot disk, an NBD export (Load).
func LoadFrom(loc *disk.Location, opt Options) (*netcfg.Input, error) {
	if loc.Disk != nil {
		return Load(loc.Disk, loc.Disk.Size(), loc.Spec, opt)
	}
	return LoadFS(loc.FS, loc.Name, loc.Spec, opt)
}

// LoadFS loads the configuration from name in fsys (whose files implement
// io.ReaderAt), called display in messages (the command line passes the
// file system a SOURCE path lives in, local or a host's over SFTP, see
// disk.Locate; an NBD export is a disk, for Load): a folder (see LoadDir), any
// source Load accepts, or a VMDK virtual disk (descriptor, sparse or
// stream-optimized) of an ESXi boot disk. For a bare local.tgz.ve,
// encryption.info (or .#encryption.info) is read from the same folder.
func LoadFS(fsys fs.FS, name, display string, opt Options) (*netcfg.Input, error) {
	if fi, err := fs.Stat(fsys, name); err == nil && fi.IsDir() {
		sub, err := fs.Sub(fsys, name)
		if err != nil {
			return nil, err
		}
		return LoadDir(sub, display)
	}
	d, err := disk.OpenIn(fsys, name)
	if err != nil {
		return nil, renamed(err, display)
	}
	defer d.Close()
	head := make([]byte, 1024)
	n, _ := d.ReadAt(head, 0)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("DataTransformEnvelope")) {
		for _, info := range []string{"encryption.info", ".#encryption.info"} {
			if opt.EncryptionInfo != nil {
				break
			}
			if b, err := fs.ReadFile(fsys, path.Join(path.Dir(name), info)); err == nil {
				opt.EncryptionInfo = b
				break
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, renamed(err, path.Join(path.Dir(display), info))
			}
		}
	}
	if isVMDK(head) {
		v, err := vmdk.OpenFS(fsys, name, &vmdk.Options{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", display, err)
		}
		defer v.Close()
		in, err := Load(v, v.Size(), display+" (VMDK)", opt)
		if err != nil {
			return nil, err
		}
		for _, w := range v.Warnings() {
			in.Notes = append(in.Notes, "VMDK: "+w)
		}
		return in, nil
	}
	return Load(d, d.Size(), display, opt)
}

// renamed names the path the user gave in a file-system error, instead of
// the path inside the file system.
func renamed(err error, display string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: pe.Op, Path: display, Err: pe.Err}
	}
	return fmt.Errorf("%s: %w", display, err)
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
