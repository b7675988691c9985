// gateway/policy: the releasability engine. For one item and one destination it decides what
// may cross: release (possibly redacted), quarantine (held for a person) or block.
//
// A Policy is loaded from a TOML file that reviewers read and approve (format and semantics in
// gateway/policy/POLICY.md). Loading validates everything (unknown keys, levels, destinations,
// duplicate and unreachable rules, patterns) and either yields a complete, immutable Policy or
// an error naming file:line:col; a policy is never half-loaded. The deny terms and patterns are
// compiled once, at load, into one Hyperscan database.
//
// Deciding: an Evaluator (one per thread: it owns the Hyperscan scratch) judges an item that
// gateway/wire has already decoded and validated:
//
//   auto policy = cg::policy::Policy::parse(text, "il-policy.toml");      // once
//   auto eval = cg::policy::Evaluator::create(**policy);                  // once per thread
//   cg::policy::Decision d;                                               // reused
//   eval->decide(item, *(*policy)->destination_index("sy"), clock.now_ns(), d);
//   if (d.outcome == Outcome::release) {
//     if (d.changed) build_released(**policy, item, d, builder.initRoot<schema::Item>());
//     else  /* the input item crosses as it is */;
//   }
//   std::string why = explain_text(**policy, item, d);
//
// Default deny: an item no rule matches is blocked. Every Decision carries its explanation
// (rule, per-portion and per-attribute verdicts, transforms, the pattern that hit); decide()
// does not allocate once a Decision's vectors have grown to the item's size.
//
// Thread-safety: a Policy is immutable and may be shared by any number of threads. An
// Evaluator is used by one thread at a time. Free functions are pure.
#pragma once

#include <capnp/message.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/common/status.h"
#include "schemas/item.capnp.h"

struct hs_database;
struct hs_scratch;

namespace cg::policy {

// --- The policy model --------------------------------------------------------------------

enum class Outcome : std::uint8_t { release, quarantine, block };
std::string_view outcome_name(Outcome outcome);

struct Destination {
  std::string id;                       // as rules name it ("sy")
  std::string party;                    // the receiving party
  std::string country;                  // what REL TO markings name ("SY")
  std::uint8_t level_max = 0;           // index into Policy::levels()
  std::vector<std::string> categories;  // restrictive categories held; sorted, unique
};

// What a release rule does to the item before it crosses.
struct Transform {
  std::vector<std::string> drop_content_types;  // globs over Portion.contentType ("image/*")
  std::optional<std::uint8_t> drop_above;       // drop portions above this level
  std::vector<std::string> drop_labels_with;    // drop portions carrying any of these
                                                // restrictive categories or caveats; sorted
  std::vector<std::string> drop_attributes;     // globs over Attribute.name ("source.*")
  bool strip_source = false;    // source := the policy's party; attributes "source.*" dropped
  std::uint32_t coarsen_m = 0;  // 0: keep the area; else snap it to a grid of this size
  bool empty() const;
};

// A rule's conditions. Every condition that is set must hold (conjunction); an unset one
// matches anything. Conditions read the item's original banner and header fields.
struct Condition {
  std::uint64_t destinations = ~std::uint64_t{0};  // bit i: Policy::destinations()[i]
  std::uint32_t kinds = ~std::uint32_t{0};         // bit k: schema::Kind k
  std::uint32_t precedences = ~std::uint32_t{0};   // bit p: schema::Precedence p
  std::uint32_t tlps = ~std::uint32_t{0};          // bit t: schema::Tlp t (banner)
  std::uint8_t level_min = 0;                      // banner classification range
  std::uint8_t level_max = 255;
  std::vector<std::string> topics;      // item has at least one of these; sorted
  std::vector<std::string> categories;  // banner restrictive ⊇ these; sorted
  std::vector<std::string> caveats;     // banner caveats ⊇ these; sorted
  std::vector<std::string> sources;     // item source matches one of these globs
  struct Box {
    std::int32_t south_e7, west_e7, north_e7, east_e7;
  };
  std::optional<Box> area;  // the item's area (point or box) lies inside
};

struct Rule {
  std::string id;
  std::uint32_t line = 0;  // where it starts in the policy file
  Condition when;
  Outcome action = Outcome::block;
  Transform transform;  // only for release
};

// A deny term (literal) or regular expression scanned over what would cross.
struct Pattern {
  std::string id;
  std::string expression;  // the term or the regex as written
  bool literal = true;
  bool case_sensitive = false;
  Outcome action = Outcome::block;  // block or quarantine
  std::uint32_t line = 0;
};

namespace detail {
// A label read once from Cap'n Proto (each Text read costs a bounds-checked pointer walk):
// its lists are ranges into an Evaluator's name buffer. Only valid during one decide().
struct LabelView {
  std::string_view policy;
  std::uint8_t level = 0;
  std::uint8_t tlp = 0;
  bool noforn = false, orcon = false;
  std::uint32_t restrictive = 0, permissive = 0, caveats = 0, end = 0;  // offsets in names
};

// Rule indices filed under a name (a topic, or an exact source), in rule order.
struct NameIndex {
  std::vector<std::string> names;  // sorted, unique
  std::vector<std::vector<std::uint32_t>> rules;
  // The rules filed under `name`; null if none.
  const std::vector<std::uint32_t>* find(std::string_view name) const;
};
}  // namespace detail

class Policy final {
 public:
  // Parses and validates a policy. `source_name` names the file in errors. Errors: malformed,
  // "file:line:col: what" (or "file:line: what" for cross-entry checks such as shadowing).
  static Result<std::unique_ptr<const Policy>> parse(std::string_view text,
                                                     const std::string& source_name);
  // Reads a file (at most limits::policy_bytes_max) and parses it. Errors: io, malformed.
  static Result<std::unique_ptr<const Policy>> load(const std::string& path);

  // Only the loader makes policies (the key keeps others out, without `new`).
  class Key {
    friend class Loader;
    Key() = default;
  };
  explicit Policy(Key) {}
  ~Policy();
  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;

  const std::string& id() const { return id_; }
  const std::string& party() const { return party_; }
  const std::string& label_policy() const { return label_policy_; }
  const std::vector<std::string>& levels() const { return levels_; }
  const std::vector<Destination>& destinations() const { return destinations_; }
  const std::vector<Rule>& rules() const { return rules_; }
  const std::vector<Pattern>& patterns() const { return patterns_; }
  const std::vector<std::string>& text_types() const { return text_types_; }
  std::optional<std::uint32_t> destination_index(std::string_view id) const;

  // The exact bytes the policy was parsed from. These are the canonical form: reviewers read
  // and sign the file, and parsing the same bytes always yields the same policy, so the
  // approval module hashes and signs exactly this span.
  std::span<const std::uint8_t> canonical_bytes() const {
    return {reinterpret_cast<const std::uint8_t*>(text_.data()), text_.size()};
  }

  // True when `content_type` is inspected as text (matches one of text_types()).
  bool is_text(std::string_view content_type) const;

 private:
  friend class Evaluator;
  friend class Loader;

  // Rules filed under (destination, kind): those with neither a topic condition nor an
  // exact-source condition, in rule order.
  const std::vector<std::uint32_t>& general(std::uint32_t destination, unsigned kind) const;
  void build_index();

  std::string text_;
  std::string id_, party_, label_policy_;
  std::vector<std::string> levels_;
  std::vector<std::string> text_types_;
  std::vector<Destination> destinations_;
  std::vector<Rule> rules_;
  std::vector<Pattern> patterns_;

  static constexpr unsigned kKinds = 8;
  std::vector<std::vector<std::uint32_t>> general_;  // [destination * kKinds + kind]
  detail::NameIndex by_topic_;   // rules with a topic condition, under each topic they name
  detail::NameIndex by_source_;  // other rules whose source condition lists exact names only

  struct DatabaseDeleter {
    void operator()(hs_database* db) const;
  };
  std::unique_ptr<hs_database, DatabaseDeleter> database_;  // null when there are no patterns
};

// --- Decisions ---------------------------------------------------------------------------

// Why the item-level outcome is what it is.
enum class Reason : std::uint8_t {
  rule,               // the matched rule's action, and nothing below overrode it
  no_rule,            // default deny: no rule matched
  malformed_label,    // unknown labelling policy, level out of range, or banner not dominating
  required_removed,   // a portion marked required may not cross
  nothing_left,       // every portion was removed
  banner_marking,     // the banner alone is NOFORN or TLP:RED (block) or ORCON (quarantine)
  orcon_review,       // a crossing portion (or the banner, with attributes) carries ORCON
  content_hit,        // a deny term or pattern matched what would cross
  inspection_failed,  // the scanner failed (fail closed: quarantine)
  expired,            // the item's `expires` is at or before the judgment time (block)
};
std::string_view reason_name(Reason reason);

// What happens to one portion or attribute.
enum class Verdict : std::uint8_t {
  crosses,
  noforn,       // label carries NOFORN: never crosses
  tlp_red,      // label is TLP:RED: never crosses
  level,        // classification above the destination's highest level
  restrictive,  // a restrictive category the destination does not hold
  rel_to,       // REL TO marking that does not name the destination's country
  orcon,        // ORCON: may cross only after review (the item is quarantined)
  transform,    // dropped by the rule's transform
  malformed,    // label not dominated by the banner or outside the policy
  expired,      // the whole item expired before it was judged: nothing crosses
};
std::string_view verdict_name(Verdict verdict);
// True for verdicts that let the portion or attribute appear in a released item.
inline bool crosses(Verdict v) { return v == Verdict::crosses || v == Verdict::orcon; }

enum TransformBit : std::uint32_t {
  kDropPortions = 1u << 0,
  kDropAttributes = 1u << 1,
  kStripSource = 1u << 2,
  kCoarsenArea = 1u << 3,
};

struct Hit {
  std::uint32_t pattern = 0;  // index into Policy::patterns()
  bool in_attribute = false;  // false: a portion body
  std::uint32_t index = 0;    // which portion or attribute
  std::uint64_t end = 0;      // byte offset where the match ends (Hyperscan reports ends)
};

struct Decision {
  Outcome outcome = Outcome::block;
  Reason reason = Reason::no_rule;
  std::uint32_t destination = 0;
  std::optional<std::uint32_t> rule;  // index into Policy::rules()
  std::optional<std::uint32_t> malformed_portion;
  std::vector<Verdict> portions;    // one per input portion
  std::vector<Verdict> attributes;  // one per input attribute
  std::uint32_t transforms = 0;     // TransformBit set actually applied (release only)
  std::optional<Hit> hit;
  std::uint32_t portions_crossing = 0;
  // For a release: the released item differs from the input (something removed, banner not
  // equal to the roll-up, or a transform rewrote a field). When false the input item crosses
  // unchanged and need not be rebuilt.
  bool changed = false;
};

class Evaluator final {
 public:
  // Keeps a reference to `policy`, which must outlive the Evaluator. Errors: overloaded when
  // the Hyperscan scratch cannot be allocated.
  static Result<Evaluator> create(const Policy& policy);
  ~Evaluator();
  Evaluator(Evaluator&&) noexcept;
  Evaluator& operator=(Evaluator&&) = delete;

  // Decides for `item` (decoded and validated by gateway/wire) towards destination index
  // `destination` (< policy.destinations().size(); a bug otherwise) at wall time `now_ns`
  // (nanoseconds since the Unix epoch, from the caller's Clock: decide never reads a clock).
  // An item whose `expires` is set and not after `now_ns` is blocked with Reason::expired,
  // whatever the rules say. Always yields a decision; failures inside (a malformed label, a
  // scanner error) are quarantines, never releases.
  void decide(schema::Item::Reader item, std::uint32_t destination, std::int64_t now_ns,
              Decision& out);

 private:
  explicit Evaluator(const Policy& policy) : policy_(policy) {}
  void read_labels(schema::Item::Reader item, capnp::List<schema::Portion>::Reader portions);
  void read_label(schema::Label::Reader label);
  std::optional<std::uint32_t> match_rule(schema::Item::Reader item, std::uint32_t destination);
  bool matches_rest(const Condition& c, schema::Item::Reader item) const;
  bool dominates(const detail::LabelView& a, const detail::LabelView& b) const;
  Verdict judge(const detail::LabelView& label, const Destination& destination) const;
  bool drops_portion(const Transform& t, std::uint32_t portion) const;
  bool banner_is_roll_up(const Decision& d) const;
  void judge_content(capnp::List<schema::Portion>::Reader portions,
                     capnp::List<schema::Attribute>::Reader attributes, Decision& out);

  const Policy& policy_;
  hs_scratch* scratch_ = nullptr;
  // Per-decision buffers, kept to avoid allocating per item: [0] the banner, [1 + i] portion i.
  std::vector<detail::LabelView> labels_;
  std::vector<std::string_view> names_;
  std::vector<std::string_view> content_types_;
  std::string_view source_;
};

// Writes the released item for a `release` decision into `out`: crossing portions and
// attributes, the banner rolled up from the crossing portions, transforms applied. The caller
// canonicalises it. A bug if `decision` is not a release of `item`.
void build_released(const Policy& policy, schema::Item::Reader item, const Decision& decision,
                    schema::Item::Builder out);

// The roll-up of the labels of the crossing portions: highest classification and TLP, union
// of restrictive categories and caveats, intersection of the non-empty REL TO sets.
void roll_up(schema::Item::Reader item, const Decision& decision, schema::Label::Builder out);

// The explanation of a decision for people (several lines) and as one JSON object.
std::string explain_text(const Policy& policy, schema::Item::Reader item, const Decision& d);
std::string explain_json(const Policy& policy, schema::Item::Reader item, const Decision& d);

// What `cellgate policy explain` prints: decides `item` for `destination` (every destination
// when empty) at wall time `now_ns` and returns the explanations, as text blocks or as JSON
// lines. Errors: rejected for an unknown destination; overloaded if no evaluator can be made.
Result<std::string> explain(const Policy& policy, schema::Item::Reader item,
                            std::string_view destination, bool json, std::int64_t now_ns);

}  // namespace cg::policy
