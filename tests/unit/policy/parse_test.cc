// Policy loading: whole or nothing, every mistake named with file:line; the example policy.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "gateway/policy/internal.h"
#include "gateway/wire/wire.h"
#include "tests/unit/policy/policy_fixture.h"

namespace cg::policy {
namespace {

using namespace cg::policy::testing;  // NOLINT(google-build-using-namespace)

struct BadCase {
  const char* name;
  std::string text;   // appended to kHeader unless `whole`
  const char* error;  // expected substring of the error
  bool whole = false;
};

const std::vector<BadCase>& bad_cases() {
  static const std::vector<BadCase> all = {
      {"unknown key in a rule", "[[rule]]\nid = \"a\"\naction = \"block\"\ncolour = \"red\"\n",
       "test.toml:24:1: rule[0].colour: unknown key"},
      {"unknown top-level table", "[extras]\nx = 1\n", "test.toml:21:2: extras: unknown key"},
      {"unknown level in a rule",
       "[[rule]]\nid = \"a\"\nlevel_max = \"COSMIC\"\naction = \"block\"\n",
       "test.toml:23:13: rule[0].level_max: unknown level 'COSMIC'"},
      {"unknown destination", "[[rule]]\nid = \"a\"\nto = [\"xx\"]\naction = \"block\"\n",
       "rule[0].to: unknown destination 'xx'"},
      {"unknown kind", "[[rule]]\nid = \"a\"\nkind = [\"gossip\"]\naction = \"block\"\n",
       "rule[0].kind: unknown value 'gossip'"},
      {"unknown tlp", "[[rule]]\nid = \"a\"\ntlp = [\"purple\"]\naction = \"block\"\n",
       "rule[0].tlp: unknown value 'purple'"},
      {"bad action", "[[rule]]\nid = \"a\"\naction = \"maybe\"\n",
       "rule[0].action: must be release, quarantine or block"},
      {"duplicate rule id",
       "[[rule]]\nid = \"a\"\nkind = [\"economic\"]\naction = \"block\"\n"
       "[[rule]]\nid = \"a\"\nkind = [\"incident\"]\naction = \"block\"\n",
       "test.toml:26:6: rule[1].id: duplicate rule id 'a'"},
      {"unreachable rule",
       "[[rule]]\nid = \"intel\"\nkind = [\"intelligence\"]\naction = \"release\"\n"
       "[[rule]]\nid = \"intel-border\"\nkind = [\"intelligence\"]\ntopics = [\"border\"]\n"
       "action = \"block\"\n",
       "test.toml:25: rule 'intel-border' is unreachable: rule 'intel' (line 21) comes first"},
      {"unreachable rule: narrower level range and sources",
       "[[rule]]\nid = \"a\"\nsource = [\"il-*\"]\nlevel_max = \"SECRET\"\naction = \"block\"\n"
       "[[rule]]\nid = \"b\"\nsource = [\"il-sigint-*\", \"il-x\"]\nlevel_min = "
       "\"RESTRICTED\"\nlevel_max = \"RESTRICTED\"\naction = \"release\"\n",
       "rule 'b' is unreachable: rule 'a'"},
      {"unreachable rule: area inside an earlier area",
       "[[rule]]\nid = \"a\"\narea = [[29, 34], [34, 36]]\naction = \"block\"\n"
       "[[rule]]\nid = \"b\"\narea = [[30.5, 34.5], [31, 35]]\naction = \"release\"\n",
       "rule 'b' is unreachable"},
      {"bad regex", "[[pattern]]\nid = \"p\"\nregex = 'a(b'\n",
       "test.toml:21: pattern 'p': Missing close parenthesis"},
      {"pattern matching the empty string", "[[pattern]]\nid = \"p\"\nregex = 'x*'\n",
       "test.toml:21: pattern 'p':"},
      {"pattern with both term and regex", "[[pattern]]\nid = \"p\"\nterm = \"a\"\nregex = 'b'\n",
       "pattern 'p': exactly one of term or regex"},
      {"transform on a block rule",
       "[[rule]]\nid = \"a\"\naction = \"block\"\n[rule.transform]\nstrip_source = true\n",
       "rule[0].transform: only a release has transforms"},
      {"unknown transform key",
       "[[rule]]\nid = \"a\"\naction = \"release\"\n[rule.transform]\nblur = true\n",
       "rule[0].transform.blur: unknown key"},
      {"coarsen out of range",
       "[[rule]]\nid = \"a\"\naction = \"release\"\n[rule.transform]\ncoarsen_m = 0\n",
       "coarsen_m: must be between 1 and 1000000"},
      {"level range upside down",
       "[[rule]]\nid = \"a\"\nlevel_min = \"SECRET\"\nlevel_max = \"OPEN\"\naction = \"block\"\n",
       "rule[0].level_max: below level_min"},
      {"area upside down",
       "[[rule]]\nid = \"a\"\narea = [[35, 34], [30, 36]]\naction = \"block\"\n",
       "south must be <= north"},
      {"empty list", "[[rule]]\nid = \"a\"\ntopics = []\naction = \"block\"\n",
       "rule[0].topics: must not be empty"},
      {"TOML syntax error", "[[rule]\nid = \"a\"\n", "test.toml:21:8:"},
      {"missing [policy]", "[[destination]]\nid = \"sy\"\n", "test.toml:1:1: [policy]: missing",
       true},
      {"duplicate level",
       "[policy]\nid = \"t\"\nparty = \"il\"\nlabels = \"x\"\nlevels = [\"A\", \"A\"]\n",
       "test.toml:5:10: policy.levels: duplicate level", true},
      {"destination with unknown level",
       "[policy]\nid = \"t\"\nparty = \"il\"\nlabels = \"x\"\nlevels = [\"A\"]\n"
       "[[destination]]\nid = \"sy\"\nparty = \"sy\"\ncountry = \"SY\"\nlevel_max = \"B\"\n",
       "test.toml:10:13: destination[0].level_max: unknown level 'B'", true},
      {"duplicate destination",
       "[policy]\nid = \"t\"\nparty = \"il\"\nlabels = \"x\"\nlevels = [\"A\"]\n"
       "[[destination]]\nid = \"sy\"\nparty = \"sy\"\ncountry = \"SY\"\nlevel_max = \"A\"\n"
       "[[destination]]\nid = \"sy\"\nparty = \"sy\"\ncountry = \"SY\"\nlevel_max = \"A\"\n",
       "destination[1].id: duplicate destination 'sy'", true},
      {"name with a control character", "[[rule]]\nid = \"a\\u0007\"\naction = \"block\"\n",
       "rule[0].id: must be 1-128 bytes"},
  };
  return all;
}

class PolicyBad : public ::testing::TestWithParam<std::size_t> {};

TEST_P(PolicyBad, IsRefusedWithLocation) {
  const BadCase& c = bad_cases()[GetParam()];
  SCOPED_TRACE(c.name);
  auto p = Policy::parse(c.whole ? c.text : std::string(kHeader) + "\n" + c.text, "test.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::malformed);
  EXPECT_NE(p.status().reason().find(c.error), std::string::npos) << p.status().reason();
}

INSTANTIATE_TEST_SUITE_P(Policy, PolicyBad, ::testing::Range<std::size_t>(0, bad_cases().size()));

TEST(PolicyParse, HeaderLinesAreWhereTheTestsSayTheyAre) {
  // The bad cases above count on kHeader + "\n" putting the appended text at line 21.
  std::size_t lines = 0;
  for (char ch : std::string(kHeader) + "\n") lines += ch == '\n';
  EXPECT_EQ(lines, 20u);
}

TEST(PolicyParse, NotUnreachableWhenNarrowerRuleComesFirst) {
  auto p = Policy::parse(std::string(kHeader) +
                             "[[rule]]\nid = \"intel-border\"\nkind = [\"intelligence\"]\n"
                             "topics = [\"border\"]\naction = \"block\"\n"
                             "[[rule]]\nid = \"intel\"\nkind = [\"intelligence\"]\naction = "
                             "\"release\"\n",
                         "test.toml");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ((*p)->rules().size(), 2u);
}

TEST(PolicyParse, CanonicalBytesAreTheFile) {
  const std::string text = std::string(kHeader) + "[[rule]]\nid = \"a\"\naction = \"block\"\n";
  auto p = must_parse(text);
  ASSERT_TRUE(p);
  auto bytes = p->canonical_bytes();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), text);
}

TEST(PolicyParse, NoRulesMeansEverythingIsBlocked) {
  auto p = must_parse(kHeader);
  ASSERT_TRUE(p);
  capnp::MallocMessageBuilder m;
  auto item = m.initRoot<schema::Item>();
  cg::testing::fill_sample_item(item);
  Decision d = decide(*p, item.asReader(), "us");
  EXPECT_EQ(d.outcome, Outcome::block);
  EXPECT_EQ(d.reason, Reason::no_rule);
}

TEST(PolicyParse, TooLargeIsRefused) {
  std::string text(limits::policy_bytes_max + 1, '#');
  auto p = Policy::parse(text, "big.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().reason().find("big.toml: larger than"), std::string::npos);
}

TEST(PolicyParse, MissingFileIsIo) {
  auto p = Policy::load("/nonexistent/policy.toml");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::io);
}

// --- Rule order across the index: first match in file order, wherever the rule is indexed.

TEST(PolicyIndex, FirstMatchWinsAcrossGeneralAndTopicRules) {
  auto p = must_parse(std::string(kHeader) + R"(
[[rule]]
id = "open-intel-block"
kind = ["intelligence"]
level_max = "OPEN"
action = "block"

[[rule]]
id = "border-hold"
kind = ["intelligence"]
topics = ["border"]
action = "quarantine"

[[rule]]
id = "intel"
kind = ["intelligence"]
action = "release"
)");
  ASSERT_TRUE(p);
  capnp::MallocMessageBuilder m;
  auto item = m.initRoot<schema::Item>();
  cg::testing::fill_sample_item(item);  // topics air-defence, border; banner SECRET
  Decision d = decide(*p, item.asReader(), "us");
  ASSERT_TRUE(d.rule.has_value());
  EXPECT_EQ(p->rules()[*d.rule].id, "border-hold");

  // Everything at OPEN: the general rule that comes first wins over the topic rule.
  item.getBanner().setClassification(0);
  for (auto portion : item.getPortions()) portion.getLabel().setClassification(0);
  d = decide(*p, item.asReader(), "us");
  EXPECT_EQ(p->rules()[*d.rule].id, "open-intel-block");

  // No matching topic: the later general rule.
  item.getBanner().setClassification(2);
  set_list(item.initTopics(1), {"fisheries"});
  d = decide(*p, item.asReader(), "us");
  EXPECT_EQ(p->rules()[*d.rule].id, "intel");
}

TEST(PolicyIndex, SourceIndexedRulesKeepFileOrder) {
  auto p = must_parse(std::string(kHeader) + R"(
[[rule]]
id = "flash-from-sigint"
source = ["il-sigint-1", "il-sigint-9"]
precedence = ["flash"]
action = "block"

[[rule]]
id = "routine-intel"
kind = ["intelligence"]
precedence = ["routine", "priority"]
action = "release"

[[rule]]
id = "from-sigint"
source = ["il-sigint-1"]
action = "quarantine"

[[rule]]
id = "rest"
action = "block"
)");
  ASSERT_TRUE(p);
  capnp::MallocMessageBuilder m;
  auto item = m.initRoot<schema::Item>();
  cg::testing::fill_sample_item(item);  // il-sigint-1, PRIORITY, intelligence
  auto rule_of = [&] {
    Decision d = decide(*p, item.asReader(), "us");
    return d.rule ? p->rules()[*d.rule].id : std::string("none");
  };
  EXPECT_EQ(rule_of(), "routine-intel");
  item.setPrecedence(schema::Precedence::FLASH);
  EXPECT_EQ(rule_of(), "flash-from-sigint");
  item.setPrecedence(schema::Precedence::IMMEDIATE);
  EXPECT_EQ(rule_of(), "from-sigint");
  item.setSource("il-sigint-2");
  EXPECT_EQ(rule_of(), "rest");
}

TEST(PolicyIndex, ConditionsOfEveryKind) {
  auto p = must_parse(std::string(kHeader) + R"(
[[rule]]
id = "only-sy"
to = ["sy"]
precedence = ["flash"]
action = "block"

[[rule]]
id = "tlp-green"
tlp = ["green"]
action = "block"

[[rule]]
id = "ops-category"
categories = ["OPS"]
caveats = ["EXERCISE"]
action = "block"

[[rule]]
id = "sigint-sources"
source = ["il-sigint-*"]
area = [[32, 35], [33, 36]]
action = "quarantine"

[[rule]]
id = "rest"
action = "release"
)");
  ASSERT_TRUE(p);
  capnp::MallocMessageBuilder m;
  auto item = m.initRoot<schema::Item>();
  cg::testing::fill_sample_item(item);  // source il-sigint-1, point 32.12/35.12, PRIORITY
  auto rule_of = [&](const char* dest) {
    Decision d = decide(*p, item.asReader(), dest);
    return d.rule ? p->rules()[*d.rule].id : std::string("none");
  };
  EXPECT_EQ(rule_of("us"), "sigint-sources");
  item.setPrecedence(schema::Precedence::FLASH);
  EXPECT_EQ(rule_of("sy"), "only-sy");
  EXPECT_EQ(rule_of("us"), "sigint-sources");
  set_list(item.getBanner().initCaveats(1), {"EXERCISE"});
  EXPECT_EQ(rule_of("us"), "ops-category");
  item.getBanner().initCaveats(0);
  item.getArea().initPoint().setLatE7(310000000);  // outside the rule's area
  EXPECT_EQ(rule_of("us"), "rest");
  item.getArea().setNone();
  EXPECT_EQ(rule_of("us"), "rest");
  item.setSource("il-humint-2");
  item.getBanner().setTlp(schema::Tlp::GREEN);
  item.getPortions()[1].getLabel().setTlp(schema::Tlp::GREEN);
  EXPECT_EQ(rule_of("us"), "tlp-green");
}

// --- The example policy a reviewer reads.

TEST(PolicyExample, LoadsAndDecidesAsDocumented) {
  auto p = Policy::load(std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  const Policy& policy = **p;
  EXPECT_EQ(policy.party(), "il");
  EXPECT_GE(policy.rules().size(), 8u);

  capnp::MallocMessageBuilder m;
  auto item = m.initRoot<schema::Item>();
  cg::testing::fill_sample_item(item);
  // Intelligence on border topics to sy: the RESTRICTED summary crosses, the source call sign
  // does not (banner SECRET).
  Decision d = decide(policy, item.asReader(), "sy");
  EXPECT_EQ(d.outcome, Outcome::release) << explain_text(policy, item.asReader(), d);
  EXPECT_EQ(policy.rules()[*d.rule].id, "intelligence-shared-topics");
  // To the supervisor: the attribute RAVEN-3 is a HUMINT call sign and blocks.
  d = decide(policy, item.asReader(), "us");
  EXPECT_EQ(d.outcome, Outcome::block) << explain_text(policy, item.asReader(), d);
  EXPECT_EQ(d.reason, Reason::content_hit);
  EXPECT_EQ(policy.patterns()[d.hit->pattern].id, "source-raven");

  // A de-confliction notice in the border area: coarsened to 1 km, source stripped.
  item.setKind(schema::Kind::DECONFLICTION);
  item.getBanner().setClassification(1);
  item.getBanner().initRestrictive(0);
  set_list(item.getBanner().initPermissive(3), {"IL", "SY", "US"});
  {
    auto old = item.disownPortions();
    item.initPortions(1).setWithCaveats(0, old.getReader()[0]);
  }
  item.getAttributes()[0].setName("unit.callsign");
  ASSERT_TRUE(wire::validate_item(item.asReader()).ok());
  d = decide(policy, item.asReader(), "sy");
  ASSERT_EQ(d.outcome, Outcome::release) << explain_text(policy, item.asReader(), d);
  EXPECT_EQ(policy.rules()[*d.rule].id, "deconfliction-border-area");
  EXPECT_TRUE(d.transforms & kCoarsenArea);
  EXPECT_TRUE(d.transforms & kStripSource);
  EXPECT_TRUE(d.transforms & kDropAttributes);
  const std::string json = explain_json(policy, item.asReader(), d);
  EXPECT_NE(json.find(R"("coarsen_m":1000)"), std::string::npos) << json;
}

}  // namespace
}  // namespace cg::policy

namespace cg::policy {
namespace {

TEST(PolicyGlob, Matches) {
  struct {
    const char* pattern;
    const char* text;
    bool match;
  } cases[] = {
      {"source.*", "source.callsign", true},
      {"source.*", "source.", true},
      {"source.*", "sources.x", false},
      {"*.callsign", "unit.callsign", true},
      {"*.callsign", "callsign", false},
      {"*", "", true},
      {"a*b*c", "aXXbYYc", true},
      {"a*b*c", "aXXcYYb", false},
      {"image/*", "image/png", true},
      {"image/*", "text/plain", false},
      {"exact", "exact", true},
      {"exact", "exactly", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(detail::glob_match(c.pattern, c.text), c.match) << c.pattern << " ~ " << c.text;
  }
}

TEST(PolicyGlob, CoverIsConservative) {
  using V = std::vector<std::string>;
  EXPECT_TRUE(detail::globs_cover({}, {}));
  EXPECT_TRUE(detail::globs_cover({}, V{"x"}));
  EXPECT_FALSE(detail::globs_cover(V{"x"}, {}));
  EXPECT_TRUE(detail::globs_cover(V{"il-*"}, V{"il-sigint-*", "il-x"}));
  EXPECT_FALSE(detail::globs_cover(V{"il-*"}, V{"il-sigint-*", "sy-x"}));
  EXPECT_TRUE(detail::globs_cover(V{"*"}, V{"anything*"}));
  EXPECT_FALSE(detail::globs_cover(V{"il-x"}, V{"il-*"}));
  EXPECT_FALSE(detail::globs_cover(V{"*-1"}, V{"il-1"}));  // true, but not proven: not claimed
}

TEST(PolicyGlob, EscapedLiteralsMatchThemselves) {
  EXPECT_EQ(detail::escape_literal("FALCON VEIL"), "FALCON\\x20VEIL");
  EXPECT_EQ(detail::escape_literal("a.b(c)"), "a\\x2eb\\x28c\\x29");
  // A term full of regex syntax is still a literal: it loads and matches only itself.
  auto p = testing::must_parse(std::string(testing::kHeader) +
                               "[[pattern]]\nid = \"p\"\nterm = \"a.*(b\"\n"
                               "[[rule]]\nid = \"r\"\naction = \"release\"\n");
  ASSERT_TRUE(p);
  capnp::MallocMessageBuilder m;
  auto item = m.initRoot<schema::Item>();
  cg::testing::fill_sample_item(item);
  item.getPortions()[0].setBody(kj::StringPtr("aXXXb").asBytes());
  EXPECT_EQ(testing::decide(*p, item.asReader(), "us").outcome, Outcome::release);
  item.getPortions()[0].setBody(kj::StringPtr("x a.*(b y").asBytes());
  EXPECT_EQ(testing::decide(*p, item.asReader(), "us").outcome, Outcome::block);
}

}  // namespace
}  // namespace cg::policy
