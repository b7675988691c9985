// STIX 2.1 ⇄ items, over every OASIS sample bundle in tests/data/stix.
#include "gateway/stix/stix.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace cg::stix {
namespace {

Options options() {
  Options o;
  o.source = "il-cti-1";
  o.policy_id = "cell-2026";
  o.levels = {"UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET"};
  o.now_ns = 1'790'000'000'000'000'000;
  return o;
}

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Structural JSON equality (object key order ignored).
bool same(simdjson::dom::element a, simdjson::dom::element b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object oa = a, ob = b;
      if (oa.size() != ob.size()) return false;
      for (auto [k, v] : oa) {
        simdjson::dom::element other;
        if (ob[k].get(other) != simdjson::SUCCESS || !same(v, other)) return false;
      }
      return true;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array aa = a, ab = b;
      if (aa.size() != ab.size()) return false;
      auto ib = ab.begin();
      for (auto ia = aa.begin(); ia != aa.end(); ++ia, ++ib) {
        if (!same(*ia, *ib)) return false;
      }
      return true;
    }
    default:
      return simdjson::minify(a) == simdjson::minify(b);
  }
}

std::vector<std::filesystem::path> samples() {
  std::vector<std::filesystem::path> out;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(CG_TEST_DATA_DIR) + "/stix")) {
    if (e.path().extension() == ".json") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Stix, EveryOasisSampleRoundTripsOrIsRefusedWithTheObjectNamed) {
  auto files = samples();
  ASSERT_EQ(files.size(), 6u);
  std::size_t round_tripped = 0;
  for (const auto& f : files) {
    const std::string text = read(f);
    auto mapped = to_items(text, options());
    if (f.filename() == "interop-objectmarking-test.json") {
      // Its second marking reference is not a defined marking: refused, never guessed.
      ASSERT_FALSE(mapped.ok());
      EXPECT_EQ(
          mapped.status().reason(),
          "stix: object campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061: unknown marking "
          "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ec (not defined in the bundle)");
      continue;
    }
    ASSERT_TRUE(mapped.ok()) << f << ": " << mapped.status().to_string();
    simdjson::dom::parser parser;
    simdjson::dom::element original = parser.parse(text);
    simdjson::dom::array originals = original["objects"];
    ASSERT_EQ(mapped->items.size(), originals.size()) << f;
    std::size_t i = 0;
    for (simdjson::dom::element o : originals) {
      auto objects = from_item(mapped->items[i++].root(), options().levels);
      ASSERT_TRUE(objects.ok()) << objects.status().to_string();
      ASSERT_EQ(objects->size(), 1u);  // unmarked: no marking definitions to add
      simdjson::dom::parser p2;
      simdjson::dom::element back = p2.parse((*objects)[0]);
      EXPECT_TRUE(same(o, back)) << f << "\n" << simdjson::minify(o) << "\n" << (*objects)[0];
      ++round_tripped;
    }
  }
  EXPECT_EQ(round_tripped, 28u);  // every object of the five importable samples
}

const char* kMarked =
    R"({"type": "bundle", "id": "bundle--1d4f9b3a-5c1e-4e7a-9f0a-0c6a3f5e2b11", "objects": [
 {"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a001",
  "created": "2026-01-01T00:00:00.000Z",
  "extensions": {"extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21":
     {"extension_type": "property-extension", "classification": "SECRET", "rel_to": ["IL", "US"], "restrictive": ["OPS"]}}},
 {"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a002",
  "created": "2026-01-01T00:00:00.000Z", "definition_type": "statement", "definition": {"statement": "Copyright IL MoD"}},
 {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
  "created": "2026-11-20T10:00:00.000Z", "modified": "2026-11-20T10:00:00.000Z",
  "name": "C2 relay", "description": "Seen by RAVEN-3 over the northern sector.",
  "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix", "valid_from": "2026-11-20T10:00:00Z",
  "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
                          "marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a002"],
  "granular_markings": [{"marking_ref": "marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a001",
                         "selectors": ["description"]}]}
]})";

TEST(Stix, GranularMarkingsLabelTheirPropertyAlone) {
  auto mapped = to_items(kMarked, options());
  ASSERT_TRUE(mapped.ok()) << mapped.status().to_string();
  EXPECT_EQ(mapped->marking_definitions, 2u);
  ASSERT_EQ(mapped->items.size(), 1u);
  auto item = mapped->items[0].root();
  // The envelope comes first, required, under the object's markings alone: the SECRET
  // description raises the banner, not what identifies the object.
  auto envelope = item.getPortions()[0];
  EXPECT_EQ(std::string(envelope.getName().cStr()), envelope_portion);
  EXPECT_TRUE(envelope.getRequired());
  EXPECT_EQ(envelope.getLabel().getClassification(), 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(envelope.getBody().begin()),
                        envelope.getBody().size()),
            R"({"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",)"
            R"("spec_version":"2.1","created":"2026-11-20T10:00:00.000Z",)"
            R"("modified":"2026-11-20T10:00:00.000Z"})");
  bool saw_description = false;
  for (auto p : item.getPortions()) {
    auto l = p.getLabel();
    EXPECT_EQ(l.getTlp(), schema::Tlp::GREEN) << p.getName().cStr();  // object-level TLP
    if (std::string(p.getName().cStr()) == "description") {
      saw_description = true;
      EXPECT_EQ(l.getClassification(), 3);
      ASSERT_EQ(l.getPermissive().size(), 2u);
      EXPECT_EQ(std::string(l.getRestrictive()[0].cStr()), "OPS");
      EXPECT_FALSE(p.getRequired());
    } else {
      EXPECT_EQ(l.getClassification(), 0) << p.getName().cStr();
      EXPECT_EQ(l.getPermissive().size(), 0u);
    }
    if (std::string(p.getName().cStr()) == "pattern") EXPECT_TRUE(p.getRequired());
  }
  EXPECT_TRUE(saw_description);
  // The banner is the roll-up: SECRET, OPS, REL TO IL/US, TLP green.
  EXPECT_EQ(item.getBanner().getClassification(), 3);
  EXPECT_EQ(item.getBanner().getTlp(), schema::Tlp::GREEN);
  bool statement = false;
  ASSERT_EQ(item.getAttributes().size(), 1u);  // only the statement: identity is a portion
  for (auto a : item.getAttributes()) {
    if (std::string(a.getName().cStr()) == "stix.statement") {
      statement = true;
      EXPECT_EQ(std::string(a.getValue().cStr()), "Copyright IL MoD");
    }
  }
  EXPECT_TRUE(statement);
  // Out again: the object carries exactly its release markings, defined alongside.
  auto out = from_item(item, options().levels);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 3u);  // the object, the TLP 2.0 definition, the cellgate definition
  EXPECT_NE((*out)[1].find("\"tlp_2_0\":\"green\""), std::string::npos) << (*out)[1];
  EXPECT_NE((*out)[0].find("\"object_marking_refs\":[\"marking-definition--bab4a63c-aed9-4cf5-a766-"
                           "dfca5abac2bb\",\"marking-definition--"),
            std::string::npos)
      << (*out)[0];
  EXPECT_NE(
      (*out)[2].find(
          "\"classification\":\"SECRET\",\"restrictive\":[\"OPS\"],\"rel_to\":[\"IL\",\"US\"]"),
      std::string::npos)
      << (*out)[2];
  EXPECT_EQ((*out)[0].find("granular_markings"), std::string::npos);
  auto b = bundle(*out, "bundle--00000000-0000-4000-8000-000000000000");
  simdjson::dom::parser parser;
  simdjson::dom::element parsed;
  EXPECT_EQ(parser.parse(b).get(parsed), simdjson::SUCCESS) << b;
}

// A granular marking on an envelope property marks the envelope portion, and with it the
// whole object (it is required).
TEST(Stix, AGranularMarkingOnAnEnvelopePropertyMarksTheEnvelope) {
  std::string text = kMarked;
  const std::string sel = R"("selectors": ["description"])";
  text.replace(text.find(sel), sel.size(), R"("selectors": ["description", "created"])");
  auto mapped = to_items(text, options());
  ASSERT_TRUE(mapped.ok()) << mapped.status().to_string();
  auto envelope = mapped->items[0].root().getPortions()[0];
  EXPECT_EQ(envelope.getLabel().getClassification(), 3);
  EXPECT_EQ(envelope.getLabel().getRestrictive().size(), 1u);
}

// STIX versions an object by (id, modified): a new version is a new item; the same version
// from two bundles is the same item (the gateway's inbox takes it once).
TEST(Stix, ItemIdsNameOneVersionOfOneObject) {
  const std::string v1 =
      R"({"type": "campaign", "spec_version": "2.1", "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
          "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "x"})";
  std::string v2 = v1;
  v2.replace(v2.rfind("2026-01-01"), 10, "2026-02-01");
  auto a = to_items(v1, options()), b = to_items(v1, options()), c = to_items(v2, options());
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  auto id = [](const Result<Mapped>& m) {
    auto i = m->items[0].root().getId();
    return std::string(i.begin(), i.end());
  };
  EXPECT_EQ(id(a), id(b));
  EXPECT_NE(id(a), id(c));
}

TEST(Stix, MistakesNameTheObject) {
  struct Case {
    std::string json;
    const char* reason;
  } cases[] = {
      {R"({"type": "indicator", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "spec_version": "2.1", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "x", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"})",
       "stix: object indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: required property 'pattern' "
       "missing"},
      {R"({"type": "x-custom-thing", "id": "x-custom-thing--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "name": "x"})",
       "stix: object x-custom-thing--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: type 'x-custom-thing' "
       "is not supported"},
      {R"({"type": "campaign", "id": "campaign--nope", "name": "x"})",
       "stix: object of type campaign: missing or invalid id"},
      {R"({"type": "campaign", "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "spec_version": "2.0", "name": "x"})",
       "stix: object campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: spec_version must be 2.1"},
      {R"({"type": "campaign", "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "spec_version": "2.1", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "x", "granular_markings": [{"marking_ref": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "selectors": ["aliases"]}]})",
       "stix: object campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: selector 'aliases' selects "
       "nothing"},
      {R"({"type": "campaign", "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "spec_version": "2.1", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "x", "stix.envelope": "y"})",
       "stix: object campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: property name 'stix.envelope' "
       "is not a STIX property name"},
      {R"({"type": "bundle", "id": "bundle--1", "objects": []})",
       "stix: stix: no objects to carry"},
      {"[1,2", "stix: "},
  };
  for (const auto& c : cases) {
    auto r = to_items(c.json, options());
    ASSERT_FALSE(r.ok()) << c.reason;
    EXPECT_EQ(r.status().code(), Code::malformed);
    if (std::string_view(c.reason) == "stix: ") {
      EXPECT_EQ(r.status().reason().rfind("stix: ", 0), 0u);
    } else {
      EXPECT_EQ(r.status().reason(), c.reason);
    }
  }
}

// --- Fail closed at the STIX boundary (issue 15) ----------------------------------------------

constexpr const char* kRed1 = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
constexpr const char* kCampaignId = "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
const std::string kWhere = std::string("stix: object ") + kCampaignId + ": ";

// A campaign with `extra` properties appended (each starting with a comma).
std::string campaign(const std::string& extra) {
  return std::string(R"({"type": "campaign", "id": ")") + kCampaignId +
         R"(", "spec_version": "2.1", "created": "2026-01-01T00:00:00.000Z", )"
         R"("modified": "2026-01-01T00:00:00.000Z", "name": "Operation X")" +
         extra + "}";
}

// A bundle of `objects` (JSON texts, comma-separated).
std::string bundle_of(const std::string& objects) {
  return R"({"type": "bundle", "id": "bundle--1d4f9b3a-5c1e-4e7a-9f0a-0c6a3f5e2b11", "objects": [)" +
         objects + "]}";
}

const std::string kCellgateTopSecret =
    R"({"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a001",
        "created": "2026-01-01T00:00:00.000Z", "extensions": {"extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21":
        {"extension_type": "property-extension", "classification": "SECRET"}}})";

void expect_refused(const std::string& json, const std::string& reason_part) {
  auto r = to_items(json, options());
  ASSERT_FALSE(r.ok()) << "accepted: " << json;
  EXPECT_EQ(r.status().code(), Code::malformed);
  EXPECT_NE(r.status().reason().find(reason_part), std::string::npos)
      << r.status().reason() << "\n  expected to contain: " << reason_part;
}

TEST(StixBoundary, MarkingRefsOfTheWrongShapeAreRefusedNotSkipped) {
  // The issue's example: a string naming TLP:RED instead of a list.
  expect_refused(campaign(std::string(R"(, "object_marking_refs": ")") + kRed1 + "\""),
                 kWhere + "object_marking_refs must be an array");
  expect_refused(campaign(R"(, "object_marking_refs": {"a": 1})"),
                 kWhere + "object_marking_refs must be an array");
  expect_refused(campaign(R"(, "object_marking_refs": 7)"),
                 kWhere + "object_marking_refs must be an array");
  expect_refused(campaign(R"(, "object_marking_refs": null)"),
                 kWhere + "object_marking_refs must be an array");
  expect_refused(campaign(R"(, "object_marking_refs": [["x"]])"),
                 kWhere + "object_marking_refs entry must be a string");
  // granular_markings as an object (the issue's second example), and each entry's fields.
  expect_refused(campaign(std::string(R"(, "granular_markings": {"marking_ref": ")") + kRed1 +
                          R"(", "selectors": ["name"]})"),
                 kWhere + "granular_markings must be an array");
  expect_refused(campaign(R"(, "granular_markings": ["x"])"),
                 kWhere + "granular_markings entry must be an object");
  expect_refused(campaign(std::string(R"(, "granular_markings": [{"marking_ref": [")") + kRed1 +
                          R"("], "selectors": ["name"]}])"),
                 kWhere + "marking_ref must be a string");
  expect_refused(campaign(std::string(R"(, "granular_markings": [{"marking_ref": ")") + kRed1 +
                          R"(", "selectors": "name"}])"),
                 kWhere + "selectors must be an array");
  expect_refused(campaign(std::string(R"(, "granular_markings": [{"marking_ref": ")") + kRed1 +
                          R"(", "selectors": [1]}])"),
                 kWhere + "selector must be a string");
  expect_refused(campaign(std::string(R"(, "granular_markings": [{"marking_ref": ")") + kRed1 +
                          R"(", "selectors": []}])"),
                 kWhere + "granular marking without selectors");
  expect_refused(campaign(R"(, "granular_markings": [{"lang": 5, "selectors": ["name"]}])"),
                 kWhere + "lang must be a string");
  expect_refused(
      campaign(std::string(R"(, "granular_markings": [{"lang": "en", "marking_ref": ")") + kRed1 +
               R"(", "selectors": ["name"]}])"),
      kWhere + "granular_markings entry must have exactly one of marking_ref, lang");
  expect_refused(campaign(std::string(R"(, "granular_markings": [{"marking_ref": ")") + kRed1 +
                          R"(", "selectors": ["name"], "x": 1}])"),
                 kWhere + "granular_markings entry: unknown field 'x'");
  // Label-like common properties.
  expect_refused(campaign(R"(, "labels": "red")"), kWhere + "labels must be an array");
  expect_refused(campaign(R"(, "labels": [1])"), kWhere + "labels must be a string");
  expect_refused(campaign(R"(, "confidence": "high")"),
                 kWhere + "confidence must be an integer 0-100");
  expect_refused(campaign(R"(, "confidence": 101)"),
                 kWhere + "confidence must be an integer 0-100");
  expect_refused(campaign(R"(, "lang": ["en"])"), kWhere + "lang must be a string");
  expect_refused(campaign(R"(, "extensions": "x")"), kWhere + "extensions must be an object");
  expect_refused(campaign(R"(, "valid_until": 5)"), kWhere + "valid_until must be a string");
}

TEST(StixBoundary, AMarkingDefinitionWhosePartsDisagreeIsRefused) {
  // The issue's example: a statement that also carries the cellgate extension with a level.
  const std::string both =
      R"({"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a003",
          "created": "2026-01-01T00:00:00.000Z", "definition_type": "statement", "definition": {"statement": "Copyright"},
          "extensions": {"extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21":
          {"extension_type": "property-extension", "classification": "SECRET"}}})";
  const std::string use =
      R"(, "object_marking_refs": ["marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a003"])";
  expect_refused(bundle_of(both + "," + campaign(use)),
                 "stix: object marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a003: "
                 "definition_type 'statement' "
                 "together with extensions: the marking's parts disagree");
  // A TLP 1.0 id whose definition says another colour.
  expect_refused(
      bundle_of(
          std::string(R"({"type": "marking-definition", "spec_version": "2.1", "id": ")") + kRed1 +
          R"(", "created": "2017-01-20T00:00:00.000Z", "name": "TLP:WHITE", "definition_type": "tlp",)"
          R"( "definition": {"tlp": "white"}},)" +
          campaign(std::string(R"(, "object_marking_refs": [")") + kRed1 + "\"]")),
      "TLP marking definition says 'white' but its id names another TLP marking");
  // A TLP 2.0 id whose extension says another colour.
  expect_refused(
      bundle_of(
          R"({"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        "created": "2022-10-01T00:00:00.000Z", "name": "TLP:CLEAR", "extensions": {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
        {"extension_type": "property-extension", "tlp_2_0": "clear"}}},)" +
          campaign("")),
      "TLP marking definition says 'clear' but its id names another TLP marking");
  // A TLP id redefined as a statement or as a cellgate marking.
  expect_refused(
      bundle_of(
          std::string(R"({"type": "marking-definition", "spec_version": "2.1", "id": ")") + kRed1 +
          R"(", "created": "2017-01-20T00:00:00.000Z", "definition_type": "statement", "definition": {"statement": "ok"}},)" +
          campaign("")),
      "a TLP id defined as a statement");
  // Wrong-typed parts of a marking definition.
  for (
      const std::string& bad : {
          std::string(R"("definition_type": 5, "definition": {"statement": "x"})"),
          std::string(R"("definition_type": "statement", "definition": "x")"),
          std::string(R"("definition_type": "statement", "definition": {"statement": 1})"),
          std::string(
              R"("definition_type": "statement", "definition": {"statement": "x", "tlp": "red"})"),
          std::string(
              R"("definition": {"statement": "x"}, "extensions": {"extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21": {"extension_type": "property-extension"}})"),
          std::string(R"("extensions": ["x"])"),
          std::string(
              R"("extensions": {"extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21": "SECRET"})"),
          std::string(
              R"("extensions": {"extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21": {"classification": "SECRET"}})"),
          std::string(
              R"("extensions": {"extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21": {"extension_type": "property-extension", "classification": 3}})"),
          std::string(
              R"("extensions": {"extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21": {"extension_type": "property-extension", "rel_to": "IL"}})"),
          std::string(
              R"("extensions": {"extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21": {"extension_type": "property-extension"}, "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {"extension_type": "property-extension", "tlp_2_0": "red"}})"),
          std::string(
              R"("extensions": {"extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21": {"extension_type": "property-extension"}}, "x_level": "SECRET")"),
          std::string(
              R"("created": "2026-02-31T00:00:00Z", "definition_type": "statement", "definition": {"statement": "x"})"),
      }) {
    const std::string md =
        R"({"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a004", )" +
        bad + "}";
    expect_refused(
        bundle_of(
            md + "," +
            campaign(
                R"(, "object_marking_refs": ["marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a004"])")),
        "stix: object marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a004: ");
  }
  // One id defined twice (the second one could say something else).
  expect_refused(bundle_of(kCellgateTopSecret + "," + kCellgateTopSecret + "," + campaign("")),
                 "defined twice in the bundle");
}

TEST(StixBoundary, DuplicateKeysAreRefusedAtAnyDepth) {
  // The issue's example: CLEAR then RED; simdjson would find the first.
  expect_refused(
      campaign(
          R"(, "object_marking_refs": ["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"],)"
          R"( "object_marking_refs": ["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"])"),
      kWhere.substr(0, kWhere.size() - 2) + ": duplicate key 'object_marking_refs'");
  expect_refused(
      bundle_of(campaign(
          std::string(R"(, "granular_markings": [{"marking_ref": ")") + kRed1 +
          R"(", "marking_ref": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "selectors": ["name"]}])")),
      std::string("object ") + kCampaignId + ".granular_markings[0]: duplicate key 'marking_ref'");
  std::string md = kCellgateTopSecret;
  md.replace(md.find(R"("classification": "SECRET")"), 26,
             R"("classification": "SECRET", "classification": "UNCLASSIFIED")");
  expect_refused(
      bundle_of(md + "," + campaign("")),
      "object marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a001.extensions."
      "extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21: duplicate key 'classification'");
  expect_refused(campaign(R"(, "name": "Operation Y")"), "duplicate key 'name'");
  expect_refused(
      R"({"type": "bundle", "type": "bundle", "id": "bundle--1d4f9b3a-5c1e-4e7a-9f0a-0c6a3f5e2b11", "objects": [)" +
          campaign("") + "]}",
      "stix: bundle: duplicate key 'type'");
  expect_refused(campaign(R"(, "x_deep": {"a": [{"b": 1, "b": 2}]})"),
                 ".x_deep.a[0]: duplicate key 'b'");
}

TEST(StixBoundary, NulInAnyStringIsRefused) {
  expect_refused(campaign(R"(, "description": "SY\u0000XX")"), ".description: contains NUL");
  expect_refused(
      R"({"type": "campaign", "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "spec_version": "2.1",)"
      R"( "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "SY\u0000XX"})",
      ".name: contains NUL");
  expect_refused(campaign(R"(, "x_a\u0000b": "v")"), "a key contains NUL");
  std::string md = kCellgateTopSecret;
  md.replace(md.find(R"("classification": "SECRET")"), 26,
             R"("classification": "SECRET", "rel_to": ["SY\u0000XX"])");
  expect_refused(bundle_of(md + "," + campaign("")), "rel_to[0]: contains NUL");
}

TEST(StixBoundary, TimestampsMustBeRealStixTimestamps) {
  for (const char* bad : {"2026-02-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z",
                          "2026-01-01T23:60:00Z", "2025-02-29T00:00:00Z", "2026-01-01t00:00:00z",
                          "2026-01-01T00:00:00+00:00", "yesterday"}) {
    std::string c = campaign("");
    c.replace(c.find("2026-01-01T00:00:00.000Z"), 24, bad);  // created
    expect_refused(c, kWhere + "created '");
    c = campaign("");
    c.replace(c.rfind("2026-01-01T00:00:00.000Z"), 24, bad);  // modified
    expect_refused(c, kWhere + "modified '");
  }
  expect_refused(campaign(R"(, "valid_until": "2026-02-30T00:00:00Z")"), kWhere + "valid_until '");
  // 2024 is a leap year: Feb 29 exists.
  std::string leap = campaign("");
  leap.replace(leap.find("2026-01-01T00:00:00.000Z"), 24, "2024-02-29T00:00:00.000Z");
  EXPECT_TRUE(to_items(leap, options()).ok());
}

TEST(StixBoundary, DomainObjectsNeedSpecVersionCreatedAndModified) {
  const std::string full = campaign("");
  for (const char* key :
       {R"("spec_version": "2.1", )", R"("created": "2026-01-01T00:00:00.000Z", )",
        R"("modified": "2026-01-01T00:00:00.000Z", )"}) {
    std::string c = full;
    c.erase(c.find(key), std::string(key).size());
    expect_refused(c, kWhere);
  }
  std::string early = full;
  early.replace(early.rfind("2026-01-01"), 10, "2025-01-01");
  expect_refused(early, kWhere + "modified is before created");
  // Cyber-observables may omit spec_version (2.1 is implied).
  EXPECT_TRUE(
      to_items(
          R"({"type": "ipv4-addr", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.3"})",
          options())
          .ok());
}

TEST(StixBoundary, OutputIsValidStix) {
  // A referenced TLP 2.0 marking is included as an object, and the bundle id is a v4 UUID.
  auto mapped = to_items(
      campaign(
          R"(, "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"])"),
      options());
  ASSERT_TRUE(mapped.ok()) << mapped.status().to_string();
  auto out = from_item(mapped->items[0].root(), options().levels);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ(
      (*out)[1],
      R"({"type":"marking-definition","spec_version":"2.1","id":"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",)"
      R"("created":"2022-10-01T00:00:00.000Z","name":"TLP:GREEN","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":)"
      R"({"extension_type":"property-extension","tlp_2_0":"green"}}})");
  const std::string a = random_bundle_id(), b = random_bundle_id();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 8u + 36u);
  EXPECT_EQ(a.substr(0, 8), "bundle--");
  EXPECT_EQ(a[8 + 14], '4');                                          // version
  EXPECT_NE(std::string("89ab").find(a[8 + 19]), std::string::npos);  // variant
}

TEST(StixBoundary, PortionsNamedLikeStixKeysAreNotWrittenTwice) {
  auto mapped = to_items(campaign(""), options());
  ASSERT_TRUE(mapped.ok());
  for (const char* name : {"id", "type", "spec_version", "created", "modified",
                           "object_marking_refs", "granular_markings"}) {
    capnp::MallocMessageBuilder message;
    message.setRoot(mapped->items[0].root());
    auto item = message.getRoot<schema::Item>();
    item.getPortions()[1].setName(name);
    auto r = from_item(item.asReader(), options().levels);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.status().reason(), std::string("stix: portion '") + name +
                                       "' would write the object's key '" + name + "' twice");
  }
  // Two portions with one name.
  capnp::MallocMessageBuilder message;
  auto item = message.initRoot<schema::Item>();
  auto src = mapped->items[0].root();
  item.setId(src.getId());
  item.setBanner(src.getBanner());
  auto portions = item.initPortions(3);
  portions.setWithCaveats(0, src.getPortions()[0]);
  portions.setWithCaveats(1, src.getPortions()[1]);
  portions.setWithCaveats(2, src.getPortions()[1]);
  auto r = from_item(item.asReader(), options().levels);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "stix: portion 'name' would write the object's key 'name' twice");
}

// Class 10: every bundle that `tail --format stix` would write (from_item, then bundle with a
// fresh id: what print_stix does) for the OASIS samples and the adversarial cases this file
// accepts is valid against the OASIS STIX 2.1 JSON schemas (tests/stix/validate_bundles.py,
// offline, with Debian's python3-jsonschema).
TEST(StixBoundary, EveryEmittedBundleValidatesAgainstTheOasisSchemas) {
  std::vector<std::string> inputs;
  for (const auto& f : samples()) {
    if (f.filename() != "interop-objectmarking-test.json") inputs.push_back(read(f));
  }
  inputs.push_back(kMarked);
  inputs.push_back(campaign(
      R"(, "object_marking_refs": ["marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"])"));
  inputs.push_back(campaign(
      R"(, "object_marking_refs": ["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"], "labels": ["a"], "confidence": 50)"));
  inputs.push_back(bundle_of(
      kCellgateTopSecret + "," +
      campaign(
          R"(, "description": "d", "granular_markings": [{"marking_ref": "marking-definition--0b5d8c5e-2d61-4d77-8b1d-59d0d0e6a001", "selectors": ["description"]}, {"lang": "en", "selectors": ["name"]}])")));
  inputs.push_back(
      R"({"type": "ipv4-addr", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.3", "object_marking_refs": ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]})");
  const std::filesystem::path out =
      std::filesystem::path(::testing::TempDir()) / "stix_emitted_bundles.jsonl";
  std::ofstream file(out);
  std::size_t bundles = 0;
  for (const auto& in : inputs) {
    auto mapped = to_items(in, options());
    ASSERT_TRUE(mapped.ok()) << mapped.status().to_string() << "\n" << in;
    for (const auto& item : mapped->items) {
      auto objects = from_item(item.root(), options().levels);
      ASSERT_TRUE(objects.ok()) << objects.status().to_string();
      file << bundle(*objects, random_bundle_id()) << "\n";
      ++bundles;
    }
  }
  file.close();
  EXPECT_EQ(bundles, 33u);
  const std::string cmd = std::string("/usr/bin/python3 ") + CG_SOURCE_DIR +
                          "/tests/stix/validate_bundles.py " + CG_TEST_DATA_DIR +
                          "/stix2-json-schemas/schemas " + out.string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// A JSON portion or envelope with a duplicate key (an item not made by to_items) is not
// written out: the bundle would hold it twice.
TEST(StixBoundary, OutputRefusesDuplicateKeysInsideJsonPortions) {
  auto mapped = to_items(campaign(R"(, "aliases": ["a"])"), options());
  ASSERT_TRUE(mapped.ok()) << mapped.status().to_string();
  for (unsigned which : {0u, 2u}) {  // the envelope, then the `aliases` JSON portion
    capnp::MallocMessageBuilder message;
    message.setRoot(mapped->items[0].root());
    auto item = message.getRoot<schema::Item>();
    auto p = item.getPortions()[which];
    const std::string body =
        which == 0
            ? std::string(R"({"type":"campaign","type":"campaign","id":")") + kCampaignId + "\"}"
            : std::string(R"({"a":1,"a":2})");
    p.setBody(kj::arrayPtr(reinterpret_cast<const kj::byte*>(body.data()), body.size()));
    auto r = from_item(item.asReader(), options().levels);
    ASSERT_FALSE(r.ok()) << which;
    EXPECT_NE(r.status().reason().find("duplicate key"), std::string::npos) << r.status().reason();
  }
}

// A property STIX requires under a condition (a malware family's name) is a required portion:
// redacting it blocks the object instead of emitting a malware family without a name.
TEST(StixBoundary, ConditionallyRequiredPropertiesAreRequiredPortions) {
  auto mapped = to_items(
      R"({"type": "malware", "id": "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "spec_version": "2.1",
          "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "is_family": true,
          "name": "x", "description": "d"})",
      options());
  ASSERT_TRUE(mapped.ok()) << mapped.status().to_string();
  std::map<std::string, bool> required;
  for (auto p : mapped->items[0].root().getPortions())
    required[p.getName().cStr()] = p.getRequired();
  EXPECT_TRUE(required.at("is_family"));
  EXPECT_TRUE(required.at("name"));
  EXPECT_FALSE(required.at("description"));
}

}  // namespace
}  // namespace cg::stix
