// SPDX-License-Identifier: GPL-2.0-only
// Replay runner: the same fuzz target code, linked with this main instead of
// libFuzzer, runs every file of the given files/directories once. ctest runs
// it over fuzz/regressions/<target>/ and fuzz/corpus/<target>/ in every
// `make check-unit`, so a fixed crash stays fixed even where clang's fuzzer
// runtime is missing. A violated invariant aborts (naming the file first).
//   fuzz_<target>_replay PATH...
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

int main(int argc, char** argv)
{
    std::vector<fs::path> files;
    for (int i = 1; i < argc; i++) {
        fs::path p(argv[i]);
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            for (const auto& e : fs::directory_iterator(p))
                if (e.is_regular_file() && e.path().filename().string()[0] != '.')
                    files.push_back(e.path());
        } else if (fs::is_regular_file(p, ec)) {
            files.push_back(p);
        } else {
            std::fprintf(stderr, "error: no such file or directory '%s'\n", argv[i]);
            return 2;
        }
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        std::fprintf(stderr, "error: no inputs to replay\n");
        return 2;
    }
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        std::vector<uint8_t> d((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::fprintf(stderr, "replay %s (%zu bytes)\n", f.c_str(), d.size());
        // A copy of exactly the file's size, as libFuzzer passes it.
        std::vector<uint8_t> buf(d);
        LLVMFuzzerTestOneInput(buf.data(), buf.size());
    }
    std::printf("replayed %zu inputs, no invariant violated\n", files.size());
    return 0;
}
