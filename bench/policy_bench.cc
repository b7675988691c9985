// Releasability decisions per second for 1 KiB synthetic items (bench/lab/synth), decoded and
// validated as the gateway holds them, towards destination sy.
//
// BM_DecideRules/N: N rules, 10 deny terms. The rules are what a large policy looks like:
//   half per-topic rules (topics the traffic does not carry, plus one per item topic whose
//   other conditions fail), half per-source rules (likewise), then one rule per kind at the
//   end that decides. Every decision therefore walks the index to the last rule.
// BM_DecidePatterns/N: 10 rules, N deny terms that do not occur in the text (so the whole
//   text is scanned every time).
// BM_DecideUnindexed/N: N rules that the index cannot separate (same destination and kind,
//   differing only in level range and TLP): the cost is linear. Shown as the limit.
// BM_DecideAndBuild: 10 rules, decide + build + canonicalise the released item (what the
//   gateway does per released item).
// BM_Baseline: reading every label and body of the item once (the floor for any decision).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/lab/synth/synth.h"
#include "gateway/policy/policy.h"
#include "gateway/wire/wire.h"

namespace {

// The judgment time of every bench decision: before any bench item expires (synthetic items
// have no expiry; generated ones expire far in the future).
constexpr std::int64_t kJudgedNs = 1'700'000'000'000'000'000;

using cg::policy::Decision;
using cg::policy::Evaluator;
using cg::policy::Policy;

constexpr const char* kHeader = R"([policy]
id = "bench"
party = "il"
labels = "cell-2026"
levels = ["OPEN", "RESTRICTED", "SECRET", "TOP SECRET"]

[[destination]]
id = "sy"
party = "sy"
country = "SY"
level_max = "SECRET"
categories = ["DECON"]

[[destination]]
id = "us"
party = "us"
country = "US"
level_max = "SECRET"
categories = ["OPS"]
)";

constexpr const char* kKinds[] = {"intelligence", "deconfliction", "incident", "diplomatic",
                                  "economic"};

std::string patterns(int n) {
  std::string t;
  for (int i = 0; i < n; ++i) {
    t += "[[pattern]]\nid = \"p" + std::to_string(i) + "\"\nterm = \"codeword" + std::to_string(i) +
         "x\"\n";
    if (i % 10 == 9) t += "action = \"quarantine\"\n";
  }
  return t;
}

// n rules in all: (n - 5) indexed rules, then 5 deciding rules.
std::string indexed_rules(int n) {
  std::string t;
  const int indexed = n - 5;
  for (int i = 0; i < indexed; ++i) {
    const char* kind = kKinds[i % 5];
    t += "[[rule]]\nid = \"r" + std::to_string(i) + "\"\nkind = [\"" + kind + "\"]\n";
    // The last indexed rules name the topics and source the traffic carries, but demand
    // FLASH precedence at TOP SECRET, which the traffic never has: looked at, not taken.
    const bool near_miss = i >= indexed - 4;
    if (i % 2 == 0) {
      t += "topics = [\"" +
           (near_miss ? std::string(i % 4 == 0 ? "border" : "air-defence")
                      : "topic-" + std::to_string(i)) +
           "\"]\n";
    } else {
      t += "source = [\"" + (near_miss ? std::string("il-src-1") : "src-" + std::to_string(i)) +
           "\"]\n";
    }
    if (near_miss) t += "precedence = [\"flash\"]\nlevel_min = \"TOP SECRET\"\n";
    t += "action = \"block\"\n";
  }
  t += R"([[rule]]
id = "intelligence"
kind = ["intelligence"]
action = "release"
[rule.transform]
drop_attributes = ["source.*"]

[[rule]]
id = "deconfliction"
kind = ["deconfliction"]
action = "release"
[rule.transform]
coarsen_m = 1000
strip_source = true

[[rule]]
id = "incident"
kind = ["incident"]
action = "release"

[[rule]]
id = "diplomatic"
kind = ["diplomatic"]
action = "release"

[[rule]]
id = "economic"
kind = ["economic"]
action = "release"
)";
  return t;
}

// n rules for one destination and kind that only level and TLP separate.
std::string unindexed_rules(int n) {
  std::string t;
  for (int i = 0; i < n - 5; ++i) {
    // Level range TOP SECRET only, with a TLP set that differs per rule so none shadows another
    // (rule i allows TLP bit pattern i % 31 + 1 of clear/green/amber/amber+strict/red).
    t += "[[rule]]\nid = \"u" + std::to_string(i) + "\"\nlevel_min = \"TOP SECRET\"\n";
    const char* tlps[] = {"clear", "green", "amber", "amber+strict", "red"};
    const int mask = i % 31 + 1;
    std::string list;
    for (int b = 0; b < 5; ++b) {
      if (mask >> b & 1) list += std::string(list.empty() ? "\"" : ", \"") + tlps[b] + "\"";
    }
    t += "tlp = [" + list + "]\nsource = [\"x" + std::to_string(i) + "-*\"]\naction = \"block\"\n";
  }
  std::string tail = indexed_rules(5);
  return t + tail;
}

struct Fixture {
  std::unique_ptr<const Policy> policy;
  std::vector<cg::wire::Message<cg::schema::Item>> items;
};

Fixture make(const std::string& text) {
  Fixture f;
  auto p = Policy::parse(text, "bench.toml");
  if (!p.ok()) {
    std::fprintf(stderr, "%s\n", p.status().to_string().c_str());
    std::abort();
  }
  f.policy = std::move(p).value();
  cg::synth::Generator gen({.seed = 11, .body_bytes = 1024});
  for (int i = 0; i < 256; ++i) {
    auto m = cg::wire::decode_item(gen.next_bytes());
    if (!m.ok()) std::abort();
    f.items.push_back(std::move(m).value());
  }
  return f;
}

void run(benchmark::State& state, const Fixture& f) {
  auto eval = Evaluator::create(*f.policy);
  if (!eval.ok()) std::abort();
  Decision d;
  std::size_t i = 0, released = 0;
  const std::uint32_t sy = *f.policy->destination_index("sy");
  for (auto _ : state) {
    eval->decide(f.items[i++ % f.items.size()].root(), sy, kJudgedNs, d);
    released += d.outcome == cg::policy::Outcome::release;
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["released_share"] =
      static_cast<double>(released) / static_cast<double>(state.iterations());
}

void BM_DecideRules(benchmark::State& state) {
  const Fixture f =
      make(std::string(kHeader) + patterns(10) + indexed_rules(static_cast<int>(state.range(0))));
  run(state, f);
}
BENCHMARK(BM_DecideRules)->Arg(10)->Arg(1000)->Arg(10000);

// As BM_DecideRules, but the item is read through capnp::readMessageUnchecked over the same
// canonical bytes (no bounds checks per pointer). Only safe over bytes that wire has already
// decoded and validated (a wire::Message's canonical_bytes()); shown to measure how much of a
// decision is Cap'n Proto's checked pointer reads.
void BM_DecideRulesUnchecked(benchmark::State& state) {
  const Fixture f =
      make(std::string(kHeader) + patterns(10) + indexed_rules(static_cast<int>(state.range(0))));
  std::vector<cg::schema::Item::Reader> readers;
  for (const auto& m : f.items) {
    readers.push_back(capnp::readMessageUnchecked<cg::schema::Item>(
        reinterpret_cast<const capnp::word*>(m.canonical_bytes().data())));
  }
  auto eval = Evaluator::create(*f.policy);
  if (!eval.ok()) std::abort();
  Decision d;
  std::size_t i = 0;
  const std::uint32_t sy = *f.policy->destination_index("sy");
  for (auto _ : state) {
    eval->decide(readers[i++ % readers.size()], sy, kJudgedNs, d);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecideRulesUnchecked)->Arg(10)->Arg(10000);

void BM_DecidePatterns(benchmark::State& state) {
  const Fixture f =
      make(std::string(kHeader) + patterns(static_cast<int>(state.range(0))) + indexed_rules(10));
  run(state, f);
}
BENCHMARK(BM_DecidePatterns)->Arg(10)->Arg(10000);

void BM_DecideUnindexed(benchmark::State& state) {
  const Fixture f =
      make(std::string(kHeader) + patterns(10) + unindexed_rules(static_cast<int>(state.range(0))));
  run(state, f);
}
BENCHMARK(BM_DecideUnindexed)->Arg(10)->Arg(1000)->Arg(10000);

void BM_DecideAndBuild(benchmark::State& state) {
  const Fixture f = make(std::string(kHeader) + patterns(10) + indexed_rules(10));
  auto eval = Evaluator::create(*f.policy);
  if (!eval.ok()) std::abort();
  Decision d;
  std::size_t i = 0;
  const std::uint32_t sy = *f.policy->destination_index("sy");
  for (auto _ : state) {
    auto item = f.items[i++ % f.items.size()].root();
    eval->decide(item, sy, kJudgedNs, d);
    if (d.outcome != cg::policy::Outcome::release) continue;
    if (d.changed) {
      capnp::MallocMessageBuilder out;
      auto root = out.initRoot<cg::schema::Item>();
      cg::policy::build_released(*f.policy, item, d, root);
      auto canonical = cg::wire::canonical(root.asReader());
      benchmark::DoNotOptimize(canonical);
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecideAndBuild);

void BM_Baseline(benchmark::State& state) {
  const Fixture f = make(std::string(kHeader));
  std::size_t i = 0;
  for (auto _ : state) {
    auto item = f.items[i++ % f.items.size()].root();
    unsigned sum = item.getBanner().getClassification();
    for (auto p : item.getPortions()) {
      sum += p.getLabel().getClassification() + p.getBody().size();
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Baseline);

// Load time (parse + validate + shadowing check + index + Hyperscan compile), for the record.
void BM_LoadRules(benchmark::State& state) {
  const std::string text =
      std::string(kHeader) + patterns(10) + indexed_rules(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto p = Policy::parse(text, "bench.toml");
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_LoadRules)->Arg(10)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_LoadPatterns(benchmark::State& state) {
  const std::string text =
      std::string(kHeader) + patterns(static_cast<int>(state.range(0))) + indexed_rules(10);
  for (auto _ : state) {
    auto p = Policy::parse(text, "bench.toml");
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_LoadPatterns)->Arg(10)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
