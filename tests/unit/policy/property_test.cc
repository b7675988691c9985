// Property test: random items × random policies (fixed seeds). For every decision:
//  - a released item carries no portion the destination may not see, no attribute under a
//    banner it may not see, and no deny term or pattern;
//  - the released banner equals the roll-up of the portions that crossed;
//  - the released item is structurally valid;
//  - the rule applied is the first in file order whose conditions hold (the index is exact);
//  - an item whose banner does not dominate its portions is never released.
// The checks below are written independently of the engine's code.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "gateway/guard/guard.h"
#include "gateway/wire/wire.h"
#include "tests/unit/policy/policy_fixture.h"

namespace cg::policy {
namespace {

using namespace cg::policy::testing;  // NOLINT(google-build-using-namespace)
using wire::view;

constexpr const char* kCategories[] = {"A", "B", "C", "OPS"};
constexpr const char* kCountries[] = {"IL", "JO", "SY", "US"};
constexpr const char* kCaveats[] = {"EXERCISE", "NOFORN", "ORCON"};
constexpr const char* kTopics[] = {"air-defence", "border", "fisheries", "smuggling", "water"};
constexpr const char* kKinds[] = {"intelligence", "deconfliction", "incident", "diplomatic",
                                  "economic"};
constexpr const char* kPrecedences[] = {"routine", "priority", "immediate", "flash"};
constexpr const char* kTlps[] = {"unmarked", "clear", "green", "amber", "amber+strict", "red"};
constexpr const char* kWords[] = {"convoy",   "north",  "grid",  "checkpoint", "falcon", "granite",
                                  "corridor", "window", "Raven", "harbour",    "tariff", "notice"};
constexpr const char* kTerms[] = {"falcon", "granite", "raven", "tariff"};
constexpr const char* kAttributeNames[] = {"source.callsign", "report.serial", "unit.id",
                                           "source.site"};

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : g_(seed) {}
  unsigned below(unsigned n) { return static_cast<unsigned>(g_() % n); }
  bool chance(unsigned percent) { return below(100) < percent; }
  // A random subset of a sorted array, in order.
  template <std::size_t N>
  std::vector<std::string> subset(const char* const (&all)[N], unsigned percent) {
    std::vector<std::string> out;
    for (const char* v : all) {
      if (chance(percent)) out.emplace_back(v);
    }
    return out;
  }

 private:
  std::mt19937_64 g_;
};

std::string toml_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", \"" : "\"") + v[i] + "\"";
  return out + "]";
}

std::string random_policy(Rng& rng, unsigned* destinations) {
  std::string t = R"([policy]
id = "random"
party = "il"
labels = "cell-2026"
levels = ["L0", "L1", "L2", "L3"]
)";
  *destinations = 1 + rng.below(3);
  for (unsigned d = 0; d < *destinations; ++d) {
    t += "[[destination]]\nid = \"d" + std::to_string(d) + "\"\nparty = \"p\"\ncountry = \"" +
         kCountries[rng.below(4)] + "\"\nlevel_max = \"L" + std::to_string(rng.below(4)) + "\"\n";
    auto cats = rng.subset(kCategories, 50);
    if (!cats.empty()) t += "categories = " + toml_list(cats) + "\n";
  }
  const unsigned patterns = rng.below(4);
  for (unsigned p = 0; p < patterns; ++p) {
    t += "[[pattern]]\nid = \"p" + std::to_string(p) + "\"\nterm = \"" + kTerms[rng.below(4)] +
         "\"\naction = \"" + (rng.chance(50) ? "block" : "quarantine") + "\"\n";
  }
  const unsigned rules = rng.below(9);
  for (unsigned r = 0; r < rules; ++r) {
    t += "[[rule]]\nid = \"r" + std::to_string(r) + "\"\n";
    if (rng.chance(30)) {
      std::vector<std::string> to;
      for (unsigned d = 0; d < *destinations; ++d) {
        if (rng.chance(60)) to.push_back("d" + std::to_string(d));
      }
      if (!to.empty()) t += "to = " + toml_list(to) + "\n";
    }
    auto maybe = [&](const char* key, auto values) {
      if (!values.empty()) t += std::string(key) + " = " + toml_list(values) + "\n";
    };
    if (rng.chance(50)) maybe("kind", rng.subset(kKinds, 40));
    if (rng.chance(20)) maybe("precedence", rng.subset(kPrecedences, 50));
    if (rng.chance(20)) maybe("tlp", rng.subset(kTlps, 60));
    if (rng.chance(30)) maybe("topics", rng.subset(kTopics, 40));
    if (rng.chance(15)) maybe("categories", rng.subset(kCategories, 30));
    if (rng.chance(15)) maybe("caveats", rng.subset(kCaveats, 30));
    if (rng.chance(20)) t += "level_max = \"L" + std::to_string(rng.below(4)) + "\"\n";
    if (rng.chance(20)) {
      constexpr const char* kSources[] = {"[\"il-s*\"]", "[\"il-sigint-1\"]",
                                          "[\"il-humint-2\", \"il-sigint-1\"]"};
      t += std::string("source = ") + kSources[rng.below(3)] + "\n";
    }
    if (rng.chance(10)) t += "area = [[31, 34], [33, 36]]\n";
    const unsigned action = rng.below(10);
    t += std::string("action = \"") +
         (action < 6   ? "release"
          : action < 8 ? "quarantine"
                       : "block") +
         "\"\n";
    if (action < 6 && rng.chance(50)) {
      std::string x;
      if (rng.chance(30)) x += "drop_content_types = [\"image/*\"]\n";
      if (rng.chance(30)) x += "drop_above = \"L" + std::to_string(rng.below(4)) + "\"\n";
      if (rng.chance(30)) {
        auto v = rng.subset(kCategories, 30);
        if (!v.empty()) x += "drop_labels_with = " + toml_list(v) + "\n";
      }
      if (rng.chance(30)) x += "drop_attributes = [\"unit.*\"]\n";
      if (rng.chance(30)) x += "strip_source = true\n";
      if (rng.chance(30)) x += "coarsen_m = " + std::to_string(1 + rng.below(5000)) + "\n";
      if (!x.empty()) t += "[rule.transform]\n" + x;
    }
  }
  return t;
}

// Parses; rules an earlier rule shadows are removed (the loader refuses them) until it loads.
std::unique_ptr<const Policy> parse_random(std::string text) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto p = Policy::parse(text, "random.toml");
    if (p.ok()) return std::move(p).value();
    const std::string& why = p.status().reason();
    const auto at = why.find("rule '");
    EXPECT_NE(why.find("unreachable"), std::string::npos) << why << "\n" << text;
    if (at == std::string::npos) return nullptr;
    const std::string id = why.substr(at + 6, why.find('\'', at + 6) - at - 6);
    const auto start = text.find("[[rule]]\nid = \"" + id + "\"\n");
    const auto end = text.find("[[rule]]", start + 1);
    text.erase(start, end == std::string::npos ? std::string::npos : end - start);
  }
  return nullptr;
}

void set_strings(capnp::List<capnp::Text>::Builder list, const std::vector<std::string>& v) {
  for (unsigned i = 0; i < v.size(); ++i) list.set(i, v[i]);
}

struct LabelSpec {
  unsigned level = 0, tlp = 0;
  std::vector<std::string> restrictive, rel_to, caveats;
};

void write_label(schema::Label::Builder l, const LabelSpec& s) {
  l.setPolicyId("cell-2026");
  l.setClassification(static_cast<std::uint8_t>(s.level));
  set_strings(l.initRestrictive(static_cast<unsigned>(s.restrictive.size())), s.restrictive);
  set_strings(l.initPermissive(static_cast<unsigned>(s.rel_to.size())), s.rel_to);
  set_strings(l.initCaveats(static_cast<unsigned>(s.caveats.size())), s.caveats);
  l.setTlp(static_cast<schema::Tlp>(s.tlp));
}

std::vector<std::string> sorted_union(std::vector<std::string> a,
                                      const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  return a;
}

// The independent roll-up of a list of labels.
LabelSpec roll_up_of(const std::vector<LabelSpec>& labels) {
  LabelSpec r;
  bool any_rel = false;
  for (const auto& l : labels) {
    r.level = std::max(r.level, l.level);
    r.tlp = std::max(r.tlp, l.tlp);
    r.restrictive = sorted_union(r.restrictive, l.restrictive);
    r.caveats = sorted_union(r.caveats, l.caveats);
    if (l.rel_to.empty()) continue;
    if (!any_rel) {
      r.rel_to = l.rel_to;
      any_rel = true;
    } else {
      std::vector<std::string> both;
      std::set_intersection(r.rel_to.begin(), r.rel_to.end(), l.rel_to.begin(), l.rel_to.end(),
                            std::back_inserter(both));
      r.rel_to = both;
    }
  }
  return r;
}

void random_item(Rng& rng, schema::Item::Builder item) {
  cg::testing::fill_sample_item(item);
  item.setKind(static_cast<schema::Kind>(1 + rng.below(5)));
  item.setPrecedence(static_cast<schema::Precedence>(1 + rng.below(4)));
  item.setSource(rng.chance(50) ? "il-sigint-1" : "il-humint-2");
  auto topics = rng.subset(kTopics, 30);
  set_strings(item.initTopics(static_cast<unsigned>(topics.size())), topics);
  switch (rng.below(3)) {
    case 0:
      item.getArea().setNone();
      break;
    case 1:
      item.getArea().initPoint().setLatE7(
          static_cast<std::int32_t>(300000000 + rng.below(50000000)));
      item.getArea().getPoint().setLonE7(
          static_cast<std::int32_t>(330000000 + rng.below(50000000)));
      break;
    default: {
      auto box = item.getArea().initBox();
      const auto lat = static_cast<std::int32_t>(300000000 + rng.below(40000000));
      const auto lon = static_cast<std::int32_t>(330000000 + rng.below(40000000));
      box.getSouthWest().setLatE7(lat);
      box.getSouthWest().setLonE7(lon);
      box.getNorthEast().setLatE7(lat + static_cast<std::int32_t>(rng.below(5000000)));
      box.getNorthEast().setLonE7(lon + static_cast<std::int32_t>(rng.below(5000000)));
    }
  }
  const unsigned n = 1 + rng.below(5);
  std::vector<LabelSpec> labels(n);
  auto portions = item.initPortions(n);
  for (unsigned i = 0; i < n; ++i) {
    LabelSpec& s = labels[i];
    s.level = rng.below(4);
    s.tlp = rng.chance(85) ? rng.below(5) : 5;
    s.restrictive = rng.subset(kCategories, 20);
    s.rel_to = rng.chance(50) ? std::vector<std::string>{} : rng.subset(kCountries, 70);
    s.caveats = rng.subset(kCaveats, 10);
    write_label(portions[i].initLabel(), s);
    portions[i].setContentType(rng.chance(80) ? "text/plain" : "image/png");
    std::string text;
    for (unsigned w = 0; w < 1 + rng.below(8); ++w)
      text += std::string(kWords[rng.below(12)]) + " ";
    portions[i].setBody(kj::StringPtr(text.c_str()).asBytes());
    portions[i].setRequired(rng.chance(20));
    portions[i].setName("p" + std::to_string(i));
  }
  LabelSpec banner = roll_up_of(labels);
  // Sometimes stricter than the roll-up (still dominating), sometimes broken on purpose.
  if (rng.chance(20)) banner.level = std::min(3u, banner.level + 1);
  if (rng.chance(20)) banner.restrictive = sorted_union(banner.restrictive, {"C"});
  if (rng.chance(10)) banner.caveats = sorted_union(banner.caveats, {"NOFORN"});
  if (rng.chance(5) && banner.level > 0) banner.level -= 1;  // does not dominate
  write_label(item.initBanner(), banner);
  const unsigned attributes = rng.below(4);
  auto attrs = item.initAttributes(attributes);
  for (unsigned i = 0; i < attributes; ++i) {
    attrs[i].setName(kAttributeNames[rng.below(4)]);
    attrs[i].setValue(kWords[rng.below(12)]);
  }
}

LabelSpec spec_of(schema::Label::Reader l) {
  LabelSpec s;
  s.level = l.getClassification();
  s.tlp = static_cast<unsigned>(l.getTlp());
  for (auto t : l.getRestrictive()) s.restrictive.emplace_back(view(t));
  for (auto t : l.getPermissive()) s.rel_to.emplace_back(view(t));
  for (auto t : l.getCaveats()) s.caveats.emplace_back(view(t));
  return s;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// May `dest` see material under label `l`? (Written from the rules in POLICY.md.)
bool visible(const LabelSpec& l, const Destination& dest) {
  if (has(l.caveats, "NOFORN") || has(l.caveats, "ORCON") || l.tlp == 5) return false;
  if (l.level > dest.level_max) return false;
  for (const auto& c : l.restrictive) {
    if (!has(dest.categories, c)) return false;
  }
  return l.rel_to.empty() || has(l.rel_to, dest.country);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The first rule in file order whose conditions hold: a linear scan, no index.
std::optional<std::uint32_t> reference_rule(const Policy& p, schema::Item::Reader item,
                                            std::uint32_t dest) {
  const LabelSpec banner = spec_of(item.getBanner());
  for (std::uint32_t r = 0; r < p.rules().size(); ++r) {
    const Condition& c = p.rules()[r].when;
    if (!(c.destinations >> dest & 1)) continue;
    if (!(c.kinds >> static_cast<unsigned>(item.getKind()) & 1)) continue;
    if (!(c.precedences >> static_cast<unsigned>(item.getPrecedence()) & 1)) continue;
    if (!(c.tlps >> banner.tlp & 1)) continue;
    if (banner.level < c.level_min || banner.level > c.level_max) continue;
    bool ok = true;
    for (const auto& x : c.categories) ok = ok && has(banner.restrictive, x);
    for (const auto& x : c.caveats) ok = ok && has(banner.caveats, x);
    if (!c.topics.empty()) {
      bool any = false;
      for (auto t : item.getTopics()) any = any || has(c.topics, std::string(view(t)));
      ok = ok && any;
    }
    if (!c.sources.empty()) {
      const std::string_view source = view(item.getSource());
      bool any = false;
      for (const auto& g : c.sources) {
        any =
            any || (g.ends_with('*') ? source.starts_with(g.substr(0, g.size() - 1)) : source == g);
      }
      ok = ok && any;
    }
    if (c.area) {
      auto a = item.getArea();
      auto inside = [&](schema::GeoPoint::Reader g) {
        return g.getLatE7() >= c.area->south_e7 && g.getLatE7() <= c.area->north_e7 &&
               g.getLonE7() >= c.area->west_e7 && g.getLonE7() <= c.area->east_e7;
      };
      if (a.isPoint()) {
        ok = ok && inside(a.getPoint());
      } else if (a.isBox()) {
        ok = ok && inside(a.getBox().getSouthWest()) && inside(a.getBox().getNorthEast());
      } else {
        ok = false;
      }
    }
    if (ok) return r;
  }
  return std::nullopt;
}

TEST(PolicyProperty, ReleasedItemsAreVisibleAndRolledUp) {
  std::size_t decisions = 0, releases = 0, redacted = 0, policies = 0, guarded = 0;
  for (std::uint64_t seed = 1; seed <= 150; ++seed) {
    Rng rng(seed);
    unsigned destinations = 0;
    auto policy = parse_random(random_policy(rng, &destinations));
    ASSERT_TRUE(policy) << "seed " << seed;
    ++policies;
    auto eval = Evaluator::create(*policy);
    ASSERT_TRUE(eval.ok());
    // The release guard (gateway/guard) checks every release on its own: it must agree.
    auto guard = guard::Guard::create(*policy);
    ASSERT_TRUE(guard.ok()) << guard.status().reason();
    Decision d;
    for (int n = 0; n < 150; ++n) {
      capnp::MallocMessageBuilder m;
      auto item = m.initRoot<schema::Item>();
      random_item(rng, item);
      const bool well_formed = wire::validate_item(item.asReader()).ok();
      for (std::uint32_t dest = 0; dest < destinations; ++dest) {
        SCOPED_TRACE("seed " + std::to_string(seed) + " item " + std::to_string(n) + " dest " +
                     std::to_string(dest));
        eval->decide(item.asReader(), dest, item.asReader().getCreated(), d);
        ++decisions;
        if (!well_formed) {
          ASSERT_NE(d.outcome, Outcome::release) << explain_text(*policy, item.asReader(), d);
          continue;
        }
        ASSERT_EQ(d.rule, reference_rule(*policy, item.asReader(), dest));
        if (d.outcome != Outcome::release) continue;
        ++releases;
        redacted += d.changed;
        const Destination& dst = policy->destinations()[dest];
        capnp::MallocMessageBuilder out;
        auto released = out.initRoot<schema::Item>();
        build_released(*policy, item.asReader(), d, released);
        const Status valid = wire::validate_item(released.asReader());
        ASSERT_TRUE(valid.ok()) << valid.to_string();
        {
          guard::Claim claim{dest, {}};
          for (const auto v : d.portions) claim.removed.push_back(v != Verdict::crosses);
          const auto bytes = d.changed ? wire::canonical_bytes_of(released.asReader(), false)
                                       : wire::canonical_bytes_of(item.asReader(), false);
          const Status agreed = (*guard)->check(item.asReader(), bytes, claim);
          ASSERT_TRUE(agreed.ok()) << agreed.reason() << "\n"
                                   << explain_text(*policy, item.asReader(), d);
          ++guarded;
        }
        std::vector<LabelSpec> crossed;
        for (auto p : released.getPortions()) {
          crossed.push_back(spec_of(p.getLabel()));
          ASSERT_TRUE(visible(crossed.back(), dst)) << "portion " << view(p.getName()) << "\n"
                                                    << explain_text(*policy, item.asReader(), d);
          if (view(p.getContentType()) == "text/plain") {
            const std::string body = lower(std::string_view(
                reinterpret_cast<const char*>(p.getBody().begin()), p.getBody().size()));
            for (const auto& pattern : policy->patterns()) {
              ASSERT_EQ(body.find(pattern.expression), std::string::npos) << pattern.id;
            }
          }
        }
        ASSERT_FALSE(crossed.empty());
        const LabelSpec expect = roll_up_of(crossed);
        const LabelSpec got = spec_of(released.getBanner());
        ASSERT_EQ(got.level, expect.level);
        ASSERT_EQ(got.tlp, expect.tlp);
        ASSERT_EQ(got.restrictive, expect.restrictive);
        ASSERT_EQ(got.rel_to, expect.rel_to);
        ASSERT_EQ(got.caveats, expect.caveats);
        if (released.getAttributes().size() > 0) {
          ASSERT_TRUE(visible(spec_of(item.getBanner()), dst));
          for (auto a : released.getAttributes()) {
            for (const auto& pattern : policy->patterns()) {
              ASSERT_EQ(lower(view(a.getValue())).find(pattern.expression), std::string::npos);
            }
          }
        }
        // A banner-only NOFORN, RED or ORCON holds for the whole item.
        {
          const LabelSpec banner = spec_of(item.getBanner());
          bool noforn = false, red = false, orcon = false;
          for (auto p : item.getPortions()) {
            const LabelSpec l = spec_of(p.getLabel());
            noforn = noforn || has(l.caveats, "NOFORN");
            orcon = orcon || has(l.caveats, "ORCON");
            red = red || l.tlp == 5;
          }
          ASSERT_FALSE(has(banner.caveats, "NOFORN") && !noforn);
          ASSERT_FALSE(has(banner.caveats, "ORCON") && !orcon);
          ASSERT_FALSE(banner.tlp == 5 && !red);
        }
        // Nothing required was left behind.
        for (unsigned i = 0; i < item.getPortions().size(); ++i) {
          if (item.getPortions()[i].getRequired()) ASSERT_TRUE(crosses(d.portions[i]));
        }
        // "Unchanged" means the same item (an empty list and an absent one may differ in
        // bytes, not in meaning): the caller may send the input as it is.
        if (!d.changed) {
          ASSERT_EQ(wire::item_to_json(item.asReader()), wire::item_to_json(released.asReader()));
        }
      }
    }
  }
  // The generators must actually exercise the release path, redacted and not.
  EXPECT_EQ(policies, 150u);
  EXPECT_GT(releases, decisions / 50);
  EXPECT_EQ(guarded, releases) << "the guard checked every release";
  EXPECT_GT(redacted, releases / 4);
  EXPECT_LT(redacted, releases);
  std::printf("%zu policies, %zu decisions, %zu releases (%zu redacted)\n", policies, decisions,
              releases, redacted);
}

}  // namespace
}  // namespace cg::policy
