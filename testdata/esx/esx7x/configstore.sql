-- Generator of the ConfigStore fixture: the test runs `sqlite3 current-store-1 < configstore.sql`.
-- Table definition as the research notes quote it; values use only the field names the notes
-- confirm (device, ip.*, net_stacks[].key/host_name), plus "mtu" and "port_group", which are
-- guesses the model must NOT map (they have to come out as unmapped settings).
CREATE TABLE Config (Component TEXT, ConfigGroup TEXT, Name TEXT, Identifier TEXT NOT NULL DEFAULT '',
 ModifiedTime DATETIME DEFAULT (datetime(CURRENT_TIMESTAMP)), CreationTime DATETIME, Version TEXT DEFAULT '',
 Success BOOLEAN DEFAULT 1, AutoConfValue TEXT, UserValue TEXT, VitalValue TEXT, CachedValue TEXT, DesiredValue TEXT,
 Revision INTEGER DEFAULT 0, PRIMARY KEY (Component, ConfigGroup, Name, Identifier));
INSERT INTO Config (Component, ConfigGroup, Name, Identifier, ModifiedTime, UserValue) VALUES
 ('esx', 'network', 'vmknics', 'vmk0', '2024-05-01 10:00:00',
  '{"device":"vmk0","port_group":"Management Network","mtu":1500,"ip":{"dhcp":false,"dhcp_dns":false,"ipv4_address":"198.51.100.21","ipv4_subnet_mask":"255.255.255.0","ipv6":{"dhcp":false,"dhcp_dns":false,"auto_configuration_enabled":true}}}'),
 ('esx', 'network', 'vmknics', 'vmk1', '2024-05-01 10:00:00',
  '{"device":"vmk1","port_group":"vMotion","mtu":9000,"ip":{"dhcp":true,"dhcp_dns":false}}');
INSERT INTO Config (Component, ConfigGroup, Name, Identifier, ModifiedTime, UserValue, DesiredValue) VALUES
 ('esx', 'network', 'net_stacks', 'defaultTcpipStack', '2024-05-01 10:00:00',
  '{"key":"defaultTcpipStack","host_name":"esx703"}', '{"key":"defaultTcpipStack","host_name":"esx703-new"}');
INSERT INTO Config (Component, ConfigGroup, Name, Identifier, ModifiedTime, VitalValue) VALUES
 ('esx', 'advanced_options', 'misc', '', '2024-05-01 10:00:00', '{"host_name":"esx703.example.net","host_IP_addr":"198.51.100.21"}');
INSERT INTO Config (Component, ConfigGroup, Name, Identifier, ModifiedTime, UserValue) VALUES
 ('esx', 'syslog', 'global_settings', '', '2024-05-01 10:00:00', '{"log_dir":"/scratch/log"}');
INSERT INTO Config (Component, ConfigGroup, Name, Identifier, ModifiedTime, UserValue) VALUES
 ('esx', 'storage', 'nfs_v3_datastores', 'iso', '2024-05-01 10:00:00', '{"hostname":"198.51.100.60","volume_name":"iso","remote_share":"/export/iso"}');
