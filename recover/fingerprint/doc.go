// Package fingerprint identifies a disk by its content, cheaply enough to
// do over a slow link: the size, the first 2 MiB and the last 1 MiB (where
// partition tables, LVM headers and backup GPTs lie), and a fixed number of
// small blocks spread evenly over the whole disk.
//
// Two disks with different prints are different. Two with the same print
// agree in every block sampled: the same disk under another name (a device
// node, its ssh:// or nbd:// path, a byte-for-byte copy), or a disk that
// changed only between the samples. Callers that keep results by print
// (the deep scan's scan files) check what they rely on again before
// trusting it.
package fingerprint
