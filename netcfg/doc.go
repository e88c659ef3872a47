// Package netcfg rebuilds an ESXi host's VMkernel network layout from the
// configuration recovered from its boot disk, and writes it out as a vmk
// table, a text diagram, JSON, Graphviz DOT, an esxcli rebuild script and an
// inspection report.
//
// The layer it owns is the meaning of esx.conf keys (parsed by
// netcfg/esxconf) and of the plain files local.tgz carries beside it
// (etc/hosts, etc/resolv.conf, etc/rc.local.d/local.sh). Getting those files
// off a disk is netcfg/bootbank's job.
//
// Every setting is a Value: the string as found plus the key or file line it
// came from. Absent settings stay unknown (JSON null, "unknown" in text) and
// are never replaced by ESXi's defaults; a check or script line that needs an
// unknown value is skipped and says so. esx.conf keys the model does not
// interpret are kept in Host.Unknown (and per vmk in VMK.Extra).
//
// How sure the key names are (docs/formats/esx-network-config.md):
//   - seen in real files or ESXi's own tools: vSwitch name, numPorts, cdp,
//     uplinks, teamPolicy (team, uplinks[N], maxActive, notifySwitch,
//     rollingRestoration), securityPolicy, port-group name; pnic name, mac,
//     virtualMac; /vmkdevmgr/pci/<id>/alias; /adv/Net/ManagementIface,
//     /adv/Migrate/Vmknic, /adv/FT/Vmknic; /system/uuid.
//   - seen in third-party readers: vmk name, portgroup, mac, ipv4address,
//     ipv4netmask, dhcp, dhcpDns, dhcpv6; port-group vlanId; /adv/Misc/HostName,
//     /adv/Net/ManagementAddr, /net/routes/kernel/gateway; /resourceGroups/version.
//   - inferred from ESXi library strings: /vsan/network/child[N]/{vmknic,
//     vsanTraffic, witnessTraffic}.
//   - UNCERTAIN candidates this package reads but no public file confirms:
//     vSwitch mtu; vmk mtu, enable/enabled, netstackKey/netstack, dvsName,
//     dvsId/dvsUuid, dvportId/dvsPortId, type (ISCSI), tags (a comma list);
//     /nas/<label>/{host,share,readOnly}. They sit in one table
//     (vmkCandidates) so a real file can settle them.
//
// Service tags are merged from every source and each records where it came
// from: per-vmk tags, the vSAN subtree, the vmotion and vSphereProvisioning
// stacks (which imply their service), and the single-vmk options of 4.x/5.0.
// /Migrate/Vmknic is ignored as stale when per-vmk tags or a vmotion stack
// exist.
//
// On 7.0 U2 and later the vmknics live in the ConfigStore database
// (netcfg/configstore). Its esx/network layout is undocumented, so only
// the vmknic fields whose store names the notes confirm are mapped (device,
// ip.ipv4_address, ip.ipv4_subnet_mask, ip.dhcp, ip.dhcp_dns, ip.ipv6.dhcp),
// plus host name and management address from esx/advanced_options and NFS
// datastores from esx/storage/nfs_v3_datastores. Every other field stays
// in VMK.Extra and every network row in Host.ConfigStore, as found. When
// esx.conf and the store disagree, the store wins and a note says so.
package netcfg
