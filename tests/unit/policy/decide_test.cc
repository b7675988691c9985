// Decisions: every label rule, default deny, rule actions, malformed labels, content
// inspection, transforms, roll-up and explanations — table-driven over the sample item.
#include <gtest/gtest.h>

#include <functional>
#include <thread>
#include <vector>

#include "bench/lab/synth/synth.h"
#include "gateway/common/clock.h"
#include "gateway/wire/wire.h"
#include "tests/unit/policy/policy_fixture.h"

namespace cg::policy {
namespace {

using namespace cg::policy::testing;  // NOLINT(google-build-using-namespace)
using schema::Tlp;
using V = Verdict;

std::string decide_policy() {
  return std::string(kHeader) + R"(
[[pattern]]
id = "codeword"
term = "FALCON"

[[pattern]]
id = "email"
regex = '[a-z0-9.]+@[a-z0-9]+\.[a-z]{2,}'
action = "quarantine"

[[rule]]
id = "intel"
kind = ["intelligence"]
action = "release"

[[rule]]
id = "decon"
kind = ["deconfliction"]
action = "release"
[rule.transform]
coarsen_m = 1000
strip_source = true
drop_attributes = ["report.*"]

[[rule]]
id = "incident-hold"
kind = ["incident"]
action = "quarantine"

[[rule]]
id = "diplomatic-block"
kind = ["diplomatic"]
action = "block"
)";
}

using Mutate = std::function<void(schema::Item::Builder)>;

struct Case {
  const char* name;
  Mutate mutate;
  const char* destination;
  Outcome outcome;
  Reason reason;
  std::vector<Verdict> portions;
  std::vector<Verdict> attributes;  // empty: not checked
};

void body(schema::Item::Builder item, unsigned portion, const char* text) {
  item.getPortions()[portion].setBody(kj::StringPtr(text).asBytes());
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"sample to sy: detail above level, attributes under the banner",
       [](auto) {},
       "sy",
       Outcome::release,
       Reason::rule,
       {V::crosses, V::level},
       {V::level, V::level}},
      {"sample to us: everything crosses",
       [](auto) {},
       "us",
       Outcome::release,
       Reason::rule,
       {V::crosses, V::crosses},
       {V::crosses, V::crosses}},
      {"NOFORN never crosses",
       [](schema::Item::Builder i) {
         set_list(i.getBanner().initCaveats(1), {"NOFORN"});
         set_list(i.getPortions()[1].getLabel().initCaveats(1), {"NOFORN"});
       },
       "us",
       Outcome::release,
       Reason::rule,
       {V::crosses, V::noforn},
       {V::noforn, V::noforn}},
      {"TLP RED never crosses",
       [](schema::Item::Builder i) {
         i.getBanner().setTlp(Tlp::RED);
         i.getPortions()[1].getLabel().setTlp(Tlp::RED);
       },
       "us",
       Outcome::release,
       Reason::rule,
       {V::crosses, V::tlp_red},
       {V::tlp_red, V::tlp_red}},
      {"restrictive category not held",
       [](schema::Item::Builder i) {
         set_list(i.getBanner().initRestrictive(2), {"HUMINT", "OPS"});
         set_list(i.getPortions()[1].getLabel().initRestrictive(2), {"HUMINT", "OPS"});
       },
       "us",
       Outcome::release,
       Reason::rule,
       {V::crosses, V::restrictive},
       {}},
      {"REL TO not naming the destination",
       [](schema::Item::Builder i) {
         auto l = i.getPortions()[1].getLabel();
         l.setClassification(1);
         l.initRestrictive(0);
       },
       "sy",
       Outcome::release,
       Reason::rule,
       {V::crosses, V::rel_to},
       {}},
      {"ORCON goes to review",
       [](schema::Item::Builder i) {
         set_list(i.getBanner().initCaveats(1), {"ORCON"});
         set_list(i.getPortions()[0].getLabel().initCaveats(1), {"ORCON"});
       },
       "us",
       Outcome::quarantine,
       Reason::orcon_review,
       {V::orcon, V::crosses},
       {V::orcon, V::orcon}},
      {"ORCON on a removed portion needs no review",
       [](schema::Item::Builder i) {
         set_list(i.getBanner().initCaveats(1), {"ORCON"});
         set_list(i.getPortions()[1].getLabel().initCaveats(1), {"ORCON"});
       },
       "sy",
       Outcome::release,
       Reason::rule,
       {V::crosses, V::level},
       {V::level, V::level}},
      {"NOFORN on the banner alone holds for the whole item",
       [](schema::Item::Builder i) { set_list(i.getBanner().initCaveats(1), {"NOFORN"}); },
       "us",
       Outcome::block,
       Reason::banner_marking,
       {V::crosses, V::crosses},
       {V::noforn, V::noforn}},
      {"TLP RED on the banner alone holds for the whole item",
       [](schema::Item::Builder i) { i.getBanner().setTlp(Tlp::RED); },
       "sy",
       Outcome::block,
       Reason::banner_marking,
       {V::crosses, V::level},
       {}},
      {"ORCON on the banner alone sends the item to review",
       [](schema::Item::Builder i) { set_list(i.getBanner().initCaveats(1), {"ORCON"}); },
       "sy",
       Outcome::quarantine,
       Reason::banner_marking,
       {V::crosses, V::level},
       {}},
      {"required portion removed blocks",
       [](schema::Item::Builder i) { i.getPortions()[1].setRequired(true); },
       "sy",
       Outcome::block,
       Reason::required_removed,
       {V::crosses, V::level},
       {}},
      {"nothing left blocks",
       [](schema::Item::Builder i) {
         i.getPortions()[0].setRequired(false);
         i.getPortions()[0].getLabel().setClassification(2);
       },
       "sy",
       Outcome::block,
       Reason::nothing_left,
       {V::level, V::level},
       {}},
      {"default deny: no rule for economic",
       [](schema::Item::Builder i) { i.setKind(schema::Kind::ECONOMIC); },
       "us",
       Outcome::block,
       Reason::no_rule,
       {V::crosses, V::crosses},
       {}},
      {"rule action quarantine",
       [](schema::Item::Builder i) { i.setKind(schema::Kind::INCIDENT); },
       "us",
       Outcome::quarantine,
       Reason::rule,
       {V::crosses, V::crosses},
       {}},
      {"rule action block",
       [](schema::Item::Builder i) { i.setKind(schema::Kind::DIPLOMATIC); },
       "us",
       Outcome::block,
       Reason::rule,
       {V::crosses, V::crosses},
       {}},
      {"malformed: banner does not dominate a portion",
       [](schema::Item::Builder i) { i.getPortions()[1].getLabel().setClassification(3); },
       "us",
       Outcome::quarantine,
       Reason::malformed_label,
       {V::crosses, V::malformed},
       {}},
      {"malformed: another labelling policy",
       [](schema::Item::Builder i) {
         i.getBanner().setPolicyId("other");
         for (auto p : i.getPortions()) p.getLabel().setPolicyId("other");
       },
       "us",
       Outcome::quarantine,
       Reason::malformed_label,
       {V::crosses, V::crosses},
       {}},
      {"malformed: level beyond the policy's levels",
       [](schema::Item::Builder i) {
         i.getBanner().setClassification(7);
         for (auto p : i.getPortions()) p.getLabel().setClassification(7);
       },
       "us",
       Outcome::quarantine,
       Reason::malformed_label,
       {V::crosses, V::crosses},
       {}},
      {"deny term in a crossing portion blocks",
       [](schema::Item::Builder i) { body(i, 0, "Convoy FALCON moving north."); },
       "us",
       Outcome::block,
       Reason::content_hit,
       {V::crosses, V::crosses},
       {}},
      {"deny terms are case-insensitive by default",
       [](schema::Item::Builder i) { body(i, 0, "convoy falcon moving north."); },
       "us",
       Outcome::block,
       Reason::content_hit,
       {V::crosses, V::crosses},
       {}},
      {"deny term in a removed portion does not matter",
       [](schema::Item::Builder i) { body(i, 1, "FALCON launchers"); },
       "sy",
       Outcome::release,
       Reason::rule,
       {V::crosses, V::level},
       {}},
      {"pattern in a crossing attribute quarantines",
       [](schema::Item::Builder i) { i.getAttributes()[1].setValue("ops.desk@example.org"); },
       "us",
       Outcome::quarantine,
       Reason::content_hit,
       {V::crosses, V::crosses},
       {}},
      {"pattern in an attribute that does not cross does not matter",
       [](schema::Item::Builder i) { i.getAttributes()[1].setValue("ops.desk@example.org"); },
       "sy",
       Outcome::release,
       Reason::rule,
       {V::crosses, V::level},
       {V::level, V::level}},
      {"block pattern outranks quarantine pattern",
       [](schema::Item::Builder i) {
         body(i, 0, "mail ops.desk@example.org");
         body(i, 1, "FALCON");
       },
       "us",
       Outcome::block,
       Reason::content_hit,
       {V::crosses, V::crosses},
       {}},
  };
  return all;
}

class PolicyDecideTable : public ::testing::TestWithParam<std::size_t> {};

TEST_P(PolicyDecideTable, Decides) {
  const Case& c = cases()[GetParam()];
  SCOPED_TRACE(c.name);
  auto policy = must_parse(decide_policy());
  ASSERT_TRUE(policy);
  capnp::MallocMessageBuilder m;
  auto item = m.initRoot<schema::Item>();
  cg::testing::fill_sample_item(item);
  c.mutate(item);
  Decision d = decide(*policy, item.asReader(), c.destination);
  EXPECT_EQ(outcome_name(d.outcome), outcome_name(c.outcome));
  EXPECT_EQ(reason_name(d.reason), reason_name(c.reason));
  ASSERT_EQ(d.portions.size(), c.portions.size());
  for (std::size_t i = 0; i < c.portions.size(); ++i) {
    EXPECT_EQ(verdict_name(d.portions[i]), verdict_name(c.portions[i])) << "portion " << i;
  }
  if (!c.attributes.empty()) {
    ASSERT_EQ(d.attributes.size(), c.attributes.size());
    for (std::size_t i = 0; i < c.attributes.size(); ++i) {
      EXPECT_EQ(verdict_name(d.attributes[i]), verdict_name(c.attributes[i])) << "attribute " << i;
    }
  }
  // Every decision explains itself in both forms.
  EXPECT_NE(explain_text(*policy, item.asReader(), d).find(outcome_name(c.outcome)),
            std::string::npos);
  EXPECT_NE(explain_json(*policy, item.asReader(), d).find(reason_name(c.reason)),
            std::string::npos);
  if (d.outcome == Outcome::release) {
    capnp::MallocMessageBuilder out;
    build_released(*policy, item.asReader(), d, out.initRoot<schema::Item>());
    Status s = wire::validate_item(out.getRoot<schema::Item>().asReader());
    EXPECT_TRUE(s.ok()) << s.to_string();
  }
}

INSTANTIATE_TEST_SUITE_P(Policy, PolicyDecideTable,
                         ::testing::Range<std::size_t>(0, cases().size()));

class PolicyDecide : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_ = must_parse(decide_policy());
    ASSERT_TRUE(policy_);
    message_ = std::make_unique<capnp::MallocMessageBuilder>();
    item_ = message_->initRoot<schema::Item>();
    cg::testing::fill_sample_item(item_);
  }
  std::unique_ptr<capnp::MallocMessageBuilder> message_;  // capnp destructors may throw
  schema::Item::Builder item_{nullptr};
  std::unique_ptr<const Policy> policy_;
};

TEST_F(PolicyDecide, HitIsExplainedWithPatternAndPlace) {
  body(item_, 0, "Convoy FALCON moving north.");
  Decision d = decide(*policy_, item_.asReader(), "us");
  ASSERT_TRUE(d.hit.has_value());
  EXPECT_EQ(policy_->patterns()[d.hit->pattern].id, "codeword");
  EXPECT_FALSE(d.hit->in_attribute);
  EXPECT_EQ(d.hit->index, 0u);
  EXPECT_EQ(d.hit->end, 13u);  // "Convoy FALCON" ends at byte 13
  const std::string text = explain_text(*policy_, item_.asReader(), d);
  EXPECT_NE(text.find("pattern \"codeword\""), std::string::npos) << text;
  EXPECT_NE(text.find("portion 0 ending at byte 13"), std::string::npos) << text;
  const std::string json = explain_json(*policy_, item_.asReader(), d);
  EXPECT_NE(json.find(R"("hit":{"pattern":"codeword")"), std::string::npos) << json;
}

TEST_F(PolicyDecide, ExplanationNamesRuleAndReasons) {
  Decision d = decide(*policy_, item_.asReader(), "sy");
  const std::string text = explain_text(*policy_, item_.asReader(), d);
  EXPECT_NE(text.find("rule \"intel\" (line"), std::string::npos) << text;
  EXPECT_NE(text.find("portion 1 \"detail\" (text/plain): removed: level SECRET is above sy's "
                      "highest, RESTRICTED"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("attribute \"source.callsign\": removed with the banner's label: level"),
            std::string::npos)
      << text;
  const std::string json = explain_json(*policy_, item_.asReader(), d);
  EXPECT_NE(json.find(R"("rule":{"id":"intel")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("name":"detail","verdict":"level")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("outcome":"release")"), std::string::npos) << json;
}

TEST_F(PolicyDecide, ExplainForTheCli) {
  auto all = explain(*policy_, item_.asReader(), "", false, item_.getCreated());
  ASSERT_TRUE(all.ok());
  EXPECT_NE(all->find(" to sy: release"), std::string::npos) << *all;
  EXPECT_NE(all->find(" to us: release"), std::string::npos) << *all;
  auto one = explain(*policy_, item_.asReader(), "us", true, item_.getCreated());
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(std::count(one->begin(), one->end(), '\n'), 1);
  EXPECT_EQ(one->rfind(R"({"policy":"test")", 0), 0u) << *one;
  auto bad = explain(*policy_, item_.asReader(), "xx", false, item_.getCreated());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::rejected);
}

// Expiry is judged against the time the caller passes (the node's clock), not a clock read
// inside decide: one item is released before its expiry and blocked at and after it, for every
// destination, and the explanation says why.
TEST_F(PolicyDecide, ExpiredItemIsBlockedAndExplained) {
  const std::int64_t expires = item_.getCreated() + 60 * cg::ns_per_s;
  item_.setExpires(expires);
  for (const char* dest : {"sy", "us"}) {
    Decision before = decide(*policy_, item_.asReader(), dest, expires - 1);
    EXPECT_EQ(before.outcome, Outcome::release) << dest;
    for (std::int64_t now : {expires, expires + 1, expires + 86'400 * cg::ns_per_s}) {
      Decision d = decide(*policy_, item_.asReader(), dest, now);
      EXPECT_EQ(d.outcome, Outcome::block) << dest;
      EXPECT_EQ(d.reason, Reason::expired) << dest;
      EXPECT_EQ(d.portions_crossing, 0u);
      EXPECT_FALSE(d.changed);
      ASSERT_EQ(d.portions.size(), item_.getPortions().size());
      for (Verdict v : d.portions) EXPECT_EQ(v, Verdict::expired);
      for (Verdict v : d.attributes) EXPECT_EQ(v, Verdict::expired);
    }
  }
  // A label that would otherwise be quarantined as malformed: expiry still blocks first.
  item_.getBanner().setPolicyId("other");
  EXPECT_EQ(decide(*policy_, item_.asReader(), "us", expires).reason, Reason::expired);
  item_.getBanner().setPolicyId("cell-2026");

  Decision d = decide(*policy_, item_.asReader(), "us", expires + 1);
  const std::string text = explain_text(*policy_, item_.asReader(), d);
  EXPECT_NE(text.find(": block\n  why: the item expired at " + wire::format_rfc3339(expires)),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("removed: the item expired"), std::string::npos) << text;
  const std::string json = explain_json(*policy_, item_.asReader(), d);
  EXPECT_NE(json.find(R"("outcome":"block","reason":"expired")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("verdict":"expired")"), std::string::npos) << json;
  EXPECT_NE(json.find("\"expires\":\"" + wire::format_rfc3339(expires) + "\""), std::string::npos)
      << json;
  auto cli = explain(*policy_, item_.asReader(), "", false, expires);
  ASSERT_TRUE(cli.ok());
  EXPECT_NE(cli->find(" to sy: block\n  why: the item expired"), std::string::npos) << *cli;
  EXPECT_NE(cli->find(" to us: block\n  why: the item expired"), std::string::npos) << *cli;
  // No expiry (0) never expires.
  item_.setExpires(0);
  EXPECT_EQ(decide(*policy_, item_.asReader(), "us", INT64_MAX).outcome, Outcome::release);
}

TEST_F(PolicyDecide, DefaultDenyIsExplained) {
  item_.setKind(schema::Kind::ECONOMIC);
  Decision d = decide(*policy_, item_.asReader(), "us");
  EXPECT_FALSE(d.rule.has_value());
  EXPECT_NE(explain_text(*policy_, item_.asReader(), d).find("default deny"), std::string::npos);
  EXPECT_NE(explain_json(*policy_, item_.asReader(), d).find(R"("rule":null)"), std::string::npos);
}

TEST_F(PolicyDecide, RollUpFromWhatCrosses) {
  Decision d = decide(*policy_, item_.asReader(), "sy");
  ASSERT_EQ(d.outcome, Outcome::release);
  EXPECT_TRUE(d.changed);
  capnp::MallocMessageBuilder out;
  auto released = out.initRoot<schema::Item>();
  build_released(*policy_, item_.asReader(), d, released);
  ASSERT_EQ(released.getPortions().size(), 1u);
  EXPECT_EQ(wire::view(released.getPortions()[0].getName()), "summary");
  auto b = released.getBanner();
  EXPECT_EQ(b.getClassification(), 1);
  EXPECT_EQ(b.getRestrictive().size(), 0u);
  ASSERT_EQ(b.getPermissive().size(), 3u);
  EXPECT_EQ(wire::view(b.getPermissive()[1]), "SY");
  EXPECT_EQ(b.getTlp(), Tlp::GREEN);
  EXPECT_EQ(released.getAttributes().size(), 0u);  // labelled by a banner sy may not see
  EXPECT_TRUE(wire::validate_item(released.asReader()).ok());
}

TEST_F(PolicyDecide, RollUpIntersectsRelToAndUnitesCategories) {
  // Three portions to us: REL TO {IL,SY,US}, {IL,US}, unmarked; categories OPS and none;
  // caveats EXERCISE on one. Banner IL/US, OPS, EXERCISE, AMBER.
  auto portions = item_.initPortions(3);
  set_label(portions[0].initLabel(), 1, {}, {"IL", "SY", "US"}, {}, Tlp::GREEN);
  set_label(portions[1].initLabel(), 2, {"OPS"}, {"IL", "US"}, {"EXERCISE"}, Tlp::CLEAR);
  set_label(portions[2].initLabel(), 0, {}, {}, {}, Tlp::UNMARKED);
  for (auto p : portions) {
    p.setContentType("text/plain");
    p.setBody(kj::StringPtr("text").asBytes());
  }
  auto banner = item_.getBanner();
  set_list(banner.initCaveats(1), {"EXERCISE"});
  banner.setTlp(Tlp::AMBER);
  ASSERT_TRUE(wire::validate_item(item_.asReader()).ok());
  Decision d = decide(*policy_, item_.asReader(), "us");
  ASSERT_EQ(d.outcome, Outcome::release);
  EXPECT_TRUE(d.changed);  // banner AMBER, roll-up GREEN
  capnp::MallocMessageBuilder out;
  auto label = out.initRoot<schema::Label>();
  roll_up(item_.asReader(), d, label);
  EXPECT_EQ(label.getClassification(), 2);
  EXPECT_EQ(label.getTlp(), Tlp::GREEN);
  ASSERT_EQ(label.getPermissive().size(), 2u);
  EXPECT_EQ(wire::view(label.getPermissive()[0]), "IL");
  EXPECT_EQ(wire::view(label.getPermissive()[1]), "US");
  ASSERT_EQ(label.getRestrictive().size(), 1u);
  ASSERT_EQ(label.getCaveats().size(), 1u);
  EXPECT_EQ(wire::view(label.getCaveats()[0]), "EXERCISE");
}

TEST_F(PolicyDecide, UnchangedItemNeedsNoRebuild) {
  Decision d = decide(*policy_, item_.asReader(), "us");
  ASSERT_EQ(d.outcome, Outcome::release);
  EXPECT_FALSE(d.changed);
  EXPECT_EQ(d.transforms, 0u);
  // Building it anyway gives the same canonical bytes.
  capnp::MallocMessageBuilder out;
  build_released(*policy_, item_.asReader(), d, out.initRoot<schema::Item>());
  auto a = wire::canonical(item_.asReader());
  auto b = wire::canonical(out.getRoot<schema::Item>().asReader());
  EXPECT_TRUE(std::ranges::equal(a.canonical_bytes(), b.canonical_bytes()));
}

TEST_F(PolicyDecide, DecisionIsReusable) {
  auto e = Evaluator::create(*policy_);
  ASSERT_TRUE(e.ok());
  Decision d;
  e->decide(item_.asReader(), 0, item_.getCreated(), d);
  EXPECT_EQ(d.outcome, Outcome::release);
  body(item_, 0, "FALCON");
  e->decide(item_.asReader(), 1, item_.getCreated(), d);
  EXPECT_EQ(d.outcome, Outcome::block);
  ASSERT_TRUE(d.hit.has_value());
  body(item_, 0, "quiet");
  e->decide(item_.asReader(), 1, item_.getCreated(), d);
  EXPECT_EQ(d.outcome, Outcome::release);
  EXPECT_FALSE(d.hit.has_value());
}

}  // namespace
}  // namespace cg::policy

namespace cg::policy {
namespace {

// One Policy shared by several threads, one Evaluator each: the same decisions as one thread.
TEST(PolicyThreads, SharedPolicyOwnEvaluators) {
  auto policy = testing::must_parse(decide_policy());
  ASSERT_TRUE(policy);
  cg::synth::Generator gen({.seed = 3, .body_bytes = 512});
  std::vector<wire::Message<schema::Item>> items;
  for (int i = 0; i < 200; ++i) {
    auto m = wire::decode_item(gen.next_bytes());
    ASSERT_TRUE(m.ok());
    items.push_back(std::move(m).value());
  }
  auto outcomes = [&](std::vector<Outcome>& out) {
    auto e = Evaluator::create(*policy);
    if (!e.ok()) return;
    Decision d;
    for (const auto& m : items) {
      for (std::uint32_t dest = 0; dest < 2; ++dest) {
        e->decide(m.root(), dest, m.root().getCreated(), d);
        out.push_back(d.outcome);
      }
    }
  };
  std::vector<Outcome> expected;
  outcomes(expected);
  ASSERT_EQ(expected.size(), items.size() * 2);
  std::vector<std::vector<Outcome>> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got) threads.emplace_back([&outcomes, &g] { outcomes(g); });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, expected);
}

}  // namespace
}  // namespace cg::policy
