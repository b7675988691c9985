#include "gateway/common/assert.h"

#include <cstdio>
#include <cstdlib>

namespace cg::detail {

void assert_fail(const char* condition, const char* file, int line, const char* message) noexcept {
  std::fprintf(stderr, "cellgate: assertion failed: %s at %s:%d%s%s\n", condition, file, line,
               message ? ": " : "", message ? message : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace cg::detail
