// Fuzz target: node configuration files (gateway/config parse), TOML via toml++.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gateway/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto c = cg::config::parse({reinterpret_cast<const char*>(data), size}, "fuzz.toml");
  if (!c.ok() && c.status().code() != cg::Code::malformed) std::abort();
  if (c.ok() && (c->id.empty() || c->store.empty())) std::abort();
  return 0;
}
