/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The DPDK LB's control interface, shared by the LB (lb/dpdk/app/control.cpp,
 * which registers the commands with DPDK telemetry) and crabctl
 * (userspace/crabctl/cmd_lb_dpdk.cpp, which sends them).
 *
 * Transport: DPDK telemetry v2, a SOCK_SEQPACKET socket
 * /var/run/dpdk/<EAL --file-prefix>/CRAB_DPDK_TELEMETRY_SOCKET; a request is
 * "COMMAND[,PARAMS]", the answer one JSON object {COMMAND: value}, an error
 * {COMMAND: {"error": "..."}}. Parameters are comma-separated, KEY=VALUE
 * after the positional ones. VIP:PORT is a.b.c.d:PORT or [IPV6]:PORT, a DIP
 * an address of the service's family (a service is one family):
 *
 *   CRAB_DPDK_CMD_STATS             [VIP:PORT]
 *   CRAB_DPDK_CMD_SERVICES
 *   CRAB_DPDK_CMD_BACKENDS          VIP:PORT
 *   CRAB_DPDK_CMD_SERVICE_ADD       VIP:PORT[,policy=P][,legacy=L]
 *   CRAB_DPDK_CMD_SERVICE_SET       VIP:PORT[,policy=P][,legacy=L]   in place
 *   CRAB_DPDK_CMD_SERVICE_DEL       VIP:PORT
 *   CRAB_DPDK_CMD_BACKEND_ADD       VIP:PORT,DIP[,weight=W][,mac=MAC]
 *   CRAB_DPDK_CMD_BACKEND_SET       VIP:PORT,DIP[,weight=W][,mac=MAC]  in place
 *   CRAB_DPDK_CMD_BACKEND_DEL       VIP:PORT,DIP
 *   CRAB_DPDK_CMD_BACKEND_DRAIN     VIP:PORT,DIP
 *   CRAB_DPDK_CMD_BACKEND_ACTIVATE  VIP:PORT,DIP
 */
#ifndef CRAB_DPDK_CTL_H
#define CRAB_DPDK_CTL_H

#define CRAB_DPDK_TELEMETRY_SOCKET	"dpdk_telemetry.v2"

#define CRAB_DPDK_CMD_STATS		"/crab/stats"
#define CRAB_DPDK_CMD_SERVICES		"/crab/services"
#define CRAB_DPDK_CMD_BACKENDS		"/crab/backends"
#define CRAB_DPDK_CMD_SERVICE_ADD	"/crab/service_add"
#define CRAB_DPDK_CMD_SERVICE_SET	"/crab/service_set"
#define CRAB_DPDK_CMD_SERVICE_DEL	"/crab/service_del"
#define CRAB_DPDK_CMD_BACKEND_ADD	"/crab/backend_add"
#define CRAB_DPDK_CMD_BACKEND_SET	"/crab/backend_set"
#define CRAB_DPDK_CMD_BACKEND_DEL	"/crab/backend_del"
#define CRAB_DPDK_CMD_BACKEND_DRAIN	"/crab/backend_drain"
#define CRAB_DPDK_CMD_BACKEND_ACTIVATE	"/crab/backend_activate"

#endif /* CRAB_DPDK_CTL_H */
