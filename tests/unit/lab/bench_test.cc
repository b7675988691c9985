// `cellgate-lab bench`: the micro part runs, reports each benchmark it ran with a rate, and writes
// the JSON a script reads. (The figures themselves are not asserted: no timing in tests.)
#include "bench/lab/bench.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace cg::lab {
namespace {

TEST(Bench, MicroBenchmarksReportRatesAndGoalsAsJson) {
  testing::TempDir dir("cg-bench");
  BenchOptions o;
  o.policy = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml";
  o.json = dir.path() + "/bench.json";
  o.filter =
      "^(decide/256B|hot_path/modern/1KiB|floor_.*modern/1KiB|floor_capnp/1KiB|"
      "floor_sign/modern|naive/1KiB)$";
  o.min_time = 0.01;
  o.cell = false;
  o.growth_items = 0;
  o.progress = false;
  ASSERT_EQ(bench(o), 0);

  std::ifstream in(o.json);
  std::stringstream text;
  text << in.rdbuf();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(text.str()).get(doc), simdjson::SUCCESS) << text.str();
  std::set<std::string> names;
  for (auto m : doc["micro"].get_array()) {
    names.insert(std::string(std::string_view(m["name"])));
    EXPECT_GT(double(m["items_per_second"]), 0) << std::string_view(m["name"]);
  }
  for (const char* want :
       {"decide/256B", "hot_path/modern/1KiB", "floor_hash/modern/1KiB", "floor_aead/modern/1KiB",
        "floor_capnp/1KiB", "floor_sign/modern", "naive/1KiB"})
    EXPECT_TRUE(names.count(want)) << want;
  // The floor and naive ratios were computed from this run: measured, not "not measured".
  int measured = 0;
  for (auto g : doc["goals"].get_array()) {
    if (!g["met"].is_null()) ++measured;
  }
  EXPECT_GE(measured, 2);
}

}  // namespace
}  // namespace cg::lab
