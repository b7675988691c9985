// Fuzz target: the filter ↔ release-guard messages (schemas/guard.capnp) as both ends decode
// them (gateway/signatory decode_request, decode_reply): anything is refused as malformed or
// decodes with every field the ends read within bounds.
#include <cstdint>
#include <cstdlib>

#include "gateway/signatory/signatory.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto req = cg::signatory::decode_request({data, size});
  if (!req.ok() && req.status().code() != cg::Code::malformed) std::abort();
  if (req.ok() && req->root().which() == cg::schema::GuardRequest::SEAL) {
    for (const auto r : req->root().getSeal().getReleases()) {
      if (r.getHandoff() == 0 || r.getOriginal().size() == 0) std::abort();
    }
  }
  auto reply = cg::signatory::decode_reply({data, size});
  if (!reply.ok() && reply.status().code() != cg::Code::malformed) std::abort();
  return 0;
}
