// The release guard's independent check (guard.h). Written apart from gateway/policy/decide.cc
// on purpose: straight loops over each label, no index, no shared helper.
#include "gateway/guard/guard.h"

#include <hs/hs.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <string_view>

#include "gateway/wire/wire.h"

namespace cg::guard {

struct Guard::Compiled {
  hs_database_t* db = nullptr;
  hs_scratch_t* scratch = nullptr;
  std::vector<std::uint32_t> pattern_of;  // Hyperscan id → index into policy.patterns()
  ~Compiled() {
    if (scratch != nullptr) hs_free_scratch(scratch);
    if (db != nullptr) hs_free_database(db);
  }
};

namespace {

std::string_view text_of(capnp::Text::Reader t) { return {t.begin(), t.size()}; }

bool contains(capnp::List<capnp::Text>::Reader list, std::string_view name) {
  for (auto t : list) {
    if (text_of(t) == name) return true;
  }
  return false;
}

// A label list as sorted, unique views (wire already requires them sorted and unique; the guard
// does not rely on it).
std::vector<std::string_view> sorted_of(capnp::List<capnp::Text>::Reader list) {
  std::vector<std::string_view> out;
  out.reserve(list.size());
  for (auto t : list) out.push_back(text_of(t));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool same_bytes(capnp::Data::Reader a, capnp::Data::Reader b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

bool same_texts(capnp::List<capnp::Text>::Reader a, capnp::List<capnp::Text>::Reader b) {
  if (a.size() != b.size()) return false;
  for (unsigned i = 0; i < a.size(); ++i) {
    if (text_of(a[i]) != text_of(b[i])) return false;
  }
  return true;
}

bool same_label(schema::Label::Reader a, schema::Label::Reader b) {
  return text_of(a.getPolicyId()) == text_of(b.getPolicyId()) &&
         a.getClassification() == b.getClassification() && a.getTlp() == b.getTlp() &&
         same_texts(a.getRestrictive(), b.getRestrictive()) &&
         same_texts(a.getPermissive(), b.getPermissive()) &&
         same_texts(a.getCaveats(), b.getCaveats());
}

bool same_portion(schema::Portion::Reader a, schema::Portion::Reader b) {
  return text_of(a.getName()) == text_of(b.getName()) &&
         text_of(a.getContentType()) == text_of(b.getContentType()) &&
         a.getRequired() == b.getRequired() && same_bytes(a.getBody(), b.getBody()) &&
         same_label(a.getLabel(), b.getLabel());
}

std::string tlp_name(schema::Tlp t) {
  switch (t) {
    case schema::Tlp::UNMARKED:
      return "unmarked";
    case schema::Tlp::CLEAR:
      return "clear";
    case schema::Tlp::GREEN:
      return "green";
    case schema::Tlp::AMBER:
      return "amber";
    case schema::Tlp::AMBER_STRICT:
      return "amber+strict";
    case schema::Tlp::RED:
      return "red";
  }
  return "?";
}

// Hyperscan's match callback: keeps the first pattern id and stops the scan.
int on_match(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  *static_cast<std::optional<unsigned>*>(ctx) = id;
  return 1;  // the first match is enough
}

}  // namespace

Guard::Guard(const policy::Policy& policy) : policy_(policy) {}
Guard::~Guard() = default;

Result<std::unique_ptr<Guard>> Guard::create(const policy::Policy& policy) {
  std::unique_ptr<Guard> g(new Guard(policy));
  const auto& patterns = policy.patterns();
  for (const bool literal : {true, false}) {
    auto c = std::make_unique<Compiled>();
    std::vector<const char*> expressions;
    std::vector<std::size_t> lengths;
    std::vector<unsigned> flags, ids;
    for (std::uint32_t i = 0; i < patterns.size(); ++i) {
      if (patterns[i].literal != literal) continue;
      expressions.push_back(patterns[i].expression.c_str());
      lengths.push_back(patterns[i].expression.size());
      flags.push_back(HS_FLAG_SINGLEMATCH | (patterns[i].case_sensitive ? 0u : HS_FLAG_CASELESS));
      ids.push_back(static_cast<unsigned>(c->pattern_of.size()));
      c->pattern_of.push_back(i);
    }
    if (expressions.empty()) continue;
    hs_compile_error_t* error = nullptr;
    const auto n = static_cast<unsigned>(expressions.size());
    const hs_error_t rc =
        literal ? hs_compile_lit_multi(expressions.data(), flags.data(), ids.data(), lengths.data(),
                                       n, HS_MODE_BLOCK, nullptr, &c->db, &error)
                : hs_compile_multi(expressions.data(), flags.data(), ids.data(), n, HS_MODE_BLOCK,
                                   nullptr, &c->db, &error);
    if (rc != HS_SUCCESS) {
      std::string why = error != nullptr && error->message != nullptr ? error->message : "failed";
      if (error != nullptr) hs_free_compile_error(error);
      return malformed("guard: the policy's patterns do not compile: " + why);
    }
    if (hs_alloc_scratch(c->db, &c->scratch) != HS_SUCCESS) {
      return overloaded("guard: no Hyperscan scratch space");
    }
    g->databases_.push_back(std::move(c));
  }
  return g;
}

Status Guard::check_label(schema::Label::Reader label, const policy::Destination& d,
                          const Name& name) const {
  if (text_of(label.getPolicyId()) != policy_.label_policy()) {
    return rejected(name() + ": marked under '" + std::string(text_of(label.getPolicyId())) +
                    "', not the policy's labels '" + policy_.label_policy() + "'");
  }
  if (label.getClassification() >= policy_.levels().size()) {
    return rejected(name() + ": classification " + std::to_string(label.getClassification()) +
                    " is no level of the policy");
  }
  if (label.getClassification() > d.level_max) {
    return rejected(name() + ": " + policy_.levels()[label.getClassification()] +
                    " is above what " + d.id + " may receive (" + policy_.levels()[d.level_max] +
                    ")");
  }
  if (label.getTlp() == schema::Tlp::RED) return rejected(name() + ": TLP:RED never crosses");
  if (contains(label.getCaveats(), "NOFORN")) return rejected(name() + ": NOFORN never crosses");
  if (contains(label.getCaveats(), "ORCON")) {
    return rejected(name() + ": ORCON crosses only after a reviewer's release");
  }
  for (auto c : label.getRestrictive()) {
    if (std::find(d.categories.begin(), d.categories.end(), text_of(c)) == d.categories.end()) {
      return rejected(name() + ": restrictive category " + std::string(text_of(c)) +
                      " is not held by " + d.id);
    }
  }
  if (label.getPermissive().size() > 0 && !contains(label.getPermissive(), d.country)) {
    return rejected(name() + ": REL TO does not name " + d.country);
  }
  return {};
}

Status Guard::check_banner(schema::Item::Reader released, const policy::Destination& d) const {
  const auto portions = released.getPortions();
  std::uint8_t level = 0;
  schema::Tlp tlp = schema::Tlp::UNMARKED;
  // Views into the released message (which outlives this call); sorted and unique at the end.
  std::vector<std::string_view> restrictive, caveats, rel_to, names;
  bool any_rel_to = false;
  for (auto p : portions) {
    const auto l = p.getLabel();
    level = std::max(level, l.getClassification());
    if (static_cast<unsigned>(l.getTlp()) > static_cast<unsigned>(tlp)) tlp = l.getTlp();
    for (auto c : l.getRestrictive()) restrictive.push_back(text_of(c));
    for (auto c : l.getCaveats()) caveats.push_back(text_of(c));
    if (l.getPermissive().size() == 0) continue;
    names.clear();
    for (auto c : l.getPermissive()) names.push_back(text_of(c));
    std::sort(names.begin(), names.end());
    if (!any_rel_to) {
      rel_to = names;
      any_rel_to = true;
      continue;
    }
    std::vector<std::string_view> common;
    std::set_intersection(rel_to.begin(), rel_to.end(), names.begin(), names.end(),
                          std::back_inserter(common));
    rel_to = std::move(common);
  }
  for (auto* v : {&restrictive, &caveats, &rel_to}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  const auto banner = released.getBanner();
  const std::string_view b = "banner";
  if (text_of(banner.getPolicyId()) != policy_.label_policy()) {
    return rejected(std::string(b) + ": not marked under the policy's labels '" +
                    policy_.label_policy() + "'");
  }
  if (banner.getClassification() != level) {
    return rejected(
        std::string(b) + ": classification " + std::to_string(banner.getClassification()) +
        " is not the roll-up of the portions that cross (" + std::to_string(level) + ")");
  }
  if (banner.getTlp() != tlp) {
    return rejected(std::string(b) + ": TLP " + tlp_name(banner.getTlp()) +
                    " is not the roll-up of the portions that cross (" + tlp_name(tlp) + ")");
  }
  if (sorted_of(banner.getRestrictive()) != restrictive) {
    return rejected(std::string(b) +
                    ": restrictive categories are not the roll-up of the portions that cross");
  }
  if (sorted_of(banner.getCaveats()) != caveats) {
    return rejected(std::string(b) + ": caveats are not the roll-up of the portions that cross");
  }
  if (sorted_of(banner.getPermissive()) != rel_to ||
      (banner.getPermissive().size() > 0) != any_rel_to) {
    return rejected(std::string(b) + ": REL TO is not the roll-up of the portions that cross");
  }
  return check_label(banner, d, [] { return std::string("banner"); });
}

Status Guard::scan(std::span<const char> text, const Name& what) {
  // Nothing to match in an empty text (the policy refuses patterns that match the empty
  // string), and Hyperscan refuses a null pointer, which an empty Cap'n Proto blob may be.
  if (text.empty()) return {};
  for (auto& c : databases_) {
    std::optional<unsigned> hit;
    const hs_error_t rc = hs_scan(c->db, text.data(), static_cast<unsigned>(text.size()), 0,
                                  c->scratch, on_match, &hit);
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
      return rejected(what() + ": the guard's scan failed (" + std::to_string(rc) + ")");
    }
    if (hit) {
      const auto& p = policy_.patterns()[c->pattern_of[*hit]];
      return rejected(what() + ": matches the policy's pattern '" + p.id + "'");
    }
  }
  return {};
}

Status Guard::check(schema::Item::Reader original, std::span<const std::uint8_t> released,
                    const Claim& claim) {
  return check(original, released, claim, nullptr);
}

Status Guard::check(schema::Item::Reader original, std::span<const std::uint8_t> released,
                    const Claim& claim, std::optional<wire::Message<schema::Item>>* decoded_out) {
  if (claim.destination >= policy_.destinations().size()) {
    return rejected("guard: the claim names no destination of the policy");
  }
  const policy::Destination& d = policy_.destinations()[claim.destination];
  const auto before = original.getPortions();
  if (claim.removed.size() != before.size()) {
    return rejected("guard: the claim does not cover the original's portions");
  }
  auto decoded = wire::decode_canonical_item(released);
  if (!decoded.ok()) return rejected("guard: the released bytes: " + decoded.status().reason());
  const auto item = decoded->root();
  // Portions: each one of the original's, in order, unchanged, not one the filter removed.
  const auto after = item.getPortions();
  std::size_t next = 0;  // the original portion the next released one may be
  for (unsigned i = 0; i < after.size(); ++i) {
    const Name what = [&after, i] {
      return "portion " + std::to_string(i) + " '" + std::string(text_of(after[i].getName())) + "'";
    };
    while (next < before.size() && !same_portion(before[next], after[i])) ++next;
    if (next == before.size()) {
      return rejected(what() + ": not a portion of the original item, unchanged and in order");
    }
    if (claim.removed[next]) return rejected(what() + ": the filter said it removed it");
    ++next;
    CG_RETURN_IF_ERROR(check_label(after[i].getLabel(), d, what));
    if (policy_.is_text(text_of(after[i].getContentType()))) {
      const auto body = after[i].getBody();
      CG_RETURN_IF_ERROR(scan({reinterpret_cast<const char*>(body.begin()), body.size()}, what));
    }
  }
  if (after.size() == 0) return rejected("guard: no portion crosses");
  CG_RETURN_IF_ERROR(check_banner(item, d));
  // Attributes cross under the item's own banner (the filter lets them cross only when that
  // banner is releasable); the released banner was checked above.
  if (item.getAttributes().size() > 0) {
    CG_RETURN_IF_ERROR(check_label(original.getBanner(), d,
                                   [] { return std::string("attributes (the original banner)"); }));
  }
  for (auto a : item.getAttributes()) {
    const Name what = [&a] { return "attribute '" + std::string(text_of(a.getName())) + "'"; };
    CG_RETURN_IF_ERROR(scan({a.getName().begin(), a.getName().size()}, what));
    CG_RETURN_IF_ERROR(scan({a.getValue().begin(), a.getValue().size()}, what));
  }
  if (decoded_out != nullptr) decoded_out->emplace(std::move(*decoded));
  return {};
}

}  // namespace cg::guard
