// Fuzz target: the item decode boundaries (gateway/wire decode_item for framed input from
// sources, decode_canonical_item for items opened from envelopes). Any input must yield either
// a clean Status or an item that re-validates and re-encodes to the same canonical bytes.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "gateway/wire/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto canonical = cg::wire::decode_canonical_item({data, size});
  if (canonical.ok()) {
    auto bytes = canonical->canonical_bytes();
    // Canonical input is accepted only as itself.
    if (bytes.size() != size || !std::equal(bytes.begin(), bytes.end(), data)) std::abort();
  } else if (canonical.status().code() != cg::Code::malformed) {
    std::abort();
  }
  auto result = cg::wire::decode_item({data, size});
  if (!result.ok()) {
    if (result.status().code() != cg::Code::malformed) std::abort();
    return 0;
  }
  if (!cg::wire::validate_item(result->root()).ok()) std::abort();
  auto again = cg::wire::decode_item(cg::wire::to_flat_bytes(*result));
  if (!again.ok()) std::abort();
  auto a = result->canonical_bytes();
  auto b = again->canonical_bytes();
  if (a.size() != b.size() || !std::equal(a.begin(), a.end(), b.begin())) std::abort();
  return 0;
}
