// `cellgate demo`: the cell's protocol end to end on loopback, every number measured.
//
// What runs (one process; the gateway, relay and receiver are threads — the separate node
// processes of `cellgate run` are not started by the demo yet; the demo says so):
//   deployment   keys for every node, a trust root signed by its root key, the sample il
//                policy proposed as a rules bundle and approved by 2 of 3 reviewers, loaded
//                through the same Approver a node uses (threshold, rollback store, expiry);
//   gateway      synthetic items (every kind, precedence and label shape, some malformed) →
//                the ingest decode boundary → the releasability decision for destination sy
//                → the released (possibly redacted) item, canonical → sealed under an epoch
//                key agreed with the receiver's static key → batch-signed (FLASH alone) →
//                the one-way link (UDP, FEC, MAC, pacing), with the signed epoch announcement
//                repeated as a control record;
//   relay        link receiver → origin signature and batch proof against the trust root →
//                its RFC 9162 transparency log (LMDB) → signed tree head + inclusion proof →
//                the second one-way link;
//   receiver     link receiver → relay countersignature and inclusion proof → origin proof →
//                the epoch key from the verified announcement → open → compare with exactly
//                what the gateway released.
#include <capnp/message.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "crypto/keys.h"
#include "crypto/suite.h"
#include "gateway/approval/approval.h"
#include "gateway/cli/cli.h"
#include "gateway/common/clock.h"
#include "gateway/common/hex.h"
#include "gateway/envelope/envelope.h"
#include "gateway/link/link.h"
#include "gateway/policy/policy.h"
#include "gateway/synth/synth.h"
#include "gateway/translog/translog.h"
#include "gateway/wire/wire.h"

namespace cg::cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct NodeKeys {
  std::unique_ptr<crypto::SigningKey> sign;
  std::unique_ptr<crypto::AgreementKey> kx;
};

// What the receiver must get, per seq: the released bytes and when they were handed to the link.
struct Expected {
  std::vector<std::uint8_t> released;
  schema::Precedence precedence;
  Clock::time_point sent;
};

struct Shared {
  std::mutex mu;
  std::map<std::uint64_t, Expected> expected;     // guarded by mu
  std::map<int, std::vector<double>> latency_ms;  // by precedence; guarded by mu
  std::atomic<std::uint64_t> relayed{0}, relay_refused{0};
  std::atomic<std::uint64_t> delivered{0}, verified{0}, mismatched{0}, receiver_refused{0};
  std::atomic<std::uint64_t> lost_on_links{0};
  std::atomic<bool> stop{false};
};

// Collects what a link receiver hands up, for the owning thread to process after poll_once.
struct Inbox final : link::Handler {
  std::vector<std::pair<std::uint64_t, std::vector<std::uint8_t>>> envelopes;
  std::vector<std::vector<std::uint8_t>> controls;
  std::vector<std::string> alerts;
  std::atomic<std::uint64_t>* lost = nullptr;
  void on_envelope(const link::Delivered& d) override {
    envelopes.emplace_back(d.seq, std::vector<std::uint8_t>(d.bytes.begin(), d.bytes.end()));
  }
  void on_loss(const link::Loss& l) override { lost->fetch_add(l.count); }
  void on_control(std::uint64_t, std::span<const std::uint8_t> p) override {
    controls.emplace_back(p.begin(), p.end());
  }
  void on_alert(const link::Alert& a) override {
    if (a.kind != link::AlertKind::session_started) alerts.push_back(a.text);
  }
};

Status submit_blocking(link::UdpSender& tx, std::uint64_t seq, std::span<const std::uint8_t> bytes,
                       link::Precedence p) {
  for (;;) {
    Status s = tx.submit(seq, bytes, p);
    if (s.code() != Code::overloaded) return s;
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // back-pressure
  }
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

}  // namespace

int demo(const DemoOptions& options) {
  std::printf("cellgate demo — the protocol end to end on loopback UDP\n");
  std::printf(
      "(gateway, relay and receiver run as threads of this process; `cellgate run` runs each\n"
      " as a separate node, which this demo does not do yet)\n\n");
  const crypto::Suite& suite = crypto::modern_suite();
  const approval::SuiteVerifier verifier(suite);
  SystemClock clock;

  // --- Deployment -------------------------------------------------------------------------
  std::string dir = (std::filesystem::temp_directory_path() / "cellgate-demo-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) return exit_io;
  struct Cleanup {
    std::string d;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  } cleanup{dir};
  NodeKeys gw{suite.generate_signing_key(), suite.generate_agreement_key()};
  NodeKeys relay{suite.generate_signing_key(), suite.generate_agreement_key()};
  NodeKeys rx{suite.generate_signing_key(), suite.generate_agreement_key()};
  auto root_key = suite.generate_signing_key();
  std::vector<std::unique_ptr<crypto::SigningKey>> reviewers;
  for (int i = 0; i < 3; ++i) reviewers.push_back(suite.generate_signing_key());
  auto sign_with = [&](const crypto::SigningKey& k) {
    return [&k, &suite](crypto::Bytes m) -> Result<std::vector<std::uint8_t>> {
      std::vector<std::uint8_t> sig(suite.signature_bytes());
      CG_RETURN_IF_ERROR(k.sign(m, sig));
      return sig;
    };
  };
  capnp::MallocMessageBuilder trust_mb;
  {
    auto body = trust_mb.initRoot<schema::TrustRoot>().initBody();
    body.setVersion(1);
    body.setExpires(wall_ns() + 86'400LL * 1'000'000'000);
    auto party = body.initParties(1)[0];
    party.setId("il");
    party.setReviewerThreshold(2);
    auto revs = party.initReviewers(3);
    const char* names[] = {"il/alice", "il/bob", "il/carol"};
    for (unsigned i = 0; i < 3; ++i)
      approval::fill_public_key(revs[i], suite.id(), reviewers[i]->public_key(), names[i]);
    auto nodes = body.initNodes(3);
    struct N {
      const char* id;
      const char* party;
      schema::Role role;
      NodeKeys* keys;
    } spec[] = {{"il-gw-1", "il", schema::Role::GATEWAY, &gw},
                {"us-relay", "us", schema::Role::RELAY, &relay},
                {"sy-rx-1", "sy", schema::Role::RECEIVER, &rx}};
    for (unsigned i = 0; i < 3; ++i) {
      nodes[i].setId(spec[i].id);
      nodes[i].setParty(spec[i].party);
      nodes[i].setRole(spec[i].role);
      approval::fill_public_key(nodes[i].initSigningKey(), suite.id(),
                                spec[i].keys->sign->public_key(), spec[i].id);
      approval::fill_public_key(nodes[i].initAgreementKey(), suite.id(),
                                spec[i].keys->kx->public_key(), spec[i].id);
    }
    approval::fill_public_key(body.initRootKeys(1)[0], suite.id(), root_key->public_key(),
                              "root/1");
    body.setRootThreshold(1);
  }
  auto unsigned_root = wire::canonical(trust_mb.getRoot<schema::TrustRoot>().asReader());
  auto signed_root = approval::add_root_signature(
      unsigned_root.root(), crypto::key_id(suite.id(), root_key->public_key()),
      sign_with(*root_key));
  auto root =
      approval::TrustRoot::bootstrap(wire::to_flat_bytes(*signed_root), verifier, wall_ns());
  if (!root.ok()) {
    std::fprintf(stderr, "demo: trust root: %s\n", root.status().reason().c_str());
    return exit_failed;
  }
  auto policy_text = crypto::read_file(options.policy, limits::policy_bytes_max);
  if (!policy_text.ok()) {
    std::fprintf(stderr, "demo: %s (run from the repository root or pass --policy)\n",
                 policy_text.status().reason().c_str());
    return exit_io;
  }
  auto proposed = approval::propose(
      "il", {reinterpret_cast<const char*>(policy_text->data()), policy_text->size()}, nullptr,
      wall_ns(), wall_ns() + 86'400LL * 1'000'000'000, verifier);
  if (!proposed.ok()) return exit_failed;
  auto bundle = std::move(*proposed);
  for (int i : {0, 2}) {  // alice and carol approve; bob does not
    bundle = *approval::add_signature(
        bundle.root(),
        crypto::key_id(suite.id(), reviewers[static_cast<std::size_t>(i)]->public_key()),
        sign_with(*reviewers[static_cast<std::size_t>(i)]));
  }
  auto env = store::Env::open({.path = dir + "/gateway", .map_bytes = std::size_t{256} << 20});
  if (!env.ok()) return exit_io;
  auto approver = approval::Approver::open(
      **env, "il", *root, std::make_shared<approval::SuiteVerifier>(suite),
      [](std::string_view text) -> Result<approval::CompiledPolicy> {
        CG_ASSIGN_OR_RETURN(auto p, policy::Policy::parse(text, "il-policy (bundle)"));
        return approval::CompiledPolicy(std::shared_ptr<const policy::Policy>(std::move(p)));
      });
  if (!approver.ok()) return exit_io;
  auto loaded = (*approver)->offer(wire::to_flat_bytes(bundle), wall_ns());
  if (!loaded.ok()) {
    std::fprintf(stderr, "demo: %s\n", loaded.status().reason().c_str());
    return exit_failed;
  }
  const auto& rules = *std::static_pointer_cast<const policy::Policy>((*loaded)->policy);
  std::printf(
      "deployment:          trust root v%llu (3 nodes, 3 il reviewers, threshold 2), suite %s\n",
      static_cast<unsigned long long>(root->version()),
      std::string(crypto::suite_name(suite.id())).c_str());
  std::printf(
      "rules:               bundle v%llu of il, %zu rules, %zu patterns, approved by 2 of 3 "
      "reviewers, hash %s…\n",
      static_cast<unsigned long long>((*loaded)->version), rules.rules().size(),
      rules.patterns().size(), to_hex((*loaded)->hash).substr(0, 16).c_str());

  // --- Links ----------------------------------------------------------------------------
  const crypto::Secret key_a = crypto::Secret::random(link::link_key_bytes);
  const crypto::Secret key_b = crypto::Secret::random(link::link_key_bytes);
  link::SenderOptions so;
  so.pace_bytes_per_s = options.link_bytes_per_s;
  link::ReceiverOptions ro;
  so.settings.link_id = 1;
  ro.settings = so.settings;
  Shared shared;
  Inbox relay_in, rx_in;
  relay_in.lost = &shared.lost_on_links;
  rx_in.lost = &shared.lost_on_links;
  auto relay_rx = link::UdpReceiver::open(ro, "127.0.0.1:0", 16u << 20, key_a, clock, relay_in);
  link::ReceiverOptions ro_b = ro;
  ro_b.settings.link_id = 2;
  auto rx_rx = link::UdpReceiver::open(ro_b, "127.0.0.1:0", 16u << 20, key_b, clock, rx_in);
  if (!relay_rx.ok() || !rx_rx.ok()) {
    std::fprintf(stderr, "demo: cannot open loopback links\n");
    return exit_io;
  }
  auto gw_tx =
      link::UdpSender::open(so, "127.0.0.1:" + std::to_string((*relay_rx)->port()), key_a, clock);
  link::SenderOptions so_b = so;
  so_b.settings.link_id = 2;
  auto relay_tx =
      link::UdpSender::open(so_b, "127.0.0.1:" + std::to_string((*rx_rx)->port()), key_b, clock);
  if (!gw_tx.ok() || !relay_tx.ok()) return exit_io;

  // --- Relay thread ---------------------------------------------------------------------
  const envelope::Signer relay_signer{"us-relay", &suite, relay.sign.get(),
                                      crypto::key_id(suite.id(), relay.sign->public_key())};
  auto relay_env = store::Env::open({.path = dir + "/relay", .map_bytes = std::size_t{256} << 20});
  if (!relay_env.ok()) return exit_io;
  auto log = translog::Log::open(**relay_env, "relay", crypto::hasher_of(suite));
  if (!log.ok()) return exit_io;
  envelope::TreeHead last_head;
  std::thread relay_thread([&] {
    while (!shared.stop.load()) {
      if (!(*relay_rx)->poll_once(5).ok()) break;
      for (auto& c : relay_in.controls)
        (void)(*relay_tx)->submit_control(c, 10);  // announcements, forwarded
      relay_in.controls.clear();
      if (relay_in.envelopes.empty()) continue;
      std::vector<envelope::Checked> ok;
      for (auto& [seq, bytes] : relay_in.envelopes) {
        auto c = envelope::verify_origin(bytes, *root, suite);
        if (c.ok())
          ok.push_back(std::move(*c));
        else
          shared.relay_refused.fetch_add(1);
      }
      relay_in.envelopes.clear();
      if (ok.empty()) continue;
      // Group commit: the whole poll's envelopes enter the log in one transaction.
      auto txn = (*relay_env)->begin_write();
      if (!txn.ok()) break;
      std::vector<std::uint64_t> index;
      for (auto& c : ok) index.push_back(*log->append(*txn, c.leaf));
      if (!txn->commit().ok()) break;
      const auto size = *log->size();
      auto head = envelope::sign_tree_head(relay_signer, size, *log->root(size), wall_ns());
      if (!head.ok()) break;
      last_head = *head;
      for (std::size_t i = 0; i < ok.size(); ++i) {
        auto out = envelope::countersign(relay_signer, ok[i].envelope, index[i], *head,
                                         *log->inclusion_proof(index[i], size));
        if (!out.ok()) continue;
        const auto h = ok[i].envelope.root().getHeader();
        (void)submit_blocking(**relay_tx, index[i] + 1, *out,
                              h.getPrecedence() == schema::Precedence::FLASH
                                  ? link::Precedence::flash
                                  : link::Precedence::routine);
        shared.relayed.fetch_add(1);
      }
    }
  });

  // --- Receiver thread -------------------------------------------------------------------
  std::thread rx_thread([&] {
    std::map<std::uint64_t, crypto::EpochKey> keys;
    std::vector<std::vector<std::uint8_t>>
        waiting;  // envelopes that arrived before their epoch key
    while (!shared.stop.load()) {
      if (!(*rx_rx)->poll_once(5).ok()) break;
      for (auto& c : rx_in.controls) {
        auto k = envelope::accept_epoch(c, *root, suite, *rx.kx, nullptr);
        if (k.ok()) keys.emplace(k->epoch(), std::move(*k));
      }
      rx_in.controls.clear();
      for (auto& [seq, bytes] : rx_in.envelopes) waiting.push_back(std::move(bytes));
      rx_in.envelopes.clear();
      std::vector<std::vector<std::uint8_t>> still;
      for (auto& bytes : waiting) {
        auto a = envelope::verify_delivery(bytes, *root, suite);
        if (!a.ok()) {
          shared.receiver_refused.fetch_add(1);
          continue;
        }
        const auto h = a->envelope.root().getHeader();
        auto k = keys.find(h.getEpoch());
        if (k == keys.end()) {
          if (still.size() < 100'000) still.push_back(std::move(bytes));  // bounded
          continue;
        }
        auto item = envelope::open(*a, k->second);
        shared.delivered.fetch_add(1);
        std::lock_guard l(shared.mu);
        auto e = shared.expected.find(h.getSeq());
        if (item.ok() && e != shared.expected.end() &&
            std::equal(item->canonical_bytes().begin(), item->canonical_bytes().end(),
                       e->second.released.begin(), e->second.released.end())) {
          shared.verified.fetch_add(1);
          shared.latency_ms[static_cast<int>(e->second.precedence)].push_back(
              ms_since(e->second.sent));
        } else {
          shared.mismatched.fetch_add(1);
        }
      }
      waiting = std::move(still);
    }
  });

  // --- Gateway (this thread) -------------------------------------------------------------
  const envelope::Signer gw_signer{"il-gw-1", &suite, gw.sign.get(),
                                   crypto::key_id(suite.id(), gw.sign->public_key())};
  auto epoch =
      envelope::start_epoch(gw_signer, "sy", 0, 1, 1, rx.kx->public_key(), nullptr, wall_ns());
  if (!epoch.ok()) return exit_failed;
  (void)(*gw_tx)->submit_control(epoch->announcement, 20);
  synth::Generator gen({.seed = options.seed, .body_bytes = options.body_bytes});
  auto evaluator = policy::Evaluator::create(rules);
  if (!evaluator.ok()) return exit_failed;
  const std::uint32_t to_sy = *rules.destination_index("sy");
  std::uint64_t in = 0, malformed_in = 0, released = 0, redacted = 0, blocked = 0, quarantined = 0,
                seq = 0, batch_id = 0;
  std::uint64_t bytes_in = 0;
  std::map<std::string, std::uint64_t> why_blocked;
  std::vector<envelope::Sealed> batch;
  std::vector<schema::Precedence> batch_precedence;
  auto flush = [&] {
    if (batch.empty()) return;
    auto signed_envelopes = envelope::sign_batch(gw_signer, ++batch_id, batch);
    if (!signed_envelopes.ok()) return;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      {
        std::lock_guard l(shared.mu);
        shared.expected[batch[i].seq].sent = Clock::now();
      }
      (void)submit_blocking(**gw_tx, batch[i].seq, (*signed_envelopes)[i],
                            batch_precedence[i] == schema::Precedence::FLASH
                                ? link::Precedence::flash
                                : link::Precedence::routine);
    }
    batch.clear();
    batch_precedence.clear();
  };
  policy::Decision d;
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < options.items; ++i) {
    const auto raw = i % 50 == 49
                         ? gen.malformed_bytes(static_cast<synth::Malformation>((i / 50) % 4))
                         : gen.next_bytes();
    ++in;
    bytes_in += raw.size();
    auto item = wire::decode_item(raw);
    if (!item.ok()) {
      ++malformed_in;
      continue;
    }
    evaluator->decide(item->root(), to_sy, d);
    if (d.outcome == policy::Outcome::block) {
      ++blocked;
      why_blocked[std::string(policy::reason_name(d.reason))]++;
      continue;
    }
    if (d.outcome == policy::Outcome::quarantine) {
      ++quarantined;
      continue;
    }
    ++released;
    std::vector<std::uint8_t> out;
    if (d.changed) {
      ++redacted;
      capnp::MallocMessageBuilder mb;
      policy::build_released(rules, item->root(), d, mb.initRoot<schema::Item>());
      auto c = wire::canonical(mb.getRoot<schema::Item>().asReader());
      out.assign(c.canonical_bytes().begin(), c.canonical_bytes().end());
    } else {
      out.assign(item->canonical_bytes().begin(), item->canonical_bytes().end());
    }
    envelope::HeaderFields f;
    f.destination = "sy";
    f.seq = ++seq;
    f.time_ns = wall_ns();
    f.precedence = item->root().getPrecedence();
    f.kind = item->root().getKind();
    f.rules_version = (*loaded)->version;
    f.rules_hash = (*loaded)->hash;
    auto sealed = envelope::seal(gw_signer, f, epoch->key, out);
    if (!sealed.ok()) {
      std::fprintf(stderr, "demo: seal: %s\n", sealed.status().reason().c_str());
      return exit_failed;
    }
    {
      std::lock_guard l(shared.mu);
      shared.expected[f.seq] = Expected{std::move(out), f.precedence, Clock::now()};
    }
    if (f.precedence == schema::Precedence::FLASH) {
      flush();  // keep order: what was batched goes first, then the FLASH item alone
      batch.push_back(std::move(*sealed));
      batch_precedence.push_back(f.precedence);
      flush();
    } else {
      batch.push_back(std::move(*sealed));
      batch_precedence.push_back(f.precedence);
      if (batch.size() >= 64) flush();
    }
    if ((i + 1) % (options.items / 20 + 1) == 0) {
      std::fprintf(stderr, "\r  in %llu  released %llu  delivered+verified %llu",
                   static_cast<unsigned long long>(in), static_cast<unsigned long long>(released),
                   static_cast<unsigned long long>(shared.verified.load()));
    }
  }
  flush();
  const double gateway_s = ms_since(start) / 1000;
  // Wait for the receiver (bounded: 30 s without progress ends the wait).
  auto last_progress = Clock::now();
  std::uint64_t last_seen = 0;
  while (shared.verified.load() + shared.mismatched.load() + shared.receiver_refused.load() +
             shared.relay_refused.load() + shared.lost_on_links.load() <
         released) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto now_seen = shared.verified.load();
    if (now_seen != last_seen) {
      last_seen = now_seen;
      last_progress = Clock::now();
    }
    if (ms_since(last_progress) > 30'000) break;
    std::fprintf(stderr, "\r  in %llu  released %llu  delivered+verified %llu",
                 static_cast<unsigned long long>(in), static_cast<unsigned long long>(released),
                 static_cast<unsigned long long>(now_seen));
  }
  const double total_s = ms_since(start) / 1000;
  std::fprintf(stderr, "\n");
  shared.stop.store(true);
  relay_thread.join();
  rx_thread.join();
  (*gw_tx)->stop();
  (*relay_tx)->stop();

  std::printf("items in:            %llu (%llu bytes, %llu malformed rejected at ingest)\n",
              static_cast<unsigned long long>(in), static_cast<unsigned long long>(bytes_in),
              static_cast<unsigned long long>(malformed_in));
  std::printf("released to sy:      %llu (%llu of them redacted)\n",
              static_cast<unsigned long long>(released), static_cast<unsigned long long>(redacted));
  std::printf("blocked:             %llu", static_cast<unsigned long long>(blocked));
  for (const auto& [why, n] : why_blocked)
    std::printf("  %s=%llu", why.c_str(), static_cast<unsigned long long>(n));
  std::printf("\nquarantined:         %llu (held for a reviewer)\n",
              static_cast<unsigned long long>(quarantined));
  std::printf("relayed:             %llu logged and countersigned, %llu refused by the relay\n",
              static_cast<unsigned long long>(shared.relayed.load()),
              static_cast<unsigned long long>(shared.relay_refused.load()));
  std::printf(
      "delivered:           %llu opened at sy, %llu byte-identical to what il released, %llu "
      "differing, %llu refused\n",
      static_cast<unsigned long long>(shared.delivered.load()),
      static_cast<unsigned long long>(shared.verified.load()),
      static_cast<unsigned long long>(shared.mismatched.load()),
      static_cast<unsigned long long>(shared.receiver_refused.load()));
  std::printf("lost on the links:   %llu envelopes (reported by the link, never silent)\n",
              static_cast<unsigned long long>(shared.lost_on_links.load()));
  std::printf("gateway throughput:  %.0f items/s in, %.0f released/s (%.2f s); end to end %.2f s\n",
              static_cast<double>(in) / gateway_s, static_cast<double>(released) / gateway_s,
              gateway_s, total_s);
  {
    std::lock_guard l(shared.mu);
    const char* names[] = {"?", "routine", "priority", "immediate", "flash"};
    for (const auto& [p, v] : shared.latency_ms) {
      std::printf("latency %-10s  p50 %.1f ms  p99 %.1f ms  (%zu items)\n", names[p],
                  percentile(v, 0.5), percentile(v, 0.99), v.size());
    }
  }
  if (last_head.tree_size > 0) {
    std::printf(
        "relay tree head:     size %llu, root %s, signed by us-relay (verified by sy on every "
        "envelope)\n",
        static_cast<unsigned long long>(last_head.tree_size), to_hex(last_head.root_hash).c_str());
  }
  for (const auto& a : relay_in.alerts) std::printf("link alert (il→us):  %s\n", a.c_str());
  for (const auto& a : rx_in.alerts) std::printf("link alert (us→sy):  %s\n", a.c_str());
  const bool adds_up = malformed_in + released + blocked + quarantined == in &&
                       shared.verified.load() == released && shared.mismatched.load() == 0 &&
                       shared.relay_refused.load() == 0 && shared.receiver_refused.load() == 0;
  std::printf(
      "check:               in = malformed + released + blocked + quarantined, and every released\n"
      "                     item arrived verified and byte-identical: %s\n",
      adds_up ? "yes" : "NO");
  return adds_up ? exit_ok : exit_failed;
}

}  // namespace cg::cli
