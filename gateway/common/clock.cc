#include "gateway/common/clock.h"

#include <time.h>

namespace cg {
namespace {
std::int64_t read_clock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * ns_per_s + ts.tv_nsec;
}
}  // namespace

std::int64_t SystemClock::now_ns() const { return read_clock(CLOCK_REALTIME); }
std::int64_t SystemClock::monotonic_ns() const { return read_clock(CLOCK_MONOTONIC); }

}  // namespace cg
