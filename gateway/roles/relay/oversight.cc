#include "gateway/roles/relay/oversight.h"

#include <capnp/schema.h>

#include <optional>

#include "gateway/wire/wire.h"

namespace cg::relay {
namespace {

std::optional<schema::Kind> kind_named(std::string_view name) {
  for (const auto e : capnp::Schema::from<schema::Kind>().getEnumerants()) {
    if (wire::view(e.getProto().getName()) == name && e.getOrdinal() != 0) {
      return static_cast<schema::Kind>(e.getOrdinal());
    }
  }
  return std::nullopt;
}

std::string kind_name(schema::Kind k) {
  const auto enumerants = capnp::Schema::from<schema::Kind>().getEnumerants();
  const auto i = static_cast<unsigned>(k);
  if (i < enumerants.size()) return std::string(wire::view(enumerants[i].getProto().getName()));
  return "kind " + std::to_string(i);
}

}  // namespace

std::string_view to_string(Drop d) {
  switch (d) {
    case Drop::route:
      return "route not allowed";
    case Drop::kind:
      return "kind not allowed";
    case Drop::stale:
      return "stale";
    case Drop::future:
      return "from the future";
  }
  return "?";
}

Result<Oversight> Oversight::make(const Options& relay) {
  Oversight o;
  for (const auto& r : relay.routes) {
    const auto arrow = r.find("->");
    if (arrow == std::string::npos) return malformed("relay.routes: '" + r + "'");
    o.routes_.emplace(r.substr(0, arrow), r.substr(arrow + 2));
  }
  if (relay.kinds.empty()) {
    o.kinds_ = ~std::uint32_t{1};  // every kind but `unspecified`
  } else {
    for (const auto& k : relay.kinds) {
      auto kind = kind_named(k);
      if (!kind) return malformed("relay.kinds: unknown kind '" + k + "'");
      o.kinds_ |= 1u << static_cast<unsigned>(*kind);
    }
  }
  o.freshness_ns_ = static_cast<std::int64_t>(relay.freshness_seconds) * 1'000'000'000;
  return o;
}

Status Oversight::check(std::string_view origin_party, schema::EnvelopeHeader::Reader header,
                        std::int64_t now_ns, Drop* drop) const {
  auto fail = [&](Drop d, const std::string& detail) {
    if (drop) *drop = d;
    return rejected("oversight: " + std::string(to_string(d)) + ": " + detail);
  };
  const std::string destination(wire::view(header.getDestination()));
  if (!routes_.count({std::string(origin_party), destination})) {
    return fail(Drop::route, std::string(origin_party) + "->" + destination);
  }
  const auto k = static_cast<unsigned>(header.getKind());
  if (k >= 32 || !(kinds_ & (1u << k))) return fail(Drop::kind, kind_name(header.getKind()));
  const std::int64_t t = header.getTime();
  if (t > now_ns + future_skew_ns) {
    return fail(Drop::future,
                "sealed at " + wire::format_rfc3339(t) + ", now " + wire::format_rfc3339(now_ns));
  }
  if (now_ns - t > freshness_ns_) {
    return fail(Drop::stale, "sealed at " + wire::format_rfc3339(t) + ", more than " +
                                 std::to_string(freshness_ns_ / 1'000'000'000) + " s ago");
  }
  return {};
}

}  // namespace cg::relay
