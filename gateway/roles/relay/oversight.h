// gateway/roles/relay: the supervisor's oversight of what crosses, judged on the visible envelope
// header only (the relay cannot read content unless the deployment makes it a recipient).
//
// An envelope passes when its (origin party -> destination party) route is allowed, its kind
// is one the supervisor lets through, and it is fresh: sealed no longer than the freshness
// window ago and not in the future beyond the tolerated clock skew. Signature, sequence and
// rules-bundle checks are the relay node's other stages; this is the policy part.
//
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gateway/common/status.h"
#include "schemas/envelope.capnp.h"

namespace cg::relay {

// Clock skew tolerated between an origin and the relay.
inline constexpr std::int64_t future_skew_ns = 30LL * 1'000'000'000;

enum class Drop : std::uint8_t { route, kind, stale, future };
std::string_view to_string(Drop d);

// What the supervisor lets through; the node fills it from its config ([relay]).
struct Options {
  std::uint32_t freshness_seconds = 600;  // envelopes older than this are dropped as stale
  std::vector<std::string> routes;        // "il->sy": origin party -> destination party allowed
  std::vector<std::string> kinds;         // kinds the oversight policy lets through (empty: all)
};

class Oversight final {
 public:
  // Errors: malformed (a route without "->", an unknown kind name).
  static Result<Oversight> make(const Options& options);

  // ok, or Code::rejected with "oversight: <drop>: <detail>"; `drop` tells which.
  Status check(std::string_view origin_party, schema::EnvelopeHeader::Reader header,
               std::int64_t now_ns, Drop* drop = nullptr) const;

 private:
  std::set<std::pair<std::string, std::string>> routes_;
  std::uint32_t kinds_ = 0;  // bit k: schema::Kind k allowed
  std::int64_t freshness_ns_ = 0;
};

}  // namespace cg::relay
