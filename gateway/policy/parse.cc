// Policy files: TOML → a validated, indexed, compiled Policy (or an error with file:line:col).
#include <hs/hs.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "gateway/policy/internal.h"
#include "gateway/policy/limits.h"
#include "gateway/policy/policy.h"
#include "gateway/tomlread/tomlread.h"
#include "gateway/wire/wire.h"

namespace cg::policy {
namespace {

using tomlread::Fail;
using tomlread::Section;

constexpr std::string_view kKindNames[] = {
    "", "intelligence", "deconfliction", "incident", "diplomatic", "economic", "gap_report"};
constexpr std::string_view kPrecedenceNames[] = {"", "routine", "priority", "immediate", "flash"};
constexpr std::string_view kTlpNames[] = {"unmarked", "clear",        "green",
                                          "amber",    "amber+strict", "red"};

template <std::size_t N>
std::uint32_t bits_of(Section& s, const std::string& key, const std::string_view (&names)[N],
                      std::size_t first) {
  bool present = false;
  auto values = s.names(key, limits::list_entries_max, &present);
  if (!present) return ~std::uint32_t{0};
  std::uint32_t bits = 0;
  for (const auto& v : values) {
    std::size_t i = first;
    while (i < N && names[i] != v) ++i;
    if (i == N) {
      std::string allowed;
      for (std::size_t k = first; k < N; ++k)
        allowed += (k == first ? "" : ", ") + std::string(names[k]);
      s.fail(key, "unknown value '" + v + "' (one of: " + allowed + ")");
    }
    bits |= 1u << i;
  }
  return bits;
}

Outcome action_of(Section& s, const std::string& key, bool allow_release) {
  const std::string a = *s.string(key, true);
  if (a == "release" && allow_release) return Outcome::release;
  if (a == "quarantine") return Outcome::quarantine;
  if (a == "block") return Outcome::block;
  s.fail(key,
         allow_release ? "must be release, quarantine or block" : "must be block or quarantine");
}

std::int32_t degrees_e7(Section& s, const std::string& key, const toml::node& n, double limit) {
  double v = 0;
  if (n.is_integer()) {
    v = static_cast<double>(*n.value<std::int64_t>());
  } else if (n.is_floating_point()) {
    v = *n.value<double>();
  } else {
    s.fail_at(n.source(), s.qualified(key) + ": coordinates must be numbers (degrees)");
  }
  if (!std::isfinite(v) || std::fabs(v) > limit) {
    s.fail_at(n.source(), s.qualified(key) + ": coordinate out of range");
  }
  return static_cast<std::int32_t>(std::lround(v * 1e7));
}

}  // namespace

// Builds a Policy from a parsed TOML document; a friend of Policy.
class Loader final {
 public:
  Loader(const toml::table& root, const std::string& file) : root_(root), file_(file) {}

  std::unique_ptr<Policy> run(std::string_view text) {
    auto p = std::make_unique<Policy>(Policy::Key());
    p->text_.assign(text);
    policy_ = p.get();
    Section top(root_, "", file_);
    read_header(top);
    read_destinations(top);
    read_patterns(top);
    read_rules(top);
    top.finish();
    check_shadowing();
    compile_patterns();
    p->build_index();
    return p;
  }

 private:
  std::uint8_t level(Section& s, const std::string& key, bool required, std::uint8_t dflt) {
    auto v = s.string(key, required);
    if (!v) return dflt;
    const auto& levels = policy_->levels_;
    auto it = std::find(levels.begin(), levels.end(), *v);
    if (it == levels.end()) s.fail(key, "unknown level '" + *v + "'");
    return static_cast<std::uint8_t>(it - levels.begin());
  }

  void read_header(Section& top) {
    const toml::table* t = top.table("policy");
    if (!t) top.fail_at(root_.source(), "[policy]: missing");
    Section s(*t, "policy", file_);
    policy_->id_ = *s.name("id", true);
    policy_->party_ = *s.name("party", true);
    policy_->label_policy_ = *s.name("labels", true);
    policy_->levels_ = s.names("levels", limits::list_entries_max);
    const auto& levels = policy_->levels_;
    if (levels.empty()) s.fail_at(t->source(), "policy.levels: missing");
    if (levels.size() > cg::limits::classification_levels_max) {
      s.fail("levels", "more than " + std::to_string(cg::limits::classification_levels_max));
    }
    std::set<std::string> seen(levels.begin(), levels.end());
    if (seen.size() != levels.size()) s.fail("levels", "duplicate level");
    bool present = false;
    policy_->text_types_ = s.names("text_types", limits::list_entries_max, &present);
    if (!present) policy_->text_types_ = {"text/*"};
    s.finish();
  }

  void read_destinations(Section& top) {
    const toml::array* a = top.array_of_tables("destination");
    if (!a) top.fail_at(root_.source(), "[[destination]]: at least one is needed");
    if (a->size() > limits::destinations_max) {
      top.fail("destination", "more than " + std::to_string(limits::destinations_max));
    }
    for (std::size_t i = 0; i < a->size(); ++i) {
      Section s(*a->get(i)->as_table(), "destination[" + std::to_string(i) + "]", file_);
      Destination d;
      d.id = *s.name("id", true);
      d.party = *s.name("party", true);
      d.country = *s.name("country", true);
      d.level_max = level(s, "level_max", true, 0);
      d.categories = s.sorted_names("categories", limits::list_entries_max);
      s.finish();
      for (const auto& other : policy_->destinations_) {
        if (other.id == d.id) s.fail("id", "duplicate destination '" + d.id + "'");
      }
      policy_->destinations_.push_back(std::move(d));
    }
  }

  void read_patterns(Section& top) {
    const toml::array* a = top.array_of_tables("pattern");
    if (!a) return;
    if (a->size() > limits::patterns_max) {
      top.fail("pattern", "more than " + std::to_string(limits::patterns_max));
    }
    std::set<std::string> ids;
    for (std::size_t i = 0; i < a->size(); ++i) {
      Section s(*a->get(i)->as_table(), "pattern[" + std::to_string(i) + "]", file_);
      Pattern p;
      p.line = s.line();
      p.id = *s.name("id", true);
      if (!ids.insert(p.id).second) s.fail("id", "duplicate pattern id '" + p.id + "'");
      auto term = s.string("term", false);
      auto regex = s.string("regex", false);
      if (term.has_value() == regex.has_value()) {
        s.fail_at(s.raw().source(), "pattern '" + p.id + "': exactly one of term or regex");
      }
      p.literal = term.has_value();
      p.expression = p.literal ? *term : *regex;
      const std::string key = p.literal ? "term" : "regex";
      if (p.expression.empty()) s.fail(key, "must not be empty");
      if (p.expression.size() > limits::pattern_bytes_max) {
        s.fail(key, "longer than " + std::to_string(limits::pattern_bytes_max) + " bytes");
      }
      if (p.expression.find('\0') != std::string::npos) s.fail(key, "must not contain NUL");
      p.case_sensitive = s.boolean("case_sensitive").value_or(false);
      p.action = s.has("action") ? action_of(s, "action", false) : Outcome::block;
      s.finish();
      policy_->patterns_.push_back(std::move(p));
    }
  }

  Transform read_transform(Section& s) {
    Transform t;
    t.drop_content_types = s.names("drop_content_types", limits::list_entries_max);
    if (s.has("drop_above")) t.drop_above = level(s, "drop_above", true, 0);
    t.drop_labels_with = s.sorted_names("drop_labels_with", limits::list_entries_max);
    t.drop_attributes = s.names("drop_attributes", limits::list_entries_max);
    t.strip_source = s.boolean("strip_source").value_or(false);
    t.coarsen_m = static_cast<std::uint32_t>(
        s.integer("coarsen_m", limits::coarsen_m_min, limits::coarsen_m_max).value_or(0));
    s.finish();
    if (t.empty()) s.fail_at(s.raw().source(), "transform: empty (leave it out instead)");
    return t;
  }

  std::optional<Condition::Box> read_area(Section& s) {
    const toml::node* n = s.node("area");
    if (!n) return std::nullopt;
    const toml::array* a = n->as_array();
    auto pair = [&](std::size_t i) -> const toml::array* {
      const toml::array* p = a->get(i)->as_array();
      if (!p || p->size() != 2) s.fail("area", "must be [[south, west], [north, east]]");
      return p;
    };
    if (!a || a->size() != 2) s.fail("area", "must be [[south, west], [north, east]]");
    const toml::array* sw = pair(0);
    const toml::array* ne = pair(1);
    Condition::Box b{
        degrees_e7(s, "area", *sw->get(0), 90), degrees_e7(s, "area", *sw->get(1), 180),
        degrees_e7(s, "area", *ne->get(0), 90), degrees_e7(s, "area", *ne->get(1), 180)};
    if (b.south_e7 > b.north_e7 || b.west_e7 > b.east_e7) {
      s.fail("area", "south must be <= north and west <= east");
    }
    return b;
  }

  void read_rules(Section& top) {
    const toml::array* a = top.array_of_tables("rule");
    if (!a) return;  // default deny blocks everything: a valid, if useless, policy
    if (a->size() > limits::rules_max) {
      top.fail("rule", "more than " + std::to_string(limits::rules_max));
    }
    std::set<std::string> ids;
    policy_->rules_.reserve(a->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
      Section s(*a->get(i)->as_table(), "rule[" + std::to_string(i) + "]", file_);
      Rule r;
      r.line = s.line();
      r.id = *s.name("id", true);
      if (!ids.insert(r.id).second) s.fail("id", "duplicate rule id '" + r.id + "'");
      Condition& c = r.when;
      bool present = false;
      auto to = s.names("to", limits::list_entries_max, &present);
      if (present) {
        c.destinations = 0;
        for (const auto& d : to) {
          auto idx = policy_->destination_index(d);
          if (!idx) s.fail("to", "unknown destination '" + d + "'");
          c.destinations |= std::uint64_t{1} << *idx;
        }
      }
      c.kinds = bits_of(s, "kind", kKindNames, 1);
      c.precedences = bits_of(s, "precedence", kPrecedenceNames, 1);
      c.tlps = bits_of(s, "tlp", kTlpNames, 0);
      c.level_min = level(s, "level_min", false, 0);
      c.level_max = level(s, "level_max", false, 255);
      if (c.level_min > c.level_max) s.fail("level_max", "below level_min");
      c.topics = s.sorted_names("topics", limits::list_entries_max);
      c.categories = s.sorted_names("categories", limits::list_entries_max);
      c.caveats = s.sorted_names("caveats", limits::list_entries_max);
      c.sources = s.names("source", limits::list_entries_max);
      c.area = read_area(s);
      r.action = action_of(s, "action", true);
      if (const toml::table* t = s.table("transform")) {
        if (r.action != Outcome::release) s.fail("transform", "only a release has transforms");
        Section ts(*t, s.qualified("transform"), file_);
        r.transform = read_transform(ts);
      }
      s.finish();
      policy_->rules_.push_back(std::move(r));
    }
  }

  [[noreturn]] void fail_line(std::uint32_t line, const std::string& what) const {
    throw Fail{malformed(file_ + ":" + std::to_string(line) + ": " + what)};
  }

  void check_shadowing() const {
    const auto& rules = policy_->rules_;
    for (std::size_t b = 0; b < rules.size(); ++b) {
      for (std::size_t a = 0; a < b; ++a) {
        if (detail::covers(rules[a].when, rules[b].when)) {
          fail_line(rules[b].line, "rule '" + rules[b].id + "' is unreachable: rule '" +
                                       rules[a].id + "' (line " + std::to_string(rules[a].line) +
                                       ") comes first and matches every item it matches");
        }
      }
    }
  }

  void compile_patterns() {
    const auto& patterns = policy_->patterns_;
    if (patterns.empty()) return;
    std::vector<std::string> expressions;
    std::vector<const char*> pointers;
    std::vector<unsigned> flags, ids;
    expressions.reserve(patterns.size());
    for (std::size_t i = 0; i < patterns.size(); ++i) {
      const Pattern& p = patterns[i];
      expressions.push_back(p.literal ? detail::escape_literal(p.expression) : p.expression);
      unsigned f = HS_FLAG_SINGLEMATCH;
      if (!p.case_sensitive) f |= HS_FLAG_CASELESS;
      flags.push_back(f);
      ids.push_back(static_cast<unsigned>(i));
    }
    for (const auto& e : expressions) pointers.push_back(e.c_str());
    hs_database_t* db = nullptr;
    hs_compile_error_t* error = nullptr;
    const hs_error_t rc = hs_compile_multi(pointers.data(), flags.data(), ids.data(),
                                           static_cast<unsigned>(pointers.size()), HS_MODE_BLOCK,
                                           nullptr, &db, &error);
    if (rc != HS_SUCCESS) {
      std::string message = error && error->message ? error->message : "compile failed";
      const int at = error ? error->expression : -1;
      hs_free_compile_error(error);
      if (at >= 0 && static_cast<std::size_t>(at) < patterns.size()) {
        fail_line(patterns[static_cast<std::size_t>(at)].line,
                  "pattern '" + patterns[static_cast<std::size_t>(at)].id + "': " + message);
      }
      throw Fail{malformed(file_ + ": patterns: " + message)};
    }
    policy_->database_.reset(db);
  }

  const toml::table& root_;
  const std::string& file_;
  Policy* policy_ = nullptr;
};

Result<std::unique_ptr<const Policy>> Policy::parse(std::string_view text,
                                                    const std::string& source_name) {
  if (text.size() > limits::policy_bytes_max) {
    return malformed(source_name + ": larger than " + std::to_string(limits::policy_bytes_max) +
                     " bytes");
  }
  return tomlread::read<std::unique_ptr<const Policy>>(
      text, source_name, [&](const toml::table& root) -> Result<std::unique_ptr<const Policy>> {
        Loader loader(root, source_name);
        return std::unique_ptr<const Policy>(loader.run(text));
      });
}

Result<std::unique_ptr<const Policy>> Policy::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(path + ": cannot read");
  std::string text;
  text.resize(limits::policy_bytes_max + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse(text, path);
}

}  // namespace cg::policy
