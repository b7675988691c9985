// The policy model's helpers, the rule index, and the released item.
#include "gateway/policy/policy.h"

#include <hs/hs.h>

#include <algorithm>
#include <cmath>

#include "gateway/policy/internal.h"
#include "gateway/wire/wire.h"

namespace cg::policy {

using wire::view;

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::release:
      return "release";
    case Outcome::quarantine:
      return "quarantine";
    case Outcome::block:
      return "block";
  }
  return "?";
}

std::string_view reason_name(Reason reason) {
  switch (reason) {
    case Reason::rule:
      return "rule";
    case Reason::no_rule:
      return "no_rule";
    case Reason::malformed_label:
      return "malformed_label";
    case Reason::required_removed:
      return "required_removed";
    case Reason::nothing_left:
      return "nothing_left";
    case Reason::banner_marking:
      return "banner_marking";
    case Reason::orcon_review:
      return "orcon_review";
    case Reason::content_hit:
      return "content_hit";
    case Reason::inspection_failed:
      return "inspection_failed";
    case Reason::expired:
      return "expired";
  }
  return "?";
}

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::crosses:
      return "crosses";
    case Verdict::noforn:
      return "noforn";
    case Verdict::tlp_red:
      return "tlp_red";
    case Verdict::level:
      return "level";
    case Verdict::restrictive:
      return "restrictive";
    case Verdict::rel_to:
      return "rel_to";
    case Verdict::orcon:
      return "orcon";
    case Verdict::transform:
      return "transform";
    case Verdict::malformed:
      return "malformed";
    case Verdict::expired:
      return "expired";
  }
  return "?";
}

bool Transform::empty() const {
  return drop_content_types.empty() && !drop_above && drop_labels_with.empty() &&
         drop_attributes.empty() && !strip_source && coarsen_m == 0;
}

// --- Policy ------------------------------------------------------------------------------

void Policy::DatabaseDeleter::operator()(hs_database* db) const { hs_free_database(db); }

Policy::~Policy() = default;

std::optional<std::uint32_t> Policy::destination_index(std::string_view id) const {
  for (std::size_t i = 0; i < destinations_.size(); ++i) {
    if (destinations_[i].id == id) return static_cast<std::uint32_t>(i);
  }
  return std::nullopt;
}

bool Policy::is_text(std::string_view content_type) const {
  for (const auto& t : text_types_) {
    if (detail::glob_match(t, content_type)) return true;
  }
  return false;
}

const std::vector<std::uint32_t>& Policy::general(std::uint32_t destination, unsigned kind) const {
  return general_[destination * kKinds + (kind < kKinds ? kind : 0)];
}

const std::vector<std::uint32_t>* detail::NameIndex::find(std::string_view name) const {
  auto it = std::lower_bound(names.begin(), names.end(), name,
                             [](const std::string& a, std::string_view b) { return a < b; });
  if (it == names.end() || *it != name) return nullptr;
  return &rules[static_cast<std::size_t>(it - names.begin())];
}

namespace {
bool exact_names(const std::vector<std::string>& globs) {
  if (globs.empty()) return false;
  for (const auto& g : globs) {
    if (g.find('*') != std::string::npos) return false;
  }
  return true;
}
void add_names(detail::NameIndex& index, const std::vector<std::string>& names) {
  for (const auto& n : names) index.names.push_back(n);
}
void finish_names(detail::NameIndex& index) {
  std::sort(index.names.begin(), index.names.end());
  index.names.erase(std::unique(index.names.begin(), index.names.end()), index.names.end());
  index.rules.assign(index.names.size(), {});
}
void index_rule(detail::NameIndex& index, const std::vector<std::string>& names, std::uint32_t i) {
  for (const auto& n : names) {
    auto it = std::lower_bound(index.names.begin(), index.names.end(), n);
    auto& list = index.rules[static_cast<std::size_t>(it - index.names.begin())];
    if (list.empty() || list.back() != i) list.push_back(i);  // a name listed twice
  }
}
}  // namespace

// Each rule is indexed once, by its most selective condition: rules with a topic condition
// under each topic they name; else rules whose source condition lists exact names under each
// source; every other rule in each (destination, kind) list its masks allow. A decision
// scans one general list, one list per item topic and one for the item's source, each in
// rule order, stopping at its first match or at the best match found so far.
void Policy::build_index() {
  general_.assign(destinations_.size() * kKinds, {});
  for (const auto& r : rules_) {
    if (!r.when.topics.empty()) {
      add_names(by_topic_, r.when.topics);
    } else if (exact_names(r.when.sources)) {
      add_names(by_source_, r.when.sources);
    }
  }
  finish_names(by_topic_);
  finish_names(by_source_);
  for (std::uint32_t i = 0; i < rules_.size(); ++i) {
    const Condition& c = rules_[i].when;
    if (!c.topics.empty()) {
      index_rule(by_topic_, c.topics, i);
      continue;
    }
    if (exact_names(c.sources)) {
      index_rule(by_source_, c.sources, i);
      continue;
    }
    for (std::uint32_t d = 0; d < destinations_.size(); ++d) {
      if (!(c.destinations >> d & 1)) continue;
      for (unsigned k = 0; k < kKinds; ++k) {
        if (c.kinds >> k & 1) general_[d * kKinds + k].push_back(i);
      }
    }
  }
}

// --- helpers -------------------------------------------------------------------------------

namespace detail {

bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {
bool glob_covers(std::string_view a, std::string_view b) {
  if (a == b || a == "*") return true;
  if (a.size() < 1 || a.back() != '*') return false;
  std::string_view prefix = a.substr(0, a.size() - 1);
  if (prefix.find('*') != std::string_view::npos) return false;
  // b's literal prefix (up to its first star) must start with a's prefix.
  std::string_view b_prefix = b.substr(0, std::min(b.find('*'), b.size()));
  return b_prefix.starts_with(prefix);
}

bool is_subset(const std::vector<std::string>& small, const std::vector<std::string>& big) {
  return std::includes(big.begin(), big.end(), small.begin(), small.end());
}
}  // namespace

bool globs_cover(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.empty()) return true;  // unset: matches everything
  if (b.empty()) return false;
  for (const auto& pb : b) {
    bool covered = false;
    for (const auto& pa : a) covered = covered || glob_covers(pa, pb);
    if (!covered) return false;
  }
  return true;
}

bool covers(const Condition& a, const Condition& b) {
  if ((b.destinations & ~a.destinations) != 0) return false;
  if ((b.kinds & ~a.kinds) != 0) return false;
  if ((b.precedences & ~a.precedences) != 0) return false;
  if ((b.tlps & ~a.tlps) != 0) return false;
  if (a.level_min > b.level_min || a.level_max < b.level_max) return false;
  // topics: "at least one of": b's set must be within a's.
  if (!a.topics.empty() && (b.topics.empty() || !is_subset(b.topics, a.topics))) return false;
  // categories and caveats: "all of": a's requirements must be within b's.
  if (!is_subset(a.categories, b.categories)) return false;
  if (!is_subset(a.caveats, b.caveats)) return false;
  if (!globs_cover(a.sources, b.sources)) return false;
  if (a.area) {
    if (!b.area) return false;
    if (a.area->south_e7 > b.area->south_e7 || a.area->west_e7 > b.area->west_e7 ||
        a.area->north_e7 < b.area->north_e7 || a.area->east_e7 < b.area->east_e7) {
      return false;
    }
  }
  return true;
}

std::string escape_literal(std::string_view term) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(term.size() * 4);
  for (unsigned char c : term) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace detail

// --- roll-up and the released item -----------------------------------------------------------

namespace {

using TextList = capnp::List<capnp::Text>;

void set_sorted(std::vector<std::string_view>& values,
                TextList::Builder (*init)(schema::Label::Builder&, unsigned),
                schema::Label::Builder& out) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  if (values.empty()) return;
  auto list = init(out, static_cast<unsigned>(values.size()));
  for (unsigned i = 0; i < values.size(); ++i) {
    list.set(i, capnp::Text::Reader(values[i].data(), values[i].size()));
  }
}

}  // namespace

void roll_up(schema::Item::Reader item, const Decision& decision, schema::Label::Builder out) {
  auto portions = item.getPortions();
  CG_ASSERT(decision.portions.size() == portions.size());
  out.setPolicyId(item.getBanner().getPolicyId());
  std::uint8_t level = 0;
  unsigned tlp = 0;
  std::vector<std::string_view> restrictive, caveats, rel_to;
  bool have_rel_to = false;
  for (unsigned i = 0; i < portions.size(); ++i) {
    if (!crosses(decision.portions[i])) continue;
    auto l = portions[i].getLabel();
    level = std::max(level, l.getClassification());
    tlp = std::max(tlp, static_cast<unsigned>(l.getTlp()));
    for (auto t : l.getRestrictive()) restrictive.push_back(view(t));
    for (auto t : l.getCaveats()) caveats.push_back(view(t));
    auto p = l.getPermissive();
    if (p.size() == 0) continue;
    if (!have_rel_to) {
      for (auto t : p) rel_to.push_back(view(t));
      have_rel_to = true;
    } else {
      std::erase_if(rel_to, [&](std::string_view v) {
        for (auto t : p) {
          if (view(t) == v) return false;
        }
        return true;
      });
    }
  }
  out.setClassification(level);
  out.setTlp(static_cast<schema::Tlp>(tlp));
  set_sorted(
      restrictive, [](schema::Label::Builder& b, unsigned n) { return b.initRestrictive(n); }, out);
  set_sorted(
      caveats, [](schema::Label::Builder& b, unsigned n) { return b.initCaveats(n); }, out);
  set_sorted(
      rel_to, [](schema::Label::Builder& b, unsigned n) { return b.initPermissive(n); }, out);
}

namespace {

constexpr double kMetresPerDegree = 111'320.0;
constexpr std::int64_t kLatMaxE7 = 900'000'000;
constexpr std::int64_t kLonMaxE7 = 1'800'000'000;

// Grid steps in E7 degrees for a cell size and a latitude: longitude cells widen with
// 1/cos(latitude) so a cell is at least `metres` wide east-west too (capped at 360°).
std::int64_t lat_step_e7(std::uint32_t metres) {
  return std::max<std::int64_t>(1, std::llround(metres / kMetresPerDegree * 1e7));
}
std::int64_t lon_step_e7(std::uint32_t metres, std::int64_t lat_cell_e7, std::int64_t lat_step) {
  // The cell edge farthest from the equator is where degrees of longitude are shortest.
  const std::int64_t far = std::max(std::llabs(lat_cell_e7), std::llabs(lat_cell_e7 + lat_step));
  const double cosine = std::cos(std::min<double>(far, kLatMaxE7 - 1) / 1e7 * M_PI / 180.0);
  const double step = metres / (kMetresPerDegree * std::max(cosine, 1e-6)) * 1e7;
  return std::clamp<std::int64_t>(std::llround(step), 1, 2 * kLonMaxE7);
}
std::int64_t floor_to(std::int64_t v, std::int64_t step) {
  std::int64_t q = v / step;
  if (v % step != 0 && v < 0) --q;
  return q * step;
}
std::int32_t clamp_e7(std::int64_t v, std::int64_t limit) {
  return static_cast<std::int32_t>(std::clamp(v, -limit, limit));
}

void coarsen_point(schema::GeoPoint::Reader in, std::uint32_t metres,
                   schema::GeoPoint::Builder out) {
  const std::int64_t lat_step = lat_step_e7(metres);
  const std::int64_t lat_cell = floor_to(in.getLatE7(), lat_step);
  const std::int64_t lon_step = lon_step_e7(metres, lat_cell, lat_step);
  const std::int64_t lon_cell = floor_to(in.getLonE7(), lon_step);
  out.setLatE7(clamp_e7(lat_cell + lat_step / 2, kLatMaxE7));
  out.setLonE7(clamp_e7(lon_cell + lon_step / 2, kLonMaxE7));
}

void copy_area(schema::Area::Reader in, std::uint32_t coarsen_m, schema::Area::Builder out) {
  switch (in.which()) {
    case schema::Area::NONE:
      out.setNone();
      return;
    case schema::Area::POINT: {
      auto p = out.initPoint();
      if (coarsen_m == 0) {
        p.setLatE7(in.getPoint().getLatE7());
        p.setLonE7(in.getPoint().getLonE7());
      } else {
        coarsen_point(in.getPoint(), coarsen_m, p);
      }
      return;
    }
    case schema::Area::BOX: {
      auto box = out.initBox();
      auto sw = in.getBox().getSouthWest();
      auto ne = in.getBox().getNorthEast();
      if (coarsen_m == 0) {
        box.getSouthWest().setLatE7(sw.getLatE7());
        box.getSouthWest().setLonE7(sw.getLonE7());
        box.getNorthEast().setLatE7(ne.getLatE7());
        box.getNorthEast().setLonE7(ne.getLonE7());
        return;
      }
      // Widen the box outwards to whole cells.
      const std::int64_t lat_step = lat_step_e7(coarsen_m);
      const std::int64_t south = floor_to(sw.getLatE7(), lat_step);
      const std::int64_t north = floor_to(ne.getLatE7(), lat_step) + lat_step;
      const std::int64_t far = std::llabs(south) > std::llabs(north) ? south : north - lat_step;
      const std::int64_t lon_step = lon_step_e7(coarsen_m, far, lat_step);
      const std::int64_t west = floor_to(sw.getLonE7(), lon_step);
      const std::int64_t east = floor_to(ne.getLonE7(), lon_step) + lon_step;
      box.getSouthWest().setLatE7(clamp_e7(south, kLatMaxE7));
      box.getSouthWest().setLonE7(clamp_e7(west, kLonMaxE7));
      box.getNorthEast().setLatE7(clamp_e7(north, kLatMaxE7));
      box.getNorthEast().setLonE7(clamp_e7(east, kLonMaxE7));
      return;
    }
  }
  out.setNone();  // an unknown union member from a newer schema: dropped, not guessed at
}

}  // namespace

void build_released(const Policy& policy, schema::Item::Reader item, const Decision& decision,
                    schema::Item::Builder out) {
  CG_ASSERT(decision.outcome == Outcome::release);
  CG_ASSERT(decision.rule.has_value());
  const Transform& transform = policy.rules()[*decision.rule].transform;
  out.setId(item.getId());
  if (decision.transforms & kStripSource) {
    out.setSource(policy.party());
  } else {
    out.setSource(item.getSource());
  }
  out.setKind(item.getKind());
  out.setPrecedence(item.getPrecedence());
  out.setCreated(item.getCreated());
  out.setExpires(item.getExpires());
  roll_up(item, decision, out.initBanner());
  if (item.getTopics().size() > 0) out.setTopics(item.getTopics());
  copy_area(item.getArea(), (decision.transforms & kCoarsenArea) ? transform.coarsen_m : 0,
            out.initArea());

  auto in_portions = item.getPortions();
  auto portions = out.initPortions(decision.portions_crossing);
  unsigned n = 0;
  for (unsigned i = 0; i < in_portions.size(); ++i) {
    if (crosses(decision.portions[i])) portions.setWithCaveats(n++, in_portions[i]);
  }
  CG_ASSERT(n == decision.portions_crossing);

  auto in_attributes = item.getAttributes();
  unsigned attributes_crossing = 0;
  for (Verdict v : decision.attributes) attributes_crossing += crosses(v) ? 1 : 0;
  if (attributes_crossing == 0) return;
  auto attributes = out.initAttributes(attributes_crossing);
  n = 0;
  for (unsigned i = 0; i < in_attributes.size(); ++i) {
    if (crosses(decision.attributes[i])) attributes.setWithCaveats(n++, in_attributes[i]);
  }
}

}  // namespace cg::policy
