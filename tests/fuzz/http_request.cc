// Fuzz target: the metrics endpoint's HTTP request parser (gateway/metrics parse_request).
#include <cstdint>
#include <cstdlib>

#include "gateway/metrics/metrics.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto r = cg::metrics::parse_request({data, size});
  if (!r.ok() && r.status().code() != cg::Code::malformed) std::abort();
  if (r.ok() && (r->path.empty() || r->path[0] != '/')) std::abort();
  return 0;
}
