// gateway/guard: the release guard's independent check of what the filter released (issue 17;
// NIST SP 800-53 AC-4(29): a second filter that checks the first one's work).
//
// The filter (gateway/policy's decide + the redaction that builds the released item) says
// "release this item, with these portions removed, towards this destination". Before anything
// is sealed the guard checks the released bytes on its own:
//   1. they decode afresh through gateway/wire (a validated, canonical Item);
//   2. every portion still present is one of the original's, unchanged, and none the filter
//      says it removed; its label is releasable to the destination: marked under the policy's
//      labels, at most the destination's level, no NOFORN, no TLP:RED, no ORCON (that goes to
//      a person), every restrictive category held by the destination, and a REL TO marking, if
//      any, naming the destination's country;
//   3. the banner is exactly the roll-up of the portions present (highest level and TLP, every
//      restrictive category and caveat, the REL TO countries common to those that name any),
//      and is itself releasable; attributes cross only when the original item's banner is;
//   4. no deny term or pattern of the approved policy matches a text portion, or an
//      attribute's name or value, that crosses (a `quarantine` pattern too: such an item should
//      have gone to a person).
// It is deliberately simple and shares no code with gateway/policy's decide: it reads only the
// approved policy's data (labels, levels, destinations, patterns, text types), walks each label
// directly, and compiles its own Hyperscan databases from the patterns (literal terms through
// hs_compile_lit_multi, regexes apart), so that one bug cannot pass both.
//
// For now the guard runs inside the gateway process, between the filter and the seal; the
// design (docs/DESIGN.md) moves it, with the signing key, into a process of its own.
//
// Thread-safety: a Guard owns Hyperscan scratch space: one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/policy/policy.h"
#include "gateway/wire/wire.h"
#include "schemas/item.capnp.h"

struct hs_database;
struct hs_scratch;

namespace cg::guard {

// What the filter claims about one release.
struct Claim {
  std::uint32_t destination = 0;  // index into the policy's destinations
  std::vector<bool> removed;      // per portion of the original item: the filter removed it
};

class Guard final {
 public:
  // Compiles the guard's own pattern databases from `policy` (which must outlive the Guard).
  // Errors: malformed (a pattern its compiler refuses), overloaded (no scratch space).
  static Result<std::unique_ptr<Guard>> create(const policy::Policy& policy);
  ~Guard();
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

  // ok when `released` may cross towards the claim's destination as the checks above say;
  // Code::rejected with a reason naming the portion, label field, banner field or pattern
  // otherwise (and for bytes that do not decode, or a claim that does not fit the original).
  Status check(schema::Item::Reader original, std::span<const std::uint8_t> released,
               const Claim& claim);
  // As above; when it passes, `decoded_out` receives the released item as the guard decoded it
  // (what the signatory seals, without decoding it again).
  Status check(schema::Item::Reader original, std::span<const std::uint8_t> released,
               const Claim& claim, std::optional<wire::Message<schema::Item>>* decoded_out);

 private:
  explicit Guard(const policy::Policy& policy);
  // `what` names the label's owner for a refusal; it is only called then (no allocation on
  // the path of an item that passes).
  using Name = std::function<std::string()>;
  Status check_label(schema::Label::Reader label, const policy::Destination& d,
                     const Name& what) const;
  Status check_banner(schema::Item::Reader released, const policy::Destination& d) const;
  Status scan(std::span<const char> text, const Name& what);

  const policy::Policy& policy_;
  struct Compiled;
  std::vector<std::unique_ptr<Compiled>> databases_;  // literals, regexes (each may be absent)
};

}  // namespace cg::guard
