package preview

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/vmfsrecover/vmfsrecover/vmdk"
)

// VMX summarises a virtual machine's configuration file.
type VMX struct {
	Name            string    `json:"name"`
	GuestOS         string    `json:"guest_os"`
	CPUs            int       `json:"cpus"`
	CoresPerSocket  int       `json:"cores_per_socket,omitempty"`
	MemoryMB        int64     `json:"memory_mb"`
	HardwareVersion string    `json:"hardware_version,omitempty"`
	Firmware        string    `json:"firmware,omitempty"`
	Disks           []VMXDisk `json:"disks"`
	NICs            []VMXNIC  `json:"nics"`
	Warnings        []string  `json:"warnings,omitempty"`
}

// VMXDisk is one virtual disk or CD image of a VM.
type VMXDisk struct {
	Device     string `json:"device"`                // scsi0:0, sata0:1, nvme0:0, ide1:0
	File       string `json:"file"`                  // fileName as written in the .vmx
	DeviceType string `json:"device_type,omitempty"` // scsi-hardDisk, cdrom-image, ...
	Mode       string `json:"mode,omitempty"`        // independent-persistent, ...
	// Path is where the file is looked up on this volume ("/vm1/vm1.vmdk");
	// empty when the name points at another datastore or a host device.
	Path  string `json:"path,omitempty"`
	Found bool   `json:"found"` // the file itself is on the volume
	// Complete: every extent and snapshot parent was found too.
	Complete bool     `json:"complete"`
	Missing  []string `json:"missing,omitempty"` // extents, parents not found
	Capacity int64    `json:"capacity,omitempty"`
	Note     string   `json:"note,omitempty"`
}

// VMXNIC is one network adapter.
type VMXNIC struct {
	Device      string `json:"device"`       // ethernet0
	Type        string `json:"type"`         // virtualDev: vmxnet3, e1000e, ...
	Network     string `json:"network"`      // networkName (port group)
	MAC         string `json:"mac"`          // address or generatedAddress
	AddressType string `json:"address_type"` // static, generated, vpx
	Connected   bool   `json:"start_connected"`
	// ConnectedByDefault: the .vmx has no startConnected for the adapter,
	// and VMware then connects it at power on (startConnected defaults to
	// TRUE; hosts write the key only to turn it off).
	ConnectedByDefault bool `json:"start_connected_default,omitempty"`
}

// ParseVMX reads .vmx text into a map of lower-cased keys to decoded
// values. Comments, blank lines and lines without "=" are skipped; the last
// of repeated keys wins, as in VMware's reader.
func ParseVMX(b []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), len(b)+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' {
			if end := strings.LastIndexByte(v, '"'); end > 0 {
				v = v[1:end]
			}
		}
		if k != "" {
			m[k] = unescapeVMX(v)
		}
	}
	return m
}

// unescapeVMX decodes |XX byte escapes (|22 is a double quote, |7C a bar).
func unescapeVMX(v string) string {
	if !strings.Contains(v, "|") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '|' && i+2 < len(v) {
			if n, err := strconv.ParseUint(v[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

var (
	diskKey = regexp.MustCompile(`^((?:scsi|sata|ide|nvme)\d+:\d+)\.filename$`)
	nicKey  = regexp.MustCompile(`^(ethernet\d+)\.`)
)

// SummarizeVMX builds the summary of the .vmx at name, whose content is b,
// and checks each disk's files on fsys.
func SummarizeVMX(ctx context.Context, fsys fs.FS, name string, b []byte, opts Options) *VMX {
	m := ParseVMX(b)
	v := &VMX{
		Name:            m["displayname"],
		GuestOS:         m["guestos"],
		CPUs:            1,
		HardwareVersion: m["virtualhw.version"],
		Firmware:        m["firmware"],
		Disks:           []VMXDisk{},
		NICs:            []VMXNIC{},
	}
	if s, ok := m["numvcpus"]; ok {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			v.CPUs = n
		} else {
			v.Warnings = append(v.Warnings, fmt.Sprintf("numvcpus %q is not a CPU count", s))
		}
	}
	if n, err := strconv.Atoi(m["cpuid.corespersocket"]); err == nil && n > 0 {
		v.CoresPerSocket = n
	}
	if s, ok := m["memsize"]; ok {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			v.MemoryMB = n
		} else {
			v.Warnings = append(v.Warnings, fmt.Sprintf("memSize %q is not a size in MiB", s))
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	nics := map[string]bool{}
	for _, k := range keys {
		if sm := diskKey.FindStringSubmatch(k); sm != nil {
			dev := sm[1]
			if present(m, dev) {
				v.Disks = append(v.Disks, disk(ctx, fsys, name, dev, m, opts))
			}
		}
		if sm := nicKey.FindStringSubmatch(k); sm != nil && !nics[sm[1]] {
			nics[sm[1]] = true
			dev := sm[1]
			if !present(m, dev) {
				continue
			}
			n := VMXNIC{
				Device:      dev,
				Type:        m[dev+".virtualdev"],
				Network:     m[dev+".networkname"],
				AddressType: m[dev+".addresstype"],
			}
			switch sc, set := m[dev+".startconnected"]; {
			case !set:
				n.Connected, n.ConnectedByDefault = true, true
			default:
				n.Connected = !strings.EqualFold(sc, "false")
			}
			if n.MAC = m[dev+".address"]; n.MAC == "" {
				n.MAC = m[dev+".generatedaddress"]
			}
			if n.Type == "" {
				n.Type = "vlance" // VMware's default when virtualDev is absent
			}
			v.NICs = append(v.NICs, n)
		}
	}
	sort.SliceStable(v.Disks, func(i, j int) bool { return devLess(v.Disks[i].Device, v.Disks[j].Device) })
	sort.SliceStable(v.NICs, func(i, j int) bool { return devLess(v.NICs[i].Device, v.NICs[j].Device) })
	return v
}

// present: a device counts unless its .present key says FALSE.
func present(m map[string]string, dev string) bool {
	p, ok := m[dev+".present"]
	return !ok || !strings.EqualFold(p, "false")
}

// devLess orders device names by bus and numbers: scsi0:2 before scsi0:10.
func devLess(a, b string) bool {
	split := func(s string) (string, []int) {
		i := strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' })
		if i < 0 {
			return s, nil
		}
		var nums []int
		for _, f := range strings.Split(s[i:], ":") {
			n, _ := strconv.Atoi(f)
			nums = append(nums, n)
		}
		return s[:i], nums
	}
	pa, na := split(a)
	pb, nb := split(b)
	if pa != pb {
		return pa < pb
	}
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] < nb[i]
		}
	}
	return len(na) < len(nb)
}

func disk(ctx context.Context, fsys fs.FS, vmxName, dev string, m map[string]string, opts Options) VMXDisk {
	d := VMXDisk{
		Device:     dev,
		File:       m[dev+".filename"],
		DeviceType: m[dev+".devicetype"],
		Mode:       m[dev+".mode"],
	}
	lt := strings.ToLower(d.DeviceType)
	switch {
	case d.File == "" || strings.EqualFold(d.File, "auto detect"):
		d.Note = "no file"
		return d
	case lt == "atapi-cdrom" || lt == "cdrom-raw" || strings.HasPrefix(d.File, "/dev/") || strings.HasPrefix(lt, "scsi-passthru"):
		d.Note = "host device, not a file on the datastore"
		return d
	}
	p, note := volumeFile(path.Dir(vmxName), d.File)
	d.Note = note
	if p == "" {
		return d
	}
	d.Path = abs(p)
	fi, err := fs.Stat(fsys, p)
	if err != nil || fi.IsDir() {
		d.Missing = []string{d.Path}
		return d
	}
	d.Found = true
	if lt == "cdrom-image" || !strings.EqualFold(path.Ext(p), ".vmdk") {
		d.Complete = true
		d.Capacity = fi.Size()
		return d
	}
	s := SummarizeVMDK(ctx, fsys, p, opts)
	d.Capacity = s.Capacity
	d.Missing = s.Missing
	d.Complete = s.Error == "" && len(s.Missing) == 0
	if s.Error != "" && d.Note == "" {
		d.Note = s.Error
	}
	return d
}

// volumeFile maps a fileName of a .vmx in dir to a path of this volume.
// Relative names are relative to the .vmx; /vmfs/volumes/DS/rest is looked up
// as rest, since the volume previewed is most likely DS (its name or UUID
// is not known from here).
func volumeFile(dir, name string) (p, note string) {
	if !strings.HasPrefix(name, "/") {
		return path.Join(dir, name), ""
	}
	const prefix = "/vmfs/volumes/"
	if rest, ok := strings.CutPrefix(name, prefix); ok {
		ds, rest, ok := strings.Cut(rest, "/")
		if !ok || rest == "" {
			return "", "not a file path"
		}
		return path.Clean(rest), "datastore " + ds
	}
	return "", "absolute path outside /vmfs/volumes"
}

// errMissing tells whether a VMDK open error is a part that is not there.
func errMissing(err error) bool {
	return errors.Is(err, vmdk.ErrExtentMissing) || errors.Is(err, vmdk.ErrParentMissing)
}
