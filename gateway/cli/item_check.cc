#include <cstdio>
#include <fstream>
#include <iterator>

#include "gateway/cli/cli.h"
#include "gateway/common/text.h"
#include "gateway/wire/wire.h"

namespace cg::cli {
namespace {

// Reads at most `max + 1` bytes: enough to know a file is too large without reading it all.
Result<std::vector<std::uint8_t>> read_bounded(const std::string& file, std::size_t max) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return io_error(file + ": cannot read");
  std::vector<std::uint8_t> bytes;
  bytes.reserve(4096);
  std::istreambuf_iterator<char> it(in), end;
  for (; it != end && bytes.size() <= max; ++it) bytes.push_back(static_cast<std::uint8_t>(*it));
  return bytes;
}

bool looks_like_json(std::span<const std::uint8_t> bytes) {
  for (std::uint8_t b : bytes) {
    if (b == ' ' || b == '\n' || b == '\r' || b == '\t') continue;
    return b == '{';
  }
  return false;
}

}  // namespace

Result<wire::Message<schema::Item>> load_item(const std::string& file) {
  CG_ASSIGN_OR_RETURN(auto bytes, read_bounded(file, wire::item_json_bytes_max));
  if (looks_like_json(bytes)) {
    return wire::item_from_json({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  }
  return wire::decode_item(bytes);
}

int item_check(const std::vector<std::string>& files, bool json) {
  int rc = exit_ok;
  for (const auto& file : files) {
    auto result = load_item(file);
    if (!result.ok() && result.status().code() == Code::io) {
      std::fprintf(stderr, "%s\n", result.status().reason().c_str());
      rc = exit_io;
      continue;
    }
    if (result.ok()) {
      if (json)
        std::printf("{\"file\":\"%s\",\"ok\":true}\n", json_escape(file).c_str());
      else
        std::printf("%s: ok\n", file.c_str());
      continue;
    }
    if (rc == exit_ok) rc = exit_failed;
    if (json) {
      std::printf("{\"file\":\"%s\",\"ok\":false,\"code\":\"%s\",\"reason\":\"%s\"}\n",
                  json_escape(file).c_str(), std::string(code_name(result.status().code())).c_str(),
                  json_escape(result.status().reason()).c_str());
    } else {
      std::printf("%s: %s\n", file.c_str(), result.status().to_string().c_str());
    }
  }
  return rc;
}

int item_encode(const std::string& in, const std::string& out, bool force) {
  auto item = load_item(in);
  if (!item.ok()) {
    std::fprintf(stderr, "%s: %s\n", in.c_str(), item.status().to_string().c_str());
    return item.status().code() == Code::io ? exit_io : exit_failed;
  }
  auto bytes = wire::to_flat_bytes(*item);
  if (auto s = write_output(out, bytes, 0644, force); !s.ok()) {
    std::fprintf(stderr, "item encode: %s\n", s.reason().c_str());
    return s.code() == Code::io ? exit_io : exit_failed;
  }
  return exit_ok;
}

int item_show(const std::string& file) {
  auto item = load_item(file);
  if (!item.ok()) {
    std::fprintf(stderr, "%s: %s\n", file.c_str(), item.status().to_string().c_str());
    return item.status().code() == Code::io ? exit_io : exit_failed;
  }
  std::printf("%s\n", wire::item_to_json(item->root()).c_str());
  return exit_ok;
}

}  // namespace cg::cli
