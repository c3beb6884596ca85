# SPDX-License-Identifier: GPL-2.0-only
"""The Internet checksum (RFC 1071), shared by the selftests' packet tools
(endpoints/ep_tool.py, hardening/malformed.py)."""
import struct


def csum(data):
    """One's complement of the one's complement sum of DATA's 16-bit words
    (an odd length is padded with a zero byte)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF
