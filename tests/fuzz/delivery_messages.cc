// Fuzz target: both parsers of the receiver ⇄ consumer protocol (gateway/deliver): the
// receiver's parse_consumer_message and the consumer's parse_delivery, on the same input.
#include <cstdint>
#include <cstdlib>

#include "gateway/deliver/deliver.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto request = cg::deliver::parse_consumer_message({data, size});
  if (!request.ok() && request.status().code() != cg::Code::malformed) std::abort();
  if (request.ok() && request->ready && request->window == 0) std::abort();
  auto delivery = cg::deliver::parse_delivery({data, size});
  if (!delivery.ok() && delivery.status().code() != cg::Code::malformed) std::abort();
  if (delivery.ok() && (delivery->seq == 0 || delivery->origin.empty())) std::abort();
  return 0;
}
