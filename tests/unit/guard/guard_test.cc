// The release guard against a deliberately broken filter (issue 17): each way a filter can get a
// release wrong — a RED portion released, a redacted portion left in, the banner mis-rolled, a
// deny pattern skipped, a portion altered — is refused with a reason naming what is wrong; what
// the real filter releases passes (and tests/unit/policy/property_test.cc checks that over
// tens of thousands of random decisions).
#include "gateway/guard/guard.h"

#include <gtest/gtest.h>

#include <set>

#include "gateway/wire/wire.h"
#include "tests/unit/policy/policy_fixture.h"

namespace cg::guard {
namespace {

using policy::testing::kHeader;
using policy::testing::set_label;
using schema::Tlp;

std::string guard_policy() {
  return std::string(kHeader) + R"(
[[pattern]]
id = "codeword"
term = "FALCON"

[[pattern]]
id = "email"
regex = '[a-z0-9.]+@[a-z0-9]+\.[a-z]{2,}'
action = "quarantine"

[[rule]]
id = "all"
action = "release"
)";
}

struct PortionSpec {
  const char* name;
  std::uint8_t level;
  Tlp tlp;
  const char* body;
  std::initializer_list<const char*> caveats = {};
};

class GuardTest : public ::testing::Test {
 protected:
  GuardTest() : policy_(policy::testing::must_parse(guard_policy())) {
    auto g = Guard::create(*policy_);
    EXPECT_TRUE(g.ok()) << g.status().reason();
    guard_ = std::move(*g);
    sy_ = *policy_->destination_index("sy");
  }

  // An item with these portions (REL TO IL, SY, US each) and a banner that rolls them up.
  void make(std::initializer_list<PortionSpec> portions, capnp::MallocMessageBuilder& mb,
            std::initializer_list<std::pair<const char*, const char*>> attributes = {}) {
    auto item = mb.initRoot<schema::Item>();
    static constexpr std::uint8_t id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    item.setId(kj::arrayPtr(id, sizeof id));
    item.setSource("il-src-1");
    item.setKind(schema::Kind::INTELLIGENCE);
    item.setPrecedence(schema::Precedence::ROUTINE);
    item.setCreated(1'790'000'000'000'000'000);
    std::uint8_t level = 0;
    Tlp tlp = Tlp::UNMARKED;
    auto ps = item.initPortions(static_cast<unsigned>(portions.size()));
    unsigned i = 0;
    for (const auto& spec : portions) {
      auto p = ps[i++];
      set_label(p.initLabel(), spec.level, {}, {"IL", "SY", "US"}, spec.caveats, spec.tlp);
      p.setContentType("text/plain");
      p.setName(spec.name);
      p.setBody(kj::StringPtr(spec.body).asBytes());
      level = std::max(level, spec.level);
      if (static_cast<unsigned>(spec.tlp) > static_cast<unsigned>(tlp)) tlp = spec.tlp;
    }
    set_label(item.initBanner(), level, {}, {"IL", "SY", "US"}, {}, tlp);
    std::set<std::string> caveats;
    for (const auto& spec : portions)
      for (const char* c : spec.caveats) caveats.emplace(c);
    auto cv = item.getBanner().initCaveats(static_cast<unsigned>(caveats.size()));
    unsigned k = 0;
    for (const auto& c : caveats) cv.set(k++, c);
    auto as = item.initAttributes(static_cast<unsigned>(attributes.size()));
    i = 0;
    for (const auto& [n, v] : attributes) {
      as[i].setName(n);
      as[i++].setValue(v);
    }
  }

  // The released item as a (possibly broken) filter would build it: the original with only the
  // portions `keep`, and a banner set by `banner` (by default the roll-up of what is kept).
  std::vector<std::uint8_t> released(schema::Item::Reader original, std::vector<unsigned> keep,
                                     std::function<void(schema::Label::Builder)> banner = {}) {
    capnp::MallocMessageBuilder mb;
    mb.setRoot(original);
    auto item = mb.getRoot<schema::Item>();
    auto ps = item.initPortions(static_cast<unsigned>(keep.size()));
    std::uint8_t level = 0;
    Tlp tlp = Tlp::UNMARKED;
    std::set<std::string> caveats;
    for (unsigned i = 0; i < keep.size(); ++i) {
      ps.setWithCaveats(i, original.getPortions()[keep[i]]);
      level = std::max(level, ps[i].getLabel().getClassification());
      if (static_cast<unsigned>(ps[i].getLabel().getTlp()) > static_cast<unsigned>(tlp))
        tlp = ps[i].getLabel().getTlp();
      for (auto c : ps[i].getLabel().getCaveats()) caveats.emplace(c.cStr());
    }
    set_label(item.initBanner(), level, {}, {"IL", "SY", "US"}, {}, tlp);
    auto cv = item.getBanner().initCaveats(static_cast<unsigned>(caveats.size()));
    unsigned n = 0;
    for (const auto& c : caveats) cv.set(n++, c);
    if (banner) banner(item.getBanner());
    return wire::canonical_bytes_of(item.asReader(), false);
  }

  Claim claim(std::vector<bool> removed) { return Claim{sy_, std::move(removed)}; }

  void expect_refused(schema::Item::Reader original, const std::vector<std::uint8_t>& bytes,
                      const Claim& c, const std::string& because) {
    const Status s = guard_->check(original, bytes, c);
    ASSERT_FALSE(s.ok()) << "the guard let it cross (" << because << ")";
    EXPECT_EQ(s.code(), Code::rejected);
    EXPECT_NE(s.reason().find(because), std::string::npos) << s.reason();
  }

  std::unique_ptr<const policy::Policy> policy_;
  std::unique_ptr<Guard> guard_;
  std::uint32_t sy_ = 0;
};

TEST_F(GuardTest, WhatTheRealFilterReleasesPasses) {
  capnp::MallocMessageBuilder mb;
  make({{"summary", 1, Tlp::GREEN, "Convoy observed moving north."},
        {"detail", 1, Tlp::RED, "Source: a named person."}},
       mb);
  const auto item = mb.getRoot<schema::Item>().asReader();
  const auto d = policy::testing::decide(*policy_, item, "sy");
  ASSERT_EQ(d.outcome, policy::Outcome::release);
  ASSERT_TRUE(d.changed);
  capnp::MallocMessageBuilder out;
  policy::build_released(*policy_, item, d, out.initRoot<schema::Item>());
  Claim c{sy_, {}};
  for (auto v : d.portions) c.removed.push_back(v != policy::Verdict::crosses);
  const Status s = guard_->check(
      item, wire::canonical_bytes_of(out.getRoot<schema::Item>().asReader(), false), c);
  EXPECT_TRUE(s.ok()) << s.reason();
}

TEST_F(GuardTest, EmptyTextsPass) {
  capnp::MallocMessageBuilder mb;
  make({{"summary", 0, Tlp::GREEN, ""}}, mb, {{"empty", ""}});
  const auto item = mb.getRoot<schema::Item>().asReader();
  const Status s = guard_->check(item, released(item, {0}), claim({false}));
  EXPECT_TRUE(s.ok()) << s.reason();
}

TEST_F(GuardTest, ABrokenFilterThatReleasesARedPortionIsRefused) {
  capnp::MallocMessageBuilder mb;
  make({{"summary", 1, Tlp::GREEN, "Convoy observed moving north."},
        {"detail", 1, Tlp::RED, "Source: a named person."}},
       mb);
  const auto item = mb.getRoot<schema::Item>().asReader();
  // Everything kept, the banner rolled up over both (so only the portion check can catch it).
  expect_refused(item, released(item, {0, 1}), claim({false, false}),
                 "portion 1 'detail': TLP:RED never crosses");
}

TEST_F(GuardTest, ABrokenFilterThatForgetsToRemoveARedactedPortionIsRefused) {
  capnp::MallocMessageBuilder mb;
  make({{"summary", 1, Tlp::GREEN, "Convoy observed moving north."},
        {"annex", 0, Tlp::GREEN, "Grid references follow."}},
       mb);
  const auto item = mb.getRoot<schema::Item>().asReader();
  // The decision says the annex was removed (a transform, say); the bytes still carry it.
  expect_refused(item, released(item, {0, 1}), claim({false, true}),
                 "portion 1 'annex': the filter said it removed it");
}

TEST_F(GuardTest, ABrokenFilterThatMisRollsTheBannerIsRefused) {
  capnp::MallocMessageBuilder mb;
  make({{"summary", 0, Tlp::GREEN, "Convoy observed moving north."},
        {"detail", 1, Tlp::RED, "Source: a named person."}},
       mb);
  const auto item = mb.getRoot<schema::Item>().asReader();
  const Claim c = claim({false, true});
  // The original banner (RED) left on the redacted item.
  expect_refused(item, released(item, {0}, [](schema::Label::Builder b) { b.setTlp(Tlp::RED); }), c,
                 "banner: TLP red is not the roll-up of the portions that cross (green)");
  // A banner rolled too low, or naming a REL TO nobody carried, or a category that did not cross.
  expect_refused(item,
                 released(item, {0}, [](schema::Label::Builder b) { b.setClassification(1); }), c,
                 "banner: classification 1 is not the roll-up");
  expect_refused(item,
                 released(item, {0},
                          [](schema::Label::Builder b) {
                            policy::testing::set_list(b.initPermissive(1), {"SY"});
                          }),
                 c, "banner: REL TO is not the roll-up");
  expect_refused(item,
                 released(item, {0},
                          [](schema::Label::Builder b) {
                            policy::testing::set_list(b.initCaveats(1), {"EXERCISE"});
                          }),
                 c, "banner: caveats are not the roll-up");
  EXPECT_TRUE(guard_->check(item, released(item, {0}), c).ok()) << "rolled up right, it passes";
}

TEST_F(GuardTest, ABrokenFilterThatSkipsADenyPatternIsRefused) {
  capnp::MallocMessageBuilder mb;
  make({{"summary", 0, Tlp::GREEN, "Operation falcon begins at dawn."}}, mb);
  const auto item = mb.getRoot<schema::Item>().asReader();
  expect_refused(item, released(item, {0}), claim({false}),
                 "portion 0 'summary': matches the policy's pattern 'codeword'");
  // A quarantine pattern in an attribute: it should have gone to a person.
  capnp::MallocMessageBuilder mb2;
  make({{"summary", 0, Tlp::GREEN, "Nothing to see."}}, mb2, {{"contact", "ops.desk@example.org"}});
  const auto item2 = mb2.getRoot<schema::Item>().asReader();
  expect_refused(item2, released(item2, {0}), claim({false}),
                 "attribute 'contact': matches the policy's pattern 'email'");
}

TEST_F(GuardTest, PortionsTheDestinationMayNotSeeAreRefusedWhateverTheClaim) {
  capnp::MallocMessageBuilder mb;
  make({{"summary", 0, Tlp::GREEN, "Convoy."},
        {"above", 2, Tlp::GREEN, "Higher than sy may read."},
        {"foreign", 0, Tlp::GREEN, "Not for foreigners.", {"NOFORN"}},
        {"orcon", 0, Tlp::GREEN, "Originator controlled.", {"ORCON"}}},
       mb);
  const auto item = mb.getRoot<schema::Item>().asReader();
  const Claim none = claim({false, false, false, false});
  expect_refused(item, released(item, {0, 1}), none,
                 "portion 1 'above': SECRET is above what sy may receive (RESTRICTED)");
  expect_refused(item, released(item, {0, 2}), none, "portion 1 'foreign': NOFORN never crosses");
  expect_refused(item, released(item, {0, 3}), none,
                 "portion 1 'orcon': ORCON crosses only after a reviewer's release");
}

TEST_F(GuardTest, AlteredInventedOrUndecodableReleasesAreRefused) {
  capnp::MallocMessageBuilder mb;
  make({{"summary", 0, Tlp::GREEN, "Convoy observed moving north."}}, mb);
  const auto item = mb.getRoot<schema::Item>().asReader();
  // The body changed on the way.
  capnp::MallocMessageBuilder other;
  make({{"summary", 0, Tlp::GREEN, "Convoy observed moving south."}}, other);
  expect_refused(item, released(other.getRoot<schema::Item>().asReader(), {0}), claim({false}),
                 "not a portion of the original item");
  expect_refused(item, std::vector<std::uint8_t>{1, 2, 3, 4}, claim({false}),
                 "guard: the released bytes");
  expect_refused(item, released(item, {0}), claim({}), "does not cover the original's portions");
  expect_refused(item, released(item, {0}), Claim{99, {false}}, "no destination");
}

}  // namespace
}  // namespace cg::guard
