// Shared fixtures for the policy tests: a small policy and item builders.
#pragma once

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <string>

#include "gateway/policy/policy.h"
#include "tests/support/items.h"

namespace cg::policy::testing {

// Levels: OPEN(0) RESTRICTED(1) SECRET(2) TOP SECRET(3). sy: RESTRICTED, holds DECON, country
// SY. us: SECRET, holds OPS, country US.
inline constexpr const char* kHeader = R"([policy]
id = "test"
party = "il"
labels = "cell-2026"
levels = ["OPEN", "RESTRICTED", "SECRET", "TOP SECRET"]

[[destination]]
id = "sy"
party = "sy"
country = "SY"
level_max = "RESTRICTED"
categories = ["DECON"]

[[destination]]
id = "us"
party = "us"
country = "US"
level_max = "SECRET"
categories = ["OPS"]
)";

inline std::unique_ptr<const Policy> must_parse(const std::string& text) {
  auto p = Policy::parse(text, "test.toml");
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  if (!p.ok()) return nullptr;
  return std::move(p).value();
}

inline void set_list(capnp::List<capnp::Text>::Builder list,
                     std::initializer_list<const char*> values) {
  unsigned i = 0;
  for (const char* v : values) list.set(i++, v);
}

// A label builder helper: level, restrictive, REL TO, caveats, TLP.
inline void set_label(schema::Label::Builder l, std::uint8_t level,
                      std::initializer_list<const char*> restrictive,
                      std::initializer_list<const char*> rel_to,
                      std::initializer_list<const char*> caveats, schema::Tlp tlp) {
  l.setPolicyId("cell-2026");
  l.setClassification(level);
  if (restrictive.size())
    set_list(l.initRestrictive(static_cast<unsigned>(restrictive.size())), restrictive);
  else
    l.initRestrictive(0);
  if (rel_to.size())
    set_list(l.initPermissive(static_cast<unsigned>(rel_to.size())), rel_to);
  else
    l.initPermissive(0);
  if (caveats.size())
    set_list(l.initCaveats(static_cast<unsigned>(caveats.size())), caveats);
  else
    l.initCaveats(0);
  l.setTlp(tlp);
}

// Decides with a fresh evaluator at `now_ns` (by default the item's creation time, when no
// item has expired yet).
inline Decision decide(const Policy& policy, schema::Item::Reader item, std::string_view dest,
                       std::optional<std::int64_t> now_ns = std::nullopt) {
  auto e = Evaluator::create(policy);
  EXPECT_TRUE(e.ok());
  Decision d;
  auto idx = policy.destination_index(dest);
  EXPECT_TRUE(idx.has_value());
  e->decide(item, *idx, now_ns.value_or(item.getCreated()), d);
  return d;
}

}  // namespace cg::policy::testing
