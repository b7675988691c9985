// Fuzz target: an envelope as the relay and the receiver read it off the link
// (gateway/envelope decode: the wire boundary plus every structural rule), and its canonical
// header, whose bytes are hashed. Hostile input must end in `malformed`, never a crash.
#include <cstdint>
#include <cstdlib>

#include "gateway/envelope/envelope.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto e = cg::envelope::decode({data, size});
  if (!e.ok()) {
    if (e.status().code() != cg::Code::malformed) std::abort();
    return 0;
  }
  const auto r = e->root();
  auto header = cg::wire::canonical(r.getHeader());
  if (header.canonical_bytes().empty()) std::abort();
  const auto leaf =
      cg::envelope::digest_leaf(cg::crypto::modern_suite(), header.canonical_bytes(),
                                {r.getCiphertext().begin(), r.getCiphertext().size()});
  if (leaf.size() != 32) std::abort();
  return 0;
}
