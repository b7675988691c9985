#include "gateway/roles/relay/oversight.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

namespace cg::relay {
namespace {

constexpr std::int64_t s = 1'000'000'000;
constexpr std::int64_t now = 1'790'000'000LL * s;

struct Header {
  capnp::MallocMessageBuilder mb;
  schema::EnvelopeHeader::Builder h = mb.initRoot<schema::EnvelopeHeader>();
  Header(const char* destination, schema::Kind kind, std::int64_t time) {
    h.setDestination(destination);
    h.setKind(kind);
    h.setTime(time);
  }
};

Oversight make(std::vector<std::string> kinds = {}) {
  Options c;
  c.freshness_seconds = 60;
  c.routes = {"il->sy", "sy->il"};
  c.kinds = std::move(kinds);
  auto o = Oversight::make(c);
  EXPECT_TRUE(o.ok()) << o.status().reason();
  return *o;
}

TEST(Oversight, AllowedRouteFreshEnvelopePasses) {
  Header h("sy", schema::Kind::DECONFLICTION, now - 5 * s);
  EXPECT_TRUE(make().check("il", h.h.asReader(), now).ok());
}

TEST(Oversight, EachDropIsNamed) {
  const auto o = make({"deconfliction", "incident"});
  struct Case {
    const char* origin;
    const char* destination;
    schema::Kind kind;
    std::int64_t time;
    Drop drop;
    const char* needle;
  } cases[] = {
      {"il", "us", schema::Kind::INCIDENT, now, Drop::route, "il->us"},
      {"us", "sy", schema::Kind::INCIDENT, now, Drop::route, "us->sy"},
      {"il", "sy", schema::Kind::ECONOMIC, now, Drop::kind, "economic"},
      {"il", "sy", schema::Kind::INCIDENT, now - 61 * s, Drop::stale, "more than 60 s ago"},
      {"il", "sy", schema::Kind::INCIDENT, now + 31 * s, Drop::future, "sealed at"},
  };
  for (const auto& c : cases) {
    Header h(c.destination, c.kind, c.time);
    Drop d{};
    auto st = o.check(c.origin, h.h.asReader(), now, &d);
    ASSERT_FALSE(st.ok()) << c.needle;
    EXPECT_EQ(st.code(), Code::rejected);
    EXPECT_EQ(d, c.drop) << st.reason();
    EXPECT_NE(st.reason().find(c.needle), std::string::npos) << st.reason();
  }
  Header ok("sy", schema::Kind::INCIDENT, now + 29 * s);
  EXPECT_TRUE(o.check("il", ok.h.asReader(), now).ok());
}

TEST(Oversight, UnknownKindNameInConfigIsAnError) {
  Options c;
  c.kinds = {"intelligence", "gossip"};
  auto o = Oversight::make(c);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().reason().find("'gossip'"), std::string::npos);
  c.kinds = {"unspecified"};
  EXPECT_FALSE(Oversight::make(c).ok());
}

TEST(Oversight, NoRoutesMeansNothingPasses) {
  Options c;
  auto o = *Oversight::make(c);
  Header h("sy", schema::Kind::INTELLIGENCE, now);
  EXPECT_FALSE(o.check("il", h.h.asReader(), now).ok());
}

}  // namespace
}  // namespace cg::relay
