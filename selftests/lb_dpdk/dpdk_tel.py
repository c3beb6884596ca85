#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Send one DPDK telemetry command to crab-lb-dpdk and print the JSON value.

    dpdk_tel.py PREFIX '/crab/stats'
    dpdk_tel.py PREFIX '/crab/backends,198.18.100.1:80'
"""
import json
import socket
import sys


def main():
    prefix, cmd = sys.argv[1], sys.argv[2]
    path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(path)
    s.recv(16384)  # the greeting: version, pid, max_output_len
    s.send(cmd.encode())
    reply = json.loads(s.recv(65536).decode())
    s.close()
    val = reply.get(cmd.split(",")[0])
    print(json.dumps(val))
    return 0 if val is not None else 1


if __name__ == "__main__":
    sys.exit(main())
