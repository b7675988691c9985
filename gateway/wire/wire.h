// gateway/wire: the decode boundary for untrusted Cap'n Proto input, and canonical encoding.
//
// Every Cap'n Proto message that arrives from outside the process (a source, the link, a file)
// enters through decode_message() or one of the typed decoders below: the size is checked
// first, the reader runs with explicit ReaderOptions (traversal and nesting limits), every
// kj::Exception is turned into a Status, and the typed decoders validate structure (see the
// "Rule:" lines in schemas/*.capnp). A successful decode yields a Message<T> that holds the
// *canonical* form of the root struct: the bytes that are signed, hashed and sealed, and a
// reader over them that can be read any number of times (a canonical message cannot alias,
// so re-reading it is proportional work and needs no traversal budget).
//
// Thread-safety: functions are pure; a Message<T> may be read from several threads at once.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "gateway/common/limits.h"
#include "gateway/common/status.h"
#include "schemas/audit.capnp.h"
#include "schemas/envelope.capnp.h"
#include "schemas/ingest.capnp.h"
#include "schemas/item.capnp.h"
#include "schemas/rules.capnp.h"

namespace simdjson::dom {
class element;
}

namespace cg::wire {

// Limits for one decode. Every caller names the maximum it accepts.
struct DecodeLimits {
  std::size_t bytes_max;
  std::uint64_t traversal_words_max;
  int nesting_max = limits::item_nesting_max;
};

inline constexpr DecodeLimits item_limits{limits::item_bytes_max, limits::item_traversal_words_max};
inline constexpr DecodeLimits envelope_limits{limits::envelope_bytes_max,
                                              limits::envelope_traversal_words_max};
inline constexpr DecodeLimits rules_bundle_limits{limits::rules_bundle_bytes_max,
                                                  limits::rules_bundle_traversal_words_max};
inline constexpr DecodeLimits trust_root_limits{limits::trust_root_bytes_max,
                                                (limits::trust_root_bytes_max / 8) * 2};
inline constexpr DecodeLimits audit_record_limits{limits::audit_record_bytes_max,
                                                  (limits::audit_record_bytes_max / 8) * 2};

// The canonical form of one root struct of type T, with a reader over it. Owns its bytes.
template <typename T>
class Message final {
 public:
  Message(Message&&) noexcept = default;
  Message& operator=(Message&&) noexcept = default;

  typename T::Reader root() const { return reader_->template getRoot<T>(); }

  // The canonical bytes (a single segment, root pointer first). These are what is signed,
  // hashed and sealed; encoding them again yields the same bytes.
  std::span<const std::uint8_t> canonical_bytes() const {
    return {reinterpret_cast<const std::uint8_t*>(words_.begin()),
            words_.size() * sizeof(capnp::word)};
  }

  // Takes canonical words (from capnp::canonicalize). Prefer the decoders and canonical().
  static Message from_canonical(kj::Array<capnp::word> words);

 private:
  Message() = default;
  kj::Array<capnp::word> words_;
  std::unique_ptr<kj::ArrayPtr<const capnp::word>> segment_;
  std::unique_ptr<capnp::SegmentArrayMessageReader> reader_;
};

// Decodes a serialized message (standard framing: segment table + segments, as written by
// capnp::messageToFlatArray / writeMessage) whose root is a T. Checks size, word alignment,
// framing and pointers within the limits; does NOT check T's own rules. Beware: Cap'n Proto
// checks a pointer's type only when the field is read, so reading a field of the result may
// still throw kj::Exception (e.g. a list of words where Text was expected). Untrusted input
// must therefore go through the overload with a validator, or a typed decoder below.
// Errors: Code::malformed with the reason.
template <typename T>
Result<Message<T>> decode_message(std::span<const std::uint8_t> bytes, const DecodeLimits& limits);

// As above, then runs `validate(root)` inside the kj::Exception boundary. The validator must
// read every pointer field the caller will use; once it returns ok, reading those fields again
// cannot throw (the canonical bytes do not change). Errors: malformed, or the validator's.
template <typename T, typename Validate>
Result<Message<T>> decode_message(std::span<const std::uint8_t> bytes, const DecodeLimits& limits,
                                  Validate&& validate);

// Decodes bytes that must already be canonical (a single segment, root pointer first, as
// Message::canonical_bytes() gives and as items travel inside envelopes and deliveries).
// Non-canonical input is refused: these bytes are hashed and signed, so there must be exactly
// one encoding. The validator runs as in decode_message. Errors: malformed.
template <typename T>
Result<Message<T>> decode_canonical(std::span<const std::uint8_t> bytes,
                                    const DecodeLimits& limits);
template <typename T, typename Validate>
Result<Message<T>> decode_canonical(std::span<const std::uint8_t> bytes, const DecodeLimits& limits,
                                    Validate&& validate);
// decode_canonical + validate_item.
Result<Message<schema::Item>> decode_canonical_item(std::span<const std::uint8_t> bytes);

// Decodes and validates an Item (every "Rule:" in schemas/item.capnp). Errors:
// Code::malformed, with the field path in the reason ("item.portions[2].label: ...").
Result<Message<schema::Item>> decode_item(std::span<const std::uint8_t> bytes);

// Structural validation of an item already in memory (e.g. built by a STIX mapper).
// May only be called on readers whose traversal budget suffices (a Message<Item>, a builder).
Status validate_item(schema::Item::Reader item);
// Structural validation of one label (what validate_item checks of the banner and portions).
Status validate_label(schema::Label::Reader label);

// True for a valid identifier (source, origin, node, category...): 1..name_bytes_max bytes of
// UTF-8 with no control characters (so no NUL, no terminal escapes).
bool is_clean_name(std::string_view name);
// Text as a string_view of its full size (Cap'n Proto Text may contain NUL; cStr() would cut).
inline std::string_view view(capnp::Text::Reader t) { return {t.begin(), t.size()}; }

// True when `a` dominates `b` (see schemas/item.capnp, struct Label).
bool dominates(schema::Label::Reader a, schema::Label::Reader b);

// --- JSON: the human-writable form of an item (cellgate send/item/tail) ------------------
// Field names: id (32 hex digits), source, kind, precedence, created/expires (RFC 3339 UTC),
// banner, topics, area ({"point":[lat,lon]} | {"box":[[s,w],[n,e]]}, degrees), portions
// [{name, label, content_type, required, body | body_base64}], attributes {name: value}.
// Labels: {policy, classification (level index), restrictive, rel_to, caveats, tlp}.
// Unknown fields, duplicate keys (any depth) and NUL in any string are errors. The result is
// validated like any decoded item.
inline constexpr std::size_t item_json_bytes_max = 4 * limits::item_bytes_max;
Result<Message<schema::Item>> item_from_json(std::string_view json);
// One line of JSON that item_from_json reads back to the same item. Text bodies (content type
// text/*, valid UTF-8, no NUL) are written as `body`, others as `body_base64`.
std::string item_to_json(schema::Item::Reader item);
// RFC 3339 timestamps in UTC ("2026-11-24T12:00:00.25Z") ⇄ ns since the Unix epoch, as JSON
// items and STIX use them. The date must exist (std::chrono::year_month_day: no 2026-02-31,
// no month 13) and the time of day be 00:00:00–23:59:59 (no hour 24, no leap second). Errors:
// malformed ("json: time: ..."); years 1970–2261 only.
Result<std::int64_t> parse_rfc3339(std::string_view text);
// The same, in the STIX 2.1 timestamp form: upper-case `T` and `Z` only (§3.2).
Result<std::int64_t> parse_stix_timestamp(std::string_view text);

// What simdjson's DOM lets through but no JSON input of cellgate may hold. Run on every parsed
// JSON document before any field of it is read:
//   * a key that appears twice in one object, at any depth (readers disagree on which one
//     wins: simdjson finds the first, Python the last);
//   * a NUL (U+0000) in any key, and, unless `nul_in_values` is true, in any string value
//     (Cap'n Proto Text and C strings would cut the value at it).
// `path` names the root in errors: malformed("<path>.a.b[2]: duplicate key 'c'").
Status check_json_tree(const simdjson::dom::element& root, const std::string& path,
                       bool nul_in_values);
std::string format_rfc3339(std::int64_t ns);  // always 9 fraction digits
// True when `text` is valid UTF-8 (control characters allowed): what may go in a JSON `body`.
bool validate_text_body(std::string_view text);

// The canonical form of a struct, as a Message. Canonicalising a builder's root is how a node
// produces the bytes it signs. Bugs (not input) if it throws.
template <typename Reader>
auto canonical(Reader reader) -> Message<capnp::FromReader<Reader>> {
  return Message<capnp::FromReader<Reader>>::from_canonical(capnp::canonicalize(reader));
}

// The canonical encoding of `reader` written once, for messages this process builds: what
// canonical(reader) gives (raw words, no segment table: `framed` false) or
// to_flat_bytes(canonical(reader)) (standard framing: `framed` true), without the two extra
// copies and the isCanonical re-walk capnp::canonicalize makes (bench: most of the gateway's
// hot path was such copies).
template <typename Reader>
std::vector<std::uint8_t> canonical_bytes_of(Reader reader, bool framed);

// Serializes a message in standard framing for transport (what decode_message accepts).
std::vector<std::uint8_t> to_flat_bytes(capnp::MessageBuilder& builder);
// Serializes a canonical Message in standard framing.
template <typename T>
std::vector<std::uint8_t> to_flat_bytes(const Message<T>& message);

}  // namespace cg::wire

#include "gateway/wire/wire_inl.h"
