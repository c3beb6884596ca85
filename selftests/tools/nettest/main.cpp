// SPDX-License-Identifier: GPL-2.0-only
// crab-nettest: one small binary for the selftests' traffic and packets,
// so that a test in an emulated guest starts no interpreter per
// connection, packet or check (selftests/README.md has the interface).
#include "args.hpp"

#include <cstdio>
#include <cstring>
#include <string>

namespace crab::nettest {
int cmd_send(const Args &a);
int cmd_capture(const Args &a);
int cmd_pcap(const Args &a);
int cmd_script(const Args &a);
int cmd_json(const Args &a);
int cmd_sysctl(const Args &a);
int cmd_anchor(const Args &a);
int cmd_reap(const Args &a);
} // namespace crab::nettest

using namespace crab::nettest;

namespace {

const char kUsage[] =
	"usage: crab-nettest COMMAND [options]\n"
	"  server --port P[,P...] [--bind IP] [--accepted FILE] [--peers FILE]\n"
	"         [--ready FILE | --daemon [--log FILE]]\n"
	"  client --addr IP --port P [--count N] [--size B] [--timeout S] [--deadline S]\n"
	"         [--parallel K] [--bind IP] [--report FILE]\n"
	"         [--hold [--rounds R] [--interval S] [--ready F] [--stop F] [--stop-file F]]\n"
	"         [--rate R [--parallel K]] [--until FILE]\n"
	"  send [--verbose] [--until FILE] WORDS...\n"
	"                           (src= dst= sport= dport= flags= opt= count= ... [dev= dmac=|nh=])\n"
	"  capture [--dev IF] [--count N] [--timeout S] [--ready FILE] [FILTER...]\n"
	"  pcap [--summary] [--port P] [--filter 'WORDS'] [LABEL=]FILE...\n"
	"  script [FILE]            (capture / send / expect / sleep / print lines)\n"
	"  json [--file F] PATH...  (/key/0/[key=value]/...)\n"
	"  sysctl @NS KEY=VALUE... [@NS2 KEY=VALUE...]   (net sysctls of /run/netns/NS...)\n"
	"  anchor NS...             (a process in each namespace; prints \"NS PID\" lines)\n"
	"  reap [--verbose] NS...   (SIGKILL every process in these namespaces)\n"
	"  send, capture, pcap and script take --opt-kind 42|254 [--opt-exid X]\n"
	"  (the option form decoded packets are walked with). See selftests/README.md.\n";

} // namespace

int main(int argc, char **argv)
{
	if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
		std::fputs(kUsage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const std::string cmd = argv[1];
	const std::set<std::string> optform = {"opt-kind", "opt-exid"};
	auto with = [&](std::set<std::string> v) {
		v.insert(optform.begin(), optform.end());
		return v;
	};
	Args a;
	int (*run)(const Args &) = nullptr;
	if (cmd == "server") {
		a = parse_args(argc - 2, argv + 2, {"daemon"}, {"port", "bind", "accepted", "peers", "ready", "log"});
		run = cmd_server;
	} else if (cmd == "client") {
		a = parse_args(argc - 2, argv + 2, {"hold", "json"},
			       {"addr", "port", "count", "size", "timeout", "deadline", "rounds", "interval", "ready",
				"stop-file", "stop", "rate", "parallel", "until", "report", "bind"});
		run = cmd_client;
	} else if (cmd == "send") {
		a = parse_args(argc - 2, argv + 2, {"verbose"}, with({"until"}));
		run = cmd_send;
	} else if (cmd == "capture") {
		a = parse_args(argc - 2, argv + 2, {}, with({"dev", "count", "timeout", "ready"}));
		run = cmd_capture;
	} else if (cmd == "pcap") {
		a = parse_args(argc - 2, argv + 2, {"summary"}, with({"port", "filter"}));
		run = cmd_pcap;
	} else if (cmd == "script") {
		a = parse_args(argc - 2, argv + 2, {}, with({}));
		run = cmd_script;
	} else if (cmd == "reap") {
		a = parse_args(argc - 2, argv + 2, {"verbose"}, {});
		run = cmd_reap;
	} else if (cmd == "anchor") {
		a = parse_args(argc - 2, argv + 2, {}, {});
		run = cmd_anchor;
	} else if (cmd == "sysctl") {
		a = parse_args(argc - 2, argv + 2, {}, {});
		run = cmd_sysctl;
	} else if (cmd == "json") {
		a = parse_args(argc - 2, argv + 2, {}, {"file"});
		run = cmd_json;
	} else {
		std::fprintf(stderr, "crab-nettest: unknown command '%s'\n%s", cmd.c_str(), kUsage);
		return 2;
	}
	if (!a.error.empty()) {
		std::fprintf(stderr, "crab-nettest %s: %s\n", cmd.c_str(), a.error.c_str());
		return 2;
	}
	if ((cmd == "server" || cmd == "client") && !a.pos.empty()) {
		std::fprintf(stderr, "crab-nettest %s: unexpected '%s'\n", cmd.c_str(), a.pos[0].c_str());
		return 2;
	}
	return run(a);
}
