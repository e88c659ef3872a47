// Package export copies files out of any io/fs.FS (a VMFS volume, deep-scan
// findings, a test tree) to a destination (a local directory or an FTP
// server), safely, resumably and with a hash manifest.
//
// The source side speaks only standard interfaces: fs.FS with fs.ReadDirFS
// and fs.ReadLinkFS when present; a file that implements io.ReaderAt is read
// at offsets, one that implements allocmap.Mapper says where its data is so
// that holes are never read (they are hashed as zeros and written as holes
// locally); a file or its fs.FileInfo.Sys() that implements Provenancer says
// whether it is intact, deleted, orphan or carved, and one that implements
// Warner which of its bytes are known to be lost (unreadable sectors, a
// missing disk): the manifest keeps those warnings and the report counts
// the files.
//
// The destination side is the Destination interface: a Destination hands
// out Conns, one per worker goroutine, since one FTP control connection
// cannot be shared. Both implementations (Local and FTP) pass one conformance
// suite. Every file is written under a temporary name (.vmfsrecover-*.part in
// the same directory), its size is checked, and only then is it renamed to
// its final name and recorded as exported; a rerun of the same export skips
// complete files (same size and same sha256; with Options.ReadBack their copy
// is read back too, and copied again when it differs) and continues partial
// ones (Conn.ResumeOffset): locally over the prefix that equals the source; over
// FTP (REST+STOR) from the size the server reports once it has stopped
// changing, and only when the file's last 64 KiB read back equal the
// source's. After a dropped link a server may still be writing what the
// dead data connection carried, and some servers put REST+STOR data at the
// end of the file whatever the offset: continuing from a size asked too
// early shifted the rest of the file while its size came out right.
//
// Names from a damaged volume are made safe before they reach the
// destination (SafeName): path separators, NUL and control characters,
// invalid UTF-8, ".", "..", over-long names and the tool's own reserved names
// are replaced, and the original name is kept in the manifest.
//
// FTP (FTP, on github.com/jlaffaye/ftp): URL paths are relative to the login
// directory as in RFC 1738 and curl; passive mode only; every connection
// has its own TLS session cache, since vsftpd and FileZilla Server refuse a
// data connection that does not resume the control connection's session;
// FTPS is capped at TLS 1.2 because under TLS 1.3 vsftpd loses the tail of
// uploads (session tickets left unread turn the close into a reset). A
// dropped connection is resumed as above on a new connection (from the
// start when the server has no REST), with bounded retries and
// backoff; every read and write has a timeout. Every level of the
// destination folder is created (MKD) before the first upload: vsftpd,
// pure-ftpd and proftpd create no missing folder for a STOR (553 or "550 No
// such file or directory"). The conformance suite runs against the
// embedded goftp server, vsftpd, pure-ftpd and proftpd.
//
// The manifest (ManifestName, JSON Lines, one Entry per line) lives at the
// root of the destination and is rewritten atomically as the export
// progresses; Verify re-reads the destination and compares every hash.
package export
