// STIX 2.1 through the whole cell: every OASIS sample bundle in tests/data/stix goes
// source → il-gw-1 → us-relay → sy-rx-1 → consumer as separate `cellgate run` processes,
// sent with `cellgate send --stix` and received with `cellgate tail --format stix`, exactly as
// an operator would. The rules are gateway/policy/examples/stix-policy.toml.
//
//   - each sample as published (unmarked): every object arrives unchanged, without markings;
//   - each sample with markings added (object-level TLP:GREEN; granular SECRET, TLP:RED and
//     REL TO US on some properties, RESTRICTED REL TO SY/US on others): every object arrives
//     without exactly the properties sy may not see, everything else unchanged, marked with
//     only what it was released under (TLP:GREEN, and RESTRICTED REL TO SY/US when such a
//     property crossed);
//   - each sample with markings that sy may not see on the object or on a required property:
//     nothing arrives, and the gateway counts every object blocked;
//   - bundles with an unknown marking (the OASIS interop sample, and a sample with one bad
//     object): refused whole by `cellgate send`, naming the object; none of their objects
//     arrive.
//
// Expectations are written here from the markings, not computed by the code under test.
// Loopback only; no timing assertions: waits are bounded by progress.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "bench/lab/deploy/deploy.h"
#include "bench/lab/deploy/process.h"
#include "crypto/keys.h"
#include "tests/support/temp_dir.h"

namespace cg {
namespace {

using namespace std::chrono_literals;
using simdjson::dom::element;
using simdjson::dom::object;

const char* const kTlp1Green = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
const char* const kTlp1Red = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
const char* const kTlp2Green = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const char* const kExtension = "extension-definition--6a0ed6f6-9d7e-5e8a-a0e3-8f3c2b7c1e21";
const char* const kSecret = "marking-definition--7d0e3b1a-0c55-4d1e-9a61-000000000001";
const char* const kRelToUs = "marking-definition--7d0e3b1a-0c55-4d1e-9a61-000000000002";
const char* const kRestrictedSy = "marking-definition--7d0e3b1a-0c55-4d1e-9a61-000000000003";
const char* const kLevels = "OPEN,RESTRICTED,SECRET,TOP SECRET";

// The properties STIX 2.1 requires of each type in the samples (besides type, id and the
// common ones): marking one of them so that sy may not see it blocks the whole object.
const std::map<std::string, std::set<std::string>>& required_properties() {
  static const std::map<std::string, std::set<std::string>> r = {
      {"attack-pattern", {"name"}},
      {"campaign", {"name"}},
      {"course-of-action", {"name"}},
      {"identity", {"name"}},
      {"indicator", {"pattern", "pattern_type", "valid_from"}},
      {"infrastructure", {"name"}},
      {"malware", {"is_family", "name"}},  // name: required of a family (is_family true)
      {"relationship", {"relationship_type", "source_ref", "target_ref"}},
      {"ipv4-addr", {"value"}},
      {"domain-name", {"value"}},
  };
  return r;
}
// A string field (throws simdjson_error, which fails the test, when it is not one).
std::string text_of(simdjson::simdjson_result<element> e) {
  return std::string(std::string_view(e));
}

bool is_identity(std::string_view k) {
  return k == "type" || k == "id" || k == "spec_version" || k == "created" || k == "modified";
}

std::string marking_definitions() {
  auto def = [](const char* id, const std::string& ext) {
    return std::string(R"({"type":"marking-definition","spec_version":"2.1","id":")") + id +
           R"(","created":"2026-01-01T00:00:00.000Z","extensions":{")" + kExtension +
           R"(":{"extension_type":"property-extension",)" + ext + "}}}";
  };
  return def(kSecret, R"("classification":"SECRET")") + "," + def(kRelToUs, R"("rel_to":["US"])") +
         "," + def(kRestrictedSy, R"("classification":"RESTRICTED","rel_to":["SY","US"])");
}

// Structural JSON equality (object key order ignored); `skip` names top-level keys of `a`
// and `b` not compared.
bool same(element a, element b, const std::set<std::string>& skip = {}) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case simdjson::dom::element_type::OBJECT: {
      object oa = a, ob = b;
      std::size_t na = 0, nb = 0;
      for (auto [k, v] : oa) {
        if (skip.count(std::string(k))) continue;
        ++na;
        element other;
        if (ob[k].get(other) != simdjson::SUCCESS || !same(v, other)) return false;
      }
      for (auto [k, v] : ob) nb += skip.count(std::string(k)) ? 0 : 1;
      return na == nb;
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

// What must arrive for one STIX object, by its id.
struct Expected {
  std::string object;             // the object as sent (markings left out when compared)
  std::set<std::string> removed;  // properties sy may not see
  std::string tlp;                // the one TLP marking ref expected, "" for none
  std::string label;              // the cellgate extension expected, "" for none
  std::string bundle;             // which sent file it came from (for messages)
};

class StixCellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deploy::Options o;
    o.dir = dir_.file("cell");
    o.policy_file = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/stix-policy.toml";
    auto c = deploy::create(o);
    ASSERT_TRUE(c.ok()) << c.status().reason();
    cell_ = std::move(*c);
    for (const auto& e :
         std::filesystem::directory_iterator(std::string(CG_TEST_DATA_DIR) + "/stix")) {
      if (e.path().extension() == ".json") samples_.push_back(e.path());
    }
    std::sort(samples_.begin(), samples_.end());
  }
  void TearDown() override {
    for (auto& [id, p] : nodes_) {
      EXPECT_EQ(p->terminate(30'000), 0) << id << " did not exit cleanly\n" << read(log(id));
    }
  }

  static std::string read(const std::string& path) {
    auto b = crypto::read_file(path, 64u << 20);
    return b.ok() ? std::string(b->begin(), b->end()) : std::string();
  }
  std::string log(const std::string& id) { return dir_.file(id + ".log"); }

  void start(const std::string& id, const std::string& config, std::uint16_t metrics_port) {
    auto p = deploy::NodeProcess::start(CG_CELLGATE_BINARY, config, log(id));
    ASSERT_TRUE(p.ok()) << p.status().reason();
    nodes_[id] = std::move(*p);
    auto s = deploy::wait_for_tcp("127.0.0.1:" + std::to_string(metrics_port), 60'000);
    ASSERT_TRUE(s.ok()) << id << ": " << s.reason() << "\n" << read(log(id));
  }
  double metric(std::uint16_t port, const std::string& sample) {
    auto text = deploy::scrape("127.0.0.1:" + std::to_string(port), 5000);
    if (!text.ok()) return -1;
    return deploy::metric(*text, sample).value_or(-1);
  }

  struct Run {
    int exit = -1;
    std::string output;  // stdout and stderr
  };
  // Runs the cellgate command to completion (bounded by `limit`).
  Run cellgate(std::vector<std::string> args, std::chrono::seconds limit = 120s) {
    args.insert(args.begin(), CG_CELLGATE_BINARY);
    const std::string out = dir_.file("cmd-" + std::to_string(++commands_) + ".out");
    auto p = deploy::NodeProcess::start_argv(args, out);
    EXPECT_TRUE(p.ok());
    if (!p.ok()) return {};
    const auto until = std::chrono::steady_clock::now() + limit;
    while ((*p)->running() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(10ms);
    if ((*p)->running()) {
      ADD_FAILURE() << "cellgate " << args[1] << " did not finish";
      (*p)->kill9();
    }
    return {(*p)->exit_status().value_or(-1), read(out)};
  }
  Run send(const std::string& file) {
    return cellgate({"send", "--stix", "--json", "--gateway", cell_.ingest_endpoint,
                     "--gateway-key", cell_.gateway_curve_public, "--key-file",
                     cell_.dir + "/keys/" + cell_.source_id + ".curve", "--source", cell_.source_id,
                     "--label-policy", "cell-2026", "--levels", kLevels, "--default-level", "OPEN",
                     file});
  }
  // The ids of the items a `send --json` run saw accepted.
  void note_accepted(const Run& r) {
    simdjson::dom::parser parser;
    std::size_t start = 0;
    for (std::size_t nl; (nl = r.output.find('\n', start)) != std::string::npos; start = nl + 1) {
      const std::string line = r.output.substr(start, nl - start);
      element ack;
      if (line.empty() || line[0] != '{' || parser.parse(line).get(ack) != simdjson::SUCCESS)
        continue;
      bool accepted = false;
      std::string_view id;
      if (ack["accepted"].get(accepted) == simdjson::SUCCESS && accepted &&
          ack["id"].get(id) == simdjson::SUCCESS) {
        accepted_.insert(std::string(id));
      }
    }
  }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_.file(name);
    EXPECT_TRUE(crypto::write_file(
                    path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, 0644)
                    .ok());
    return path;
  }

  // The sample's objects (a bundle's, or the single object).
  static std::vector<std::string> objects_of(const std::string& text) {
    simdjson::dom::parser parser;
    element root = parser.parse(text);
    std::vector<std::string> out;
    simdjson::dom::array list;
    if (root["objects"].get(list) == simdjson::SUCCESS) {
      for (element o : list) out.push_back(simdjson::minify(o));
    } else {
      out.push_back(simdjson::minify(root));
    }
    return out;
  }
  // Every object id of a sample renamed for one variant (its references with it), so that
  // each variant's objects are new objects to the gateway: the first 8 hex digits of each
  // UUID become the variant, the sample and the object's index.
  static std::string renamed(std::string text, unsigned variant, unsigned sample) {
    const auto objects = objects_of(text);
    for (unsigned j = 0; j < objects.size(); ++j) {
      simdjson::dom::parser parser;
      std::string_view id = parser.parse(objects[j])["id"];
      const std::size_t dashes = id.find("--");
      char prefix[9];
      std::snprintf(prefix, sizeof prefix, "%02x%02x%04x", variant, sample, j);
      const std::string old(id), now = old.substr(0, dashes + 2) + prefix + old.substr(dashes + 10);
      for (std::size_t at; (at = text.find(old)) != std::string::npos;)
        text.replace(at, old.size(), now);
    }
    return text;
  }
  static std::string bundle_of(const std::vector<std::string>& objects, const std::string& id) {
    std::string b = R"({"type":"bundle","id":")" + id + R"(","objects":[)" + marking_definitions();
    for (const auto& o : objects) b += "," + o;
    return b + "]}";
  }
  // `object` (minified JSON) with `extra` properties (",\"k\":v..." text) appended.
  static std::string with(const std::string& object, const std::string& extra) {
    return object.substr(0, object.size() - 1) + extra + "}";
  }

  testing::TempDir dir_{"cg-stix-cell"};
  deploy::Deployment cell_;
  std::vector<std::filesystem::path> samples_;
  std::map<std::string, std::unique_ptr<deploy::NodeProcess>> nodes_;
  std::map<std::string, Expected> expected_;  // by STIX id
  std::set<std::string> blocked_;             // STIX ids that must not arrive
  std::set<std::string> accepted_;            // item ids the gateway acknowledged
  int commands_ = 0;
};

TEST_F(StixCellTest, EverySampleCrossesWithItsMarkingsHonouredAndRedactedExactly) {
  ASSERT_EQ(samples_.size(), 6u) << "the OASIS samples in tests/data/stix";
  ASSERT_NO_FATAL_FAILURE(start("sy-rx-1", cell_.receiver_config, cell_.receiver_metrics_port));
  ASSERT_NO_FATAL_FAILURE(start("us-relay", cell_.relay_config, cell_.relay_metrics_port));
  ASSERT_NO_FATAL_FAILURE(start("il-gw-1", cell_.gateway_config, cell_.gateway_metrics_port));

  std::size_t refused = 0;
  for (unsigned s = 0; s < samples_.size(); ++s) {
    const std::string name = samples_[s].filename().string();
    const std::string text = read(samples_[s].string());
    SCOPED_TRACE(name);

    // 1. As published.
    const Run plain = send(samples_[s].string());
    if (name == "interop-objectmarking-test.json") {
      // Its second marking reference is defined nowhere: refused, naming the object.
      EXPECT_EQ(plain.exit, 1) << plain.output;
      EXPECT_NE(
          plain.output.find("object campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061: unknown "
                            "marking marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ec"),
          std::string::npos)
          << plain.output;
      EXPECT_EQ(plain.output.find("\"accepted\""), std::string::npos) << "nothing sent";
      blocked_.insert("campaign--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061");
      ++refused;
      continue;
    }
    ASSERT_EQ(plain.exit, 0) << plain.output;
    note_accepted(plain);
    for (const auto& o : objects_of(text)) {
      simdjson::dom::parser parser;
      std::string_view id = parser.parse(o)["id"];
      expected_[std::string(id)] = {o, {}, "", "", name};
    }

    // 2. Markings added: object-level TLP:GREEN; the properties that are neither identity
    //    nor required marked in turn SECRET, TLP:RED, REL TO US (sy may see none of these)
    //    and RESTRICTED REL TO SY/US (sy may).
    {
      std::vector<std::string> marked;
      for (const auto& o : objects_of(renamed(text, 1, s))) {
        simdjson::dom::parser parser;
        object obj = parser.parse(o);
        const std::string type = text_of(obj["type"]);
        const std::string id = text_of(obj["id"]);
        ASSERT_TRUE(required_properties().count(type))
            << "a sample type this test must know: " << type;
        const auto& required = required_properties().at(type);
        Expected e{o, {}, kTlp2Green, "", name + " (granular)"};
        std::string granular;
        const char* cycle[] = {kSecret, kTlp1Red, kRelToUs, kRestrictedSy};
        unsigned n = 0;
        for (auto [k, v] : obj) {
          const std::string key(k);
          if (is_identity(key) || required.count(key)) continue;
          const char* m = cycle[n++ % 4];
          granular += std::string(granular.empty() ? "" : ",") + R"({"marking_ref":")" + m +
                      R"(","selectors":[")" + key + R"("]})";
          if (m == kRestrictedSy) {
            e.label =
                R"({"extension_type":"property-extension","classification":"RESTRICTED","rel_to":["SY","US"]})";
          } else {
            e.removed.insert(key);
          }
        }
        std::string extra = std::string(R"(,"object_marking_refs":[")") + kTlp1Green + "\"]";
        if (!granular.empty()) extra += R"(,"granular_markings":[)" + granular + "]";
        marked.push_back(with(o, extra));
        expected_[id] = e;
      }
      const Run r = send(write(
          name + ".granular.json",
          bundle_of(marked, "bundle--11111111-0000-4000-8000-00000000000" + std::to_string(s))));
      ASSERT_EQ(r.exit, 0) << r.output;
      note_accepted(r);
    }

    // 3. Markings sy may not see on the whole object (TLP:RED, SECRET) or on a required
    //    property (REL TO US): blocked, in turn.
    {
      std::vector<std::string> marked;
      unsigned j = 0;
      for (const auto& o : objects_of(renamed(text, 2, s))) {
        simdjson::dom::parser parser;
        object obj = parser.parse(o);
        const std::string type = text_of(obj["type"]);
        const std::string id = text_of(obj["id"]);
        std::string extra;
        switch (j++ % 3) {
          case 0:
            extra = std::string(R"(,"object_marking_refs":[")") + kTlp1Red + "\"]";
            break;
          case 1:
            extra = std::string(R"(,"object_marking_refs":[")") + kSecret + "\"]";
            break;
          default:
            extra = std::string(R"(,"granular_markings":[{"marking_ref":")") + kRelToUs +
                    R"(","selectors":[")" + *required_properties().at(type).begin() + "\"]}]";
        }
        marked.push_back(with(o, extra));
        blocked_.insert(id);
      }
      const Run r = send(write(
          name + ".blocked.json",
          bundle_of(marked, "bundle--22222222-0000-4000-8000-00000000000" + std::to_string(s))));
      ASSERT_EQ(r.exit, 0) << r.output;
      note_accepted(r);
    }
  }

  // 4. One bad object refuses its whole bundle: nothing of it is sent.
  {
    const auto path = std::find_if(samples_.begin(), samples_.end(), [](const auto& p) {
      return p.filename() == "indicator-to-campaign-relationship.json";
    });
    ASSERT_NE(path, samples_.end());
    auto objects = objects_of(renamed(read(path->string()), 3, 0));
    simdjson::dom::parser parser;
    const std::string bad = text_of(parser.parse(objects.back())["id"]);
    for (const auto& o : objects) {
      simdjson::dom::parser p2;
      blocked_.insert(text_of(p2.parse(o)["id"]));
    }
    objects.back() = with(
        objects.back(),
        R"(,"object_marking_refs":["marking-definition--00000000-0000-4000-8000-000000000000"])");
    const Run r = send(write("one-bad-object.json",
                             bundle_of(objects, "bundle--33333333-0000-4000-8000-000000000000")));
    EXPECT_EQ(r.exit, 1) << r.output;
    EXPECT_NE(r.output.find("object " + bad +
                            ": unknown marking marking-definition--00000000-0000-4000-8000-"
                            "000000000000 (not defined in the bundle)"),
              std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("\"accepted\""), std::string::npos) << "no partial import";
    ++refused;
  }
  EXPECT_EQ(refused, 2u);

  // The gateway has judged every accepted item (objects repeated across samples are one item:
  // the inbox takes a version of an object once).
  const std::string gw = "{node=\"il-gw-1\"";
  for (int i = 0; i < 3000 && metric(cell_.gateway_metrics_port,
                                     "cellgate_gateway_items_judged_total" + gw + "}") <
                                  static_cast<double>(accepted_.size());
       ++i) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(metric(cell_.gateway_metrics_port, "cellgate_gateway_items_judged_total" + gw + "}"),
            static_cast<double>(accepted_.size()));
  EXPECT_EQ(accepted_.size(), expected_.size() + blocked_.size() - 4)
      << "every object sent once: the two refused bundles (one object, three objects) sent "
         "nothing";
  EXPECT_EQ(metric(cell_.gateway_metrics_port,
                   "cellgate_gateway_decisions_total" + gw + ",decision=\"released\"}"),
            static_cast<double>(expected_.size()));
  EXPECT_EQ(metric(cell_.gateway_metrics_port,
                   "cellgate_gateway_decisions_total" + gw + ",decision=\"blocked\"}"),
            static_cast<double>(blocked_.size() - 4));

  // The consumer: exactly the released objects, each as expected.
  const Run tail =
      cellgate({"tail", "--format", "stix", "--levels", kLevels, "--receiver",
                cell_.deliver_endpoint, "--receiver-key", cell_.receiver_curve_public, "--key-file",
                cell_.dir + "/keys/" + cell_.consumer_id + ".curve", "--count",
                std::to_string(expected_.size()), "--idle-exit-ms", "60000"});
  EXPECT_EQ(tail.exit, 0) << tail.output;
  std::set<std::string> arrived;
  std::size_t redacted = 0, labelled = 0;
  const std::string bundles_path = cell_.dir + "/tail-bundles.jsonl";
  std::ofstream bundles(bundles_path);
  std::size_t start = 0;
  for (std::size_t nl; (nl = tail.output.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = tail.output.substr(start, nl - start);
    if (line.rfind("tail: ", 0) == 0) continue;  // its summary on stderr
    simdjson::dom::parser parser;
    element b;
    ASSERT_EQ(parser.parse(line).get(b), simdjson::SUCCESS) << line;
    std::string_view btype;
    simdjson::dom::array objects;
    if (b["type"].get(btype) != simdjson::SUCCESS || btype != "bundle" ||
        b["objects"].get(objects) != simdjson::SUCCESS) {
      ADD_FAILURE() << "not a STIX bundle: " << line;
      continue;
    }
    std::optional<element> found;
    std::map<std::string, std::string> definitions;  // cellgate marking definitions in the bundle
    std::set<std::string> tlp_definitions;           // TLP 2.0 ones
    for (element o : objects) {
      std::string_view t = o["type"], oid = o["id"];
      if (t == "marking-definition") {
        element ext;
        if (o["extensions"][kExtension].get(ext) == simdjson::SUCCESS) {
          definitions[std::string(oid)] = simdjson::minify(ext);
        } else {
          tlp_definitions.insert(std::string(oid));
        }
      } else {
        EXPECT_FALSE(found.has_value()) << "one object per bundle: " << line;
        found = o;
      }
    }
    ASSERT_TRUE(found.has_value()) << line;
    const element obj = *found;
    const std::string id = text_of(obj["id"]);
    EXPECT_TRUE(arrived.insert(id).second) << id << " arrived twice";
    EXPECT_FALSE(blocked_.count(id)) << id << " must not have arrived";
    auto e = expected_.find(id);
    if (e == expected_.end()) {
      ADD_FAILURE() << "unexpected object " << id;
      continue;
    }
    SCOPED_TRACE(e->second.bundle + ": " + id);
    // Exactly the properties sy may see: the object as sent without the removed ones (and
    // without its markings, compared next).
    simdjson::dom::parser p2;
    element sent = p2.parse(e->second.object);
    std::set<std::string> skip = e->second.removed;
    skip.insert({"object_marking_refs", "granular_markings"});
    EXPECT_TRUE(same(sent, obj, skip)) << "sent:    " << e->second.object << "\narrived: " << line;
    for (const auto& k : e->second.removed) {
      EXPECT_NE(obj[k].error(), simdjson::SUCCESS) << k << " must have been removed";
    }
    EXPECT_NE(obj["granular_markings"].error(), simdjson::SUCCESS);
    if (!e->second.removed.empty()) ++redacted;
    // Only the markings it was released under.
    std::vector<std::string> refs;
    simdjson::dom::array ra;
    if (obj["object_marking_refs"].get(ra) == simdjson::SUCCESS) {
      for (element r : ra) refs.emplace_back(std::string_view(r));
    }
    std::vector<std::string> want;
    if (!e->second.tlp.empty()) want.push_back(e->second.tlp);
    std::string label;
    for (const auto& r : refs) {
      if (definitions.count(r)) label = definitions[r];
    }
    if (!e->second.label.empty()) {
      ++labelled;
      simdjson::dom::parser p3, p4;
      EXPECT_TRUE(!label.empty() && same(p3.parse(e->second.label), p4.parse(label)))
          << "label " << label << ", expected " << e->second.label;
      EXPECT_EQ(refs.size(), want.size() + 1) << line;
    } else {
      EXPECT_EQ(refs, want) << line;
      EXPECT_TRUE(definitions.empty()) << line;  // no cellgate definition
    }
    if (!refs.empty()) EXPECT_EQ(refs[0], e->second.tlp) << line;
    // Every referenced marking is defined in the bundle (issue 15: TLP 2.0 ones included).
    for (const auto& r : refs) {
      EXPECT_TRUE(definitions.count(r) || tlp_definitions.count(r))
          << r << " not defined: " << line;
    }
    bundles << line << "\n";
  }
  // Every bundle tail wrote validates against the OASIS STIX 2.1 JSON schemas.
  bundles.close();
  const std::string validate = std::string("/usr/bin/python3 ") + CG_SOURCE_DIR +
                               "/tests/stix/validate_bundles.py " + CG_TEST_DATA_DIR +
                               "/stix2-json-schemas/schemas " + bundles_path;
  EXPECT_EQ(std::system(validate.c_str()), 0) << validate;
  EXPECT_EQ(arrived.size(), expected_.size());
  for (const auto& [id, e] : expected_) EXPECT_TRUE(arrived.count(id)) << id << " did not arrive";
  EXPECT_GT(redacted, 0u) << "the samples gave granular markings something to redact";
  EXPECT_GT(labelled, 0u) << "and a RESTRICTED property something to cross with";

  // Nothing else crossed: every node counted exactly the released objects.
  EXPECT_EQ(metric(cell_.relay_metrics_port, "cellgate_relay_relayed_total{node=\"us-relay\"}"),
            static_cast<double>(expected_.size()));
  EXPECT_EQ(metric(cell_.receiver_metrics_port, "cellgate_receiver_stored_total{node=\"sy-rx-1\"}"),
            static_cast<double>(expected_.size()));
  EXPECT_EQ(
      metric(cell_.receiver_metrics_port, "cellgate_deliver_acknowledged_total{node=\"sy-rx-1\"}"),
      static_cast<double>(expected_.size()));
}

}  // namespace
}  // namespace cg
