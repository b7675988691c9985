// Crypto cost per item, both suites, with the baselines the issue names measured in the same
// run:
//   BM_NaiveBaseline     per item: Ed25519 sign + crypto_box_seal (libsodium's sealed box)
//   BM_SealSignPerItem   per item: epoch-key seal + its own signature (what batching avoids)
//   BM_SealBatchSign     per item: epoch-key seal + leaf hash, one signature per batch of B
// and each primitive alone. Items are 256 B, 1 KiB and 64 KiB; the "header" is a 128-byte
// associated-data block standing in for the envelope header.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <vector>

#include "crypto/epoch.h"
#include "crypto/merkle.h"
#include "crypto/suite.h"

namespace {

using namespace cg::crypto;
using cg::Status;

const Suite& suite_of(std::int64_t id) { return **suite(static_cast<SuiteId>(id)); }

std::vector<std::uint8_t> bytes(std::size_t n) {
  std::vector<std::uint8_t> b(n);
  randombytes_buf(b.data(), b.size());
  return b;
}

void label(benchmark::State& state, const Suite& s) {
  state.SetLabel(std::string(suite_name(s.id())));
}

void BM_Hash(benchmark::State& state) {
  const Suite& s = suite_of(state.range(0));
  const auto data = bytes(static_cast<std::size_t>(state.range(1)));
  std::vector<std::uint8_t> out(s.hash_bytes());
  const Bytes parts[] = {data};
  for (auto _ : state) {
    s.hash(parts, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(1));
  label(state, s);
}

void BM_Sign(benchmark::State& state) {
  const Suite& s = suite_of(state.range(0));
  auto key = s.generate_signing_key();
  const auto msg = bytes(64);
  std::vector<std::uint8_t> sig(s.signature_bytes());
  for (auto _ : state) {
    (void)key->sign(msg, sig);
    benchmark::DoNotOptimize(sig.data());
  }
  state.SetItemsProcessed(state.iterations());
  label(state, s);
}

void BM_Verify(benchmark::State& state) {
  const Suite& s = suite_of(state.range(0));
  auto key = s.generate_signing_key();
  const auto msg = bytes(64);
  std::vector<std::uint8_t> sig(s.signature_bytes());
  (void)key->sign(msg, sig);
  for (auto _ : state) benchmark::DoNotOptimize(s.verify(key->public_key(), msg, sig).ok());
  state.SetItemsProcessed(state.iterations());
  label(state, s);
}

void BM_Agree(benchmark::State& state) {
  const Suite& s = suite_of(state.range(0));
  auto a = s.generate_agreement_key();
  auto b = s.generate_agreement_key();
  for (auto _ : state) benchmark::DoNotOptimize(a->agree(b->public_key()).ok());
  state.SetItemsProcessed(state.iterations());
  label(state, s);
}

// The key as each benchmark holds it: raw, handed to every call (Suite::seal and open), or
// made ready once per epoch (Suite::prepare_aead: for AES-GCM the key schedule expanded by
// beforenm), as an epoch key holds it. BM_Seal and BM_Open are the baseline of BM_SealPrepared
// and BM_OpenPrepared in the same run.
struct RawKey {
  RawKey(const Suite& s, Secret k) : suite(s), key(std::move(k)) {}
  Status seal(Bytes n, Bytes ad, Bytes p, std::vector<std::uint8_t>& out) const {
    return suite.seal(key, n, ad, p, out);
  }
  Status open(Bytes n, Bytes ad, Bytes c, std::vector<std::uint8_t>& out) const {
    return suite.open(key, n, ad, c, out);
  }
  const Suite& suite;
  Secret key;
};
struct PreparedKey {
  PreparedKey(const Suite& s, Secret k) : key(std::move(*s.prepare_aead(std::move(k)))) {}
  Status seal(Bytes n, Bytes ad, Bytes p, std::vector<std::uint8_t>& out) const {
    return key->seal(n, ad, p, out);
  }
  Status open(Bytes n, Bytes ad, Bytes c, std::vector<std::uint8_t>& out) const {
    return key->open(n, ad, c, out);
  }
  std::unique_ptr<AeadKey> key;
};

template <typename Key>
void seal_loop(benchmark::State& state) {
  const Suite& s = suite_of(state.range(0));
  const Key key(s, Secret::random(32));
  const auto nonce = bytes(s.nonce_bytes()), ad = bytes(128);
  const auto item = bytes(static_cast<std::size_t>(state.range(1)));
  std::vector<std::uint8_t> out;
  out.reserve(item.size() + 16);
  for (auto _ : state) {
    out.clear();
    (void)key.seal(nonce, ad, item, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(1));
  label(state, s);
}

template <typename Key>
void open_loop(benchmark::State& state) {
  const Suite& s = suite_of(state.range(0));
  const Key key(s, Secret::random(32));
  const auto nonce = bytes(s.nonce_bytes()), ad = bytes(128);
  const auto item = bytes(static_cast<std::size_t>(state.range(1)));
  std::vector<std::uint8_t> ct, out;
  (void)key.seal(nonce, ad, item, ct);
  for (auto _ : state) {
    (void)key.open(nonce, ad, ct, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(1));
  label(state, s);
}

void BM_Seal(benchmark::State& state) { seal_loop<RawKey>(state); }
void BM_Open(benchmark::State& state) { open_loop<RawKey>(state); }
void BM_SealPrepared(benchmark::State& state) { seal_loop<PreparedKey>(state); }
void BM_OpenPrepared(benchmark::State& state) { open_loop<PreparedKey>(state); }

// The naive baseline: every item signed with Ed25519 and sealed with crypto_box_seal.
void BM_NaiveBaseline(benchmark::State& state) {
  ensure_sodium();
  const auto item = bytes(static_cast<std::size_t>(state.range(0)));
  std::uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  std::uint8_t bpk[crypto_box_PUBLICKEYBYTES], bsk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(bpk, bsk);
  std::vector<std::uint8_t> sealed(item.size() + crypto_box_SEALBYTES);
  std::uint8_t sig[crypto_sign_BYTES];
  for (auto _ : state) {
    crypto_sign_detached(sig, nullptr, item.data(), item.size(), sk);
    crypto_box_seal(sealed.data(), item.data(), item.size(), bpk);
    benchmark::DoNotOptimize(sig);
    benchmark::DoNotOptimize(sealed.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

// Per item: seal under the epoch key, then sign (header || ciphertext hash) alone.
void BM_SealSignPerItem(benchmark::State& state) {
  const Suite& s = suite_of(state.range(0));
  auto key = s.generate_signing_key();
  const auto ad = bytes(128);
  const auto item = bytes(static_cast<std::size_t>(state.range(1)));
  const Hasher h = hasher_of(s);
  std::vector<std::uint8_t> ct, sig(s.signature_bytes());
  ct.reserve(item.size() + 16);
  std::uint64_t seq = 1;
  EpochKey epoch(s, 1, 1, Secret::random(32), 0);
  for (auto _ : state) {
    ct.clear();
    (void)epoch.seal(seq++, ad, item, ct);
    const Bytes parts[] = {ad, ct};
    const auto leaf = leaf_hash_parts(h, parts);
    const auto msg = batch_root_message(s.id(), "il-gw-1", seq, 1, leaf);
    (void)key->sign(msg, sig);
    benchmark::DoNotOptimize(sig.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(1));
  label(state, s);
}

// Per batch of B: seal each item, hash each into a leaf, sign the root once, build paths.
void BM_SealBatchSign(benchmark::State& state) {
  const Suite& s = suite_of(state.range(0));
  auto key = s.generate_signing_key();
  const auto ad = bytes(128);
  const auto item = bytes(static_cast<std::size_t>(state.range(1)));
  const auto batch = static_cast<std::size_t>(state.range(2));
  const Hasher h = hasher_of(s);
  std::vector<std::vector<std::uint8_t>> cts(batch);
  for (auto& c : cts) c.reserve(item.size() + 16);
  std::vector<Hash> leaves(batch);
  std::uint64_t seq = 1, batch_id = 1;
  EpochKey epoch(s, 1, 1, Secret::random(32), 0);
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i) {
      cts[i].clear();
      (void)epoch.seal(seq++, ad, item, cts[i]);
      const Bytes parts[] = {ad, cts[i]};
      leaves[i] = leaf_hash_parts(h, parts);
    }
    auto signed_batch = sign_batch(s, *key, "il-gw-1", batch_id++, leaves);
    benchmark::DoNotOptimize(signed_batch);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(batch) * state.range(1));
  label(state, s);
}

constexpr std::int64_t kModern = static_cast<std::int64_t>(SuiteId::modern);
constexpr std::int64_t kCnsa = static_cast<std::int64_t>(SuiteId::cnsa);

void suites_sizes(benchmark::internal::Benchmark* b) {
  for (auto s : {kModern, kCnsa}) {
    for (std::int64_t n : {256, 1024, 64 * 1024}) b->Args({s, n});
  }
}
void suites(benchmark::internal::Benchmark* b) {
  for (auto s : {kModern, kCnsa}) b->Args({s});
}
void batches(benchmark::internal::Benchmark* b) {
  for (auto s : {kModern, kCnsa}) {
    for (std::int64_t n : {256, 1024, 64 * 1024}) {
      for (std::int64_t batch : {1, 16, 256}) b->Args({s, n, batch});
    }
  }
}

BENCHMARK(BM_Hash)->Apply(suites_sizes);
BENCHMARK(BM_Sign)->Apply(suites);
BENCHMARK(BM_Verify)->Apply(suites);
BENCHMARK(BM_Agree)->Apply(suites);
BENCHMARK(BM_Seal)->Apply(suites_sizes);
BENCHMARK(BM_Open)->Apply(suites_sizes);
BENCHMARK(BM_SealPrepared)->Apply(suites_sizes);
BENCHMARK(BM_OpenPrepared)->Apply(suites_sizes);
BENCHMARK(BM_NaiveBaseline)->Arg(256)->Arg(1024)->Arg(64 * 1024);
BENCHMARK(BM_SealSignPerItem)->Apply(suites_sizes);
BENCHMARK(BM_SealBatchSign)->Apply(batches);

}  // namespace

BENCHMARK_MAIN();
