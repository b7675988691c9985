#include "gateway/stix/stix.h"

#include <capnp/message.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>

#include "crypto/fixed.h"
#include "gateway/common/hex.h"
#include "gateway/common/limits.h"
#include "gateway/common/text.h"

namespace cg::stix {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// STIX 2.1 types cellgate carries, with the properties the spec requires for each.
const std::map<std::string_view, std::vector<std::string_view>>& known_types() {
  static const std::map<std::string_view, std::vector<std::string_view>> types = {
      {"attack-pattern", {"name"}},
      {"campaign", {"name"}},
      {"course-of-action", {"name"}},
      {"grouping", {"context", "object_refs"}},
      {"identity", {"name"}},
      {"incident", {"name"}},
      {"indicator", {"pattern", "pattern_type", "valid_from"}},
      {"infrastructure", {"name"}},
      {"intrusion-set", {"name"}},
      {"location", {}},
      {"malware", {"is_family"}},
      {"malware-analysis", {"product"}},
      {"note", {"content", "object_refs"}},
      {"observed-data", {"first_observed", "last_observed", "number_observed"}},
      {"opinion", {"opinion", "object_refs"}},
      {"report", {"name", "published", "object_refs"}},
      {"threat-actor", {"name"}},
      {"tool", {"name"}},
      {"vulnerability", {"name"}},
      {"relationship", {"relationship_type", "source_ref", "target_ref"}},
      {"sighting", {"sighting_of_ref"}},
      {"artifact", {}},
      {"autonomous-system", {"number"}},
      {"directory", {"path"}},
      {"domain-name", {"value"}},
      {"email-addr", {"value"}},
      {"email-message", {"is_multipart"}},
      {"file", {}},
      {"ipv4-addr", {"value"}},
      {"ipv6-addr", {"value"}},
      {"mac-addr", {"value"}},
      {"mutex", {"name"}},
      {"network-traffic", {"protocols"}},
      {"process", {}},
      {"software", {"name"}},
      {"url", {"value"}},
      {"user-account", {}},
      {"windows-registry-key", {}},
      {"x509-certificate", {}},
  };
  return types;
}

// Properties that identify the object: carried together in the envelope portion.
constexpr std::array<std::string_view, 5> kEnvelope = {"type", "id", "spec_version", "created",
                                                       "modified"};
bool is_envelope(std::string_view key) {
  return std::find(kEnvelope.begin(), kEnvelope.end(), key) != kEnvelope.end();
}

// STIX 2.1 §3.1: property names are a-z, 0-9 and '_'. Anything else (in particular the '.' of
// the envelope portion's name) cannot be a property.
bool valid_property_name(std::string_view name) {
  if (name.empty() || name.size() > 250) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// TLP marking definitions by their published ids (TLP 1.0 in STIX 2.1 §7.2.1.4; TLP 2.0 by
// the OASIS extension). TLP:WHITE is TLP:CLEAR.
const std::map<std::string_view, schema::Tlp>& tlp_ids() {
  static const std::map<std::string_view, schema::Tlp> ids = {
      {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", schema::Tlp::CLEAR},
      {"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", schema::Tlp::GREEN},
      {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", schema::Tlp::AMBER},
      {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", schema::Tlp::RED},
      {"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", schema::Tlp::CLEAR},
      {"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", schema::Tlp::GREEN},
      {"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", schema::Tlp::AMBER},
      {"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", schema::Tlp::AMBER_STRICT},
      {"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", schema::Tlp::RED},
  };
  return ids;
}

const char* tlp2_id(schema::Tlp tlp) {
  switch (tlp) {
    case schema::Tlp::CLEAR:
      return "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
    case schema::Tlp::GREEN:
      return "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
    case schema::Tlp::AMBER:
      return "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
    case schema::Tlp::AMBER_STRICT:
      return "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
    case schema::Tlp::RED:
      return "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
    case schema::Tlp::UNMARKED:
      return nullptr;
  }
  return nullptr;
}

struct Fail {
  Status status;
};
[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw Fail{malformed(where + ": " + what)};
}

std::string_view str(element e, const std::string& where, const char* what) {
  std::string_view v;
  if (e.get_string().get(v) != simdjson::SUCCESS)
    fail(where, std::string(what) + " must be a string");
  return v;
}

// Reading is strict: a member is either absent (simdjson NO_SUCH_FIELD) or present with the
// type its reader asks for. Present with any other type refuses the object, naming the field;
// it is never read as "absent", so nothing present falls back to a default label.
std::optional<element> member(object o, std::string_view key, const std::string& where) {
  element e;
  const auto err = o.at_key(key).get(e);
  if (err == simdjson::NO_SUCH_FIELD) return std::nullopt;
  if (err != simdjson::SUCCESS) fail(where, std::string(key) + ": " + simdjson::error_message(err));
  return e;
}

object as_object(element e, const std::string& where, std::string_view what) {
  object o;
  if (e.get_object().get(o) != simdjson::SUCCESS)
    fail(where, std::string(what) + " must be an object");
  return o;
}

array as_array(element e, const std::string& where, std::string_view what) {
  array a;
  if (e.get_array().get(a) != simdjson::SUCCESS)
    fail(where, std::string(what) + " must be an array");
  return a;
}

std::optional<std::string_view> opt_string(object o, std::string_view key,
                                           const std::string& where) {
  auto e = member(o, key, where);
  if (!e) return std::nullopt;
  return str(*e, where, std::string(key).c_str());
}

std::optional<object> opt_object(object o, std::string_view key, const std::string& where) {
  auto e = member(o, key, where);
  if (!e) return std::nullopt;
  return as_object(*e, where, key);
}

std::optional<array> opt_array(object o, std::string_view key, const std::string& where) {
  auto e = member(o, key, where);
  if (!e) return std::nullopt;
  return as_array(*e, where, key);
}

// A STIX 2.1 timestamp (§3.2), as ns since the epoch; the date must exist.
std::int64_t timestamp(std::string_view text, const std::string& where, std::string_view what) {
  auto t = wire::parse_stix_timestamp(text);
  if (!t.ok())
    fail(where, std::string(what) + " '" + json_escape(text.substr(0, 40)) +
                    "' is not a STIX timestamp (" + t.status().reason() + ")");
  return *t;
}

// --- Labels ---------------------------------------------------------------------------------

void add_sorted(std::vector<std::string>& into, const std::vector<std::string>& more) {
  into.insert(into.end(), more.begin(), more.end());
  std::sort(into.begin(), into.end());
  into.erase(std::unique(into.begin(), into.end()), into.end());
}

// Raises `a` by `b`: the result is at least as restrictive as both.
void raise(LabelSpec& a, const LabelSpec& b) {
  a.classification = std::max(a.classification, b.classification);
  add_sorted(a.restrictive, b.restrictive);
  add_sorted(a.caveats, b.caveats);
  if (!b.rel_to.empty()) {
    if (a.rel_to.empty()) {
      a.rel_to = b.rel_to;
    } else {
      std::vector<std::string> both;
      std::set_intersection(a.rel_to.begin(), a.rel_to.end(), b.rel_to.begin(), b.rel_to.end(),
                            std::back_inserter(both));
      // Disjoint REL TO lists leave nobody entitled; keep the marker that says so.
      a.rel_to = both.empty() ? std::vector<std::string>{"NONE"} : both;
    }
  }
  if (static_cast<unsigned>(b.tlp) > static_cast<unsigned>(a.tlp)) a.tlp = b.tlp;
}

void set_list(capnp::List<capnp::Text>::Builder list, const std::vector<std::string>& values) {
  for (unsigned i = 0; i < values.size(); ++i) list.set(i, values[i]);
}

void fill_label(schema::Label::Builder l, const std::string& policy_id, const LabelSpec& s) {
  l.setPolicyId(policy_id);
  l.setClassification(s.classification);
  if (!s.restrictive.empty())
    set_list(l.initRestrictive(static_cast<unsigned>(s.restrictive.size())), s.restrictive);
  if (!s.rel_to.empty())
    set_list(l.initPermissive(static_cast<unsigned>(s.rel_to.size())), s.rel_to);
  if (!s.caveats.empty())
    set_list(l.initCaveats(static_cast<unsigned>(s.caveats.size())), s.caveats);
  l.setTlp(s.tlp);
}

struct Marking {
  enum class Kind { tlp, cellgate, statement } kind;
  LabelSpec label;
  std::string statement;
};

std::vector<std::string> names(element e, const std::string& where, const char* what) {
  array a;
  if (e.get_array().get(a) != simdjson::SUCCESS)
    fail(where, std::string(what) + " must be an array");
  std::vector<std::string> out;
  for (element v : a) {
    std::string n(str(v, where, what));
    if (!wire::is_clean_name(n)) fail(where, std::string(what) + " holds an invalid name");
    out.push_back(std::move(n));
    if (out.size() > limits::categories_per_label_max)
      fail(where, std::string(what) + ": too many");
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

constexpr const char* tlp2_extension_id =
    "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

// The properties a marking definition may have (STIX 2.1 §7.2.1). Anything else refuses it:
// an unread property could be a marking this reader does not understand.
bool marking_property(std::string_view key) {
  static constexpr std::array<std::string_view, 12> known = {"type",
                                                             "spec_version",
                                                             "id",
                                                             "created",
                                                             "created_by_ref",
                                                             "external_references",
                                                             "object_marking_refs",
                                                             "granular_markings",
                                                             "definition_type",
                                                             "definition",
                                                             "name",
                                                             "extensions"};
  return std::find(known.begin(), known.end(), key) != known.end();
}

// A TLP marking definition (1.0 by definition_type "tlp", 2.0 by its extension) must be the
// published one: its id, colour and name agree, or it is refused.
Marking read_tlp(std::string_view id, std::string_view colour, std::optional<std::string_view> name,
                 bool v2, const std::string& where) {
  auto known = tlp_ids().find(id);
  if (known == tlp_ids().end())
    fail(where, "TLP marking definition with an id that is not a published TLP id");
  static const std::map<std::string_view, schema::Tlp> v1_colours = {{"white", schema::Tlp::CLEAR},
                                                                     {"green", schema::Tlp::GREEN},
                                                                     {"amber", schema::Tlp::AMBER},
                                                                     {"red", schema::Tlp::RED}};
  static const std::map<std::string_view, schema::Tlp> v2_colours = {
      {"clear", schema::Tlp::CLEAR},
      {"green", schema::Tlp::GREEN},
      {"amber", schema::Tlp::AMBER},
      {"amber+strict", schema::Tlp::AMBER_STRICT},
      {"red", schema::Tlp::RED}};
  const auto& colours = v2 ? v2_colours : v1_colours;
  auto c = colours.find(colour);
  if (c == colours.end())
    fail(where, "TLP colour '" + json_escape(colour.substr(0, 32)) + "' is not a TLP colour");
  const bool id_is_v2 =
      std::string_view(tlp2_id(known->second) ? tlp2_id(known->second) : "") == id;
  if (c->second != known->second || id_is_v2 != v2) {
    fail(where, "TLP marking definition says '" + json_escape(colour) +
                    "' but its id names another TLP marking");
  }
  if (name && *name != "TLP:" + upper(colour)) {
    fail(where, "name '" + json_escape(name->substr(0, 32)) + "' disagrees with the TLP colour");
  }
  return {Marking::Kind::tlp, {}, {}};
}

Marking read_cellgate(object ext, const std::string& where, const Options& options) {
  Marking m{Marking::Kind::cellgate, {}, {}};
  bool have_type = false;
  for (auto [key, value] : ext) {
    if (key == "extension_type") {
      if (str(value, where, "extension_type") != "property-extension") {
        fail(where, "cellgate extension: extension_type must be property-extension");
      }
      have_type = true;
    } else if (key == "classification") {
      std::string_view level = str(value, where, "classification");
      auto it = std::find(options.levels.begin(), options.levels.end(), level);
      if (it == options.levels.end()) {
        fail(where, "classification '" + json_escape(level.substr(0, 64)) +
                        "' is not a level of policy " + options.policy_id);
      }
      m.label.classification = static_cast<std::uint8_t>(it - options.levels.begin());
    } else if (key == "restrictive") {
      m.label.restrictive = names(value, where, "restrictive");
    } else if (key == "rel_to") {
      m.label.rel_to = names(value, where, "rel_to");
    } else if (key == "caveats") {
      m.label.caveats = names(value, where, "caveats");
    } else {
      fail(where,
           "unknown cellgate marking field '" + json_escape(std::string(key).substr(0, 64)) + "'");
    }
  }
  if (!have_type) fail(where, "cellgate extension without extension_type");
  return m;
}

// One marking definition, read completely. Its parts must agree: a definition_type with an
// extension, a definition without a definition_type, two extensions, or a TLP id defined as
// anything but that TLP marking is refused.
Marking read_marking(object o, std::string_view id, const std::string& where,
                     const Options& options) {
  for (auto [key, value] : o) {
    if (!marking_property(key)) {
      fail(where, "unknown marking definition property '" +
                      json_escape(std::string(key).substr(0, 64)) + "'");
    }
  }
  if (auto spec = opt_string(o, "spec_version", where); spec && *spec != "2.1") {
    fail(where, "spec_version must be 2.1");
  }
  if (auto created = opt_string(o, "created", where)) (void)timestamp(*created, where, "created");
  const auto name = opt_string(o, "name", where);
  const auto type = opt_string(o, "definition_type", where);
  const auto definition = member(o, "definition", where);
  const auto extensions = opt_object(o, "extensions", where);
  if (type) {
    if (extensions) {
      fail(where, "definition_type '" + json_escape(type->substr(0, 64)) +
                      "' together with extensions: the marking's parts disagree");
    }
    if (!definition) fail(where, "definition_type without definition");
    object d = as_object(*definition, where, "definition");
    if (d.size() != 1) fail(where, "definition must hold exactly one property");
    if (*type == "statement") {
      if (tlp_ids().count(id)) fail(where, "a TLP id defined as a statement");
      auto text = opt_string(d, "statement", where);
      if (!text) fail(where, "statement marking without definition.statement");
      return {Marking::Kind::statement, {}, std::string(*text)};
    }
    if (*type == "tlp") {
      auto colour = opt_string(d, "tlp", where);
      if (!colour) fail(where, "TLP marking without definition.tlp");
      return read_tlp(id, *colour, name, false, where);
    }
    fail(where, "unsupported definition_type '" + json_escape(type->substr(0, 64)) + "'");
  }
  if (definition) fail(where, "definition without definition_type");
  if (!extensions)
    fail(where, "marking definition of an unsupported kind (no definition_type, no extensions)");
  if (extensions->size() != 1) fail(where, "marking definition must carry exactly one extension");
  auto [ext_id, ext_value] = *extensions->begin();
  object ext = as_object(ext_value, where, "extensions." + std::string(ext_id));
  if (ext_id == cellgate_extension_id) {
    if (tlp_ids().count(id)) fail(where, "a TLP id defined as a cellgate marking");
    return read_cellgate(ext, where, options);
  }
  if (ext_id == tlp2_extension_id) {
    std::optional<std::string_view> colour;
    for (auto [key, value] : ext) {
      if (key == "extension_type") {
        if (str(value, where, "extension_type") != "property-extension") {
          fail(where, "TLP 2.0 extension: extension_type must be property-extension");
        }
      } else if (key == "tlp_2_0") {
        colour = str(value, where, "tlp_2_0");
      } else {
        fail(where, "unknown TLP 2.0 field '" + json_escape(std::string(key).substr(0, 64)) + "'");
      }
    }
    if (!colour) fail(where, "TLP 2.0 marking without tlp_2_0");
    return read_tlp(id, *colour, name, true, where);
  }
  fail(where, "marking definition with an unsupported extension '" +
                  json_escape(std::string(ext_id).substr(0, 100)) + "'");
}

// --- Mapping one object --------------------------------------------------------------------

struct Context {
  const Options& options;
  std::map<std::string, Marking> markings;  // defined in the bundle, by id
};

// Applies the marking `ref` to `label`; statements are collected separately.
void apply_marking(const Context& ctx, std::string_view ref, LabelSpec& label,
                   std::vector<std::string>& statements, const std::string& where) {
  auto tlp = tlp_ids().find(ref);
  if (tlp != tlp_ids().end()) {
    LabelSpec t;
    t.tlp = tlp->second;
    raise(label, t);
    return;
  }
  auto it = ctx.markings.find(std::string(ref));
  if (it == ctx.markings.end()) {
    fail(where,
         "unknown marking " + json_escape(ref.substr(0, 100)) + " (not defined in the bundle)");
  }
  switch (it->second.kind) {
    case Marking::Kind::cellgate:
      raise(label, it->second.label);
      return;
    case Marking::Kind::statement:
      statements.push_back(it->second.statement);
      return;
    case Marking::Kind::tlp:
      fail(where,
           "TLP marking " + std::string(ref) + " is not one of the published TLP definitions");
  }
}

crypto::Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// One version of one object: STIX versions an object by (id, modified), so a newer version is
// a new item, while the same version sent twice (by a retry, or by two bundles that both
// carry it) is the same item and the gateway's inbox takes it once.
std::array<std::uint8_t, 16> item_id_for(std::string_view stix_id, std::string_view modified) {
  std::array<std::uint8_t, 16> id{};
  const std::uint8_t sep = 0;
  const crypto::Bytes parts[] = {as_bytes(stix_id), {&sep, 1}, as_bytes(modified)};
  crypto::blake2b(std::span(parts).first(modified.empty() ? 1 : 3), id);
  return id;
}

bool valid_stix_id(std::string_view id, std::string_view type) {
  if (id.size() != type.size() + 2 + 36 || id.substr(0, type.size()) != type ||
      id.substr(type.size(), 2) != "--") {
    return false;
  }
  std::string_view uuid = id.substr(type.size() + 2);
  for (std::size_t i = 0; i < uuid.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const char c = uuid[i];
    // RFC 4122: hex digits are case-insensitive on input (an OASIS sample uses upper case).
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (dash ? c != '-' : !hex) return false;
  }
  return true;
}

bool is_observable(std::string_view type) {
  static const std::set<std::string_view> observables = {"artifact",
                                                         "autonomous-system",
                                                         "directory",
                                                         "domain-name",
                                                         "email-addr",
                                                         "email-message",
                                                         "file",
                                                         "ipv4-addr",
                                                         "ipv6-addr",
                                                         "mac-addr",
                                                         "mutex",
                                                         "network-traffic",
                                                         "process",
                                                         "software",
                                                         "url",
                                                         "user-account",
                                                         "windows-registry-key",
                                                         "x509-certificate"};
  return observables.count(type) > 0;
}

// Common properties (STIX 2.1 §3.2) whose shape is fixed: present with another shape refuses
// the object. `labels` and `confidence` are label-like, so a wrong shape must not pass as data.
void check_common_properties(object o, const std::string& where) {
  if (auto labels = opt_array(o, "labels", where)) {
    for (element l : *labels) (void)str(l, where, "labels");
  }
  if (auto c = member(o, "confidence", where)) {
    std::int64_t v;
    if (c->get_int64().get(v) != simdjson::SUCCESS || v < 0 || v > 100) {
      fail(where, "confidence must be an integer 0-100");
    }
  }
  (void)opt_string(o, "lang", where);
  (void)opt_string(o, "created_by_ref", where);
  if (auto r = member(o, "revoked", where)) {
    bool b;
    if (r->get_bool().get(b) != simdjson::SUCCESS) fail(where, "revoked must be true or false");
  }
  if (auto refs = opt_array(o, "external_references", where)) {
    for (element r : *refs) (void)as_object(r, where, "external_references entry");
  }
  (void)opt_object(o, "extensions", where);
}

// Object-level markings: a list of marking ids, nothing else.
void read_object_markings(const Context& ctx, object o, const std::string& where, LabelSpec& label,
                          std::vector<std::string>& statements) {
  auto refs = opt_array(o, "object_marking_refs", where);
  if (!refs) return;
  for (element r : *refs)
    apply_marking(ctx, str(r, where, "object_marking_refs entry"), label, statements, where);
}

// Granular markings, by the top-level property each selector starts with. Each entry is an
// object with `selectors` (a non-empty list of strings) and exactly one of `marking_ref` (a
// marking id) or `lang` (a language tag: not a marking, but read completely all the same).
std::map<std::string, LabelSpec> read_granular_markings(const Context& ctx, object o,
                                                        const std::string& where) {
  std::map<std::string, LabelSpec> granular;
  auto gms = opt_array(o, "granular_markings", where);
  if (!gms) return granular;
  for (element entry : *gms) {
    object gm = as_object(entry, where, "granular_markings entry");
    for (auto [key, value] : gm) {
      if (key != "marking_ref" && key != "selectors" && key != "lang") {
        fail(where, "granular_markings entry: unknown field '" +
                        json_escape(std::string(key).substr(0, 64)) + "'");
      }
    }
    const auto ref = opt_string(gm, "marking_ref", where);
    const auto lang = opt_string(gm, "lang", where);
    if (ref.has_value() == lang.has_value()) {
      fail(where, "granular_markings entry must have exactly one of marking_ref, lang");
    }
    auto selectors = opt_array(gm, "selectors", where);
    if (!selectors || selectors->size() == 0) fail(where, "granular marking without selectors");
    for (element sel : *selectors) {
      std::string_view sv = str(sel, where, "selector");
      std::string_view top = sv.substr(0, sv.find_first_of(".["));
      if (top.empty() || !member(o, top, where)) {
        fail(where, "selector '" + json_escape(sv.substr(0, 100)) + "' selects nothing");
      }
      if (!ref) continue;
      LabelSpec& l = granular[std::string(top)];
      std::vector<std::string> ignored;
      apply_marking(ctx, *ref, l, ignored, where);
    }
  }
  return granular;
}

// Properties STIX 2.1 requires under a condition (the OASIS schemas' oneOf/anyOf): a malware
// family's name; a location's region, country or coordinates (with their precision); a
// malware analysis's result or analysed objects. Whenever present they are `required`
// portions, so that redacting one blocks the object instead of sending invalid STIX.
bool required_when_present(std::string_view type, std::string_view key) {
  static const std::map<std::string_view, std::set<std::string_view>> conditional = {
      {"malware", {"name"}},
      {"location", {"region", "country", "latitude", "longitude", "precision"}},
      {"malware-analysis", {"result", "analysis_sco_refs"}},
  };
  auto it = conditional.find(type);
  return it != conditional.end() && it->second.count(key) > 0;
}

wire::Message<schema::Item> map_object(const Context& ctx, object o) {
  auto type_v = opt_string(o, "type", "object");
  if (!type_v) fail("object", "no type");
  const std::string_view type = *type_v;
  auto sid_v = opt_string(o, "id", "object of type " + json_escape(type.substr(0, 64)));
  if (!sid_v || !valid_stix_id(*sid_v, type)) {
    fail("object of type " + json_escape(type.substr(0, 64)), "missing or invalid id");
  }
  const std::string_view sid = *sid_v;
  const std::string where = "object " + std::string(sid);
  auto known = known_types().find(type);
  if (known == known_types().end())
    fail(where, "type '" + json_escape(type.substr(0, 64)) + "' is not supported");
  // spec_version, created and modified are required on domain and relationship objects and
  // must be what STIX says they are; they are refused, not normalised, because the object is
  // passed on as it came and must stay valid STIX. Cyber-observables may omit spec_version
  // (2.1 is implied, and valid) and have no created or modified of their own.
  const bool observable = is_observable(type);
  const auto spec = opt_string(o, "spec_version", where);
  if (!spec && !observable) fail(where, "spec_version missing (required: 2.1)");
  if (spec && *spec != "2.1") fail(where, "spec_version must be 2.1");
  const auto created_text = opt_string(o, "created", where);
  const auto modified_text = opt_string(o, "modified", where);
  if (!observable && !created_text) fail(where, "created missing");
  if (!observable && !modified_text) fail(where, "modified missing");
  std::int64_t created = ctx.options.now_ns;
  if (created_text) created = timestamp(*created_text, where, "created");
  if (modified_text) {
    const std::int64_t modified = timestamp(*modified_text, where, "modified");
    if (created_text && modified < created) fail(where, "modified is before created");
  }
  check_common_properties(o, where);

  // Object-level label.
  LabelSpec object_label = ctx.options.default_label;
  std::vector<std::string> statements;
  read_object_markings(ctx, o, where, object_label, statements);
  // Granular markings by top-level property.
  const std::map<std::string, LabelSpec> granular = read_granular_markings(ctx, o, where);

  const std::string_view modified = modified_text.value_or(std::string_view{});
  capnp::MallocMessageBuilder message;
  auto item = message.initRoot<schema::Item>();
  auto id = item_id_for(sid, modified);
  item.setId(kj::arrayPtr(id.data(), id.size()));
  item.setSource(ctx.options.source);
  item.setKind(type == "incident" ? schema::Kind::INCIDENT : schema::Kind::INTELLIGENCE);
  item.setPrecedence(ctx.options.precedence);
  item.setCreated(created);
  if (auto valid_until = opt_string(o, "valid_until", where)) {
    const std::int64_t t = timestamp(*valid_until, where, "valid_until");
    if (t <= created)
      fail(where, "valid_until is not after created: the object has already expired");
    item.setExpires(t);
  }
  item.initTopics(1).set(0, std::string(type));

  // Portions: first the envelope, then one per property.
  std::vector<std::pair<std::string, std::string>> attrs;
  std::size_t portion_count = 1;
  for (auto [key, value] : o) {
    if (!is_envelope(key) && key != "object_marking_refs" && key != "granular_markings")
      ++portion_count;
  }
  if (portion_count == 1) fail(where, "has no properties to carry");
  if (portion_count > limits::portions_per_item_max) fail(where, "has too many properties");
  auto portions = item.initPortions(static_cast<unsigned>(portion_count));
  LabelSpec banner = object_label;
  // The envelope portion: what identifies the object, under the object's own markings (and
  // any granular marking that selects one of these properties). It is required: an object
  // that may not be identified to the destination does not cross at all. Kept out of the
  // attributes on purpose: attributes travel under the banner, which a granular marking on
  // one property raises, so they would be lost whenever any one property is redacted.
  std::string envelope = "{";
  LabelSpec envelope_label = object_label;
  for (std::string_view k : kEnvelope) {
    auto v = opt_string(o, k, where);
    if (!v) continue;
    if (envelope.size() > 1) envelope += ',';
    envelope += "\"" + std::string(k) + "\":\"" + json_escape(*v) + "\"";
    if (auto g = granular.find(std::string(k)); g != granular.end())
      raise(envelope_label, g->second);
  }
  envelope += "}";
  raise(banner, envelope_label);
  auto env = portions[0];
  fill_label(env.initLabel(), ctx.options.policy_id, envelope_label);
  env.setName(envelope_portion);
  env.setContentType("application/json");
  env.setBody(kj::arrayPtr(reinterpret_cast<const kj::byte*>(envelope.data()), envelope.size()));
  env.setRequired(true);
  unsigned pi = 1;
  for (auto [key, value] : o) {
    const std::string k(key);
    if (is_envelope(key) || key == "object_marking_refs" || key == "granular_markings") continue;
    if (!valid_property_name(k)) {
      fail(where,
           "property name '" + json_escape(k.substr(0, 64)) + "' is not a STIX property name");
    }
    auto p = portions[pi++];
    LabelSpec label = object_label;
    if (auto g = granular.find(k); g != granular.end()) raise(label, g->second);
    raise(banner, label);
    fill_label(p.initLabel(), ctx.options.policy_id, label);
    p.setName(k);
    std::string_view text;
    if (value.get_string().get(text) == simdjson::SUCCESS) {
      p.setContentType("text/plain");
      if (!text.empty())
        p.setBody(kj::arrayPtr(reinterpret_cast<const kj::byte*>(text.data()), text.size()));
    } else {
      p.setContentType("application/json");
      std::string raw = simdjson::minify(value);
      p.setBody(kj::arrayPtr(reinterpret_cast<const kj::byte*>(raw.data()), raw.size()));
    }
    const auto& required = known->second;
    p.setRequired(std::find(required.begin(), required.end(), key) != required.end() ||
                  required_when_present(type, key));
  }
  for (const auto& req : known->second) {
    if (!member(o, req, where)) fail(where, "required property '" + std::string(req) + "' missing");
  }
  for (const auto& s : statements) attrs.emplace_back("stix.statement", s);
  fill_label(item.initBanner(), ctx.options.policy_id, banner);
  if (!attrs.empty()) {
    auto a = item.initAttributes(static_cast<unsigned>(attrs.size()));
    for (unsigned i = 0; i < attrs.size(); ++i) {
      a[i].setName(attrs[i].first);
      a[i].setValue(attrs[i].second);
    }
  }
  Status valid = wire::validate_item(item.asReader());
  if (!valid.ok()) fail(where, valid.reason());
  return wire::canonical(item.asReader());
}

// --- Output --------------------------------------------------------------------------------

std::string uuid_from(std::span<const std::uint8_t> bytes16) {
  std::array<std::uint8_t, 16> u{};
  std::copy(bytes16.begin(), bytes16.begin() + 16, u.begin());
  u[6] = static_cast<std::uint8_t>((u[6] & 0x0f) | 0x50);  // version 5 (name-based)
  u[8] = static_cast<std::uint8_t>((u[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string h = to_hex(u);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

// The published TLP 2.0 marking definition object (OASIS TLP 2.0 extension), so that a bundle
// holds every marking it references.
std::string tlp2_definition(schema::Tlp tlp) {
  static const std::map<schema::Tlp, std::string_view> colours = {
      {schema::Tlp::CLEAR, "clear"},
      {schema::Tlp::GREEN, "green"},
      {schema::Tlp::AMBER, "amber"},
      {schema::Tlp::AMBER_STRICT, "amber+strict"},
      {schema::Tlp::RED, "red"}};
  const std::string_view colour = colours.at(tlp);
  return std::string("{\"type\":\"marking-definition\",\"spec_version\":\"2.1\",\"id\":\"") +
         tlp2_id(tlp) +
         "\",\"created\":\"2022-10-01T00:00:00.000Z\",\"name\":\"TLP:" + upper(colour) +
         "\",\"extensions\":{\"" + tlp2_extension_id +
         "\":{\"extension_type\":\"property-extension\",\"tlp_2_0\":\"" + std::string(colour) +
         "\"}}}";
}

void append_names(std::string& out, const char* key, capnp::List<capnp::Text>::Reader list) {
  if (list.size() == 0) return;
  out += std::string(",\"") + key + "\":[";
  for (unsigned i = 0; i < list.size(); ++i) {
    if (i) out += ',';
    out += "\"" + json_escape(wire::view(list[i])) + "\"";
  }
  out += "]";
}

}  // namespace

Result<Mapped> to_items(std::string_view json, const Options& options) {
  if (json.size() > bundle_bytes_max) {
    return malformed("stix: " + std::to_string(json.size()) + " bytes exceeds the limit of " +
                     std::to_string(bundle_bytes_max));
  }
  if (options.levels.empty() || options.levels.size() > limits::classification_levels_max ||
      options.default_label.classification >= options.levels.size()) {
    return malformed("stix: the labelling policy's levels are not configured");
  }
  simdjson::dom::parser parser(bundle_bytes_max + 1);
  if (parser.allocate(json.size() + 1, limits::stix_json_depth_max) != simdjson::SUCCESS) {
    return malformed("stix: cannot allocate parser");
  }
  simdjson::padded_string padded(json);
  element root;
  if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    return malformed(std::string("stix: ") + simdjson::error_message(err));
  }
  try {
    std::vector<object> objects;
    object top = as_object(root, "stix", "the document");
    auto type = opt_string(top, "type", "stix");
    if (!type) fail("stix", "no type");
    if (*type == "bundle") {
      (void)opt_string(top, "id", "bundle");
      (void)opt_string(top, "spec_version", "bundle");
      for (auto [key, value] : top) {
        if (key != "type" && key != "id" && key != "objects" && key != "spec_version") {
          fail("bundle", "unknown property '" + json_escape(std::string(key).substr(0, 64)) + "'");
        }
      }
      auto list = opt_array(top, "objects", "bundle");
      if (!list) fail("bundle", "no objects array");
      std::size_t i = 0;
      for (element e : *list) {
        object o = as_object(e, "bundle", "objects[" + std::to_string(i) + "]");
        // Duplicate keys and NUL, checked object by object so that the error names the object.
        std::string_view oid;
        const std::string name = o["id"].get_string().get(oid) == simdjson::SUCCESS
                                     ? "object " + json_escape(oid.substr(0, 100))
                                     : "bundle.objects[" + std::to_string(i) + "]";
        if (Status st = wire::check_json_tree(e, name, false); !st.ok()) throw Fail{st};
        objects.push_back(o);
        if (objects.size() > objects_per_bundle_max) fail("bundle", "too many objects");
        ++i;
      }
    }
    // The whole document too (the bundle's own keys; a single object).
    std::string_view top_id;
    const std::string doc = *type == "bundle" ? "bundle"
                            : top["id"].get_string().get(top_id) == simdjson::SUCCESS
                                ? "object " + json_escape(top_id.substr(0, 100))
                                : "object";
    if (Status st = wire::check_json_tree(root, doc, false); !st.ok()) throw Fail{st};
    if (*type != "bundle") objects.push_back(top);
    Context ctx{options, {}};
    Mapped out;
    for (object o : objects) {
      auto t = opt_string(o, "type", "object");
      if (!t) fail("object", "no type");
      if (*t == "marking-definition") {
        auto id = opt_string(o, "id", "marking-definition");
        if (!id || !valid_stix_id(*id, *t)) fail("marking-definition", "missing or invalid id");
        const std::string where = "object " + std::string(*id);
        if (!ctx.markings.emplace(std::string(*id), read_marking(o, *id, where, options)).second) {
          fail(where, "defined twice in the bundle");
        }
        ++out.marking_definitions;
      } else if (*t == "extension-definition") {
        ++out.marking_definitions;  // describes an extension; nothing to carry
      }
    }
    for (object o : objects) {
      std::string_view t = *opt_string(o, "type", "object");
      if (t == "marking-definition" || t == "extension-definition") continue;
      out.items.push_back(map_object(ctx, o));
    }
    if (out.items.empty()) fail("stix", "no objects to carry");
    return out;
  } catch (const Fail& f) {
    return malformed("stix: " + f.status.reason());
  } catch (const kj::Exception& e) {
    return malformed("stix: " + std::string(e.getDescription().cStr()));
  }
}

Result<std::vector<std::string>> from_item(schema::Item::Reader item,
                                           const std::vector<std::string>& levels) {
  auto portions = item.getPortions();
  if (portions.size() == 0 || wire::view(portions[0].getName()) != envelope_portion) {
    return malformed("stix: item did not come from STIX (no " + std::string(envelope_portion) +
                     " portion)");
  }
  simdjson::dom::parser parser;
  auto body_of = [](schema::Portion::Reader p) {
    return std::string_view(reinterpret_cast<const char*>(p.getBody().begin()), p.getBody().size());
  };
  simdjson::padded_string envelope_text(body_of(portions[0]));
  element envelope_root;
  object envelope;
  if (parser.parse(envelope_text).get(envelope_root) != simdjson::SUCCESS ||
      envelope_root.get_object().get(envelope) != simdjson::SUCCESS) {
    return malformed("stix: the envelope portion is not a JSON object");
  }
  if (Status st =
          wire::check_json_tree(envelope_root, "stix: " + std::string(envelope_portion), false);
      !st.ok()) {
    return st;
  }
  std::map<std::string, std::string> fields;
  for (auto [key, value] : envelope) {
    std::string_view v;
    if (!is_envelope(key) || value.get_string().get(v) != simdjson::SUCCESS) {
      return malformed("stix: the envelope portion holds an unexpected property");
    }
    fields[std::string(key)] = std::string(v);
  }
  if (!fields.count("type") || !fields.count("id")) {
    return malformed("stix: the envelope portion has no type or id");
  }
  std::string obj = "{\"type\":\"" + json_escape(fields["type"]) + "\",\"id\":\"" +
                    json_escape(fields["id"]) + "\"";
  // spec_version as it came in (optional on cyber-observables, where 2.1 is implied).
  for (const char* k : {"spec_version", "created", "modified"}) {
    if (fields.count(k)) obj += std::string(",\"") + k + "\":\"" + json_escape(fields[k]) + "\"";
  }
  // A portion may not be named like a property this function writes itself (the envelope's,
  // the markings'), nor like another portion: the object would have a key twice.
  std::set<std::string_view> written = {"type",
                                        "id",
                                        "spec_version",
                                        "created",
                                        "modified",
                                        "object_marking_refs",
                                        "granular_markings"};
  for (unsigned i = 1; i < portions.size(); ++i) {
    auto p = portions[i];
    if (!valid_property_name(wire::view(p.getName()))) {
      return malformed("stix: portion '" + json_escape(wire::view(p.getName()).substr(0, 64)) +
                       "' is not a STIX property");
    }
    if (!written.insert(wire::view(p.getName())).second) {
      return malformed("stix: portion '" + std::string(wire::view(p.getName())) +
                       "' would write the object's key '" + std::string(wire::view(p.getName())) +
                       "' twice");
    }
    std::string_view body = body_of(p);
    obj += ",\"" + std::string(wire::view(p.getName())) + "\":";
    if (wire::view(p.getContentType()) == "text/plain") {
      obj += "\"" + json_escape(body) + "\"";
    } else {
      simdjson::padded_string padded(body);
      element e;
      if (parser.parse(padded).get(e) != simdjson::SUCCESS) {
        return malformed("stix: property " + std::string(wire::view(p.getName())) + " is not JSON");
      }
      if (Status st =
              wire::check_json_tree(e, "stix: " + std::string(wire::view(p.getName())), false);
          !st.ok()) {
        return st;
      }
      obj += simdjson::minify(e);
    }
  }
  // Markings: exactly what the item was released under.
  auto banner = item.getBanner();
  std::vector<std::string> refs, extra;
  if (const char* tlp = tlp2_id(banner.getTlp())) {
    refs.emplace_back(tlp);
    extra.push_back(tlp2_definition(banner.getTlp()));
  }
  const bool has_cellgate = banner.getClassification() > 0 || banner.getRestrictive().size() > 0 ||
                            banner.getPermissive().size() > 0 || banner.getCaveats().size() > 0;
  if (has_cellgate) {
    if (banner.getClassification() >= levels.size())
      return malformed("stix: classification beyond the levels");
    std::string ext = "{\"extension_type\":\"property-extension\",\"classification\":\"" +
                      json_escape(levels[banner.getClassification()]) + "\"";
    append_names(ext, "restrictive", banner.getRestrictive());
    append_names(ext, "rel_to", banner.getPermissive());
    append_names(ext, "caveats", banner.getCaveats());
    ext += "}";
    std::array<std::uint8_t, 16> digest{};
    const crypto::Bytes parts[] = {as_bytes(ext)};
    crypto::blake2b(parts, digest);
    const std::string id = "marking-definition--" + uuid_from(digest);
    refs.push_back(id);
    extra.push_back(
        "{\"type\":\"marking-definition\",\"spec_version\":\"2.1\",\"id\":\"" + id +
        "\",\"created\":\"2026-01-01T00:00:00.000Z\",\"name\":\"cellgate release label\","
        "\"extensions\":{\"" +
        cellgate_extension_id + "\":" + ext + "}}");
  }
  if (!refs.empty()) {
    obj += ",\"object_marking_refs\":[";
    for (std::size_t i = 0; i < refs.size(); ++i) obj += (i ? ",\"" : "\"") + refs[i] + "\"";
    obj += "]";
  }
  obj += "}";
  std::vector<std::string> out = {std::move(obj)};
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::string random_bundle_id() {
  std::array<std::uint8_t, 16> u{};
  crypto::random_bytes(u);
  u[6] = static_cast<std::uint8_t>((u[6] & 0x0f) | 0x40);  // version 4 (random)
  u[8] = static_cast<std::uint8_t>((u[8] & 0x3f) | 0x80);  // RFC 4122 variant
  const std::string h = to_hex(u);
  return "bundle--" + h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
         h.substr(16, 4) + "-" + h.substr(20);
}

std::string bundle(const std::vector<std::string>& objects, std::string_view bundle_id) {
  std::set<std::string> seen;
  std::string out = "{\"type\":\"bundle\",\"id\":\"" + std::string(bundle_id) + "\",\"objects\":[";
  bool first = true;
  for (const auto& o : objects) {
    if (!seen.insert(o).second) continue;  // identical marking definitions appear once
    if (!first) out += ',';
    first = false;
    out += o;
  }
  return out + "]}";
}

}  // namespace cg::stix
