#!/bin/sh
# static routes do not persist on 4.x/5.0
esxcfg-route -a 10.99.0.0/16 192.168.10.254
/sbin/esxcfg-route -a 172.16.5.0 255.255.255.0 10.20.0.1
exit 0
