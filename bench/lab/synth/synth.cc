#include "bench/lab/synth/synth.h"

#include <array>

#include "gateway/wire/wire.h"

namespace cg::synth {
namespace {

constexpr std::array<const char*, 24> kWords = {
    "convoy",       "observed", "moving",  "north",    "grid",   "launcher",
    "checkpoint",   "crossing", "patrol",  "report",   "sector", "corridor",
    "humanitarian", "airspace", "notice",  "window",   "supply", "route",
    "vessel",       "harbour",  "meeting", "proposal", "tariff", "delegation"};

constexpr std::array<schema::Kind, 5> kKinds = {schema::Kind::INTELLIGENCE,
                                                schema::Kind::DECONFLICTION, schema::Kind::INCIDENT,
                                                schema::Kind::DIPLOMATIC, schema::Kind::ECONOMIC};

void set_list(capnp::List<capnp::Text>::Builder list, std::initializer_list<const char*> values) {
  unsigned i = 0;
  for (const char* v : values) list.set(i++, v);
}

}  // namespace

Generator::Generator(Options options) : options_(std::move(options)), rng_(options_.seed) {}

std::string Generator::text_body(std::size_t bytes) {
  std::string out;
  out.reserve(bytes + 16);
  while (out.size() < bytes) {
    out += kWords[rng_() % kWords.size()];
    out += ' ';
  }
  out.resize(bytes);
  return out;
}

void Generator::next(schema::Item::Builder item) {
  const std::uint64_t n = counter_++;
  std::array<std::uint8_t, 16> id{};
  for (std::size_t i = 0; i < 8; ++i) id[i] = static_cast<std::uint8_t>(options_.seed >> (8 * i));
  for (std::size_t i = 0; i < 8; ++i) id[8 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  item.setId(kj::arrayPtr(id.data(), id.size()));
  item.setSource(options_.source);
  item.setKind(kKinds[n % kKinds.size()]);
  // Mostly routine, some priority/immediate, a few flash: roughly an operational mix.
  const unsigned r = static_cast<unsigned>(rng_() % 100);
  item.setPrecedence(r < 2    ? schema::Precedence::FLASH
                     : r < 10 ? schema::Precedence::IMMEDIATE
                     : r < 30 ? schema::Precedence::PRIORITY
                              : schema::Precedence::ROUTINE);
  item.setCreated(options_.now_ns + static_cast<std::int64_t>(n) * 1000);
  item.setExpires(0);

  // Label shapes: 0 open (level 0, REL TO all), 1 releasable with a restricted portion,
  // 2 NOFORN, 3 ORCON (review), 4 TLP RED, 5 compartmented.
  const unsigned shape = static_cast<unsigned>(rng_() % 6);
  const std::uint8_t level = shape == 0 ? 0 : static_cast<std::uint8_t>(1 + rng_() % 2);
  auto banner = item.initBanner();
  banner.setPolicyId(options_.policy_id);
  banner.setClassification(level);
  if (shape == 5) set_list(banner.initRestrictive(1), {"OPS"});
  if (shape == 1)
    set_list(banner.initPermissive(2), {"IL", "US"});
  else
    set_list(banner.initPermissive(3), {"IL", "SY", "US"});
  if (shape == 2) set_list(banner.initCaveats(1), {"NOFORN"});
  if (shape == 3) set_list(banner.initCaveats(1), {"ORCON"});
  banner.setTlp(shape == 4 ? schema::Tlp::RED : schema::Tlp::AMBER);

  set_list(item.initTopics(1), {n % 2 ? "border" : "air-defence"});
  if (item.getKind() == schema::Kind::DECONFLICTION) {
    auto p = item.initArea().initPoint();
    p.setLatE7(static_cast<std::int32_t>(320000000 + rng_() % 10000000));
    p.setLonE7(static_cast<std::int32_t>(350000000 + rng_() % 10000000));
  }

  const std::size_t half = options_.body_bytes / 2;
  auto portions = item.initPortions(2);
  for (unsigned i = 0; i < 2; ++i) {
    auto p = portions[i];
    auto l = p.initLabel();
    l.setPolicyId(options_.policy_id);
    // Portion 0 carries the whole banner marking; portion 1 is the open summary, except in
    // shape 1 where it is the part not releasable to SY.
    const bool full = i == 0;
    l.setClassification(full ? level : 0);
    if (full && shape == 5) set_list(l.initRestrictive(1), {"OPS"});
    if (shape == 1 && i == 1)
      set_list(l.initPermissive(2), {"IL", "US"});
    else
      set_list(l.initPermissive(3), {"IL", "SY", "US"});
    if (full && shape == 2) set_list(l.initCaveats(1), {"NOFORN"});
    if (full && shape == 3) set_list(l.initCaveats(1), {"ORCON"});
    l.setTlp(full && shape == 4 ? schema::Tlp::RED : schema::Tlp::GREEN);
    p.setContentType("text/plain");
    std::string body = text_body(i == 0 ? half : options_.body_bytes - half);
    p.setBody(kj::StringPtr(body.c_str()).asBytes());
    p.setRequired(i == 0 && shape != 1);
    p.setName(i == 0 ? "detail" : "summary");
  }
  // Portion 0's label must be dominated: in shape 1 the banner's REL TO is IL/US but portion 0
  // says IL/SY/US — fine, the banner is the stricter. Portion 1 in shape 1 says IL/US: equal.
  auto attrs = item.initAttributes(1);
  attrs[0].setName("source.callsign");
  attrs[0].setValue("RAVEN-" + std::to_string(n % 7));
}

std::vector<std::uint8_t> Generator::next_bytes() {
  capnp::MallocMessageBuilder message;
  next(message.initRoot<schema::Item>());
  return wire::to_flat_bytes(message);
}

std::vector<std::uint8_t> Generator::malformed_bytes(Malformation kind) {
  capnp::MallocMessageBuilder message;
  auto item = message.initRoot<schema::Item>();
  next(item);
  switch (kind) {
    case Malformation::truncated: {
      auto bytes = wire::to_flat_bytes(message);
      bytes.resize(bytes.size() / 2 / 8 * 8);
      return bytes;
    }
    case Malformation::bad_banner:
      item.getPortions()[0].getLabel().setClassification(
          static_cast<std::uint8_t>(item.getBanner().getClassification() + 1));
      return wire::to_flat_bytes(message);
    case Malformation::missing_id:
      item.setId(kj::arrayPtr(reinterpret_cast<const std::uint8_t*>("short"), 5));
      return wire::to_flat_bytes(message);
    case Malformation::garbage: {
      std::vector<std::uint8_t> bytes(64 + rng_() % 512);
      for (auto& b : bytes) b = static_cast<std::uint8_t>(rng_());
      bytes.resize(bytes.size() / 8 * 8);
      return bytes;
    }
  }
  CG_UNREACHABLE();
}

}  // namespace cg::synth
