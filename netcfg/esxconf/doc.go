// Package esxconf parses ESXi's /etc/vmware/esx.conf, the flat key/value file
// that holds most of a 4.x-7.0U1 host's persistent configuration.
//
// Each line reads `/slash/separated/key = "value"`. Keys are case-sensitive
// absolute paths; values are always double-quoted strings, also for numbers
// and booleans, and this package keeps them as strings: port-group names such
// as "10", MAC addresses and leading zeros must survive untouched. The value
// is the text between the first double quote after " = " and the last double
// quote of the line. How ESXi escapes a quote or backslash inside a value is
// UNCERTAIN (no sample has one); backslashes are kept verbatim and flagged.
//
// Two array notations appear in keys: `.../child[NNNN]/...` is an unordered
// collection of objects (vSwitches, port groups, vmknics, pnics) and
// `.../<name>[NNNN]/...` is an ordered list whose position carries meaning
// (the NIC-teaming failover order). Indices are four-digit decimals; gaps are
// allowed and the index is never an object's name.
//
// ESXi writes the file sorted by key, but nothing here relies on the order.
// Input is bounded: MaxSize bytes, MaxLineLen per line, MaxProblems kept.
// The parser never stops on a bad line: every malformed, duplicate or
// suspicious line becomes a LineError carrying its line number and byte
// offset, and parsing goes on with the next line.
package esxconf
