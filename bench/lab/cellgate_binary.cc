// cellgate_binary() (cell_util.h): where the lab finds the production binary it runs the
// nodes with.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "bench/lab/cell_util.h"

namespace cg::lab {
namespace {

bool executable(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

}  // namespace

std::string cellgate_binary() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec && executable(self.parent_path() / "cellgate")) {
    return (self.parent_path() / "cellgate").string();
  }
#ifdef CG_CELLGATE_BINARY
  if (executable(CG_CELLGATE_BINARY)) return CG_CELLGATE_BINARY;
#endif
  const char* path = std::getenv("PATH");
  std::string_view dirs = path == nullptr ? "" : path;
  while (!dirs.empty()) {
    auto colon = dirs.find(':');
    auto dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? "" : dirs.substr(colon + 1);
    if (!dir.empty() && executable(std::filesystem::path(dir) / "cellgate")) {
      return (std::filesystem::path(dir) / "cellgate").string();
    }
  }
  return "cellgate";
}

}  // namespace cg::lab
