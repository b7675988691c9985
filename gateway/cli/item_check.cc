#include <cstdio>
#include <fstream>
#include <iterator>

#include "gateway/cli/cli.h"
#include "gateway/common/text.h"
#include "gateway/wire/wire.h"

namespace cg::cli {

int item_check(const std::vector<std::string>& files, bool json) {
  int rc = exit_ok;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot read\n", file.c_str());
      rc = exit_io;
      continue;
    }
    // Read at most one byte past the limit: enough to know the file is too large.
    std::vector<std::uint8_t> bytes;
    bytes.reserve(4096);
    std::istreambuf_iterator<char> it(in), end;
    for (; it != end && bytes.size() <= limits::item_bytes_max; ++it) {
      bytes.push_back(static_cast<std::uint8_t>(*it));
    }
    auto result = wire::decode_item(bytes);
    if (result.ok()) {
      if (json) std::printf("{\"file\":\"%s\",\"ok\":true}\n", json_escape(file).c_str());
      else std::printf("%s: ok\n", file.c_str());
    } else {
      if (rc == exit_ok) rc = exit_failed;
      if (json) {
        std::printf("{\"file\":\"%s\",\"ok\":false,\"code\":\"%s\",\"reason\":\"%s\"}\n",
                    json_escape(file).c_str(),
                    std::string(code_name(result.status().code())).c_str(),
                    json_escape(result.status().reason()).c_str());
      } else {
        std::printf("%s: %s\n", file.c_str(), result.status().to_string().c_str());
      }
    }
  }
  return rc;
}

}  // namespace cg::cli
