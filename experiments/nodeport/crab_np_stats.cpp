// SPDX-License-Identifier: GPL-2.0-only
/*
 * crab-np-stats: print the counters and flow-map sizes of one instance of
 * the NodePort redirection programs (one network namespace's node or LB
 * programs), read from the maps pinned by "bpftool prog loadall ...
 * pinmaps DIR".
 *
 *   crab-np-stats [--json] DIR
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <crab/crab_np.h>

namespace {

struct Counter {
	const char *name;
	const char *help;
};

#define CRAB_NP_CNT_ROW(e, n, h) {n, h},
const Counter kCounters[] = {CRAB_NP_COUNTERS(CRAB_NP_CNT_ROW)};
#undef CRAB_NP_CNT_ROW

int open_map(const std::string &dir, const char *name)
{
	return bpf_obj_get((dir + "/" + name).c_str());
}

/* Entries in a hash map, or -1 when it is not pinned in DIR. */
long count_entries(const std::string &dir, const char *name)
{
	int fd = open_map(dir, name);
	if (fd < 0)
		return -1;
	crab_np_tuple k{}, next{};
	long n = 0;
	void *prev = nullptr;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		n++;
		k = next;
		prev = &k;
	}
	close(fd);
	return n;
}

} // namespace

int main(int argc, char **argv)
{
	bool json = false;
	std::string dir;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			json = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: crab-np-stats [--json] PINNED_MAPS_DIR\n");
			return 0;
		} else if (dir.empty())
			dir = argv[i];
		else {
			fprintf(stderr, "error: unexpected argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (dir.empty()) {
		fprintf(stderr, "error: missing PINNED_MAPS_DIR\n");
		return 2;
	}
	int fd = open_map(dir, CRAB_NP_MAP_STATS);
	if (fd < 0) {
		fprintf(stderr, "error: cannot open %s/%s: %s\n", dir.c_str(),
			CRAB_NP_MAP_STATS, strerror(errno));
		return 1;
	}
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0) {
		fprintf(stderr, "error: cannot count possible CPUs\n");
		return 1;
	}
	std::vector<__u64> vals(ncpu);
	std::vector<__u64> sums(CRAB_NP_CNT_MAX);
	for (__u32 i = 0; i < CRAB_NP_CNT_MAX; i++) {
		if (bpf_map_lookup_elem(fd, &i, vals.data())) {
			fprintf(stderr, "error: reading counter %u: %s\n", i, strerror(errno));
			return 1;
		}
		for (int c = 0; c < ncpu; c++)
			sums[i] += vals[c];
	}
	close(fd);
	const char *maps[] = {CRAB_NP_MAP_IN, CRAB_NP_MAP_OUT, CRAB_NP_MAP_LB};
	if (json) {
		printf("{\"counters\": {");
		for (__u32 i = 0; i < CRAB_NP_CNT_MAX; i++)
			printf("%s\"%s\": %llu", i ? ", " : "", kCounters[i].name,
			       (unsigned long long)sums[i]);
		printf("}, \"flows\": {");
		bool first = true;
		for (const char *m : maps) {
			long n = count_entries(dir, m);
			if (n < 0)
				continue;
			printf("%s\"%s\": %ld", first ? "" : ", ", m, n);
			first = false;
		}
		printf("}}\n");
		return 0;
	}
	for (__u32 i = 0; i < CRAB_NP_CNT_MAX; i++)
		printf("%-22s %12llu  %s\n", kCounters[i].name,
		       (unsigned long long)sums[i], kCounters[i].help);
	for (const char *m : maps) {
		long n = count_entries(dir, m);
		if (n >= 0)
			printf("%-22s %12ld  entries\n", m, n);
	}
	return 0;
}
