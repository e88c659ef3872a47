package bootbank

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vmfsrecover/vmfsrecover/netcfg"
	"github.com/vmfsrecover/vmfsrecover/netcfg/envelope"
	"github.com/vmfsrecover/vmfsrecover/netcfg/esxconf"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/guestfs/fat"
	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/partition"
)

// Limits on archive contents.
const (
	MaxMember   = 64 << 20 // bytes kept of one wanted archive member
	MaxUnpacked = 2 << 30  // bytes decompressed from one archive
	MaxMembers  = 200000   // tar headers read from one archive
)

// The limits in force; tests lower them to exercise the checks cheaply.
var (
	maxMember   int64 = MaxMember
	maxUnpacked int64 = MaxUnpacked
)

// Sentinel errors.
var (
	ErrNoConfig      = errors.New("no ESXi configuration found")
	ErrArchive       = errors.New("damaged configuration archive")
	ErrNeedKeystore  = errors.New("encrypted local.tgz.ve without its encryption.info")
	ErrUnknownSource = errors.New("source is neither esx.conf, a configuration archive, a FAT bootbank nor a partitioned disk")
)

// Options adjust Load.
type Options struct {
	// EncryptionInfo is the content of encryption.info, for a bare
	// local.tgz.ve given as the source.
	EncryptionInfo []byte
	// Partition, when not 0, reads the bootbank on that partition of a boot
	// disk instead of the active one.
	Partition int
}

// Paths inside local.tgz, without a leading "./" or "/".
const (
	pathEsxConf     = "etc/vmware/esx.conf"
	pathHosts       = "etc/hosts"
	pathResolv      = "etc/resolv.conf"
	pathLocalSh     = "etc/rc.local.d/local.sh"
	pathDvsData     = "etc/vmware/dvsdata.db"
	pathConfigStore = "var/lib/vmware/configstore/backup/current-store-1"
	// The live path, which vm-support bundles carry instead.
	pathConfigStoreLive = "etc/vmware/configstore/current-store-1"
)

// bundlePaths are the configuration files as a vm-support bundle holds
// them: under one top-level folder (esx-<host>-<date>/), ConfigStore at its
// live path, no dvsdata.db.
var bundlePaths = []string{pathEsxConf, pathHosts, pathResolv, pathLocalSh, pathConfigStoreLive}

// bundleMember maps a bundle member to the local.tgz path it stands for.
func bundleMember(p string) (string, bool) {
	for _, known := range bundlePaths {
		if strings.HasSuffix(p, "/"+known) && strings.Count(p[:len(p)-len(known)-1], "/") == 0 {
			if known == pathConfigStoreLive {
				return pathConfigStore, true
			}
			return known, true
		}
	}
	return "", false
}

// BootCfg is a parsed boot.cfg.
type BootCfg struct {
	BootState string
	Updated   string
	Build     string
	Title     string
	Modules   []string
}

// ParseBootCfg reads boot.cfg's key=value lines; unknown keys are ignored.
func ParseBootCfg(b []byte) *BootCfg {
	c := &BootCfg{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "bootstate":
			c.BootState = v
		case "updated":
			c.Updated = v
		case "build":
			c.Build = v
		case "title":
			c.Title = v
		case "modules":
			for _, m := range strings.Split(v, "---") {
				if m = strings.TrimSpace(m); m != "" {
					c.Modules = append(c.Modules, m)
				}
			}
		}
	}
	return c
}

// Load reads the configuration from src (size bytes, called name in
// messages), detecting what it is.
func Load(src io.ReaderAt, size int64, name string, opt Options) (*netcfg.Input, error) {
	head := make([]byte, 4096)
	n, _ := src.ReadAt(head, 0)
	head = head[:n]
	switch {
	case n == 0:
		return nil, fmt.Errorf("%s: %w", name, ErrNoConfig)
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return loadTgz(io.NewSectionReader(src, 0, size), name, opt)
	case bytes.HasPrefix(head, []byte("DataTransformEnvelope")):
		if opt.EncryptionInfo == nil {
			return nil, fmt.Errorf("%s: %w (put encryption.info next to it)", name, ErrNeedKeystore)
		}
		return loadEnvelope(src, size, opt.EncryptionInfo, name, &netcfg.Input{Origin: name})
	}
	var bankErr error
	if v, err := fat.Open(src, size, guestfs.Options{}); err == nil {
		in, err := loadBank(v, name)
		if err == nil {
			return in, nil
		}
		// A disk's boot code can pass for a FAT boot sector: try the
		// partition table before giving up.
		bankErr = err
	}
	if t, err := partition.Read(src, size); err == nil && len(t.Partitions) > 0 {
		return loadDisk(src, t, name, opt)
	}
	if bankErr != nil {
		return nil, bankErr
	}
	if looksLikeEsxConf(head) {
		conf, err := esxconf.Parse(io.NewSectionReader(src, 0, size))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &netcfg.Input{Origin: name, EsxConf: conf}, nil
	}
	return nil, fmt.Errorf("%s: %w", name, ErrUnknownSource)
}

// looksLikeEsxConf accepts text whose first non-blank line is `/key = "..."`.
func looksLikeEsxConf(head []byte) bool {
	for _, line := range strings.Split(string(head), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		return strings.HasPrefix(line, "/") && strings.Contains(line, "=")
	}
	return false
}

// members reads a gzip tar and returns the wanted members (by cleaned path).
func members(r io.Reader, what string, want func(string) bool) (map[string][]byte, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: gzip: %v", what, ErrArchive, err)
	}
	lim := &io.LimitedReader{R: gz, N: maxUnpacked}
	tr := tar.NewReader(lim)
	out := map[string][]byte{}
	bundle := false
	defer func() {
		if bundle {
			out[bundleMarker] = nil
		}
	}()
	for i := 0; ; i++ {
		if i >= MaxMembers {
			return out, fmt.Errorf("%s: %w: more than %d members", what, ErrArchive, MaxMembers)
		}
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			if lim.N <= 0 {
				return out, fmt.Errorf("%s: %w: more than %d bytes uncompressed", what, ErrArchive, maxUnpacked)
			}
			return out, fmt.Errorf("%s: %w: tar: %v", what, ErrArchive, err)
		}
		p := cleanPath(h.Name)
		if b, ok := bundleMember(p); ok && want(b) {
			p = b
			bundle = true
		}
		// '\x00' is the pre-POSIX regular-file flag (tar.TypeRegA).
		if (h.Typeflag != tar.TypeReg && h.Typeflag != '\x00') || !want(p) {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxMember+1))
		if err != nil {
			return out, fmt.Errorf("%s: %w: member %s: %v", what, ErrArchive, p, err)
		}
		if int64(len(b)) > maxMember {
			return out, fmt.Errorf("%s: %w: member %s larger than %d bytes", what, ErrArchive, p, maxMember)
		}
		out[p] = b
	}
}

// bundleMarker flags, among the returned members, that they came from a
// vm-support bundle's folder layout.
const bundleMarker = "\x00bundle"

func cleanPath(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// loadTgz handles both state.tgz and local.tgz given directly.
func loadTgz(r io.Reader, name string, opt Options) (*netcfg.Input, error) {
	files, err := members(r, name, func(p string) bool {
		return isStateMember(p) || isLocalMember(p)
	})
	if err != nil && len(files) == 0 {
		return nil, err
	}
	in := &netcfg.Input{Origin: name}
	if err != nil {
		in.Notes = append(in.Notes, "archive damaged after some members: "+err.Error())
	}
	if _, ok := files[bundleMarker]; ok {
		delete(files, bundleMarker)
		in.Notes = append(in.Notes, "read as a vm-support bundle: its ConfigStore has secrets masked and it carries no dvsdata.db")
	}
	if hasLocal(files) {
		return fromLocal(files, in, name)
	}
	return fromState(files, in, name, opt)
}

func isStateMember(p string) bool {
	switch p {
	case "local.tgz", "local.tgz.ve", "encryption.info", ".#encryption.info":
		return true
	}
	return false
}

func isLocalMember(p string) bool {
	switch p {
	case pathEsxConf, pathHosts, pathResolv, pathLocalSh, pathDvsData, pathConfigStore:
		return true
	}
	return false
}

func hasLocal(files map[string][]byte) bool {
	for p := range files {
		if isLocalMember(p) {
			return true
		}
	}
	return false
}

// fromState unpacks local.tgz or decrypts local.tgz.ve from state.tgz members.
func fromState(files map[string][]byte, in *netcfg.Input, name string, opt Options) (*netcfg.Input, error) {
	if lt, ok := files["local.tgz"]; ok {
		return fromLocalTgz(lt, in, name+" > local.tgz")
	}
	ve, ok := files["local.tgz.ve"]
	if !ok {
		return nil, fmt.Errorf("%s: %w: neither local.tgz nor local.tgz.ve inside", name, ErrNoConfig)
	}
	info := files["encryption.info"]
	if info == nil {
		info = files[".#encryption.info"]
	}
	if info == nil {
		info = opt.EncryptionInfo
	}
	if info == nil {
		return nil, fmt.Errorf("%s > local.tgz.ve: %w", name, ErrNeedKeystore)
	}
	return loadEnvelope(bytes.NewReader(ve), int64(len(ve)), info, name+" > local.tgz.ve", in)
}

func loadEnvelope(r io.ReaderAt, size int64, info []byte, name string, in *netcfg.Input) (*netcfg.Input, error) {
	ks, err := envelope.ParseKeyStore(info)
	if err != nil {
		return nil, fmt.Errorf("%s: encryption.info: %w", name, err)
	}
	key, keyID, err := ks.Key()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	env, err := envelope.Open(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if env.KeyInfo != keyID {
		in.Notes = append(in.Notes, fmt.Sprintf("envelope key id %s differs from encryption.info's %s; trying the key anyway", env.KeyInfo, keyID))
	}
	plain, err := env.Decrypt(key, envelope.AAD)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	in.Notes = append(in.Notes, "decrypted local.tgz.ve ("+name+") with the key derived from encryption.info (mode NONE: the host had no TPM)")
	return fromLocalTgz(plain, in, name)
}

func fromLocalTgz(b []byte, in *netcfg.Input, name string) (*netcfg.Input, error) {
	files, err := members(bytes.NewReader(b), name, isLocalMember)
	if err != nil && len(files) == 0 {
		return nil, err
	}
	if err != nil {
		in.Notes = append(in.Notes, "archive damaged after some members: "+err.Error())
	}
	return fromLocal(files, in, name)
}

func fromLocal(files map[string][]byte, in *netcfg.Input, name string) (*netcfg.Input, error) {
	if conf, ok := files[pathEsxConf]; ok {
		f, err := esxconf.Parse(bytes.NewReader(conf))
		if err != nil {
			return nil, fmt.Errorf("%s > %s: %w", name, pathEsxConf, err)
		}
		in.EsxConf = f
		in.Origin = name + " > " + pathEsxConf
	} else {
		in.Origin = name
		in.Notes = append(in.Notes, name+" holds no "+pathEsxConf)
	}
	in.Hosts = files[pathHosts]
	in.ResolvConf = files[pathResolv]
	in.LocalSh = files[pathLocalSh]
	if b, ok := files[pathConfigStore]; ok {
		in.ConfigStore = pathConfigStore
		in.ConfigStoreData = b
	}
	if _, ok := files[pathDvsData]; ok {
		in.Notes = append(in.Notes, pathDvsData+" present (distributed-switch port cache; not decoded)")
	}
	if in.EsxConf == nil && in.ConfigStore == "" {
		return nil, fmt.Errorf("%s: %w", name, ErrNoConfig)
	}
	return in, nil
}

// bank is one bootbank found on a disk or given as an image.
type bank struct {
	label string
	fs    *fat.FS
	cfg   *BootCfg
}

func (b *bank) updated() int {
	n, err := strconv.Atoi(b.cfg.Updated)
	if err != nil {
		return -1
	}
	return n
}

// loadBank reads one bootbank file system.
func loadBank(v *fat.FS, name string) (*netcfg.Input, error) {
	cfgData, err := fs.ReadFile(v, "boot.cfg")
	if err != nil {
		return nil, fmt.Errorf("%s: %s volume without a readable boot.cfg, so not a bootbank: %w", name, v.Type(), err)
	}
	b := &bank{label: name, fs: v, cfg: ParseBootCfg(cfgData)}
	return readBank(b)
}

func readBank(b *bank) (*netcfg.Input, error) {
	st, err := b.fs.Open("state.tgz")
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", b.label, ErrNoConfig, err)
	}
	defer st.Close()
	in, err := loadTgz(st, b.label+" > state.tgz", Options{})
	if err != nil {
		return nil, err
	}
	in.BootBuild = b.cfg.Build
	return in, nil
}

// loadDisk finds the bootbanks of a partitioned boot disk and reads the
// active one.
func loadDisk(src io.ReaderAt, t *partition.Table, name string, opt Options) (*netcfg.Input, error) {
	var banks []*bank
	var skipped []string
	otherIdx := map[string]int{}
	for _, p := range t.Partitions {
		if opt.Partition != 0 && p.Index != opt.Partition {
			continue
		}
		sec := p.Section(src)
		v, err := fat.Open(sec, p.Size, guestfs.Options{})
		if err != nil {
			continue
		}
		label := fmt.Sprintf("%s partition %d (%s %s)", name, p.Index, v.Type(), v.Label)
		otherIdx[label] = p.Index
		cfg, err := fs.ReadFile(v, "boot.cfg")
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("partition %d: FAT without boot.cfg", p.Index))
			continue
		}
		banks = append(banks, &bank{label: label, fs: v, cfg: ParseBootCfg(cfg)})
	}
	if len(banks) == 0 && opt.Partition != 0 {
		return nil, fmt.Errorf("%s: %w: partition %d is not a bootbank (FAT with boot.cfg)", name, ErrNoConfig, opt.Partition)
	}
	if len(banks) == 0 {
		return nil, fmt.Errorf("%s: %w: no FAT partition with boot.cfg among %d partitions (%s)", name, ErrNoConfig, len(t.Partitions), strings.Join(skipped, "; "))
	}
	// The installer boots the bank with bootstate=0 and the highest updated.
	sort.SliceStable(banks, func(i, j int) bool {
		a, b := banks[i], banks[j]
		if (a.cfg.BootState == "0") != (b.cfg.BootState == "0") {
			return a.cfg.BootState == "0"
		}
		return a.updated() > b.updated()
	})
	var notes []string
	for i, b := range banks {
		notes = append(notes, fmt.Sprintf("bootbank %s: bootstate=%s updated=%s build=%s", b.label, orUnknown(b.cfg.BootState), orUnknown(b.cfg.Updated), orUnknown(b.cfg.Build)))
		in, err := readBank(b)
		if err != nil {
			notes = append(notes, fmt.Sprintf("bootbank %s unreadable: %v", b.label, err))
			continue
		}
		if opt.Partition != 0 {
			notes = append(notes, fmt.Sprintf("read %s as asked (partition %d)", b.label, opt.Partition))
		} else if i == 0 {
			notes = append(notes, "chose "+b.label+": bootstate=0 and the highest updated= win, as the installer does")
		} else {
			notes = append(notes, "chose "+b.label+" because the preferred bank's configuration is unreadable")
		}
		chosen := stateTime(b)
		for _, other := range banks[i+1:] {
			notes = append(notes, fmt.Sprintf("other bootbank %s: bootstate=%s updated=%s build=%s (not read)",
				other.label, orUnknown(other.cfg.BootState), orUnknown(other.cfg.Updated), orUnknown(other.cfg.Build)))
			// After a half-finished upgrade the other bank's state.tgz can
			// hold newer settings; FAT keeps a modification time to 2 s.
			if t := stateTime(other); !t.IsZero() && !chosen.IsZero() && t.After(chosen) {
				notes = append(notes, fmt.Sprintf("WARNING: the other bootbank's state.tgz (%s) is newer than the chosen one's (%s); run again with --partition %d to compare",
					t.Format("2006-01-02 15:04:05"), chosen.Format("2006-01-02 15:04:05"), otherIdx[other.label]))
			}
		}
		in.Notes = append(notes, in.Notes...)
		return in, nil
	}
	return nil, fmt.Errorf("%s: %w: every bootbank failed (%s)", name, ErrNoConfig, strings.Join(notes, "; "))
}

// stateTime is the FAT modification time of a bank's state.tgz.
func stateTime(b *bank) time.Time {
	fi, err := fs.Stat(b.fs, "state.tgz")
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
