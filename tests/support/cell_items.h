// How many items a multi-process test sends: CG_CELL_ITEMS lowers it for a quick local run; the
// default is what the issue asks for.
#pragma once

#include <cstdint>
#include <cstdlib>

namespace cg::testing {

inline std::uint64_t items_from_env(std::uint64_t fallback) {
  const char* v = std::getenv("CG_CELL_ITEMS");
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace cg::testing
