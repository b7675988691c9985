#include "gateway/common/rate_log.h"

#include <cstdio>

#include "gateway/common/assert.h"

namespace cg {

RateLimitedLog::RateLimitedLog(std::string node, const Clock& clock, std::int64_t interval_ns,
                               Sink sink)
    : node_(std::move(node)), clock_(clock), interval_ns_(interval_ns), sink_(std::move(sink)) {
  CG_ASSERT(interval_ns_ > 0);
  if (!sink_) sink_ = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
}

bool RateLimitedLog::log(std::string_view reason, std::string_view text) {
  const std::int64_t now = clock_.monotonic_ns();
  std::string line;
  {
    MutexLock lock(mu_);
    auto it = states_.find(reason);
    if (it == states_.end()) it = states_.emplace(std::string(reason), State{}).first;
    State& s = it->second;
    if (s.logged && now - s.last_ns < interval_ns_) {
      ++s.suppressed;
      return false;
    }
    line = "[" + node_ + "] " + std::string(text);
    if (s.suppressed > 0) {
      line += " (and " + std::to_string(s.suppressed) + " more like it suppressed in the last " +
              std::to_string((now - s.last_ns) / ns_per_s) + " s)";
    }
    s.logged = true;
    s.last_ns = now;
    s.suppressed = 0;
  }
  sink_(line);
  return true;
}

std::uint64_t RateLimitedLog::suppressed(std::string_view reason) const {
  MutexLock lock(mu_);
  auto it = states_.find(reason);
  return it == states_.end() ? 0 : it->second.suppressed;
}

}  // namespace cg
