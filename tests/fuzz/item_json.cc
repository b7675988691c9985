// Fuzz target: JSON items (gateway/wire item_from_json). Any input gives a clean Status or an
// item whose JSON form parses back to the same canonical bytes.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gateway/wire/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto item = cg::wire::item_from_json({reinterpret_cast<const char*>(data), size});
  if (!item.ok()) {
    if (item.status().code() != cg::Code::malformed) std::abort();
    return 0;
  }
  auto again = cg::wire::item_from_json(cg::wire::item_to_json(item->root()));
  if (!again.ok()) std::abort();
  auto a = item->canonical_bytes(), b = again->canonical_bytes();
  if (!std::equal(a.begin(), a.end(), b.begin(), b.end())) std::abort();
  return 0;
}
