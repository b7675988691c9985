// gateway/stix: STIX 2.1 in and out — how intelligence systems (MISP, OpenCTI, TAXII servers)
// already speak — mapped to and from cellgate items so that markings drive releasability.
//
// In: each STIX Domain/Cyber-observable/Relationship Object of a bundle becomes one Item.
//   * The envelope properties (type, id, spec_version, created, modified) travel together as
//     the first portion, named `stix.envelope` (a name no STIX property can have), a required
//     application/json portion under the object's markings. They are not attributes: the
//     policy judges attributes under the banner, which any granular marking raises, so an
//     object with one redacted property would lose its identity on the way.
//   * Every other top-level property (created_by_ref included: provenance is removable by
//     marking it) becomes one portion named after it: strings as text/plain
//     (content-inspected), anything else as application/json. Properties the STIX 2.1 spec
//     requires for the object's type are `required` portions, so an object is blocked rather
//     than sent without them. The item's `source` is the submitting system, as ingest
//     requires; its id is a hash of the object's id and `modified` (one item per version).
//   * Labels: every portion starts from the deployment's default label, raised by the
//     object's object_marking_refs, then by granular_markings whose selector starts with the
//     portion's property (a selector into a sub-property marks the whole property: the
//     conservative reading; one selecting an envelope property marks the envelope portion).
//     The banner is the roll-up of the portions.
//   * Markings understood: TLP 1.0 and 2.0 marking definitions (by their published ids), and
//     the cellgate extension (extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21,
//     property-extension on a marking-definition with `classification` (a level name of the
//     labelling policy), `restrictive`, `rel_to`, `caveats`), defined in the same bundle.
//     Statement markings are kept as an attribute `stix.statement` and not interpreted. Any
//     other marking reference is an error naming the object: fail closed.
//   * Reading is strict (refused, naming the object and field, never defaulted): a duplicate
//     key at any depth or a NUL in any string (wire::check_json_tree); a marking or label
//     field (object_marking_refs, granular_markings and each entry's marking_ref, selectors,
//     lang; labels, confidence, lang, extensions, valid_until) present with another shape; a
//     marking definition whose parts disagree (definition_type with an extension, definition
//     without definition_type, more than one extension, a TLP id whose definition names
//     another colour or another kind, an id defined twice, an unknown property); a domain or
//     relationship object without spec_version "2.1", created or modified; a timestamp that
//     is not a STIX timestamp of a real date (wire::parse_stix_timestamp).
// Out: a released item becomes a STIX 2.1 object again, with only the markings it was
//   released under: its banner's TLP (as a TLP 2.0 marking, its definition object emitted
//   alongside) and, when it has a classification or categories, a cellgate-extension marking
//   definition, emitted alongside.
//
// Pure functions; thread-safe. Inputs are bounded (bundle size, objects per bundle).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/wire/wire.h"

namespace cg::stix {

inline constexpr std::size_t bundle_bytes_max = 16u << 20;
inline constexpr std::size_t objects_per_bundle_max = 10'000;
inline constexpr const char* envelope_portion = "stix.envelope";
inline constexpr const char* cellgate_extension_id =
    "extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21";

struct LabelSpec {
  std::uint8_t classification = 0;
  std::vector<std::string> restrictive;
  std::vector<std::string> rel_to;
  std::vector<std::string> caveats;
  schema::Tlp tlp = schema::Tlp::UNMARKED;
};

struct Options {
  std::string source;               // the submitting system (item.source)
  std::string policy_id;            // labelling policy of the produced labels
  std::vector<std::string> levels;  // its classification level names, lowest first
  LabelSpec default_label;          // label of anything no marking says more about
  schema::Precedence precedence = schema::Precedence::ROUTINE;
  std::int64_t now_ns = 0;  // `created` of objects that have none (SCOs)
};

struct Mapped {
  std::vector<wire::Message<schema::Item>> items;
  std::size_t marking_definitions = 0;  // consumed, not mapped to items
};

// Maps a bundle (or a single object). Errors: malformed, naming the object ("object
// indicator--…: …"); the whole bundle is refused if any object is (no partial import).
Result<Mapped> to_items(std::string_view json, const Options& options);

// The STIX 2.1 objects for one released item: the object itself, then the marking
// definitions it references (the TLP 2.0 one and the cellgate one). Errors: malformed when the
// item did not come from STIX (no envelope portion with a type and an id), or when a portion
// is named like a key the object already has (type, id, spec_version, created, modified,
// object_marking_refs, granular_markings, or another portion's name).
Result<std::vector<std::string>> from_item(schema::Item::Reader item,
                                           const std::vector<std::string>& levels);

// A new bundle id: "bundle--" and an RFC 4122 version-4 UUID from libsodium's randombytes.
std::string random_bundle_id();

// A bundle wrapping objects (deduplicating marking definitions by id).
std::string bundle(const std::vector<std::string>& objects, std::string_view bundle_id);

}  // namespace cg::stix
