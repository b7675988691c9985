#include "tests/support/items.h"

#include "gateway/wire/wire.h"

namespace cg::testing {
namespace {
void set_list(capnp::List<capnp::Text>::Builder list, std::initializer_list<const char*> values) {
  unsigned i = 0;
  for (const char* v : values) list.set(i++, v);
}
}  // namespace

void fill_sample_item(schema::Item::Builder item) {
  static constexpr std::uint8_t id[16] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                          0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
  item.setId(kj::arrayPtr(id, sizeof(id)));
  item.setSource("il-sigint-1");
  item.setKind(schema::Kind::INTELLIGENCE);
  item.setPrecedence(schema::Precedence::PRIORITY);
  item.setCreated(1'790'000'000'000'000'000);
  item.setExpires(1'790'086'400'000'000'000);
  auto banner = item.initBanner();
  banner.setPolicyId("cell-2026");
  banner.setClassification(2);
  set_list(banner.initRestrictive(1), {"OPS"});
  set_list(banner.initPermissive(2), {"IL", "US"});
  banner.setTlp(schema::Tlp::AMBER);
  set_list(item.initTopics(2), {"air-defence", "border"});
  auto point = item.initArea().initPoint();
  point.setLatE7(321234567);
  point.setLonE7(351234567);
  auto portions = item.initPortions(2);
  {
    auto p = portions[0];
    auto l = p.initLabel();
    l.setPolicyId("cell-2026");
    l.setClassification(1);
    set_list(l.initPermissive(3), {"IL", "SY", "US"});
    l.setTlp(schema::Tlp::GREEN);
    p.setContentType("text/plain");
    p.setBody(kj::StringPtr("Convoy observed moving north at 0600.").asBytes());
    p.setRequired(true);
    p.setName("summary");
  }
  {
    auto p = portions[1];
    auto l = p.initLabel();
    l.setPolicyId("cell-2026");
    l.setClassification(2);
    set_list(l.initRestrictive(1), {"OPS"});
    set_list(l.initPermissive(2), {"IL", "US"});
    l.setTlp(schema::Tlp::AMBER);
    p.setContentType("text/plain");
    p.setBody(kj::StringPtr("Grid 36S YA 12345 67890, two launchers.").asBytes());
    p.setName("detail");
  }
  auto attrs = item.initAttributes(2);
  attrs[0].setName("source.callsign");
  attrs[0].setValue("RAVEN-3");
  attrs[1].setName("report.serial");
  attrs[1].setValue("IL-2026-000123");
}

std::vector<std::uint8_t> flat_bytes(capnp::MessageBuilder& message) {
  return wire::to_flat_bytes(message);
}

}  // namespace cg::testing
