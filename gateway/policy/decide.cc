// Evaluator: one decision for one item and one destination.
#include <hs/hs.h>

#include <algorithm>

#include "gateway/policy/internal.h"
#include "gateway/policy/policy.h"
#include "gateway/wire/wire.h"

namespace cg::policy {

using wire::view;

namespace {

bool has_all(capnp::List<capnp::Text>::Reader have, const std::vector<std::string>& needed) {
  for (const auto& n : needed) {
    bool found = false;
    for (auto t : have) {
      if (view(t) == n) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

bool point_in(const Condition::Box& box, schema::GeoPoint::Reader p) {
  return p.getLatE7() >= box.south_e7 && p.getLatE7() <= box.north_e7 &&
         p.getLonE7() >= box.west_e7 && p.getLonE7() <= box.east_e7;
}

bool area_in(const Condition::Box& box, schema::Area::Reader area) {
  switch (area.which()) {
    case schema::Area::POINT:
      return point_in(box, area.getPoint());
    case schema::Area::BOX:
      return point_in(box, area.getBox().getSouthWest()) &&
             point_in(box, area.getBox().getNorthEast());
    default:
      return false;
  }
}

// Everything but the destination, kind and topic conditions, which the index has checked.
bool matches_rest(const Condition& c, schema::Item::Reader item, schema::Label::Reader banner) {
  if (!(c.precedences >> static_cast<unsigned>(item.getPrecedence()) & 1)) return false;
  if (!(c.tlps >> static_cast<unsigned>(banner.getTlp()) & 1)) return false;
  const std::uint8_t level = banner.getClassification();
  if (level < c.level_min || level > c.level_max) return false;
  if (!c.categories.empty() && !has_all(banner.getRestrictive(), c.categories)) return false;
  if (!c.caveats.empty() && !has_all(banner.getCaveats(), c.caveats)) return false;
  if (!c.sources.empty()) {
    const std::string_view source = view(item.getSource());
    bool any = false;
    for (const auto& g : c.sources) {
      if (detail::glob_match(g, source)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  if (c.area && !area_in(*c.area, item.getArea())) return false;
  return true;
}

// A label this policy can judge: the policy's labelling scheme and one of its levels.
bool label_in_policy(const Policy& policy, schema::Label::Reader label) {
  return view(label.getPolicyId()) == policy.label_policy() &&
         label.getClassification() < policy.levels().size();
}

bool any_glob(const std::vector<std::string>& globs, std::string_view text) {
  for (const auto& g : globs) {
    if (detail::glob_match(g, text)) return true;
  }
  return false;
}

bool any_of(capnp::List<capnp::Text>::Reader list, const std::vector<std::string>& sorted) {
  for (auto t : list) {
    if (std::binary_search(sorted.begin(), sorted.end(), view(t), [](const auto& x, const auto& y) {
          return std::string_view(x) < std::string_view(y);
        })) {
      return true;
    }
  }
  return false;
}

bool drops_portion(const Transform& t, schema::Portion::Reader p) {
  auto label = p.getLabel();
  if (t.drop_above && label.getClassification() > *t.drop_above) return true;
  if (!t.drop_labels_with.empty() && (any_of(label.getRestrictive(), t.drop_labels_with) ||
                                      any_of(label.getCaveats(), t.drop_labels_with))) {
    return true;
  }
  return !t.drop_content_types.empty() && any_glob(t.drop_content_types, view(p.getContentType()));
}

bool drops_attribute(const Transform& t, std::string_view name) {
  if (t.strip_source && detail::glob_match("source.*", name)) return true;
  return any_glob(t.drop_attributes, name);
}

bool in_list(capnp::List<capnp::Text>::Reader list, std::string_view v) {
  for (auto t : list) {
    if (view(t) == v) return true;
  }
  return false;
}

// True when `banner` equals the roll-up of the crossing portions. Portions are dominated by
// the banner (checked before), so the unions are within the banner and the banner's REL TO
// within each portion's: only the other direction needs checking. No allocation.
bool banner_is_roll_up(schema::Item::Reader item, const Decision& d) {
  auto banner = item.getBanner();
  auto portions = item.getPortions();
  unsigned level = 0, tlp = 0;
  for (unsigned i = 0; i < portions.size(); ++i) {
    if (!crosses(d.portions[i])) continue;
    auto l = portions[i].getLabel();
    level = std::max<unsigned>(level, l.getClassification());
    tlp = std::max(tlp, static_cast<unsigned>(l.getTlp()));
  }
  if (level != banner.getClassification() || tlp != static_cast<unsigned>(banner.getTlp())) {
    return false;
  }
  auto in_some = [&](std::string_view v, auto get) {
    for (unsigned i = 0; i < portions.size(); ++i) {
      if (crosses(d.portions[i]) && in_list(get(portions[i].getLabel()), v)) return true;
    }
    return false;
  };
  for (auto t : banner.getRestrictive()) {
    if (!in_some(view(t), [](schema::Label::Reader l) { return l.getRestrictive(); })) return false;
  }
  for (auto t : banner.getCaveats()) {
    if (!in_some(view(t), [](schema::Label::Reader l) { return l.getCaveats(); })) return false;
  }
  // REL TO: the roll-up is the intersection of the non-empty sets; every value of it must be
  // in the banner, and an empty roll-up needs an empty banner.
  int first = -1;
  for (unsigned i = 0; i < portions.size() && first < 0; ++i) {
    if (crosses(d.portions[i]) && portions[i].getLabel().getPermissive().size() > 0) {
      first = static_cast<int>(i);
    }
  }
  if (first < 0) return banner.getPermissive().size() == 0;
  for (auto t : portions[static_cast<unsigned>(first)].getLabel().getPermissive()) {
    bool in_all = true;
    for (unsigned i = 0; i < portions.size() && in_all; ++i) {
      auto p = portions[i].getLabel().getPermissive();
      if (crosses(d.portions[i]) && p.size() > 0) in_all = in_list(p, view(t));
    }
    if (in_all && !in_list(banner.getPermissive(), view(t))) return false;
  }
  return true;
}

struct ScanContext {
  const std::vector<Pattern>* patterns;
  std::optional<Hit>* hit;
  bool in_attribute;
  std::uint32_t index;
};

// Keeps the first block hit (and stops), else the first quarantine hit (and continues, since a
// later block pattern outranks it).
int on_match(unsigned id, unsigned long long /*from*/, unsigned long long to, unsigned /*flags*/,
             void* context) {
  auto* ctx = static_cast<ScanContext*>(context);
  const Outcome action = (*ctx->patterns)[id].action;
  std::optional<Hit>& hit = *ctx->hit;
  const bool better =
      !hit || (action == Outcome::block && (*ctx->patterns)[hit->pattern].action != Outcome::block);
  if (better) hit = Hit{id, ctx->in_attribute, ctx->index, to};
  return action == Outcome::block ? 1 : 0;
}

}  // namespace

Result<Evaluator> Evaluator::create(const Policy& policy) {
  Evaluator e(policy);
  if (policy.database_) {
    if (hs_alloc_scratch(policy.database_.get(), &e.scratch_) != HS_SUCCESS) {
      return overloaded("policy: cannot allocate Hyperscan scratch");
    }
  }
  return e;
}

Evaluator::~Evaluator() {
  if (scratch_) hs_free_scratch(scratch_);
}

Evaluator::Evaluator(Evaluator&& other) noexcept
    : policy_(other.policy_), scratch_(other.scratch_) {
  other.scratch_ = nullptr;
}

std::optional<std::uint32_t> Evaluator::match_rule(schema::Item::Reader item,
                                                   std::uint32_t destination) {
  const auto banner = item.getBanner();
  const unsigned kind = static_cast<unsigned>(item.getKind());
  const auto& rules = policy_.rules_;
  std::uint32_t best = UINT32_MAX;
  for (std::uint32_t r : policy_.general(destination, kind)) {
    if (matches_rest(rules[r].when, item, banner)) {
      best = r;
      break;
    }
  }
  // An indexed list holds rules of any destination and kind: check those here. Kinds are
  // < 8 (wire validates them), so the shift is in range.
  auto scan = [&](const std::vector<std::uint32_t>* list) {
    if (!list) return;
    for (std::uint32_t r : *list) {
      if (r >= best) return;
      const Condition& c = rules[r].when;
      if ((c.destinations >> destination & 1) && (c.kinds >> (kind & 31) & 1) &&
          matches_rest(c, item, banner)) {
        best = r;
        return;
      }
    }
  };
  if (!policy_.by_topic_.names.empty()) {
    for (auto topic : item.getTopics()) scan(policy_.by_topic_.find(view(topic)));
  }
  if (!policy_.by_source_.names.empty()) scan(policy_.by_source_.find(view(item.getSource())));
  if (best == UINT32_MAX) return std::nullopt;
  return best;
}

void Evaluator::judge_content(schema::Item::Reader item, Decision& out) {
  if (!policy_.database_) return;
  const hs_database_t* db = policy_.database_.get();
  ScanContext ctx{&policy_.patterns_, &out.hit, false, 0};
  auto scan = [&](const char* data, std::size_t size) {
    if (size == 0) return true;
    const hs_error_t rc =
        hs_scan(db, data, static_cast<unsigned>(size), 0, scratch_, on_match, &ctx);
    return rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED;
  };
  auto portions = item.getPortions();
  for (unsigned i = 0; i < portions.size(); ++i) {
    if (!crosses(out.portions[i]) || !policy_.is_text(view(portions[i].getContentType()))) {
      continue;
    }
    auto body = portions[i].getBody();
    ctx.in_attribute = false;
    ctx.index = i;
    if (!scan(reinterpret_cast<const char*>(body.begin()), body.size())) {
      out.outcome = Outcome::quarantine;
      out.reason = Reason::inspection_failed;
      return;
    }
    if (out.hit && policy_.patterns_[out.hit->pattern].action == Outcome::block) return;
  }
  auto attributes = item.getAttributes();
  for (unsigned i = 0; i < attributes.size(); ++i) {
    if (!crosses(out.attributes[i])) continue;
    ctx.in_attribute = true;
    ctx.index = i;
    auto name = attributes[i].getName();
    auto value = attributes[i].getValue();
    if (!scan(name.begin(), name.size()) || !scan(value.begin(), value.size())) {
      out.outcome = Outcome::quarantine;
      out.reason = Reason::inspection_failed;
      return;
    }
    if (out.hit && policy_.patterns_[out.hit->pattern].action == Outcome::block) return;
  }
}

void Evaluator::decide(schema::Item::Reader item, std::uint32_t destination, Decision& out) {
  CG_ASSERT(destination < policy_.destinations_.size());
  const Destination& dest = policy_.destinations_[destination];
  auto portions = item.getPortions();
  auto attributes = item.getAttributes();
  const auto banner = item.getBanner();
  out.destination = destination;
  out.rule.reset();
  out.malformed_portion.reset();
  out.hit.reset();
  out.transforms = 0;
  out.portions_crossing = 0;
  out.changed = false;
  out.portions.assign(portions.size(), Verdict::crosses);
  out.attributes.assign(attributes.size(), Verdict::crosses);

  // 1. Labels this policy can judge, and a banner that dominates every portion.
  bool labels_ok = label_in_policy(policy_, banner);
  for (unsigned i = 0; i < portions.size() && labels_ok; ++i) {
    auto l = portions[i].getLabel();
    if (!label_in_policy(policy_, l) || !wire::dominates(banner, l)) {
      out.portions[i] = Verdict::malformed;
      out.malformed_portion = i;
      labels_ok = false;
    }
  }
  if (!labels_ok) {
    out.outcome = Outcome::quarantine;
    out.reason = Reason::malformed_label;
    return;
  }

  // 2. The first matching rule, in file order.
  out.rule = match_rule(item, destination);
  static const Transform kNone;
  const Rule* rule = out.rule ? &policy_.rules_[*out.rule] : nullptr;
  const Transform& transform = rule && rule->action == Outcome::release ? rule->transform : kNone;

  // 3. Portions one by one: the fixed label rules, then the rule's transform.
  bool orcon = false, required_removed = false;
  for (unsigned i = 0; i < portions.size(); ++i) {
    Verdict v = detail::judge_label(portions[i].getLabel(), dest);
    if (crosses(v) && drops_portion(transform, portions[i])) v = Verdict::transform;
    out.portions[i] = v;
    if (crosses(v)) {
      ++out.portions_crossing;
      orcon = orcon || v == Verdict::orcon;
    } else {
      required_removed = required_removed || portions[i].getRequired();
    }
  }
  // 4. Attributes carry the banner's label: they cross only if the banner may.
  const Verdict banner_verdict = detail::judge_label(banner, dest);
  bool attributes_removed = false;
  for (unsigned i = 0; i < attributes.size(); ++i) {
    Verdict v = banner_verdict;
    if (crosses(v) && drops_attribute(transform, view(attributes[i].getName()))) {
      v = Verdict::transform;
      out.transforms |= kDropAttributes;
    }
    out.attributes[i] = v;
    attributes_removed = attributes_removed || !crosses(v);
    orcon = orcon || v == Verdict::orcon;
  }

  if (!rule) {
    out.outcome = Outcome::block;
    out.reason = Reason::no_rule;
    out.transforms = 0;
    return;
  }
  out.outcome = rule->action;
  out.reason = Reason::rule;
  if (rule->action != Outcome::release) {
    out.transforms = 0;
    return;
  }
  if (required_removed || out.portions_crossing == 0) {
    out.outcome = Outcome::block;
    out.reason = required_removed ? Reason::required_removed : Reason::nothing_left;
    out.transforms = 0;
    return;
  }

  // 5. Content inspection over what would cross.
  judge_content(item, out);
  if (out.reason == Reason::inspection_failed) return;
  if (out.hit) {
    out.outcome = policy_.patterns_[out.hit->pattern].action;
    out.reason = Reason::content_hit;
    out.transforms = 0;
    return;
  }
  if (orcon) {
    out.outcome = Outcome::quarantine;
    out.reason = Reason::orcon_review;
    out.transforms = 0;
    return;
  }

  // 6. Released: which transforms apply, and whether the item changes at all.
  if (out.portions_crossing != portions.size()) {
    for (Verdict v : out.portions) {
      if (v == Verdict::transform) out.transforms |= kDropPortions;
    }
  }
  if (transform.strip_source) out.transforms |= kStripSource;
  if (transform.coarsen_m != 0 && item.getArea().which() != schema::Area::NONE) {
    out.transforms |= kCoarsenArea;
  }
  out.changed = out.transforms != 0 || attributes_removed ||
                out.portions_crossing != portions.size() || !banner_is_roll_up(item, out);
}

}  // namespace cg::policy
