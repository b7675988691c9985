// Fuzz target: rules-bundle chunks as the relay reassembles them from the gateway's control
// records (approval::BundleAssembler). The input is a sequence of records, each prefixed
// by its length (u16 LE). Hostile chunks must end in a malformed status or an incomplete
// bundle, never a crash; a completed bundle must be exactly what bundle_chunks() would cut.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "gateway/approval/approval.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cg::approval::BundleAssembler assembler;
  std::span<const std::uint8_t> in(data, size);
  while (in.size() >= 2) {
    const std::size_t n = std::min<std::size_t>(in[0] | (in[1] << 8), in.size() - 2);
    auto record = in.subspan(2, n);
    in = in.subspan(2 + n);
    auto r = assembler.add(record);
    if (!r.ok()) {
      if (r.status().code() != cg::Code::malformed) std::abort();
      continue;
    }
    if (*r) {
      // Whatever completed must cut back into chunks the assembler accepts again.
      cg::approval::BundleAssembler again;
      auto chunks = cg::approval::bundle_chunks(**r, 1400);
      if (chunks.empty()) std::abort();
      for (std::size_t i = 0; i < chunks.size(); ++i) {
        auto c = again.add(chunks[i]);
        if (!c.ok() || (i + 1 < chunks.size()) == c->has_value()) std::abort();
        if (c->has_value() && **c != **r) std::abort();
      }
    }
  }
  return 0;
}
