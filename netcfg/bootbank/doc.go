// Package bootbank gets an ESXi host's configuration files off whatever was
// recovered: a bare esx.conf, a state.tgz or local.tgz, an encrypted
// local.tgz.ve, a bootbank partition image, or a whole boot disk.
//
// On disk (ESXi 5.x-8.x) the configuration sits in a bootbank: a FAT16
// partition (partitions 5 and 6 of the boot disk, labels BOOTBANK1 and
// BOOTBANK2 on 7.x) holding boot.cfg and state.tgz. boot.cfg is `key=value`
// text with bootstate= (0 for a bank that booted fine), updated= (a counter
// raised on every upgrade), build= and modules=. The installer boots the
// bank with bootstate=0 and the highest updated; Load does the same, falls
// back to the other bank when the chosen one's archive is unreadable, and
// says which it took and why.
//
// state.tgz is a gzip tar holding only local.tgz (7.0 U2+: local.tgz.ve and
// encryption.info, see netcfg/envelope). local.tgz is a gzip tar of the
// files under etc/ that were changed (etc/vmware/esx.conf, etc/hosts,
// etc/resolv.conf, etc/rc.local.d/local.sh, etc/vmware/dvsdata.db) and on
// 7.x the ConfigStore database var/lib/vmware/configstore/backup/
// current-store-1. A vm-support bundle (a .tgz of one esx-<host>-<date>/
// folder) is read the same way: its etc/vmware/esx.conf, etc/hosts,
// etc/resolv.conf and the live ConfigStore etc/vmware/configstore/
// current-store-1 (secrets masked; no dvsdata.db). Archives are read with archive/tar and compress/gzip
// under fixed limits: at most MaxMember bytes kept per file and
// MaxUnpacked bytes decompressed per archive, so a gzip bomb ends in an
// error, not in an exhausted machine.
package bootbank
