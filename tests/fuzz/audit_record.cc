// Fuzz target: the stored audit record check that `cellgate audit verify` runs on every record
// of a possibly tampered store (gateway/audit check_record).
#include <cstdint>
#include <cstdlib>

#include "gateway/audit/audit.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cg::Status s = cg::audit::check_record({data, size});
  if (!s.ok() && s.code() != cg::Code::malformed) std::abort();
  return 0;
}
