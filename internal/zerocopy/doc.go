// Package zerocopy hands a copy from a local file to an output file to
// the kernel (copy_file_range(2), sendfile(2)), so that the bytes go from
// the page cache to where they are written without passing through the
// program's memory: a VMFS file written to standard output (vmfsrecover
// cat) when its blocks lie in a local image or device.
//
// Copy is an attempt, not a promise: the kernel refuses some pairs of
// files (an output opened to append, a terminal on an old kernel), and a
// read error of the source stops it. Its caller copies the rest its own
// way, which is also how an error is reported the way reads report it.
// It imports nothing of the project.
package zerocopy
