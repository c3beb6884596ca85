// SPDX-License-Identifier: GPL-2.0-only
// crab-nettest: command-line words of one subcommand ("--name value",
// "--name=value", "--flag"; everything else is positional).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace crab::nettest {

struct Args {
	std::vector<std::string> pos;
	std::multimap<std::string, std::string> opt;
	std::string error;

	bool has(const std::string &k) const { return opt.count(k) > 0; }
	std::string get(const std::string &k, const std::string &def = "") const
	{
		auto r = opt.equal_range(k);
		return r.first == r.second ? def : std::prev(r.second)->second;
	}
	std::vector<std::string> all(const std::string &k) const
	{
		std::vector<std::string> v;
		for (auto r = opt.equal_range(k); r.first != r.second; ++r.first)
			v.push_back(r.first->second);
		return v;
	}
};

// @flags take no value, @values take one; any other "--x" is an error.
inline Args parse_args(int argc, char **argv, const std::set<std::string> &flags,
		       const std::set<std::string> &values)
{
	Args a;
	bool only_pos = false;
	for (int i = 0; i < argc; i++) {
		std::string w = argv[i];
		if (only_pos || w.size() < 3 || w.compare(0, 2, "--") != 0) {
			a.pos.push_back(w);
			continue;
		}
		if (w == "--") {
			only_pos = true;
			continue;
		}
		std::string k = w.substr(2), v;
		bool inline_v = false;
		if (auto eq = k.find('='); eq != std::string::npos) {
			v = k.substr(eq + 1);
			k = k.substr(0, eq);
			inline_v = true;
		}
		if (flags.count(k) && !inline_v) {
			a.opt.emplace(k, "1");
		} else if (values.count(k)) {
			if (!inline_v) {
				if (i + 1 >= argc) {
					a.error = "--" + k + " needs a value";
					return a;
				}
				v = argv[++i];
			}
			a.opt.emplace(k, v);
		} else {
			a.error = "unknown option --" + k;
			return a;
		}
	}
	return a;
}

int cmd_server(const Args &a);
int cmd_client(const Args &a);

} // namespace crab::nettest
