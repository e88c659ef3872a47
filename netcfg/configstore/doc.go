// Package configstore reads ESXi's ConfigStore database (7.0 and later):
// the SQLite file that local.tgz carries as
// var/lib/vmware/configstore/backup/current-store-1 and a live host keeps at
// /etc/vmware/configstore/current-store-1.
//
// Its table Config has one row per (Component, ConfigGroup, Name,
// Identifier) address, for example esx / network / vmknics / <id>, with
// the values as JSON text in five columns: UserValue (set by the admin),
// VitalValue (identity the system derives: host name, management address,
// uid on 8.x), AutoConfValue, CachedValue and DesiredValue (what vLCM
// wanted). Which column wins is not documented; Row.Effective uses the
// research notes' inference: UserValue, then VitalValue, then AutoConfValue,
// then CachedValue, and never DesiredValue, which is reported apart.
//
// The SQLite reader here (sqlite.go) is a minimal read-only one: header,
// table and index b-trees (WITHOUT ROWID tables included), overflow
// chains, the record format; UTF-8 only. It never trusts a page number, a
// payload size or a cell count without checking it against the file, and
// it detects loops in b-trees and overflow chains. Adding a full SQLite
// engine (modernc.org/sqlite) for one SELECT would have cost more build
// time and code than this reader.
//
// Column names come from the table's CREATE TABLE statement, so a build
// that reorders columns is still read correctly; JSON keys are kept
// byte-exact (host_IP_addr is not host_ip_addr).
package configstore
