// Package source turns a SOURCE argument of the command line into a
// read-only disk: a local image or block device, a VMDK (any subformat,
// through package vmdk), and later remote disks.
//
// Nothing here ever opens a file for writing: every file is opened with
// os.O_RDONLY, and the returned Disk has no write method.
package source
