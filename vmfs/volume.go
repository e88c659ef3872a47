package vmfs

import (
	"errors"
	"fmt"
	"sync"

	"github.com/vmfsrecover/vmfsrecover/vmfs/disk/blockcache"
	"github.com/vmfsrecover/vmfsrecover/vmfs/layout"
)

// Options control how strictly a volume is read.
type Options struct {
	// Tolerant reads missing extents and unreadable metadata as zeros and
	// records each problem as an anomaly instead of failing.
	Tolerant bool
}

// Volume is an open VMFS volume. It implements fs.FS, fs.ReadDirFS,
// fs.StatFS and fs.ReadLinkFS; see fs.go.
type Volume struct {
	opts          Options
	rec           *Recovery // non-nil when opened from deep-scan findings
	headers       []*LVMHeader
	lv            Device // the logical volume
	desc          *Descriptor
	fdc, sbc      *resFile
	pbc, pb2      *resFile
	sfbPerCluster int64
	root          *fileDesc
	anomalies     []string

	fdCache  *blockcache.LRU[uint32, *fileDesc]
	pbCache  *blockcache.LRU[uint64, []uint64]
	dirCache *blockcache.LRU[uint32, *directory]
	// fdPages holds fdPage-sized pieces of the volume that file
	// descriptors were read from: a listing reads the descriptors of a
	// folder one after the other, and they lie side by side. fdMu is
	// held while a page is used (see fdSlot); fdSpare is the buffer of
	// the last page dropped, for the next one.
	fdMu    sync.Mutex
	fdPages *blockcache.LRU[int64, []byte]
	fdSpare []byte
}

// System file descriptor addresses: cluster 0, resources 0-8 (vmfs.md: "System files").
var (
	rootAddr = layout.FDAddr(0, 0)
	fbbAddr  = layout.FDAddr(0, 1)
	fdcAddr  = layout.FDAddr(0, 2)
	pbcAddr  = layout.FDAddr(0, 3)
	sbcAddr  = layout.FDAddr(0, 4)
	pb2Addr  = layout.FDAddr(0, 6)
)

// Open opens the volume whose extents are on devs (any order). Each
// device starts where its VMFS partition starts: the LVM header is at +1
// MiB. Every device must belong to the same volume.
func Open(devs []Device, opts Options) (*Volume, error) {
	lv, headers, anomalies, err := assembleDevices(devs, opts.Tolerant)
	if err != nil {
		return nil, err
	}
	return openLogical(lv, headers, anomalies, opts, nil)
}

// assembleDevices reads the LVM header of each device, checks that they
// belong to one volume, and assembles it.
func assembleDevices(devs []Device, tolerant bool) (*logicalVolume, []*LVMHeader, []string, error) {
	if len(devs) == 0 {
		return nil, nil, nil, errors.New("vmfs: no device given")
	}
	headers := make([]*LVMHeader, len(devs))
	for i, d := range devs {
		h, err := ReadLVMHeader(d)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("device %d: %w", i+1, err)
		}
		if i > 0 && h.VolumeUUID != headers[0].VolumeUUID {
			return nil, nil, nil, fmt.Errorf("vmfs: device %d belongs to volume %s, device 1 to volume %s", i+1, h.VolumeUUID, headers[0].VolumeUUID)
		}
		headers[i] = h
	}
	lv, anomalies, err := assemble(devs, headers, tolerant)
	return lv, headers, anomalies, err
}

func openLogical(lv Device, headers []*LVMHeader, anomalies []string, opts Options, rec *Recovery) (*Volume, error) {
	desc, err := readDescriptor(lv)
	if err != nil {
		if rec == nil || rec.Descriptor == nil {
			return nil, err
		}
		anomalies = append(anomalies, fmt.Sprintf("file-system descriptor unreadable (%v); using the one reconstructed from the scan", err))
		d := *rec.Descriptor
		desc = &d
	}
	v := &Volume{
		opts: opts, rec: rec, headers: headers, lv: lv, desc: desc, anomalies: anomalies,
		fdCache:  blockcache.NewLRU[uint32, *fileDesc](4096),
		pbCache:  blockcache.NewLRU[uint64, []uint64](256),
		dirCache: blockcache.NewWeightedLRU[uint32, *directory](256, dirCacheEntries, func(d *directory) int { return len(d.ents) }),
		fdPages:  blockcache.NewLRU[int64, []byte](64), // 4 MiB
	}
	if len(headers) > 0 && !desc.VolumeUUID.IsZero() && desc.VolumeUUID != headers[0].VolumeUUID {
		v.anomalies = append(v.anomalies, fmt.Sprintf("file-system descriptor names LVM volume %s, the LVM header %s", desc.VolumeUUID, headers[0].VolumeUUID))
	}
	if err := v.openSystemFiles(); err != nil {
		if rec == nil {
			return nil, err
		}
		v.anomalies = append(v.anomalies, err.Error())
	}
	return v, nil
}

// clusterHeaderSize is H of vmfs.md: "Resource files".
func (v *Volume) clusterHeaderSize() int64 {
	return layout.ClusterHeaderSize(v.desc.Version() >= 6, v.desc.MDAlignment)
}

// openSystemFiles bootstraps .fdc.sf from its fixed position, then finds
// the other resource files through it (vmfs.md: "Resource files", "System
// files"). A volume opened from
// scan findings goes on past a missing piece, recording it: what remains
// readable is still worth recovering.
func (v *Volume) openSystemFiles() error {
	var errs []error
	step := func(err error) bool {
		if err != nil {
			errs = append(errs, err)
		}
		return err == nil || v.rec != nil
	}
	if v.desc.Version() >= 6 {
		// A small-file-block address counts clusters of one large file
		// block each. On a volume past about 30 TiB, .fbb.sf outgrows the
		// first 512 MiB and the resource files after it (.sbc.sf, .pb2.sf)
		// lie in later clusters, so the cluster size must be known before
		// any of them opens; .fbb.sf's SFB header refines it below.
		v.sfbPerCluster = min(8192, (512<<20)/v.desc.BlockSize)
		if v.desc.LFBShift > 0 {
			v.sfbPerCluster = 1 << v.desc.LFBShift
		}
	}
	fdc, err := v.openFDC()
	if !step(err) {
		return err
	}
	v.fdc = fdc
	// Pointer-block files first: .sbc.sf, and on large VMFS6 volumes
	// .fdc.sf itself, are mapped through .pb2.sf (zla 5).
	if v.desc.Version() >= 5 {
		if v.pb2, err = v.openResFile(".pb2.sf", pb2Addr); !step(err) {
			return err
		}
	}
	if v.pbc, err = v.openResFile(".pbc.sf", pbcAddr); !step(err) {
		return err
	}
	if v.sbc, err = v.openResFile(".sbc.sf", sbcAddr); !step(err) {
		return err
	}
	if v.desc.Version() >= 6 {
		if n, err := v.sfbClusterSize(); err == nil && n > 0 {
			v.sfbPerCluster = n
		}
	}
	root, err := v.readFD(rootAddr)
	if err == nil && root.typ != typeDirectory {
		err = corrupt("root directory", root.vol, "descriptor type %d, not a directory", root.typ)
	}
	if err != nil {
		err = fmt.Errorf("root directory: %w", err)
	}
	if !step(err) {
		return err
	}
	if err == nil {
		v.root = root
	}
	return errors.Join(errs...)
}

// openFDC reads the .fdc.sf header at its fixed volume offset and the
// file's own descriptor (resource 2 of cluster 0).
func (v *Volume) openFDC() (*resFile, error) {
	start := v.desc.fdcStart()
	hdr := make([]byte, layout.ResHeaderSize)
	if _, err := readFull(v.lv, hdr, start); err != nil {
		return nil, fmt.Errorf("vmfs: reading .fdc.sf header at volume offset %#x: %w", start, err)
	}
	fdc, err := parseResHeader(".fdc.sf", hdr, v.clusterHeaderSize(), start)
	if err != nil {
		return nil, err
	}
	lay := v.fdLayout()
	if fdc.resSize != lay.Size || fdc.perCluster == 0 || fdc.perGroup == 0 {
		return nil, corrupt(".fdc.sf header", start, "descriptor size %d, want %d", fdc.resSize, lay.Size)
	}
	_, r := fdAddr(fdcAddr)
	fdc.fd, err = v.readFDAt(start+fdc.geometry().ResourceOffset(0, int64(r)), fdcAddr)
	if err != nil {
		return nil, fmt.Errorf("bootstrapping .fdc.sf: %w", err)
	}
	return fdc, nil
}

func (v *Volume) openResFile(name string, addr uint32) (*resFile, error) {
	fd, err := v.bootstrapFD(addr)
	if err != nil {
		if fd, err = v.readFD(addr); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if fd.length == 0 { // an empty resource file, such as VMFS6's .pbc.sf
		return &resFile{name: name, fd: fd}, nil
	}
	vol, err := v.fileVolOffset(fd, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	hdr := make([]byte, layout.ResHeaderSize)
	if _, err := readFull(v.lv, hdr, vol); err != nil {
		return nil, fmt.Errorf("vmfs: reading %s header at volume offset %#x: %w", name, vol, err)
	}
	rf, err := parseResHeader(name, hdr, v.clusterHeaderSize(), vol)
	if err != nil {
		return nil, err
	}
	rf.fd = fd
	return rf, nil
}

// bootstrapFD reads a system descriptor of cluster 0 from where it must
// be, without going through .fdc.sf's block map, which on a large VMFS6
// volume is itself reached through .pb2.sf (vmfs.md: "Resource files"). The
// descriptor's own address must match.
func (v *Volume) bootstrapFD(addr uint32) (*fileDesc, error) {
	if fd, ok := v.fdCache.Get(addr); ok {
		return fd, nil
	}
	c, r := fdAddr(addr)
	if v.fdc == nil || c != 0 {
		return nil, fmt.Errorf("%w: no bootstrap location for descriptor %#08x", ErrCorrupt, addr)
	}
	vol := v.desc.fdcStart() + v.fdc.geometry().ResourceOffset(0, int64(r))
	if addr == pb2Addr && v.desc.PB2VolAddr != 0 {
		vol = int64(v.desc.PB2VolAddr)
	}
	fd, err := v.readFDAt(vol, addr)
	if err != nil {
		return nil, err
	}
	v.fdCache.Put(addr, fd)
	return fd, nil
}

// sfbClusterSize reads the SFB child header of .fbb.sf (vmfs.md: "Cluster metadata") for the
// number of small file blocks per cluster.
func (v *Volume) sfbClusterSize() (int64, error) {
	fd, err := v.readFD(fbbAddr)
	if err != nil {
		return 0, err
	}
	vol, err := v.fileVolOffset(fd, 0)
	if err != nil {
		return 0, err
	}
	hdr := make([]byte, 0x40)
	if _, err := readFull(v.lv, hdr, vol); err != nil {
		return 0, err
	}
	child := int64(layout.ResHeader.ChildOffset.Get(hdr))
	if child == 0 || child >= fd.length {
		return 0, nil
	}
	cvol, err := v.fileVolOffset(fd, child)
	if err != nil {
		return 0, err
	}
	if _, err := readFull(v.lv, hdr, cvol); err != nil {
		return 0, err
	}
	n := int64(layout.ResHeader.PerCluster.Get(hdr))
	if n <= 0 || n > 1<<16 {
		return 0, nil
	}
	return n, nil
}

// Descriptor returns the file-system descriptor.
func (v *Volume) Descriptor() Descriptor { return *v.desc }

// LVM returns the LVM headers of the devices, in the order given to Open.
func (v *Volume) LVM() []*LVMHeader { return v.headers }

// Size is the size of the logical volume in bytes.
func (v *Volume) Size() int64 { return v.lv.Size() }

// Anomalies lists problems met while reading in tolerant mode.
func (v *Volume) Anomalies() []string { return append([]string(nil), v.anomalies...) }
