// `cellgate-lab bench`: the micro-benchmarks (Google Benchmark), registered at run time.
//
// Every stage an item passes, on the items the synthetic source makes (bench/lab/synth) under the
// approved example policy, at 256 B, 1 KiB and 64 KiB of text, both suites:
//   decode      untrusted bytes → validated canonical Item (ingest)
//   decide      the releasability decision towards sy (all items)
//   encode      the released (redacted) item built and canonicalised (released items)
//   seal        envelope header + AEAD under the epoch key + digest leaf
//   batch_sign  one signature per batch of 256 sealed envelopes + the envelopes' bytes, per item
//   verify      the relay's origin check per envelope, batch signature checked once per batch
//   open        the receiver's AEAD open and item decode
//   hot_path    decide + encode + guard + seal + batch_sign in one loop: the gateway's work per
//               item (the release guard's independent re-check included, as the gateway does it)
//   hot_path_unguarded  the same without the guard, for the guard's cost in the same run
//   guard       the guard's check alone (released items)
// and, for the goals' denominators, in the same run:
//   floor_*     the raw primitives an item needs (hash, AEAD, one signature, Cap'n Proto
//               build + parse); their sum is the most any pipeline could reach on this core
//   naive       per item Ed25519 sign + crypto_box_seal
//   fec_*       Reed–Solomon encode / decode of one 64+16 block of 1404-byte fragments
//   zmq         raw ZeroMQ PUSH → PULL over tcp loopback, per message
//   udp         raw UDP sendmmsg → recvmmsg over loopback, 1472-byte datagrams
//   rules       hot_path at 1 KiB with 10 and 10,000 rules
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <zmq.hpp>

#include "bench/lab/bench.h"
#include "bench/lab/synth/synth.h"
#include "crypto/verify_cache.h"
#include "gateway/approval/approval.h"
#include "gateway/envelope/envelope.h"
#include "gateway/guard/guard.h"
#include "gateway/link/fec.h"
#include "gateway/policy/policy.h"

namespace cg::lab::micro {
namespace {

constexpr std::int64_t now_ns = 1'790'000'000LL * 1'000'000'000;
constexpr std::size_t batch = 256;
constexpr std::size_t header_bytes = 128;  // about an envelope header: the AEAD's associated data

// One suite's keys, trust root, signer and epoch (sender and receiver side).
struct Keys {
  const crypto::Suite* suite = nullptr;
  std::unique_ptr<crypto::SigningKey> gw, relay;
  std::unique_ptr<crypto::AgreementKey> rx;
  std::optional<approval::TrustRoot> root;
  envelope::Signer signer;
  std::optional<crypto::EpochKey> seal_epoch, open_epoch;
  std::uint64_t seq = 0;

  static std::unique_ptr<Keys> make(crypto::SuiteId id) {
    auto k = std::make_unique<Keys>();
    k->suite = *crypto::suite(id);
    const auto& s = *k->suite;
    k->gw = s.generate_signing_key();
    k->relay = s.generate_signing_key();
    k->rx = s.generate_agreement_key();
    capnp::MallocMessageBuilder mb;
    auto body = mb.initRoot<schema::TrustRoot>().initBody();
    body.setVersion(1);
    body.setExpires(now_ns * 2);
    auto nodes = body.initNodes(3);
    const struct {
      const char* id;
      const char* party;
      schema::Role role;
      const crypto::SigningKey* key;
    } spec[] = {{"il-gw-1", "il", schema::Role::GATEWAY, k->gw.get()},
                {"us-relay", "us", schema::Role::RELAY, k->relay.get()},
                {"sy-rx-1", "sy", schema::Role::RECEIVER, k->relay.get()}};
    for (unsigned i = 0; i < 3; ++i) {
      nodes[i].setId(spec[i].id);
      nodes[i].setParty(spec[i].party);
      nodes[i].setRole(spec[i].role);
      approval::fill_public_key(nodes[i].initSigningKey(), id, spec[i].key->public_key(),
                                spec[i].id);
    }
    approval::fill_public_key(nodes[2].initAgreementKey(), id, k->rx->public_key(), "sy-rx-1");
    approval::fill_public_key(body.initRootKeys(1)[0], id, k->gw->public_key(), "root");
    body.setRootThreshold(1);
    const approval::SuiteVerifier verifier(s);
    auto root = approval::TrustRoot::parse(wire::to_flat_bytes(mb), verifier);
    if (!root.ok()) throw std::runtime_error("bench trust root: " + root.status().reason());
    k->root.emplace(std::move(*root));
    k->signer = {"il-gw-1", &s, k->gw.get(), crypto::key_id(id, k->gw->public_key())};
    auto started =
        envelope::start_epoch(k->signer, "sy", 0, 1, 1, k->rx->public_key(), nullptr, now_ns);
    if (!started.ok()) throw std::runtime_error("bench epoch: " + started.status().reason());
    auto opened = envelope::accept_epoch(started->announcement, *k->root, s, *k->rx, nullptr);
    if (!opened.ok()) throw std::runtime_error("bench epoch: " + opened.status().reason());
    k->seal_epoch.emplace(std::move(started->key));
    k->open_epoch.emplace(std::move(*opened));
    return k;
  }

  envelope::HeaderFields fields() {
    envelope::HeaderFields f;
    f.destination = "sy";
    f.seq = ++seq;
    f.time_ns = now_ns;
    f.kind = schema::Kind::INTELLIGENCE;
    f.rules_version = 1;
    f.rules_hash.assign(suite->hash_bytes(), 0xab);
    return f;
  }
};

// Synthetic items of one size, decoded, and which of them the policy releases to sy.
struct Items {
  std::vector<std::vector<std::uint8_t>> bytes;
  std::vector<wire::Message<schema::Item>> decoded;
  std::vector<std::size_t> released;                   // indexes into decoded
  std::vector<std::vector<std::uint8_t>> out;          // released bytes, per released index
  std::vector<wire::Message<schema::Item>> out_items;  // the same, decoded

  static std::unique_ptr<Items> make(std::size_t body_bytes, const policy::Policy& p) {
    auto it = std::make_unique<Items>();
    synth::Generator gen({.seed = 7, .body_bytes = body_bytes});
    auto eval = policy::Evaluator::create(p);
    if (!eval.ok()) throw std::runtime_error("bench policy: " + eval.status().reason());
    const std::uint32_t sy = *p.destination_index("sy");
    policy::Decision d;
    // Enough items that at least 64 are released (the example policy releases about 15%).
    for (int i = 0; i < 4096 && it->released.size() < 64; ++i) {
      auto b = gen.next_bytes();
      auto m = wire::decode_item(b);
      if (!m.ok()) continue;
      eval->decide(m->root(), sy, now_ns, d);
      if (d.outcome == policy::Outcome::release) {
        it->released.push_back(it->decoded.size());
        it->out.push_back(released_bytes(p, m->root(), d, m->canonical_bytes()));
      }
      it->bytes.push_back(std::move(b));
      it->decoded.push_back(std::move(*m));
    }
    if (it->released.empty()) throw std::runtime_error("bench: the policy releases nothing");
    for (const auto& o : it->out) it->out_items.push_back(*wire::decode_canonical_item(o));
    return it;
  }

  static std::vector<std::uint8_t> released_bytes(const policy::Policy& p,
                                                  schema::Item::Reader item,
                                                  const policy::Decision& d,
                                                  std::span<const std::uint8_t> canonical) {
    if (!d.changed) return {canonical.begin(), canonical.end()};
    capnp::MallocMessageBuilder mb;
    policy::build_released(p, item, d, mb.initRoot<schema::Item>());
    return wire::canonical_bytes_of(mb.getRoot<schema::Item>().asReader(), /*framed=*/false);
  }
};

std::vector<std::uint8_t> random_bytes(std::size_t n) {
  std::vector<std::uint8_t> b(n);
  randombytes_buf(b.data(), b.size());
  return b;
}

std::string size_name(std::size_t n) {
  return n >= 1024 ? std::to_string(n / 1024) + "KiB" : std::to_string(n) + "B";
}

// Everything the registered lambdas share; lives until the process ends (benchmarks run after
// registration returns).
struct Shared {
  std::unique_ptr<const policy::Policy> policy;
  std::map<std::size_t, std::unique_ptr<Items>> items;
  std::map<crypto::SuiteId, std::unique_ptr<Keys>> keys;
  std::map<int, std::unique_ptr<const policy::Policy>> rules_policies;
};
Shared& shared() {
  static Shared s;
  return s;
}

void per_item(benchmark::State& state, std::size_t items, std::size_t bytes) {
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

// Seals `n` released items of `it` (cycling), for batch_sign / verify / open.
std::vector<envelope::Sealed> seal_n(Keys& k, const Items& it, std::size_t n) {
  std::vector<envelope::Sealed> v;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& m = it.out_items[i % it.out_items.size()];
    auto s = envelope::seal(k.signer, k.fields(), *k.seal_epoch, m.canonical_bytes(),
                            m.root().getBanner());
    if (!s.ok()) throw std::runtime_error("bench seal: " + s.status().reason());
    v.push_back(std::move(*s));
  }
  return v;
}

// The gateway's work for released items: decide, encode, seal, and one batch signature per
// `batch` items.
void hot_path(benchmark::State& state, Keys& k, const Items& it, const policy::Policy& p,
              bool guarded = true) {
  auto eval = policy::Evaluator::create(p);
  if (!eval.ok()) {
    state.SkipWithError(eval.status().reason().c_str());
    return;
  }
  auto guard = guard::Guard::create(p);
  if (!guard.ok()) {
    state.SkipWithError(guard.status().reason().c_str());
    return;
  }
  guard::Claim claim{*p.destination_index("sy"), {}};
  // The guard's check of one release, as the gateway makes it before the seal.
  auto guard_refuses = [&](schema::Item::Reader item, const policy::Decision& dec,
                           std::span<const std::uint8_t> out) {
    if (!guarded) return false;
    claim.removed.clear();
    for (const auto v : dec.portions) claim.removed.push_back(v != policy::Verdict::crosses);
    const Status g = (*guard)->check(item, out, claim);
    if (!g.ok()) state.SkipWithError(("guard refused a release: " + g.reason()).c_str());
    return !g.ok();
  };
  const std::uint32_t sy = *p.destination_index("sy");
  policy::Decision d;
  std::vector<envelope::Sealed> sealed;
  sealed.reserve(batch);
  std::size_t n = 0, bytes = 0, released = 0;
  std::uint64_t batch_id = 0;
  for (auto _ : state) {
    sealed.clear();
    for (std::size_t i = 0; i < batch; ++i) {
      const auto& m = it.decoded[it.released[n++ % it.released.size()]];
      eval->decide(m.root(), sy, now_ns, d);
      if (d.outcome != policy::Outcome::release) continue;  // a larger policy may hold it back
      ++released;
      Result<envelope::Sealed> s = malformed("unset");
      if (d.changed) {  // what the gateway does: build, canonicalise, seal under its banner
        capnp::MallocMessageBuilder mb;
        policy::build_released(p, m.root(), d, mb.initRoot<schema::Item>());
        const auto built = mb.getRoot<schema::Item>().asReader();
        const auto out = wire::canonical_bytes_of(built, /*framed=*/false);
        if (guard_refuses(m.root(), d, out)) return;
        s = envelope::seal(k.signer, k.fields(), *k.seal_epoch, out, built.getBanner());
      } else {
        if (guard_refuses(m.root(), d, m.canonical_bytes())) return;
        s = envelope::seal(k.signer, k.fields(), *k.seal_epoch, m.canonical_bytes(),
                           m.root().getBanner());
      }
      if (!s.ok()) {
        state.SkipWithError(s.status().reason().c_str());
        return;
      }
      bytes += m.canonical_bytes().size();
      sealed.push_back(std::move(*s));
    }
    if (sealed.empty()) continue;
    auto env = envelope::sign_batch(k.signer, ++batch_id, sealed);
    benchmark::DoNotOptimize(env);
  }
  per_item(state, state.iterations() * batch, bytes);
  state.counters["released_share"] =
      static_cast<double>(released) / static_cast<double>(state.iterations() * batch);
}

void register_stage(const std::string& name, std::function<void(benchmark::State&)> fn,
                    bool real_time = false) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [fn](benchmark::State& s) { fn(s); });
  if (real_time) b->UseRealTime();
  b->Unit(benchmark::kMicrosecond);
}

std::string with_extra_rules(const std::string& text, int n) {
  // Rules for topics the traffic never carries, before the policy's own: every decision walks
  // past them (the index separates them by kind, destination and topic).
  std::string extra;
  for (int i = 0; i < n; ++i) {
    extra += "[[rule]]\nid = \"bench-" + std::to_string(i) + "\"\nto = [\"sy\"]\nkind = [\"" +
             (i % 2 ? "intelligence" : "incident") + "\"]\ntopics = [\"bench-topic-" +
             std::to_string(i) + "\"]\naction = \"release\"\n\n";
  }
  const auto at = text.find("[[rule]]");
  if (at == std::string::npos) return text + extra;
  return text.substr(0, at) + extra + text.substr(at);
}

}  // namespace

Status register_micro(const std::string& policy_text) {
  auto& sh = shared();
  CG_ASSIGN_OR_RETURN(sh.policy, policy::Policy::parse(policy_text, "bench policy"));
  if (!sh.policy->destination_index("sy")) return malformed("bench policy: no destination 'sy'");
  const std::vector<std::size_t> sizes = {256, 1024, 64 * 1024};
  try {
    for (auto n : sizes) sh.items[n] = Items::make(n, *sh.policy);
    for (auto id : {crypto::SuiteId::modern, crypto::SuiteId::cnsa}) sh.keys[id] = Keys::make(id);
  } catch (const std::exception& e) {
    return malformed(e.what());
  }
  const auto& P = *sh.policy;

  for (auto n : sizes) {
    const Items& it = *sh.items[n];
    const std::string sz = size_name(n);
    register_stage("decode/" + sz, [&it](benchmark::State& st) {
      std::size_t i = 0, bytes = 0;
      for (auto _ : st) {
        const auto& b = it.bytes[i++ % it.bytes.size()];
        auto r = wire::decode_item(b);
        benchmark::DoNotOptimize(r);
        bytes += b.size();
      }
      per_item(st, st.iterations(), bytes);
    });
    register_stage("decide/" + sz, [&it, &P](benchmark::State& st) {
      auto eval = policy::Evaluator::create(P);
      const std::uint32_t sy = *P.destination_index("sy");
      policy::Decision d;
      std::size_t i = 0;
      for (auto _ : st) {
        eval->decide(it.decoded[i++ % it.decoded.size()].root(), sy, now_ns, d);
        benchmark::DoNotOptimize(d);
      }
      per_item(st, st.iterations(), 0);
    });
    register_stage("encode/" + sz, [&it, &P](benchmark::State& st) {
      auto eval = policy::Evaluator::create(P);
      const std::uint32_t sy = *P.destination_index("sy");
      policy::Decision d;
      std::size_t i = 0;
      std::vector<std::pair<std::size_t, policy::Decision>> ds;
      for (auto r : it.released) {
        eval->decide(it.decoded[r].root(), sy, now_ns, d);
        ds.emplace_back(r, d);
      }
      for (auto _ : st) {
        const auto& [r, dec] = ds[i++ % ds.size()];
        auto out =
            Items::released_bytes(P, it.decoded[r].root(), dec, it.decoded[r].canonical_bytes());
        benchmark::DoNotOptimize(out);
      }
      per_item(st, st.iterations(), 0);
    });
    register_stage("guard/" + sz, [&it, &P](benchmark::State& st) {
      auto eval = policy::Evaluator::create(P);
      auto g = guard::Guard::create(P);
      if (!eval.ok() || !g.ok()) {
        st.SkipWithError("guard: cannot create");
        return;
      }
      const std::uint32_t sy = *P.destination_index("sy");
      std::vector<guard::Claim> claims;
      policy::Decision d;
      for (auto r : it.released) {
        eval->decide(it.decoded[r].root(), sy, now_ns, d);
        guard::Claim c{sy, {}};
        for (const auto v : d.portions) c.removed.push_back(v != policy::Verdict::crosses);
        claims.push_back(std::move(c));
      }
      std::size_t i = 0;
      for (auto _ : st) {
        const std::size_t j = i++ % it.released.size();
        const Status s = (*g)->check(it.decoded[it.released[j]].root(), it.out[j], claims[j]);
        if (!s.ok()) {
          st.SkipWithError(s.reason().c_str());
          return;
        }
      }
      per_item(st, st.iterations(), 0);
    });
    for (auto& [id, kp] : sh.keys) {
      Keys& k = *kp;
      const std::string sn = "/" + std::string(crypto::suite_name(id)) + "/" + sz;
      register_stage("seal" + sn, [&k, &it](benchmark::State& st) {
        std::size_t i = 0, bytes = 0;
        for (auto _ : st) {
          const auto& m = it.out_items[i++ % it.out_items.size()];
          auto s = envelope::seal(k.signer, k.fields(), *k.seal_epoch, m.canonical_bytes(),
                                  m.root().getBanner());
          benchmark::DoNotOptimize(s);
          bytes += m.canonical_bytes().size();
        }
        per_item(st, st.iterations(), bytes);
      });
      register_stage("batch_sign" + sn, [&k, &it](benchmark::State& st) {
        const auto sealed = seal_n(k, it, batch);
        std::uint64_t batch_id = 0;
        for (auto _ : st) {
          auto env = envelope::sign_batch(k.signer, ++batch_id, sealed);
          benchmark::DoNotOptimize(env);
        }
        per_item(st, st.iterations() * batch, 0);
      });
      register_stage("verify" + sn, [&k, &it](benchmark::State& st) {
        const auto sealed = seal_n(k, it, batch);
        const auto env = *envelope::sign_batch(k.signer, 1, sealed);
        std::size_t bytes = 0;
        for (auto _ : st) {
          crypto::VerifiedSignatures verified;  // what a node holds: one check per batch
          for (const auto& e : env) {
            auto c = envelope::verify_origin(e, *k.root, *k.suite, &verified);
            if (!c.ok()) {
              st.SkipWithError(c.status().reason().c_str());
              return;
            }
            bytes += e.size();
          }
        }
        per_item(st, st.iterations() * batch, bytes);
      });
      register_stage("open" + sn, [&k, &it](benchmark::State& st) {
        const auto sealed = seal_n(k, it, 64);
        const auto env = *envelope::sign_batch(k.signer, 1, sealed);
        std::vector<envelope::Accepted> accepted;
        for (const auto& e : env) {
          auto c = *envelope::verify_origin(e, *k.root, *k.suite);
          accepted.push_back({std::move(c.envelope), std::move(c.leaf), "il", 0});
        }
        std::size_t i = 0;
        for (auto _ : st) {
          auto item = envelope::open(accepted[i++ % accepted.size()], *k.open_epoch);
          if (!item.ok()) {
            st.SkipWithError(item.status().reason().c_str());
            return;
          }
          benchmark::DoNotOptimize(item);
        }
        per_item(st, st.iterations(), 0);
      });
      register_stage("hot_path" + sn,
                     [&k, &it, &P](benchmark::State& st) { hot_path(st, k, it, P); });
      register_stage("hot_path_unguarded" + sn, [&k, &it, &P](benchmark::State& st) {
        hot_path(st, k, it, P, /*guarded=*/false);
      });

      // The crypto floor's parts, at this size.
      register_stage("floor_hash" + sn, [&k, n](benchmark::State& st) {
        const auto data = random_bytes(n + header_bytes);
        std::vector<std::uint8_t> out(k.suite->hash_bytes());
        const crypto::Bytes parts[] = {data};
        for (auto _ : st) {
          k.suite->hash(parts, out);
          benchmark::DoNotOptimize(out.data());
        }
        per_item(st, st.iterations(), 0);
      });
      register_stage("floor_aead" + sn, [&k, n](benchmark::State& st) {
        const crypto::Secret key = crypto::Secret::random(32);
        const auto nonce = random_bytes(k.suite->nonce_bytes()), ad = random_bytes(header_bytes);
        const auto item = random_bytes(n);
        std::vector<std::uint8_t> out;
        out.reserve(n + 16);
        for (auto _ : st) {
          out.clear();
          (void)k.suite->seal(key, nonce, ad, item, out);
          benchmark::DoNotOptimize(out.data());
        }
        per_item(st, st.iterations(), 0);
      });
    }
    register_stage("floor_capnp/" + sz, [&it](benchmark::State& st) {
      // Build an item like the one released (copy of every field) and read it back.
      std::size_t i = 0;
      for (auto _ : st) {
        const auto& m = it.decoded[it.released[i++ % it.released.size()]];
        capnp::MallocMessageBuilder mb;
        mb.setRoot(m.root());
        auto flat = capnp::messageToFlatArray(mb);
        capnp::FlatArrayMessageReader reader(flat);
        benchmark::DoNotOptimize(reader.getRoot<schema::Item>().getPortions().size());
      }
      per_item(st, st.iterations(), 0);
    });
    register_stage("naive/" + sz, [n](benchmark::State& st) {
      crypto::ensure_sodium();
      const auto item = random_bytes(n);
      std::uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
      crypto_sign_keypair(pk, sk);
      std::uint8_t bpk[crypto_box_PUBLICKEYBYTES], bsk[crypto_box_SECRETKEYBYTES];
      crypto_box_keypair(bpk, bsk);
      std::vector<std::uint8_t> sealed(n + crypto_box_SEALBYTES);
      std::uint8_t sig[crypto_sign_BYTES];
      for (auto _ : st) {
        crypto_sign_detached(sig, nullptr, item.data(), item.size(), sk);
        crypto_box_seal(sealed.data(), item.data(), item.size(), bpk);
        benchmark::DoNotOptimize(sig);
        benchmark::DoNotOptimize(sealed.data());
      }
      per_item(st, st.iterations(), st.iterations() * n);
      sodium_memzero(sk, sizeof sk);
      sodium_memzero(bsk, sizeof bsk);
    });
    register_stage(
        "zmq/" + sz,
        [n](benchmark::State& st) {
          // PUSH → PULL over tcp loopback, a sender thread and this one receiving: messages/s.
          zmq::context_t ctx(1);
          zmq::socket_t pull(ctx, zmq::socket_type::pull);
          pull.set(zmq::sockopt::rcvhwm, 10000);
          pull.bind("tcp://127.0.0.1:*");
          const std::string ep = pull.get(zmq::sockopt::last_endpoint);
          constexpr std::size_t per_round = 2000;
          const auto payload = random_bytes(n);
          std::atomic<std::int64_t> rounds{0};
          std::atomic<bool> stop{false};
          std::thread sender([&] {
            zmq::socket_t push(ctx, zmq::socket_type::push);
            push.set(zmq::sockopt::sndhwm, 10000);
            push.set(zmq::sockopt::linger, 0);
            push.connect(ep);
            while (!stop.load()) {
              if (rounds.load() <= 0) {
                std::this_thread::yield();
                continue;
              }
              rounds.fetch_sub(1);
              for (std::size_t i = 0; i < per_round; ++i)
                push.send(zmq::buffer(payload), zmq::send_flags::none);
            }
          });
          zmq::message_t msg;
          for (auto _ : st) {
            rounds.fetch_add(1);
            for (std::size_t i = 0; i < per_round; ++i) (void)pull.recv(msg);
          }
          stop.store(true);
          sender.join();
          per_item(st, st.iterations() * per_round, st.iterations() * per_round * n);
        },
        /*real_time=*/true);
  }
  register_stage(
      "udp/1472B",
      [](benchmark::State& st) {
        // sendmmsg batches of 64 datagrams → a receiving thread's recvmmsg over loopback: the
        // datagrams that arrived per second (the kernel may drop under load: counted, not hidden).
        const int rx = ::socket(AF_INET, SOCK_DGRAM, 0), tx = ::socket(AF_INET, SOCK_DGRAM, 0);
        int buf = 32 << 20;
        ::setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
        timeval tv{0, 100'000};
        ::setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        ::bind(rx, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::getsockname(rx, reinterpret_cast<sockaddr*>(&a), &len);
        ::connect(tx, reinterpret_cast<sockaddr*>(&a), sizeof a);
        std::atomic<std::uint64_t> received{0};
        std::atomic<bool> stop{false};
        std::thread reader([&] {
          std::vector<std::uint8_t> bufs(64 * 1500);
          std::vector<iovec> iov(64);
          std::vector<mmsghdr> h(64);
          for (int i = 0; i < 64; ++i) {
            iov[i] = {bufs.data() + i * 1500, 1500};
            h[i] = {};
            h[i].msg_hdr.msg_iov = &iov[i];
            h[i].msg_hdr.msg_iovlen = 1;
          }
          while (!stop.load()) {
            const int got = ::recvmmsg(rx, h.data(), 64, 0, nullptr);
            if (got > 0) received.fetch_add(static_cast<std::uint64_t>(got));
          }
        });
        std::vector<std::uint8_t> payload = random_bytes(1472);
        std::vector<iovec> iov(64, iovec{payload.data(), payload.size()});
        std::vector<mmsghdr> h(64);
        for (int i = 0; i < 64; ++i) {
          h[i] = {};
          h[i].msg_hdr.msg_iov = &iov[i];
          h[i].msg_hdr.msg_iovlen = 1;
        }
        std::uint64_t sent = 0;
        for (auto _ : st) {
          const int n = ::sendmmsg(tx, h.data(), 64, 0);
          if (n > 0) sent += static_cast<std::uint64_t>(n);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        stop.store(true);
        reader.join();
        ::close(rx);
        ::close(tx);
        per_item(st, static_cast<std::int64_t>(received.load()),
                 static_cast<std::int64_t>(received.load() * 1472));
        st.counters["sent"] = static_cast<double>(sent);
        st.counters["received"] = static_cast<double>(received.load());
      },
      /*real_time=*/true);
  register_stage("fec_encode/64+16", [](benchmark::State& st) {
    constexpr int k = 64, m = 16;
    constexpr std::size_t len = 1404;
    std::vector<std::uint8_t> frags((k + m) * len, 3);
    link::Fec fec;
    for (auto _ : st) {
      fec.encode(k, m, len, frags);
      benchmark::ClobberMemory();
    }
    per_item(st, st.iterations(), st.iterations() * k * len);
  });
  register_stage("fec_decode/64+16", [](benchmark::State& st) {
    constexpr int k = 64, m = 16;
    constexpr std::size_t len = 1404;
    std::vector<std::uint8_t> frags((k + m) * len, 3);
    link::Fec fec;
    fec.encode(k, m, len, frags);
    std::vector<std::uint8_t> present(k + m, 1);
    for (int i = 0; i < m; ++i) present[i * (k / m)] = 0;  // m data fragments lost
    for (auto _ : st) {
      benchmark::DoNotOptimize(fec.decode(k, m, len, frags, present));
      benchmark::ClobberMemory();
    }
    per_item(st, st.iterations(), st.iterations() * k * len);
  });
  for (auto& [id, kp] : sh.keys) {
    Keys& k = *kp;
    register_stage("floor_sign/" + std::string(crypto::suite_name(id)), [&k](benchmark::State& st) {
      const auto msg = random_bytes(64);
      std::vector<std::uint8_t> sig(k.suite->signature_bytes());
      for (auto _ : st) {
        (void)k.gw->sign(msg, sig);
        benchmark::DoNotOptimize(sig.data());
      }
      per_item(st, st.iterations(), 0);
    });
  }
  for (int rules : {10, 10000}) {
    auto p = policy::Policy::parse(with_extra_rules(policy_text, rules), "bench policy");
    if (!p.ok()) return p.status();
    sh.rules_policies[rules] = std::move(*p);
    const policy::Policy& rp = *sh.rules_policies[rules];
    Keys& k = *sh.keys[crypto::SuiteId::modern];
    const Items& it = *sh.items[1024];
    register_stage("rules/" + std::to_string(rules) + "/modern/1KiB",
                   [&k, &it, &rp](benchmark::State& st) { hot_path(st, k, it, rp); });
  }
  return {};
}

void clear_micro() {
  benchmark::ClearRegisteredBenchmarks();
  auto& sh = shared();  // keys die now, while the crypto libraries' globals still live
  sh.rules_policies.clear();
  sh.keys.clear();
  sh.items.clear();
  sh.policy.reset();
}

}  // namespace cg::lab::micro
