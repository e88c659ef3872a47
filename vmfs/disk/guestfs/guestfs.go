package guestfs

import "io/fs"

// States of Info.State.
const (
	Live    = "live"
	Deleted = "deleted"
)

// OrphanDir is the directory at the root of a guest file system where
// deleted files whose parent directory is not known are listed (with
// Options.Deleted).
const OrphanDir = ".vmfsrecover-orphans"

// Options are the choices every reader takes.
type Options struct {
	// Deleted lists deleted files whose metadata survives beside the live
	// ones (Info.State is Deleted).
	Deleted bool
}

// FS is what the readers return.
type FS interface {
	fs.ReadDirFS
	fs.StatFS
	fs.ReadLinkFS
	// Type names the file system as partition.DetectFS does ("NTFS", "ext4").
	Type() string
	// Warnings are what the reader met and worked around: a primary head
	// replaced by its backup, a damaged directory skipped.
	Warnings() []string
}

// Info is FileInfo.Sys() of every entry of a guest file system.
type Info struct {
	FS     string `json:"fs"`               // as FS.Type
	State  string `json:"state"`            // Live or Deleted
	ID     uint64 `json:"id"`               // inode, MFT record, or first cluster (FAT, exFAT); 0 when none
	Links  int    `json:"links,omitempty"`  // names of a hard-linked file, each listed
	Stream string `json:"stream,omitempty"` // NTFS alternate data stream of FILE:STREAM
	// Lost counts the bytes of the file that cannot be what they were: the
	// blocks of a deleted file that were reused or freed without a map.
	Lost int64 `json:"lost,omitempty"`
	// Owner is the numeric owner where the file system keeps one (ext,
	// XFS); nil where it keeps none (FAT, exFAT) or another kind (NTFS).
	Owner *Owner `json:"owner,omitempty"`
}

// Owner is a Unix owner: user and group IDs.
type Owner struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}
