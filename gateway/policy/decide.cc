// Evaluator: one decision for one item and one destination.
#include <hs/hs.h>

#include <algorithm>

#include "gateway/policy/internal.h"
#include "gateway/policy/policy.h"
#include "gateway/wire/wire.h"

namespace cg::policy {

using wire::view;

namespace {

using detail::LabelView;

constexpr std::uint8_t kTlpRed = static_cast<std::uint8_t>(schema::Tlp::RED);

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

bool any_glob(const std::vector<std::string>& globs, std::string_view text) {
  for (const auto& g : globs) {
    if (detail::glob_match(g, text)) return true;
  }
  return false;
}

bool drops_attribute(const Transform& t, std::string_view name) {
  if (t.strip_source && detail::glob_match("source.*", name)) return true;
  return any_glob(t.drop_attributes, name);
}

using Names = std::span<const std::string_view>;

// Equality for the short names labels carry ("SY", "OPS", "cell-2026"): inline for the
// common short case instead of a call to memcmp per comparison.
inline bool eq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.size() > 16) return a == b;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

bool in(Names list, std::string_view v) {
  for (std::string_view x : list) {
    if (eq(x, v)) return true;
  }
  return false;
}
// small ⊆ big, whatever the order (lists are short; validated ones are sorted).
bool subset(Names small, Names big) {
  for (std::string_view x : small) {
    if (!in(big, x)) return false;
  }
  return true;
}
// Every name in `needed` is in the sorted `have`.
bool held(Names needed, const std::vector<std::string>& have) {
  for (std::string_view x : needed) {
    if (!std::binary_search(have.begin(), have.end(), x, [](const auto& a, const auto& b) {
          return std::string_view(a) < std::string_view(b);
        })) {
      return false;
    }
  }
  return true;
}
bool has_all(Names have, const std::vector<std::string>& needed) {
  for (const auto& n : needed) {
    if (!in(have, n)) return false;
  }
  return true;
}
bool any_in(Names list, const std::vector<std::string>& sorted) {
  for (std::string_view x : list) {
    if (std::binary_search(sorted.begin(), sorted.end(), x, [](const auto& a, const auto& b) {
          return std::string_view(a) < std::string_view(b);
        })) {
      return true;
    }
  }
  return false;
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

// --- reading labels once ------------------------------------------------------------------

void Evaluator::read_label(schema::Label::Reader label) {
  auto restrictive = label.getRestrictive();
  auto permissive = label.getPermissive();
  auto caveats = label.getCaveats();
  LabelView v;
  v.policy = view(label.getPolicyId());
  v.level = label.getClassification();
  v.tlp = static_cast<std::uint8_t>(label.getTlp());
  std::size_t at = names_.size();
  v.restrictive = static_cast<std::uint32_t>(at);
  v.permissive = v.restrictive + restrictive.size();
  v.caveats = v.permissive + permissive.size();
  v.end = v.caveats + caveats.size();
  names_.resize(v.end);  // keeps its capacity between decisions
  for (auto t : restrictive) names_[at++] = view(t);
  for (auto t : permissive) names_[at++] = view(t);
  for (auto t : caveats) {
    const std::string_view c = view(t);
    v.noforn = v.noforn || eq(c, "NOFORN");
    v.orcon = v.orcon || eq(c, "ORCON");
    names_[at++] = c;
  }
  labels_.push_back(v);
}

void Evaluator::read_labels(schema::Item::Reader item,
                            capnp::List<schema::Portion>::Reader portions) {
  labels_.clear();
  names_.clear();
  content_types_.clear();
  read_label(item.getBanner());
  for (auto p : portions) {
    read_label(p.getLabel());
    content_types_.push_back(view(p.getContentType()));
  }
  source_ = view(item.getSource());
}

namespace {
Names restrictive(const std::vector<std::string_view>& n, const LabelView& l) {
  return Names(n).subspan(l.restrictive, l.permissive - l.restrictive);
}
Names permissive(const std::vector<std::string_view>& n, const LabelView& l) {
  return Names(n).subspan(l.permissive, l.caveats - l.permissive);
}
Names caveats(const std::vector<std::string_view>& n, const LabelView& l) {
  return Names(n).subspan(l.caveats, l.end - l.caveats);
}
}  // namespace

// As wire::dominates (schemas/item.capnp, struct Label), over views.
bool Evaluator::dominates(const LabelView& a, const LabelView& b) const {
  if (!eq(a.policy, b.policy) || a.level < b.level || a.tlp < b.tlp) return false;
  if (!subset(restrictive(names_, b), restrictive(names_, a))) return false;
  if (!subset(caveats(names_, b), caveats(names_, a))) return false;
  if (permissive(names_, b).empty()) return true;
  return !permissive(names_, a).empty() && subset(permissive(names_, a), permissive(names_, b));
}

// The fixed label rules, in the order POLICY.md gives them.
Verdict Evaluator::judge(const LabelView& l, const Destination& dest) const {
  if (l.noforn) return Verdict::noforn;
  if (l.tlp >= kTlpRed) return Verdict::tlp_red;
  if (l.level > dest.level_max) return Verdict::level;
  if (!held(restrictive(names_, l), dest.categories)) return Verdict::restrictive;
  Names rel_to = permissive(names_, l);
  if (!rel_to.empty() && !in(rel_to, dest.country)) return Verdict::rel_to;
  if (l.orcon) return Verdict::orcon;
  return Verdict::crosses;
}

bool Evaluator::drops_portion(const Transform& t, std::uint32_t portion) const {
  const LabelView& l = labels_[1 + portion];
  if (t.drop_above && l.level > *t.drop_above) return true;
  if (!t.drop_labels_with.empty() && (any_in(restrictive(names_, l), t.drop_labels_with) ||
                                      any_in(caveats(names_, l), t.drop_labels_with))) {
    return true;
  }
  return !t.drop_content_types.empty() && any_glob(t.drop_content_types, content_types_[portion]);
}

// Everything but the destination, kind and topic conditions, which the index has checked.
bool Evaluator::matches_rest(const Condition& c, schema::Item::Reader item) const {
  const LabelView& banner = labels_[0];
  if (!(c.precedences >> static_cast<unsigned>(item.getPrecedence()) & 1)) return false;
  if (!(c.tlps >> banner.tlp & 1)) return false;
  if (banner.level < c.level_min || banner.level > c.level_max) return false;
  if (!c.categories.empty() && !has_all(restrictive(names_, banner), c.categories)) return false;
  if (!c.caveats.empty() && !has_all(caveats(names_, banner), c.caveats)) return false;
  if (!c.sources.empty() && !any_glob(c.sources, source_)) return false;
  if (c.area && !area_in(*c.area, item.getArea())) return false;
  return true;
}

// True when the banner equals the roll-up of the crossing portions. Portions are dominated by
// the banner (checked before), so the unions are within the banner and the banner's REL TO
// within each portion's: only the other direction needs checking.
bool Evaluator::banner_is_roll_up(const Decision& d) const {
  const LabelView& banner = labels_[0];
  unsigned level = 0, tlp = 0;
  for (std::size_t i = 0; i < d.portions.size(); ++i) {
    if (!crosses(d.portions[i])) continue;
    level = std::max<unsigned>(level, labels_[1 + i].level);
    tlp = std::max<unsigned>(tlp, labels_[1 + i].tlp);
  }
  if (level != banner.level || tlp != banner.tlp) return false;
  auto in_some = [&](std::string_view v,
                     Names (*get)(const std::vector<std::string_view>&, const LabelView&)) {
    for (std::size_t i = 0; i < d.portions.size(); ++i) {
      if (crosses(d.portions[i]) && in(get(names_, labels_[1 + i]), v)) return true;
    }
    return false;
  };
  for (std::string_view v : restrictive(names_, banner)) {
    if (!in_some(v, restrictive)) return false;
  }
  for (std::string_view v : caveats(names_, banner)) {
    if (!in_some(v, caveats)) return false;
  }
  // REL TO: the roll-up is the intersection of the non-empty sets; each of its values must be
  // in the banner, and an empty roll-up needs an empty banner.
  const LabelView* first = nullptr;
  for (std::size_t i = 0; i < d.portions.size() && !first; ++i) {
    if (crosses(d.portions[i]) && !permissive(names_, labels_[1 + i]).empty()) {
      first = &labels_[1 + i];
    }
  }
  if (!first) return permissive(names_, banner).empty();
  for (std::string_view v : permissive(names_, *first)) {
    bool in_all = true;
    for (std::size_t i = 0; i < d.portions.size() && in_all; ++i) {
      Names p = permissive(names_, labels_[1 + i]);
      if (crosses(d.portions[i]) && !p.empty()) in_all = in(p, v);
    }
    if (in_all && !in(permissive(names_, banner), v)) return false;
  }
  return true;
}

std::optional<std::uint32_t> Evaluator::match_rule(schema::Item::Reader item,
                                                   std::uint32_t destination) {
  const unsigned kind = static_cast<unsigned>(item.getKind());
  const auto& rules = policy_.rules_;
  std::uint32_t best = UINT32_MAX;
  for (std::uint32_t r : policy_.general(destination, kind)) {
    if (matches_rest(rules[r].when, item)) {
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
          matches_rest(c, item)) {
        best = r;
        return;
      }
    }
  };
  if (!policy_.by_topic_.names.empty()) {
    for (auto topic : item.getTopics()) scan(policy_.by_topic_.find(view(topic)));
  }
  if (!policy_.by_source_.names.empty()) scan(policy_.by_source_.find(source_));
  if (best == UINT32_MAX) return std::nullopt;
  return best;
}

void Evaluator::judge_content(capnp::List<schema::Portion>::Reader portions,
                              capnp::List<schema::Attribute>::Reader attributes, Decision& out) {
  if (!policy_.database_) return;
  const hs_database_t* db = policy_.database_.get();
  ScanContext ctx{&policy_.patterns_, &out.hit, false, 0};
  auto scan = [&](const char* data, std::size_t size) {
    if (size == 0) return true;
    const hs_error_t rc =
        hs_scan(db, data, static_cast<unsigned>(size), 0, scratch_, on_match, &ctx);
    return rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED;
  };
  for (unsigned i = 0; i < portions.size(); ++i) {
    if (!crosses(out.portions[i]) || !policy_.is_text(content_types_[i])) {
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

void Evaluator::decide(schema::Item::Reader item, std::uint32_t destination, std::int64_t now_ns,
                       Decision& out) {
  CG_ASSERT(destination < policy_.destinations_.size());
  const Destination& dest = policy_.destinations_[destination];
  auto attributes = item.getAttributes();
  auto portions = item.getPortions();
  read_labels(item, portions);
  const std::uint32_t portion_count = static_cast<std::uint32_t>(labels_.size() - 1);
  out.destination = destination;
  out.rule.reset();
  out.malformed_portion.reset();
  out.hit.reset();
  out.transforms = 0;
  out.portions_crossing = 0;
  out.changed = false;
  // 0. An expired item never crosses, whatever its labels and the rules say.
  const std::int64_t expires = item.getExpires();
  if (expires != 0 && expires <= now_ns) {
    out.portions.assign(portion_count, Verdict::expired);
    out.attributes.assign(attributes.size(), Verdict::expired);
    out.outcome = Outcome::block;
    out.reason = Reason::expired;
    return;
  }
  out.portions.assign(portion_count, Verdict::crosses);
  out.attributes.assign(attributes.size(), Verdict::crosses);

  // 1. Labels this policy can judge, and a banner that dominates every portion.
  const LabelView& banner = labels_[0];
  auto in_policy = [&](const LabelView& l) {
    return eq(l.policy, policy_.label_policy_) && l.level < policy_.levels_.size();
  };
  bool labels_ok = in_policy(banner);
  for (std::uint32_t i = 0; i < portion_count && labels_ok; ++i) {
    const LabelView& l = labels_[1 + i];
    if (!in_policy(l) || !dominates(banner, l)) {
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
  for (std::uint32_t i = 0; i < portion_count; ++i) {
    Verdict v = judge(labels_[1 + i], dest);
    if (crosses(v) && drops_portion(transform, i)) v = Verdict::transform;
    out.portions[i] = v;
    if (crosses(v)) {
      ++out.portions_crossing;
      orcon = orcon || v == Verdict::orcon;
    } else {
      required_removed = required_removed || portions[i].getRequired();
    }
  }
  // 4. Attributes carry the banner's label: they cross only if the banner may.
  const Verdict banner_verdict = judge(banner, dest);
  bool attributes_removed = false;
  for (unsigned i = 0; i < attributes.size(); ++i) {
    Verdict v = banner_verdict;
    if (crosses(v) && !transform.empty() &&
        drops_attribute(transform, view(attributes[i].getName()))) {
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
  // NOFORN, TLP:RED or ORCON on the banner that no portion carries marks the item as a whole
  // (the originator's decision, not a roll-up): it holds whatever the portions say.
  bool portion_noforn = false, portion_red = false, portion_orcon = false;
  for (std::uint32_t i = 0; i < portion_count; ++i) {
    portion_noforn = portion_noforn || labels_[1 + i].noforn;
    portion_red = portion_red || labels_[1 + i].tlp >= kTlpRed;
    portion_orcon = portion_orcon || labels_[1 + i].orcon;
  }
  if ((banner.noforn && !portion_noforn) || (banner.tlp >= kTlpRed && !portion_red)) {
    out.outcome = Outcome::block;
    out.reason = Reason::banner_marking;
    out.transforms = 0;
    return;
  }
  if (banner.orcon && !portion_orcon) {
    out.outcome = Outcome::quarantine;
    out.reason = Reason::banner_marking;
    out.transforms = 0;
    return;
  }

  // 5. Content inspection over what would cross.
  judge_content(portions, attributes, out);
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
  if (out.portions_crossing != portion_count) {
    for (Verdict v : out.portions) {
      if (v == Verdict::transform) out.transforms |= kDropPortions;
    }
  }
  if (transform.strip_source) out.transforms |= kStripSource;
  if (transform.coarsen_m != 0 && item.getArea().which() != schema::Area::NONE) {
    out.transforms |= kCoarsenArea;
  }
  out.changed = out.transforms != 0 || attributes_removed ||
                out.portions_crossing != portion_count || !banner_is_roll_up(out);
}

}  // namespace cg::policy
