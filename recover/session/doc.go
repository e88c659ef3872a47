// Package session is the one path from SOURCE arguments to recovered,
// verified files that both front ends take: the commands of cmd/vmfsrecover
// and the wizard (package wizard) call it and only add flags, questions and
// printing.
//
// A recovery goes through it in this order:
//
//   - Scan opens the sources read-only and finds the volumes on them: a
//     quick scan (partition tables, bare images, probes; package discover)
//     or, with Options.Deep, the deep scan (package deepscan), whose
//     rebuilt volumes it lists the same way (VolumeInfo).
//   - Scan.Select picks a volume by number, label or UUID, and Scan.Open
//     opens it as an fs.FS: the volume as it is (*vmfs.Volume), or the
//     deep scan's tree (*deepscan.Tree). OpenVolume does both for the
//     commands that read one volume.
//   - SystemFile is the one rule for the volume's own metadata files
//     (/.fdc.sf, /.sdd.sf, ...): the listings of the wizard and every
//     export leave them out unless asked for.
//   - OpenDestination turns a destination (a local folder, or an ftp:// or
//     ftps:// URL) and its options (implicit TLS, extra certificate
//     authorities, timeouts) into an export.Destination, with the FTP
//     password from the environment, a netrc file or a prompt.
//   - Export copies a selection there (package export) with the system-file
//     rule applied; Verify and VerifyManifest read a destination back and
//     compare it with the manifest.
//
// Nothing here opens a source for writing, and nothing is created at a
// local destination before Export: a destination that is only being
// checked or planned for stays as it was.
package session
