// RateLimitedLog: log lines about events a peer can cause at will (bad MACs, refused keys,
// refused releases), without letting that peer flood the log.
//
// Lines keep the nodes' plain format, "[node] text". Each event has a reason (a short fixed
// key such as "bad_mac"): at most one line per reason per interval is written; the repeats in
// between are counted, and the next line written for that reason says how many were
// suppressed. Reasons are a small closed set chosen by the code, never taken from input, so
// the table stays small. The clock is the monotonic clock of `clock` (a FakeClock in tests).
//
// Thread-safe: one log may be shared by a node's threads (a mutex guards the table).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "gateway/common/clock.h"
#include "gateway/common/mutex.h"

namespace cg {

class RateLimitedLog final {
 public:
  // Where finished lines go (without the trailing newline). The default writes to stderr.
  using Sink = std::function<void(const std::string& line)>;

  // Keeps a reference to `clock`, which must outlive the log. `interval_ns` > 0.
  RateLimitedLog(std::string node, const Clock& clock, std::int64_t interval_ns,
                 Sink sink = nullptr);

  // Writes "[node] text" unless a line for `reason` was written less than the interval ago,
  // in which case the event is only counted. A written line carries, when some were, the
  // count of lines suppressed for this reason since the previous one:
  //   "[node] text (and 12 more like it suppressed in the last 10 s)"
  // Returns whether the line was written.
  bool log(std::string_view reason, std::string_view text);

  // Lines suppressed so far for `reason` and not yet reported.
  std::uint64_t suppressed(std::string_view reason) const;

 private:
  struct State {
    std::int64_t last_ns = 0;
    bool logged = false;
    std::uint64_t suppressed = 0;
  };
  const std::string node_;
  const Clock& clock_;
  const std::int64_t interval_ns_;
  Sink sink_;
  mutable Mutex mu_;
  std::map<std::string, State, std::less<>> states_ CG_GUARDED_BY(mu_);
};

}  // namespace cg
