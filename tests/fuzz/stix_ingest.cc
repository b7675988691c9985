// Fuzz target: STIX 2.1 bundles → items (gateway/stix to_items), and every item that maps
// must map back to a STIX object (from_item).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gateway/stix/stix.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cg::stix::Options o;
  o.source = "fuzz-source";
  o.policy_id = "cell-2026";
  o.levels = {"UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET"};
  o.now_ns = 1'790'000'000'000'000'000;
  auto mapped = cg::stix::to_items({reinterpret_cast<const char*>(data), size}, o);
  if (!mapped.ok()) {
    if (mapped.status().code() != cg::Code::malformed) std::abort();
    return 0;
  }
  for (const auto& item : mapped->items) {
    if (!cg::wire::validate_item(item.root()).ok()) std::abort();
    if (!cg::stix::from_item(item.root(), o.levels).ok()) std::abort();
  }
  return 0;
}
