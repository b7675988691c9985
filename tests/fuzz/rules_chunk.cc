// Fuzz target: one rules-bundle chunk as the relay reads it from a control record
// (approval::decode_bundle_chunk, schemas/FORMATS.md "Rules-bundle chunk"). Hostile bytes
// must end in a malformed status, never a crash; a chunk that decodes must encode back to
// exactly the bytes it was read from (the layout has no slack) and fit the limits it claims.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "gateway/approval/approval.h"
#include "gateway/common/limits.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> record(data, size);
  auto c = cg::approval::decode_bundle_chunk(record);
  if (!c.ok()) {
    if (c.status().code() != cg::Code::malformed) std::abort();
    return 0;
  }
  if (!cg::approval::is_bundle_chunk(record)) std::abort();
  if (c->data.empty() || c->total == 0 || c->total > cg::limits::rules_bundle_bytes_max ||
      c->offset >= c->total || c->data.size() > c->total - c->offset) {
    std::abort();
  }
  const auto again = cg::approval::encode_bundle_chunk(*c);
  if (!std::equal(again.begin(), again.end(), record.begin(), record.end())) std::abort();
  return 0;
}
