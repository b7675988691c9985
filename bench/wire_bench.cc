// Decode boundary cost: untrusted bytes → validated canonical Item, at 256 B, 1 KiB and 64 KiB.
// Baseline in the same run: a bare Cap'n Proto FlatArrayMessageReader over the same bytes
// with no validation and no canonicalisation (what the boundary costs above "just parsing").
#include <benchmark/benchmark.h>

#include <cstring>

#include "bench/lab/synth/synth.h"
#include "gateway/wire/wire.h"

namespace {

std::vector<std::vector<std::uint8_t>> make_items(std::size_t body_bytes) {
  cg::synth::Generator gen({.seed = 7, .body_bytes = body_bytes});
  std::vector<std::vector<std::uint8_t>> items;
  for (int i = 0; i < 64; ++i) items.push_back(gen.next_bytes());
  return items;
}

void BM_DecodeItem(benchmark::State& state) {
  auto items = make_items(static_cast<std::size_t>(state.range(0)));
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    auto& b = items[i++ % items.size()];
    auto r = cg::wire::decode_item(b);
    benchmark::DoNotOptimize(r);
    bytes += b.size();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeItem)->Arg(256)->Arg(1024)->Arg(64 * 1024);

// The framing + canonicalisation part of the boundary alone (no field validation).
void BM_DecodeFramingOnly(benchmark::State& state) {
  auto items = make_items(static_cast<std::size_t>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = cg::wire::decode_message<cg::schema::Item>(items[i++ % items.size()],
                                                        cg::wire::item_limits);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeFramingOnly)->Arg(1024);

// Field validation alone, on an already decoded canonical item.
void BM_ValidateOnly(benchmark::State& state) {
  auto items = make_items(static_cast<std::size_t>(state.range(0)));
  std::vector<cg::wire::Message<cg::schema::Item>> decoded;
  for (auto& b : items) decoded.push_back(std::move(*cg::wire::decode_item(b)));
  std::size_t i = 0;
  for (auto _ : state) {
    auto s = cg::wire::validate_item(decoded[i++ % decoded.size()].root());
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidateOnly)->Arg(1024);

void BM_BaselineCapnpRead(benchmark::State& state) {
  auto items = make_items(static_cast<std::size_t>(state.range(0)));
  std::vector<kj::Array<capnp::word>> aligned;
  for (auto& b : items) {
    auto w = kj::heapArray<capnp::word>(b.size() / 8);
    std::memcpy(w.begin(), b.data(), b.size());
    aligned.push_back(std::move(w));
  }
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    auto& w = aligned[i++ % aligned.size()];
    capnp::FlatArrayMessageReader reader(w.asPtr());
    auto item = reader.getRoot<cg::schema::Item>();
    std::size_t sum = 0;
    for (auto p : item.getPortions()) sum += p.getBody().size();
    benchmark::DoNotOptimize(sum);
    bytes += w.size() * 8;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BaselineCapnpRead)->Arg(256)->Arg(1024)->Arg(64 * 1024);

}  // namespace

BENCHMARK_MAIN();
