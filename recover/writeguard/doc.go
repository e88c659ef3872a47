// Package writeguard keeps every write of the tool off the data it reads.
//
// A recovery reads sources (disk images, block devices, VMDK descriptors,
// extents and snapshot parents, the LUNs of a spanned volume) and writes
// results (a dump, exported files and their temporary names, the manifest,
// deep-scan files, the wizard's state). A user can name, by accident, a
// result path that reaches a source: the same path, a hard link, a
// symbolic link, a bind mount or /proc/self/fd alias, the block device of
// a partition that is read, the whole disk under it, or the file behind a
// loop device. Writing there destroys the one copy of the data being
// rescued, so no flag allows it.
//
// A Guard holds the identity of every source: the opened file's device
// and inode, compared with os.SameFile, so paths never matter; and on
// Linux the block ranges under it, found in /sys/dev/block: the sectors of
// the whole disk a partition covers, the devices a device-mapper or md
// device is made of, the file behind a loop device, and the block device
// holding the file system a source file lies on (for btrfs, whose files
// carry an anonymous device number, the device it was mounted from, by
// /proc/self/mountinfo). A write is refused when
//   - the file written is a source file;
//   - a block device written shares sectors with a block device a source
//     is read from raw, or with the file system a source file lies on;
//   - a file written lies on a file system whose block device a source
//     reads raw.
//
// Writers check the file they opened, by fstat of the open descriptor,
// before its first byte is written (so opening must not truncate: truncate
// after the check), and check the entry a rename or removal replaces. The
// refusal (*Error, errors.Is ErrSource) names both paths and suggests no
// flag: none would make it safe.
package writeguard
