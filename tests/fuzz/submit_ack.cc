// Fuzz target: a source's parser of the gateway's acks (gateway/ingest parse_ack).
#include <cstdint>
#include <cstdlib>

#include "gateway/ingest/ingest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto ack = cg::ingest::parse_ack({data, size});
  if (!ack.ok() && ack.status().code() != cg::Code::malformed) std::abort();
  if (ack.ok() && ack->accepted && ack->reason != "none") std::abort();
  return 0;
}
